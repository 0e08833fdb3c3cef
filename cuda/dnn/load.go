package dnn

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "loader.h"
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

// Environment variables that override the search (see Open).
const (
	// EnvPath names the cuDNN library file itself (libcudnn.so.9 or .so.8).
	EnvPath = "TAGIMP_CUDNN_PATH"
	// EnvLibs lists folders (':'-separated) searched first for every CUDA
	// library tagimp opens at run time (cuBLAS, cuDNN).
	EnvLibs = "TAGIMP_CUDA_LIBS"
)

// sonames are the cuDNN major versions supported, newest first.
var sonames = []string{"libcudnn.so.9", "libcudnn.so.8"}

// subLibraries are what each major version's shim loads by bare soname:
// preloaded (RTLD_GLOBAL) from the folder the shim is found in, so that the
// shim finds them even when that folder is not on the loader path. Missing
// ones are recorded, not fatal: a later call names them if it fails.
var subLibraries = map[string][]string{
	"9": {"libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_engines_runtime_compiled.so.9",
		"libcudnn_heuristic.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_adv.so.9"},
	"8": {"libcudnn_ops_infer.so.8", "libcudnn_ops_train.so.8", "libcudnn_cnn_infer.so.8",
		"libcudnn_cnn_train.so.8", "libcudnn_adv_infer.so.8", "libcudnn_adv_train.so.8"},
}

// cublasLtNames: the legacy convolution path of cuDNN 9 dlopens libcublasLt
// by bare name; it is preloaded from the first folder that has one.
var cublasLtNames = []string{"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11"}

// Library describes the cuDNN that Open loaded.
type Library struct {
	// Path is the file opened.
	Path string
	// Version is cudnnGetVersion(): 90100 for 9.1.0, 8906 for 8.9.6.
	Version int
	// Preloaded lists the sub-libraries, libcublasLt and libz loaded
	// beside it; Missing those that could not be (with the reason).
	Preloaded, Missing []string
}

// Major is the major version (8 or 9).
func (l *Library) Major() int { return majorOf(l.Version) }

// String is "cuDNN 9.1.0 (/path/libcudnn.so.9)".
func (l *Library) String() string {
	v := l.Version
	if v >= 10000 {
		return fmt.Sprintf("cuDNN %d.%d.%d (%s)", v/10000, v/100%100, v%100, l.Path)
	}
	return fmt.Sprintf("cuDNN %d.%d.%d (%s)", v/1000, v/100%10, v%100, l.Path)
}

// majorOf decodes cudnnGetVersion: major·10000+minor·100+patch since cuDNN
// 9, major·1000+minor·100+patch before.
func majorOf(v int) int {
	if v >= 10000 {
		return v / 10000
	}
	return v / 1000
}

var (
	openOnce sync.Once
	openLib  *Library
	openErr  error
)

// Open loads cuDNN once per process and returns what was loaded. It tries,
// in order: the file in TAGIMP_CUDNN_PATH alone, when set; else
// libcudnn.so.9 then .so.8 in each folder of TAGIMP_CUDA_LIBS; Python's
// nvidia wheels (site-packages/nvidia/cudnn/lib, nvidia/cu13/lib,
// nvidia/cu12/lib under the active virtualenv or conda, ~/.local,
// /opt/torch/.venv, /usr/local and /usr); the CUDA toolkit and system
// library folders; finally the bare sonames (LD_LIBRARY_PATH and the ld.so
// cache). The error is one line naming what was searched and the variables
// that override it. Versions other than 8 and 9 are refused.
func Open() (*Library, error) {
	openOnce.Do(func() { openLib, openErr = open(candidates()) })
	return openLib, openErr
}

// sitePackages are the Python library roots searched for nvidia wheels.
func sitePackages() []string {
	var roots []string
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if v := os.Getenv(env); v != "" {
			roots = append(roots, v+"/lib/python3*/site-packages")
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		roots = append(roots, home+"/.local/lib/python3*/site-packages")
	}
	return append(roots, "/opt/torch/.venv/lib/python3*/site-packages",
		"/usr/local/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
		"/usr/lib/python3/dist-packages", "/usr/lib/python3*/site-packages",
		"/opt/conda/lib/python3*/site-packages", "/opt/venv/lib/python3*/site-packages")
}

// searchGlobs are the folder patterns searched after TAGIMP_CUDA_LIBS.
func searchGlobs() []string {
	var globs []string
	for _, r := range sitePackages() {
		globs = append(globs, r+"/nvidia/cudnn/lib", r+"/nvidia/cu13/lib", r+"/nvidia/cu12/lib")
	}
	return append(globs, "/usr/local/cuda/lib64", "/usr/local/cuda-*/lib64",
		"/usr/local/cuda/targets/*/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
		"/usr/lib64", "/usr/local/lib")
}

// search is the outcome of walking the search order: the files to try, in
// order, and a short description of where was looked, for the error.
type search struct {
	files  []string
	looked []string
}

// candidates lists the files to try (see Open).
func candidates() search {
	if p := os.Getenv(EnvPath); p != "" {
		return search{files: []string{p}, looked: []string{EnvPath + "=" + p}}
	}
	var s search
	seen := map[string]bool{}
	add := func(dir string) {
		for _, n := range sonames {
			p := filepath.Join(dir, n)
			if seen[p] {
				continue
			}
			if _, err := os.Stat(p); err == nil {
				seen[p] = true
				s.files = append(s.files, p)
			}
		}
	}
	if v := os.Getenv(EnvLibs); v != "" {
		for _, d := range filepath.SplitList(v) {
			add(d)
		}
		s.looked = append(s.looked, EnvLibs+"="+v)
	} else {
		s.looked = append(s.looked, EnvLibs+" (unset)")
	}
	for _, g := range searchGlobs() {
		matches, _ := filepath.Glob(g)
		for _, d := range matches {
			add(d)
		}
	}
	s.looked = append(s.looked, "site-packages/nvidia/{cudnn,cu13,cu12}/lib of Python installs", "/usr/local/cuda*/lib64 and the system library folders")
	s.files = append(s.files, sonames...)
	s.looked = append(s.looked, "the loader path (LD_LIBRARY_PATH, ld.so cache)")
	return s
}

// open tries each candidate in turn.
func open(s search) (*Library, error) {
	var tried []string
	for _, p := range s.files {
		lib, err := load(p)
		if err == nil {
			return lib, nil
		}
		tried = append(tried, err.Error())
	}
	found := "no libcudnn.so.9 or libcudnn.so.8 found"
	if len(tried) > 0 {
		found = "none usable: " + strings.Join(tried, "; ")
	}
	return nil, fmt.Errorf("cuDNN: %s; searched %s; set %s to the library file or %s to its folder (e.g. site-packages/nvidia/cudnn/lib of a PyTorch install)",
		found, strings.Join(s.looked, ", "), EnvPath, EnvLibs)
}

// load opens one candidate: the sub-libraries beside it, libcublasLt and
// libz first, then the shim itself; then checks the version.
func load(path string) (*Library, error) {
	lib := &Library{Path: path}
	major := "9"
	if strings.HasSuffix(path, ".so.8") {
		major = "8"
	}
	if strings.Contains(path, "/") {
		dir := filepath.Dir(path)
		for _, n := range subLibraries[major] {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err != nil {
				continue // not every version ships every sub-library
			}
			lib.preload(p)
		}
		if major == "9" {
			lib.preloadCublasLt(dir)
		}
	}
	lib.preload("libz.so.1")
	cp := C.CString(path)
	defer C.free(unsafe.Pointer(cp))
	var buf [512]C.char
	if rc := C.tg_cudnn_open(cp, &buf[0], C.size_t(len(buf))); rc != 0 {
		msg := C.GoString(&buf[0])
		if rc == 2 {
			msg += " (not a cuDNN 8 or 9 library?)"
		}
		return nil, fmt.Errorf("%s: %s", path, msg)
	}
	lib.Version = int(C.tg_cudnnGetVersion())
	if m := majorOf(lib.Version); m != 8 && m != 9 {
		return nil, fmt.Errorf("%s: cuDNN version %d is not supported (need 8 or 9)", path, lib.Version)
	}
	return lib, nil
}

// preload loads p globally, recording the outcome.
func (l *Library) preload(p string) bool {
	cp := C.CString(p)
	defer C.free(unsafe.Pointer(cp))
	var buf [512]C.char
	if C.tg_cudnn_preload(cp, &buf[0], C.size_t(len(buf))) != 0 {
		l.Missing = append(l.Missing, fmt.Sprintf("%s (%s)", p, C.GoString(&buf[0])))
		return false
	}
	l.Preloaded = append(l.Preloaded, p)
	return true
}

// preloadCublasLt loads libcublasLt from the cuDNN folder, the folders of
// TAGIMP_CUDA_LIBS or the nvidia wheels, else by bare name.
func (l *Library) preloadCublasLt(dir string) {
	dirs := []string{dir}
	if v := os.Getenv(EnvLibs); v != "" {
		dirs = append(dirs, filepath.SplitList(v)...)
	}
	for _, r := range sitePackages() {
		for _, g := range []string{r + "/nvidia/cu13/lib", r + "/nvidia/cublas/lib", r + "/nvidia/cu12/lib"} {
			m, _ := filepath.Glob(g)
			dirs = append(dirs, m...)
		}
	}
	for _, d := range dirs {
		for _, n := range cublasLtNames {
			p := filepath.Join(d, n)
			if _, err := os.Stat(p); err == nil {
				if l.preload(p) {
					return
				}
			}
		}
	}
	for _, n := range cublasLtNames {
		cp := C.CString(n)
		var buf [512]C.char
		ok := C.tg_cudnn_preload(cp, &buf[0], C.size_t(len(buf))) == 0
		C.free(unsafe.Pointer(cp))
		if ok {
			l.Preloaded = append(l.Preloaded, n)
			return
		}
	}
	l.Missing = append(l.Missing, "libcublasLt.so.13/.12/.11 (not found; cuDNN's legacy convolutions need it)")
}
