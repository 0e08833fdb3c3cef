//go:build gpu && !emu

package gpu

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"tagimp/data/imageprep"
	"tagimp/internal/realdata"
	"tagimp/model/vgg16"
)

// relDiff is max over rows of ‖a − b‖₂/‖b‖₂ (rows of dim values).
func relDiff(a, b []float32, dim int) float64 {
	worst := 0.0
	for i := 0; i+dim <= len(b); i += dim {
		var num, den float64
		for j := i; j < i+dim; j++ {
			d := float64(a[j]) - float64(b[j])
			num += d * d
			den += float64(b[j]) * float64(b[j])
		}
		if den == 0 {
			den = 1
		}
		worst = max(worst, math.Sqrt(num/den))
	}
	return worst
}

// TestFC7ExtractorPipeline runs the real COCO images through the pipelined
// path features --device gpu uses (SubmitRaw: pinned staging, copies on
// their own stream, tg_prep, VGG16, three batches in flight, batches of
// uneven size) and compares the rows with the synchronous path on the
// same decoded images (ExtractRaw: same kernels, one batch at a time) and
// with the CPU network on FromRaw's tensors (the reference).
//
// Bounds: pipelined vs synchronous 1e-6 relative (the same algorithms on
// the same inputs; only an algorithm whose summation order varies from run
// to run could differ); vs the CPU path TestVGG16FC7's TF32 bound 3e-2.
func TestFC7ExtractorPipeline(t *testing.T) {
	paths := realdata.Images(t)
	prep := imageprep.Default
	raws := make([]imageprep.Raw, len(paths))
	x := make([]float32, len(paths)*prep.Len())
	for i, p := range paths {
		var err error
		if raws[i], err = prep.LoadRaw(p); err != nil {
			t.Fatal(err)
		}
		if err := prep.FromRaw(x[i*prep.Len():(i+1)*prep.Len()], raws[i]); err != nil {
			t.Fatal(err)
		}
	}
	net := vgg16.NewRandom(11)
	e, err := NewFC7Extractor(net, ExtractorOptions{Batch: 4, Precision: TF32, Prep: prep})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dim := e.Dim()

	var waits []func() ([]float32, error)
	for i, k := 0, 1; i < len(raws); i, k = i+k, k%4+1 { // batches of 1, 2, 3, 4, 1, ...
		w, err := e.SubmitRaw(raws[i:min(i+k, len(raws))])
		if err != nil {
			t.Fatal(err)
		}
		waits = append(waits, w)
	}
	var got []float32
	for _, w := range waits {
		rows, err := w()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, rows...)
	}
	sync, err := e.ExtractRaw(raws, prep)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sync) || len(got) != len(raws)*dim {
		t.Fatalf("%d pipelined values, %d synchronous, want %d", len(got), len(sync), len(raws)*dim)
	}
	if d := relDiff(got, sync, dim); !(d <= 1e-6) {
		t.Errorf("pipelined vs synchronous fc7: ‖Δ‖/‖sync‖ = %.3g, bound 1e-6", d)
	}
	want, err := net.FC7(x, len(raws))
	if err != nil {
		t.Fatal(err)
	}
	d := relDiff(got, want, dim)
	if !(d <= 3e-2) {
		t.Errorf("pipelined fc7 vs the CPU path: ‖Δ‖/‖cpu‖ = %.3g, bound 3e-2", d)
	}
	t.Logf("%d images in batches of 1–4, 3 in flight: vs synchronous ≤ %.3g, vs CPU ≤ %.3g", len(raws), relDiff(got, sync, dim), d)

	e.Close()
	if _, err := e.SubmitRaw(raws[:1]); !errors.Is(err, errPipelineClosed) {
		t.Errorf("SubmitRaw after Close: %v, want %v", err, errPipelineClosed)
	}
}

// TestFC7ExtractorAutoBatch: Batch 0 picks the batch from the free device
// memory, and the extractor runs at it.
func TestFC7ExtractorAutoBatch(t *testing.T) {
	net := vgg16.NewRandom(3)
	e, err := NewFC7Extractor(net, ExtractorOptions{MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if b := e.Batch(); b < 1 || b > 64 {
		t.Fatalf("automatic batch %d, want 1..64", b)
	}
	per, err := e.ComputeTime(2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("automatic batch %d: %.3f ms a batch, %.0f images/s", e.Batch(), per.Seconds()*1e3, float64(e.Batch())/per.Seconds())
}

// TestFC7ExtractorRepeatsPlan: a second extractor given the first one's
// batch and convolution algorithms (what a resumed `features` run reads
// from the manifest) computes the same fc7 bytes for the same images: the
// "same bytes after a resume" promise, on one device and precision.
func TestFC7ExtractorRepeatsPlan(t *testing.T) {
	paths := realdata.Images(t)
	prep := imageprep.Default
	raws := make([]imageprep.Raw, 4)
	for i := range raws {
		var err error
		if raws[i], err = prep.LoadRaw(paths[i]); err != nil {
			t.Fatal(err)
		}
	}
	net := vgg16.NewRandom(13)
	run := func(algos []int) ([]float32, []int, string) {
		e, err := NewFC7Extractor(net, ExtractorOptions{Batch: 4, Precision: TF32, Prep: prep, Algos: algos})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		wait, err := e.SubmitRaw(raws)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := wait()
		if err != nil {
			t.Fatal(err)
		}
		return rows, e.ConvAlgorithms(), e.Describe()
	}
	first, algos, _ := run(nil)
	if len(algos) != 13 {
		t.Fatalf("%d convolution algorithms, want 13", len(algos))
	}
	second, again, desc := run(algos)
	if fmt.Sprint(again) != fmt.Sprint(algos) {
		t.Errorf("repeated plan ran algorithms %v, recorded %v", again, algos)
	}
	if !strings.Contains(desc, "recorded") {
		t.Errorf("Describe does not say the algorithms were recorded:\n%s", desc)
	}
	for i := range first {
		if math.Float32bits(first[i]) != math.Float32bits(second[i]) {
			t.Fatalf("value %d: %v with the measured plan, %v with it repeated", i, first[i], second[i])
		}
	}
	t.Logf("plan %v repeated: %d fc7 values identical", algos, len(first))
}
