package emu

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSourcesLinked checks that the emulator builds every kernel: each
// kernels/*.cu, *.h and *.cuh has its src_NAME.h link here (the go command
// rebuilds this package when a linked file changes, and only then), each
// .cu is included by emu.cc, and each extern "C" kernel has an emu_NAME
// launcher.
func TestSourcesLinked(t *testing.T) {
	var srcs []string
	for _, pat := range []string{"../*.cu", "../*.h", "../*.cuh", "../dev/*.cu"} {
		m, err := filepath.Glob(pat)
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, m...)
	}
	cc, err := os.ReadFile("emu.cc")
	if err != nil {
		t.Fatal(err)
	}
	decl := regexp.MustCompile(`extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\s*\([^)]*\)\s+)?(\w+)\s*\(`)
	kernels := 0
	for _, src := range srcs {
		base := filepath.Base(src)
		link := "src_" + base + ".h"
		target, err := filepath.EvalSymlinks(link)
		if err != nil {
			t.Errorf("%s has no link here: run `ln -s %s kernels/emu/%s` (and #include it in emu.cc if it is a .cu)", src, src, link)
			continue
		}
		if want, _ := filepath.Abs(src); filepath.Clean(mustAbs(t, target)) != want {
			t.Errorf("%s points to %s, not %s", link, target, src)
		}
		if !strings.HasSuffix(base, ".cu") {
			continue
		}
		if !strings.Contains(string(cc), `#include "`+link+`"`) {
			t.Errorf("emu.cc does not #include %q (%s)", link, src)
		}
		text, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(text), -1) {
			kernels++
			if !strings.Contains(string(cc), "int emu_"+m[1]+"(") {
				t.Errorf("kernel %s (%s) has no emu_%s launcher in emu.cc", m[1], base, m[1])
			}
		}
	}
	if kernels == 0 {
		t.Fatal("no kernels found in kernels/*.cu")
	}
	links, _ := filepath.Glob("src_*.h")
	for _, l := range links {
		if _, err := os.Stat(l); err != nil {
			t.Errorf("dangling link %s: remove it", l)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
