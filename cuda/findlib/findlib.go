// Package findlib finds the NVIDIA libraries that the GPU build opens at run
// time (cuBLAS, cuDNN) on machines where they sit in different places: the
// CUDA toolkit, the system's library folders, or only inside the Python
// packages that PyTorch installs (CUDA 13 wheels keep every library in
// site-packages/nvidia/cu13/lib, CUDA 12 wheels in nvidia/<lib>/lib).
//
// Find walks the candidates of a Library in a fixed order and hands each to
// an open function supplied by the caller (package cuda's dlopen, or a file
// check in a tool); the first that opens wins. The order:
//
//  1. the library's own override variable (e.g. TAGIMP_CUBLAS_PATH), a
//     file: when set it is the only candidate;
//  2. the folders in TAGIMP_CUDA_LIBS (a PATH-style list);
//  3. the bare sonames, for the dynamic loader's own search
//     (LD_LIBRARY_PATH, the ld.so cache, RUNPATH);
//  4. the CUDA toolkit and system folders ($CUDA_HOME, /usr/local/cuda*,
//     /usr/lib/x86_64-linux-gnu, …);
//  5. every Python interpreter found (TAGIMP_PYTHON, the active virtual or
//     conda environment, /opt/torch/.venv, python3 on PATH), those with
//     PyTorch first: each sys.path entry's nvidia/cu*/lib and
//     nvidia/<wheel>/lib;
//  6. as a last resort, the files PyTorch itself maps: a Python interpreter
//     with PyTorch runs the Library's TorchProbe (a one-line matmul for
//     cuBLAS) and reads /proc/self/maps.
//
// The package is plain Go with no build tag and no cgo, so it is tested on
// any machine and usable from tools that run before a GPU binary can start.
package findlib

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// Library describes one shared library to find.
type Library struct {
	// Name names the library in messages ("cuBLAS").
	Name string
	// Sonames are the file names to try, newest first
	// ("libcublas.so.13", "libcublas.so.12", …).
	Sonames []string
	// Override is the environment variable that names the library file;
	// when set, that file is the only candidate.
	Override string
	// Wheels are the folder names of CUDA 12-style Python wheels,
	// site-packages/nvidia/<wheel>/lib ("cublas").
	Wheels []string
	// TorchProbe is Python run after `import torch` that makes PyTorch load
	// the library (the last resort reads /proc/self/maps after it); empty
	// skips that step.
	TorchProbe string
}

// CuBLAS is cuBLAS 13, 12 or 11 (what package cuda opens).
var CuBLAS = Library{
	Name:       "cuBLAS",
	Sonames:    []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11"},
	Override:   "TAGIMP_CUBLAS_PATH",
	Wheels:     []string{"cublas"},
	TorchProbe: "a = torch.ones(8, 8, device='cuda'); (a @ a).sum().item()",
}

// CuDNN is cuDNN 9 or 8 (the front library; its sub-libraries sit beside it).
var CuDNN = Library{
	Name:       "cuDNN",
	Sonames:    []string{"libcudnn.so.9", "libcudnn.so.8"},
	Override:   "TAGIMP_CUDNN_PATH",
	Wheels:     []string{"cudnn"},
	TorchProbe: "x = torch.ones(1, 1, 8, 8, device='cuda'); torch.nn.functional.conv2d(x, torch.ones(1, 1, 3, 3, device='cuda')).sum().item()",
}

// LibsEnv is the environment variable listing extra folders to search
// (PATH-style), for every Library.
const LibsEnv = "TAGIMP_CUDA_LIBS"

// PythonEnv is the environment variable naming a Python interpreter to ask
// first (the one with PyTorch, when several are installed).
const PythonEnv = "TAGIMP_PYTHON"

// Found is the library that opened and where it came from.
type Found struct {
	// Path is what was passed to the open function: a file path, or a bare
	// soname that the dynamic loader resolved.
	Path string
	// Source says which step of the search produced it, e.g.
	// "TAGIMP_CUDA_LIBS" or "sys.path of /opt/torch/.venv/bin/python3".
	Source string
}

func (f Found) String() string { return f.Path + " (from " + f.Source + ")" }

// Attempt is one candidate tried, or one place looked in that held none.
type Attempt struct {
	Path   string // a file, a bare soname, or a folder/pattern looked in
	Source string
	Err    string // why it did not do
}

// NotFoundError is Find's error: every candidate tried and place looked
// in, and how to point the search at the library.
type NotFoundError struct {
	Lib   Library
	Tried []Attempt
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s) not found; tried:\n", e.Lib.Name, strings.Join(e.Lib.Sonames, ", "))
	for _, a := range e.Tried {
		fmt.Fprintf(&b, "  %s [%s]: %s\n", a.Path, a.Source, a.Err)
	}
	fmt.Fprintf(&b, "set %s to the library file, or %s to the folder holding it (e.g. the site-packages/nvidia/cu13/lib or nvidia/%s/lib of a PyTorch install; %s names the Python with PyTorch)",
		e.Lib.Override, LibsEnv, firstOr(e.Lib.Wheels, "<lib>"), PythonEnv)
	return b.String()
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// Search holds the settings of a search; the zero value searches the real
// machine (environment, file system, Python). Tests replace its fields.
type Search struct {
	// Getenv reads the environment (os.Getenv when nil).
	Getenv func(string) string
	// SystemDirs are the toolkit/system folders of step 4, globs allowed
	// (DefaultSystemDirs when nil).
	SystemDirs []string
	// Pythons are the interpreters to ask (DefaultPythons when nil).
	Pythons []string
	// PythonTimeout bounds each sys.path query (10 s when 0);
	// TorchTimeout bounds the PyTorch probe (90 s when 0).
	PythonTimeout, TorchTimeout time.Duration
	// NoTorch skips step 6 (the PyTorch probe).
	NoTorch bool
}

// Find searches lib on this machine with the default Search.
func Find(lib Library, open func(path string) error) (Found, error) {
	return Search{}.Find(lib, open)
}

// DefaultSystemDirs are step 4's folders, in order.
var DefaultSystemDirs = []string{
	"$CUDA_HOME/lib64", "$CUDA_PATH/lib64",
	"/usr/local/cuda/lib64", "/usr/local/cuda/targets/*/lib", "/usr/local/cuda-*/lib64",
	"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
}

func (s Search) getenv(k string) string {
	if s.Getenv != nil {
		return s.Getenv(k)
	}
	return os.Getenv(k)
}

// DefaultPythons lists the interpreters asked, in order, without
// duplicates: $TAGIMP_PYTHON, $VIRTUAL_ENV/bin/python3,
// $CONDA_PREFIX/bin/python3, /opt/torch/.venv/bin/python3, python3 on PATH,
// /usr/bin/python3. Only those that exist are kept.
func (s Search) DefaultPythons() []string {
	var cands []string
	if p := s.getenv(PythonEnv); p != "" {
		cands = append(cands, p)
	}
	for _, env := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if v := s.getenv(env); v != "" {
			cands = append(cands, filepath.Join(v, "bin", "python3"))
		}
	}
	cands = append(cands, "/opt/torch/.venv/bin/python3")
	if p, err := exec.LookPath("python3"); err == nil {
		cands = append(cands, p)
	}
	cands = append(cands, "/usr/bin/python3")
	var out []string
	seen := map[string]bool{}
	for _, c := range cands {
		if fi, err := os.Stat(c); err != nil || fi.IsDir() {
			continue
		}
		if abs, err := filepath.Abs(c); err == nil {
			c = abs
		}
		// Keep the venv's own path (not the symlink's target): a venv's
		// sys.path depends on the path it is started through.
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// Find walks lib's candidates in order (see the package comment) and
// returns the first that open accepts. The error, a *NotFoundError, lists
// every candidate tried with open's reason and every place that held none.
func (s Search) Find(lib Library, open func(path string) error) (Found, error) {
	e := &NotFoundError{Lib: lib}
	seen := map[string]bool{}
	try := func(path, source string) (Found, bool) {
		if seen[path] {
			return Found{}, false
		}
		seen[path] = true
		if err := open(path); err != nil {
			e.Tried = append(e.Tried, Attempt{Path: path, Source: source, Err: oneLine(err.Error())})
			return Found{}, false
		}
		return Found{Path: path, Source: source}, true
	}

	// 1. The override: alone.
	if p := s.getenv(lib.Override); p != "" {
		if f, ok := try(p, lib.Override); ok {
			return f, nil
		}
		return Found{}, e
	}
	// 2. TAGIMP_CUDA_LIBS.
	if v := s.getenv(LibsEnv); v != "" {
		for _, d := range filepath.SplitList(v) {
			if d == "" {
				continue
			}
			for _, n := range lib.Sonames {
				if f, ok := try(filepath.Join(d, n), LibsEnv); ok {
					return f, nil
				}
			}
		}
	}
	// 3. The dynamic loader's own search.
	for _, n := range lib.Sonames {
		if f, ok := try(n, "dynamic loader (LD_LIBRARY_PATH, ld.so cache)"); ok {
			return f, nil
		}
	}
	// 4. Toolkit and system folders.
	dirs := s.SystemDirs
	if dirs == nil {
		dirs = DefaultSystemDirs
	}
	for _, pattern := range dirs {
		if strings.HasPrefix(pattern, "$") {
			// $CUDA_HOME/lib64 and the like: skipped when the variable is unset.
			v := strings.TrimPrefix(pattern, "$")
			if i := strings.IndexByte(v, '/'); i >= 0 {
				v = v[:i]
			}
			if s.getenv(v) == "" {
				continue
			}
		}
		pattern = os.Expand(pattern, s.getenv)
		if f, ok := s.tryGlob(lib, pattern, "system folders", try, e); ok {
			return f, nil
		}
	}
	// 5. Python's sys.path, interpreters with PyTorch first.
	pys := s.Pythons
	if pys == nil {
		pys = s.DefaultPythons()
	}
	infos := s.pythonInfos(pys, e)
	for _, py := range infos {
		src := "sys.path of " + py.Exe
		for _, dir := range py.Path {
			if dir == "" || !filepath.IsAbs(dir) {
				continue
			}
			pats := []string{filepath.Join(dir, "nvidia", "cu*", "lib")}
			for _, w := range lib.Wheels {
				pats = append(pats, filepath.Join(dir, "nvidia", w, "lib"))
			}
			for _, pat := range pats {
				if f, ok := s.tryGlob(lib, pat, src, try, nil); ok {
					return f, nil
				}
			}
		}
		e.Tried = append(e.Tried, Attempt{Path: fmt.Sprintf("%d sys.path entries: nvidia/cu*/lib, nvidia/{%s}/lib", len(py.Path), strings.Join(lib.Wheels, ",")),
			Source: src, Err: "no " + strings.Join(lib.Sonames, ", ")})
	}
	// 6. What PyTorch maps.
	if lib.TorchProbe == "" || s.NoTorch {
		return Found{}, e
	}
	torchSeen := false
	for _, py := range infos {
		if !py.Torch {
			continue
		}
		torchSeen = true
		src := "/proc/self/maps of PyTorch in " + py.Exe
		paths, err := s.torchMaps(py.Exe, lib)
		if err != nil {
			e.Tried = append(e.Tried, Attempt{Path: "python: import torch; " + lib.TorchProbe, Source: src, Err: oneLine(err.Error())})
			continue
		}
		if len(paths) == 0 {
			e.Tried = append(e.Tried, Attempt{Path: "python: import torch; " + lib.TorchProbe, Source: src, Err: "PyTorch mapped no " + strings.Join(lib.Sonames, ", ")})
		}
		for _, p := range paths {
			if f, ok := try(p, src); ok {
				return f, nil
			}
		}
	}
	if !torchSeen {
		e.Tried = append(e.Tried, Attempt{Path: "import torch", Source: "PyTorch probe", Err: fmt.Sprintf("no Python with PyTorch among %d interpreter(s) (set %s)", len(infos), PythonEnv)})
	}
	return Found{}, e
}

// tryGlob tries every soname in the folders matching pattern. With e not
// nil, a pattern that holds none is recorded as looked in.
func (s Search) tryGlob(lib Library, pattern, source string, try func(string, string) (Found, bool), e *NotFoundError) (Found, bool) {
	dirs, _ := filepath.Glob(pattern)
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // cuda-13.0 before cuda-12.4
	held := false
	for _, d := range dirs {
		for _, n := range lib.Sonames {
			p := filepath.Join(d, n)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			held = true
			if f, ok := try(p, source); ok {
				return f, true
			}
		}
	}
	if !held && e != nil {
		e.Tried = append(e.Tried, Attempt{Path: pattern, Source: source, Err: "no " + strings.Join(lib.Sonames, ", ")})
	}
	return Found{}, false
}

// pythonInfo is what one interpreter says about itself.
type pythonInfo struct {
	Exe     string   `json:"exe"`
	Version string   `json:"version"`
	Torch   bool     `json:"torch"`
	Path    []string `json:"path"`
}

const pythonQuery = `import importlib.util, json, sys
print(json.dumps({"exe": sys.executable, "version": sys.version.split()[0],
                  "torch": importlib.util.find_spec("torch") is not None, "path": sys.path}))`

// pythonInfos asks each interpreter for its sys.path and whether it has
// PyTorch (without importing it); those with PyTorch come first.
func (s Search) pythonInfos(pys []string, e *NotFoundError) []pythonInfo {
	timeout := s.PythonTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	var out []pythonInfo
	for _, py := range pys {
		b, err := runPython(py, pythonQuery, timeout)
		var info pythonInfo
		if err == nil {
			err = json.Unmarshal(lastLine(b), &info)
		}
		if err != nil {
			e.Tried = append(e.Tried, Attempt{Path: py, Source: "Python", Err: oneLine(err.Error())})
			continue
		}
		info.Exe = py
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(a, b pythonInfo) int {
		switch {
		case a.Torch == b.Torch:
			return 0
		case a.Torch:
			return -1
		}
		return 1
	})
	return out
}

// PythonInfo is what an interpreter says about itself, for reports.
type PythonInfo struct {
	Exe, Version string
	// Torch is whether PyTorch can be imported (found, not imported).
	Torch bool
}

// PythonInfos asks every interpreter Find would ask (Search.Pythons, or
// DefaultPythons) for its version and whether it has PyTorch, those with
// PyTorch first; interpreters that fail to answer are left out.
func (s Search) PythonInfos() []PythonInfo {
	pys := s.Pythons
	if pys == nil {
		pys = s.DefaultPythons()
	}
	var out []PythonInfo
	for _, p := range s.pythonInfos(pys, &NotFoundError{}) {
		out = append(out, PythonInfo{Exe: p.Exe, Version: p.Version, Torch: p.Torch})
	}
	return out
}

// torchMaps runs the library's TorchProbe in py and returns the mapped
// files whose names start with one of lib's sonames' stems
// ("libcublas.so").
func (s Search) torchMaps(py string, lib Library) ([]string, error) {
	timeout := s.TorchTimeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	code := "import torch\n" + lib.TorchProbe + "\nprint(open('/proc/self/maps').read())\n"
	b, err := runPython(py, code, timeout)
	if err != nil {
		return nil, err
	}
	return MappedLibs(string(b), lib), nil
}

// MappedLibs returns, in order of first appearance, the files in a
// /proc/PID/maps text whose base names start with the stem of one of
// lib's sonames (libcublas.so.13 → "libcublas.so").
func MappedLibs(maps string, lib Library) []string {
	var stems []string
	for _, n := range lib.Sonames {
		if i := strings.Index(n, ".so"); i > 0 {
			stems = append(stems, n[:i+3])
		}
	}
	var out []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(maps))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 || !strings.HasPrefix(f[5], "/") {
			continue
		}
		p := strings.Join(f[5:], " ")
		base := filepath.Base(p)
		for _, st := range stems {
			if strings.HasPrefix(base, st) && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// runPython runs code in py with a time limit and returns its stdout.
func runPython(py, code string, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", code)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%s timed out after %v", py, timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndex(msg, "\n"); i >= 0 {
			msg = msg[i+1:]
		}
		if msg != "" {
			return nil, fmt.Errorf("%s: %w: %s", py, err, msg)
		}
		return nil, fmt.Errorf("%s: %w", py, err)
	}
	return b, nil
}

func lastLine(b []byte) []byte {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = s[i+1:]
	}
	return []byte(s)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	return s
}
