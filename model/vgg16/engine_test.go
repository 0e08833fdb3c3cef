package vgg16

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"tagimp/data/imageprep"
)

// relClose fails when got and want differ by more than tol relative to
// want's L2 norm, or by more than tol·(1+|want|) in any element.
func relClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	var d, nrm float64
	for i := range want {
		e := float64(got[i] - want[i])
		d += e * e
		nrm += float64(want[i]) * float64(want[i])
	}
	if math.Sqrt(d) > tol*math.Sqrt(nrm) || math.IsNaN(d) {
		t.Fatalf("%s: relative L2 difference %.3g, want ≤ %g", what, math.Sqrt(d/nrm), tol)
	}
	assertClose(t, what, got, want, tol)
	t.Logf("%s: relative L2 difference %.3g", what, math.Sqrt(d/nrm))
}

// TestConvEnginesAgree runs every convolution engine of this build against
// the im2col one (today's path): on the small net with several batches, and
// on full-size VGG16 (seeded random weights) with a real COCO image from
// the golden files. fc7 must agree to 1e-4 relative.
func TestConvEnginesAgree(t *testing.T) {
	if !slices.Contains(ConvEngines, "onednn") {
		t.Skip("this build has only the im2col engine")
	}
	fc7With := func(n *Net, engine string, x []float32, batch int) []float32 {
		t.Helper()
		if err := n.SetConvEngine(engine); err != nil {
			t.Fatal(err)
		}
		out, err := n.FC7(x, batch)
		if err != nil {
			t.Fatal(err)
		}
		if got := n.ConvEngine(); got != engine {
			t.Fatalf("engine %q, want %q", got, engine)
		}
		return out
	}
	n := smallNet(t, 3)
	r := rand.New(rand.NewPCG(5, 6))
	for _, batch := range []int{1, 3} {
		x := make([]float32, batch*n.Config().InputLen())
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		want := fc7With(n, "im2col", x, batch)
		got := fc7With(n, "onednn", x, batch)
		relClose(t, "small net fc7, onednn vs im2col", got, want, 1e-4)
	}
	if err := n.SetConvEngine("winograd"); err == nil {
		t.Fatal("unknown engine accepted")
	}
	if testing.Short() {
		return
	}
	big := NewRandom(1)
	x, err := imageprep.Default.LoadFile(filepath.Join("..", "..", "data", "imageprep", "testdata", "golden", "coco-000000117645.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	want := fc7With(big, "im2col", x, 1)
	got := fc7With(big, "onednn", x, 1)
	relClose(t, "VGG16 fc7 of a COCO image, onednn vs im2col", got, want, 1e-4)
}
