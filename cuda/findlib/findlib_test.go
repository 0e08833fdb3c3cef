package findlib

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeTree builds a machine in a temporary folder: files that "open" (their
// content is "ok"), files that exist but fail to open ("bad"), and a fake
// Python interpreter that prints the given sys.path and, asked for
// /proc/self/maps, the given maps text.
type fakeTree struct {
	root string
	t    *testing.T
}

func newTree(t *testing.T) *fakeTree { return &fakeTree{root: t.TempDir(), t: t} }

func (f *fakeTree) file(rel, content string) string {
	f.t.Helper()
	p := filepath.Join(f.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		f.t.Fatal(err)
	}
	return p
}

// python writes a fake interpreter.
func (f *fakeTree) python(name string, torch bool, sysPath []string, maps string) string {
	f.t.Helper()
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	var ps []string
	for _, p := range sysPath {
		ps = append(ps, q(p))
	}
	mapsFile := f.file(name+".maps", maps)
	script := fmt.Sprintf(`#!/bin/sh
case "$2" in
*proc/self/maps*) cat %s ;;
*) echo '{"exe": "x", "version": "3.12.3", "torch": %v, "path": [%s]}' ;;
esac
`, mapsFile, torch, strings.Join(ps, ", "))
	return f.file(name, script)
}

// open accepts files whose content is "ok".
func open(p string) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	if string(b) != "ok" {
		return errors.New("wrong ELF class")
	}
	return nil
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFind(t *testing.T) {
	tests := []struct {
		name string
		// setup builds the machine and returns the search and the path
		// (relative to the tree) and source prefix that must be found;
		// want "" expects a NotFoundError.
		setup     func(f *fakeTree) Search
		want, src string
		errHas    []string
	}{
		{
			name: "override alone, even when it fails",
			setup: func(f *fakeTree) Search {
				bad := f.file("o/libcublas.so.13", "bad")
				ok := f.file("libs/libcublas.so.13", "ok")
				return Search{Getenv: env(map[string]string{"TAGIMP_CUBLAS_PATH": bad, LibsEnv: filepath.Dir(ok)}), SystemDirs: []string{}, Pythons: []string{}}
			},
			errHas: []string{"o/libcublas.so.13 [TAGIMP_CUBLAS_PATH]: wrong ELF class", "set TAGIMP_CUBLAS_PATH"},
		},
		{
			name: "override",
			setup: func(f *fakeTree) Search {
				ok := f.file("o/any-name.so", "ok")
				return Search{Getenv: env(map[string]string{"TAGIMP_CUBLAS_PATH": ok})}
			},
			want: "o/any-name.so", src: "TAGIMP_CUBLAS_PATH",
		},
		{
			name: "TAGIMP_CUDA_LIBS, second folder, older soname",
			setup: func(f *fakeTree) Search {
				f.file("a/libcublas.so.13", "bad")
				f.file("b/libcublas.so.12", "ok")
				return Search{Getenv: env(map[string]string{LibsEnv: f.root + "/a:" + f.root + "/b"}), SystemDirs: []string{}, Pythons: []string{}}
			},
			want: "b/libcublas.so.12", src: LibsEnv,
		},
		{
			name: "system folders, newest toolkit first",
			setup: func(f *fakeTree) Search {
				f.file("usr/local/cuda-12.4/lib64/libcublas.so.12", "ok")
				f.file("usr/local/cuda-13.0/lib64/libcublas.so.13", "ok")
				return Search{Getenv: env(nil), SystemDirs: []string{"$CUDA_HOME/lib64", f.root + "/usr/local/cuda-*/lib64"}, Pythons: []string{}}
			},
			want: "usr/local/cuda-13.0/lib64/libcublas.so.13", src: "system folders",
		},
		{
			name: "CUDA 13 wheel layout from the Python with PyTorch",
			setup: func(f *fakeTree) Search {
				site := f.root + "/venv/lib/python3.12/site-packages"
				f.file("venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13", "ok")
				f.file("other/nvidia/cublas/lib/libcublas.so.12", "ok")
				plain := f.python("py-plain", false, []string{f.root + "/other"}, "")
				torch := f.python("py-torch", true, []string{"", "relative", site}, "")
				return Search{Getenv: env(nil), SystemDirs: []string{}, Pythons: []string{plain, torch}}
			},
			want: "venv/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13", src: "sys.path of ",
		},
		{
			name: "CUDA 12 wheel layout",
			setup: func(f *fakeTree) Search {
				f.file("site/nvidia/cublas/lib/libcublas.so.12", "ok")
				py := f.python("py", true, []string{f.root + "/site"}, "")
				return Search{Getenv: env(nil), SystemDirs: []string{}, Pythons: []string{py}}
			},
			want: "site/nvidia/cublas/lib/libcublas.so.12", src: "sys.path of ",
		},
		{
			name: "last resort: what PyTorch maps",
			setup: func(f *fakeTree) Search {
				lib := f.file("hidden/libcublas.so.13", "ok")
				lt := f.file("hidden/libcublasLt.so.13", "ok")
				maps := "7f00-7f10 r-xp 00000000 08:01 1 " + lt + "\n7f10-7f20 r-xp 00000000 08:01 2 " + lib + "\n7f20-7f30 rw-p 00000000 00:00 0 [heap]\n"
				py := f.python("py", true, []string{f.root + "/empty"}, maps)
				return Search{Getenv: env(nil), SystemDirs: []string{}, Pythons: []string{py}}
			},
			want: "hidden/libcublas.so.13", src: "/proc/self/maps of PyTorch",
		},
		{
			name: "nothing anywhere: every place in the error",
			setup: func(f *fakeTree) Search {
				f.file("sys/libcublas.so.13", "bad")
				py := f.python("py", true, []string{f.root + "/site"}, "")
				return Search{Getenv: env(map[string]string{LibsEnv: f.root + "/nolibs"}), SystemDirs: []string{f.root + "/sys", f.root + "/none"}, Pythons: []string{py, f.root + "/missing-python"}}
			},
			errHas: []string{
				"nolibs/libcublas.so.13 [TAGIMP_CUDA_LIBS]", "libcublas.so.12 [dynamic loader",
				"sys/libcublas.so.13 [system folders]: wrong ELF class", "none [system folders]: no libcublas.so.13",
				"missing-python [Python]", "sys.path entries: nvidia/cu*/lib, nvidia/{cublas}/lib",
				"PyTorch mapped no", "set TAGIMP_CUBLAS_PATH to the library file, or TAGIMP_CUDA_LIBS",
			},
		},
		{
			name: "no Python with PyTorch",
			setup: func(f *fakeTree) Search {
				py := f.python("py", false, nil, "")
				return Search{Getenv: env(nil), SystemDirs: []string{}, Pythons: []string{py}}
			},
			errHas: []string{"no Python with PyTorch among 1 interpreter(s) (set TAGIMP_PYTHON)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newTree(t)
			s := tt.setup(f)
			got, err := s.Find(CuBLAS, open)
			if tt.want == "" {
				var nf *NotFoundError
				if !errors.As(err, &nf) {
					t.Fatalf("Find = %v, %v; want a NotFoundError", got, err)
				}
				for _, h := range tt.errHas {
					if !strings.Contains(err.Error(), h) {
						t.Errorf("error lacks %q:\n%v", h, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(f.root, tt.want); got.Path != want || !strings.HasPrefix(got.Source, tt.src) {
				t.Errorf("Find = %v, want %s from %s…", got, want, tt.src)
			}
		})
	}
}

func TestMappedLibs(t *testing.T) {
	maps := `55d0-55e0 r--p 00000000 08:01 11 /usr/bin/python3.12
7f01-7f02 r-xp 00000000 08:01 12 /x/nvidia/cu13/lib/libcublasLt.so.13
7f02-7f03 r-xp 00000000 08:01 13 /x/nvidia/cu13/lib/libcublas.so.13
7f03-7f04 r--p 00000000 08:01 13 /x/nvidia/cu13/lib/libcublas.so.13
7f04-7f05 r-xp 00000000 08:01 14 /y/my libs/libcudnn.so.9
7f05-7f06 rw-p 00000000 00:00 0 
`
	if got := MappedLibs(maps, CuBLAS); len(got) != 1 || got[0] != "/x/nvidia/cu13/lib/libcublas.so.13" {
		t.Errorf("cuBLAS: %q", got)
	}
	if got := MappedLibs(maps, CuDNN); len(got) != 1 || got[0] != "/y/my libs/libcudnn.so.9" {
		t.Errorf("cuDNN: %q", got)
	}
}

func TestCheckFile(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "libcublas.so.13")
	if err := os.WriteFile(text, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckFile(text); err == nil || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("text file: %v", err)
	}
	if err := CheckFile(filepath.Join(dir, "missing.so")); err == nil || err.Error() != "no such file" {
		t.Errorf("missing file: %v", err)
	}
	if err := CheckFile("libtagimp-no-such-library.so.1"); err == nil {
		t.Error("unknown soname: no error")
	}
	// The C library every Linux machine has, by soname as dlopen takes it.
	if p := Resolve("libc.so.6"); p == "libc.so.6" {
		t.Skip("no ld.so cache entry for libc.so.6 here")
	} else if err := CheckFile("libc.so.6"); err != nil {
		t.Errorf("libc.so.6 (%s): %v", p, err)
	}
}
