package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"tagimp/data/imageprep"
	"tagimp/internal/realdata"
)

// slowExtractor computes nothing but takes a fixed time per image, so the
// wait fraction has a known floor.
type slowExtractor struct{ per time.Duration }

func (s slowExtractor) Dim() int { return 4 }
func (s slowExtractor) Extract(x []float32, n int) ([]float32, error) {
	time.Sleep(time.Duration(n) * s.per)
	return make([]float32, n*4), nil
}

func TestFeatures(t *testing.T) {
	paths := realdata.Images(t)
	r, err := Features(context.Background(), FeaturesConfig{Paths: paths, Prep: imageprep.Default,
		Extractor: slowExtractor{per: time.Millisecond}, Batch: 4, Workers: 2, Iters: 2})
	if err != nil {
		t.Fatal(err)
	}
	if r.ComputeIPS <= 0 || r.ComputeIPS > 1000 || r.DecodeIPS <= 0 || r.EndToEndIPS <= 0 ||
		r.EndToEndIPS > r.ComputeIPS || r.Wait < 0 || r.Wait >= 1 || r.Images != len(paths) {
		t.Errorf("implausible result %+v (compute is at most 1000 images/s, end to end at most that)", r)
	}
	if r.Bottleneck != "decode" && r.Bottleneck != "compute" {
		t.Errorf("bottleneck %q", r.Bottleneck)
	}
	rx := &fakeRaw{}
	r, err = Features(context.Background(), FeaturesConfig{Paths: paths, Prep: imageprep.Default,
		Extractor: slowExtractor{per: time.Millisecond}, Batch: 4, Workers: 2, Iters: 1, RawExtractor: rx})
	if err != nil {
		t.Fatal(err)
	}
	if int(rx.seen.Load()) != len(paths) || r.RawDecodeIPS <= 0 || r.RawEndToEndIPS <= 0 || r.RawCopyMBps <= 0 ||
		r.RawWait < 0 || r.RawWait >= 1 || (r.RawBottleneck != "decode" && r.RawBottleneck != "compute") {
		t.Errorf("raw path: %d of %d images handed over, result %+v", rx.seen.Load(), len(paths), r)
	}
	if _, err := Features(context.Background(), FeaturesConfig{Prep: imageprep.Default}); err == nil {
		t.Error("no images accepted")
	}
}

// fakeRaw is a features.RawExtractor that checks the decoded images and
// returns their rows from another goroutine, as the GPU pipeline does.
type fakeRaw struct{ seen atomic.Int64 }

func (f *fakeRaw) Dim() int      { return 4 }
func (f *fakeRaw) InFlight() int { return 2 }
func (f *fakeRaw) SubmitRaw(raws []imageprep.Raw) (func() ([]float32, error), error) {
	for _, raw := range raws {
		if len(raw.Pix) == 0 || raw.Desc.W <= 0 {
			return nil, fmt.Errorf("empty raw image %+v", raw.Desc)
		}
	}
	f.seen.Add(int64(len(raws)))
	res := make(chan []float32, 1)
	n := len(raws)
	go func() { time.Sleep(time.Millisecond); res <- make([]float32, 4*n) }()
	return func() ([]float32, error) { return <-res, nil }, nil
}
