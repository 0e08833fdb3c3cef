package dnn

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "loader.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"tagimp/cuda/findlib"
)

// Environment variables that override the search (see Open).
const (
	// EnvPath names the cuDNN library file itself (libcudnn.so.9 or .so.8).
	EnvPath = "TAGIMP_CUDNN_PATH"
	// EnvLibs lists folders (':'-separated) searched first for every CUDA
	// library tagimp opens at run time (cuBLAS, cuDNN).
	EnvLibs = findlib.LibsEnv
)

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

// Open loads cuDNN once per process and returns what was loaded. The
// search is package findlib's for findlib.CuDNN: the file in
// TAGIMP_CUDNN_PATH alone when set; else the folders of TAGIMP_CUDA_LIBS;
// the dynamic loader; the CUDA toolkit and system folders; the nvidia
// wheels on each Python's sys.path (nvidia/cu13/lib, nvidia/cudnn/lib);
// what PyTorch itself maps. Each candidate is opened with its
// sub-libraries, libcublasLt and libz preloaded, and versions other than 8
// and 9 are refused. The error is one line naming every place tried and
// the variables that override the search.
func Open() (*Library, error) {
	openOnce.Do(func() { openLib, openErr = openWith(findlib.Search{}) })
	return openLib, openErr
}

// openWith runs the search s.
func openWith(s findlib.Search) (*Library, error) {
	var lib *Library
	_, err := s.Find(findlib.CuDNN, func(p string) error {
		l, err := load(p, s)
		lib = l
		return err
	})
	if err != nil {
		return nil, oneLine(err)
	}
	return lib, nil
}

// oneLine folds findlib's multi-line report into one line.
func oneLine(err error) error {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) < 2 {
		return err
	}
	return errors.New(lines[0] + " " + strings.Join(lines[1:], "; "))
}

// load opens one candidate: the sub-libraries beside it, libcublasLt and
// libz first, then the shim itself; then checks the version.
func load(path string, s findlib.Search) (*Library, error) {
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
			lib.preloadCublasLt(dir, s)
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
		return nil, errors.New(msg) // findlib names the path
	}
	lib.Version = int(C.tg_cudnnGetVersion())
	if m := majorOf(lib.Version); m != 8 && m != 9 {
		return nil, fmt.Errorf("cuDNN version %d is not supported (need 8 or 9)", lib.Version)
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

// cublasLt is libcublasLt, searched like cuBLAS (its wheel is cuBLAS's).
var cublasLt = findlib.Library{
	Name:     "cuBLASLt",
	Sonames:  cublasLtNames,
	Override: "TAGIMP_CUBLASLT_PATH",
	Wheels:   []string{"cublas"},
}

// preloadCublasLt loads libcublasLt from the cuDNN folder, else wherever
// findlib finds it (without the PyTorch probe).
func (l *Library) preloadCublasLt(dir string, s findlib.Search) {
	for _, n := range cublasLtNames {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil && l.preload(p) {
			return
		}
	}
	s.NoTorch = true
	_, err := s.Find(cublasLt, func(p string) error {
		if !l.preloadQuiet(p) {
			return errors.New("dlopen failed")
		}
		return nil
	})
	if err != nil {
		l.Missing = append(l.Missing, "libcublasLt.so.13/.12/.11 (not found; cuDNN's legacy convolutions need it; set TAGIMP_CUBLASLT_PATH or TAGIMP_CUDA_LIBS)")
	}
}

// preloadQuiet is preload without recording a failure.
func (l *Library) preloadQuiet(p string) bool {
	cp := C.CString(p)
	defer C.free(unsafe.Pointer(cp))
	var buf [512]C.char
	if C.tg_cudnn_preload(cp, &buf[0], C.size_t(len(buf))) != 0 {
		return false
	}
	l.Preloaded = append(l.Preloaded, p)
	return true
}
