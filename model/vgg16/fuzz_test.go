package vgg16

import (
	"os"
	"path/filepath"
	"testing"

	"tagimp/internal/fuzzcheck"
)

// FuzzLoad: no weights file (torch ≥ 1.6 zip, legacy torch, .npz, or
// anything else) panics, hangs or allocates beyond the bound; gopickle's
// own panics come back as errors. Seeds: checkpoints of a small network in
// both torch layouts (offsets, strides, Parameter wrappers) and as .npz.
func FuzzLoad(f *testing.F) {
	dir := f.TempDir()
	ref, err := NewRandomConfig(small(), 1)
	if err != nil {
		f.Fatal(err)
	}
	tensors, storages, order := torchLayout(ref.Params())
	for name, write := range map[string]func(testing.TB, string, []torchTensor, map[string][]float32, []string){
		"zip.pth": writeTorchZip, "legacy.pth": writeTorchLegacy,
	} {
		p := filepath.Join(dir, name)
		write(f, p, tensors, storages, order)
		if _, err := LoadConfig(p, small()); err != nil {
			f.Fatalf("seed %s: %v", name, err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("PK\x03\x04"))
	path := filepath.Join(dir, "fuzz.pth")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fuzzcheck.Check(t, len(b), func() {
			LoadConfig(path, small())
		})
	})
}
