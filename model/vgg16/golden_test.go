package vgg16

import (
	"path/filepath"
	"testing"

	"tagimp/data/npy"
)

// TestGoldenPyTorch runs on every machine (CI included): it loads the small
// VGG-shaped network that PyTorch saved in both torch.save formats
// (testdata/golden, written by tools/golden/make_golden.py) and compares fc7
// and the logits with PyTorch's own outputs for the same input.
// TestAgainstPyTorch repeats this live where PyTorch is installed.
func TestGoldenPyTorch(t *testing.T) {
	dir := filepath.Join("testdata", "golden")
	read := func(name string) []float32 {
		a, err := npy.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return a.F32
	}
	x, fc7, logits := read("x.npy"), read("fc7.npy"), read("logits.npy")
	if len(x) != 2*3*64*64 || len(fc7) != 2*12 || len(logits) != 2*7 {
		t.Fatalf("golden shapes: x %d, fc7 %d, logits %d values", len(x), len(fc7), len(logits))
	}
	for _, name := range []string{"zip.pth", "legacy.pth"} {
		t.Run(name, func(t *testing.T) {
			n, err := LoadConfig(filepath.Join(dir, name), small())
			if err != nil {
				t.Fatal(err)
			}
			got, err := n.FC7(x, 2)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "fc7 vs PyTorch golden", got, fc7, 1e-4)
			gotL, err := n.Logits(x, 2)
			if err != nil {
				t.Fatal(err)
			}
			assertClose(t, "logits vs PyTorch golden", gotL, logits, 1e-4)
		})
	}
}
