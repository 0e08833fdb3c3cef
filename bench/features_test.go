package bench

import (
	"context"
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
	seen := 0
	r, err = Features(context.Background(), FeaturesConfig{Paths: paths, Prep: imageprep.Default,
		Extractor: slowExtractor{per: time.Millisecond}, Batch: 4, Workers: 2, Iters: 1,
		RawExtract: func(raws []imageprep.Raw) error {
			for _, raw := range raws {
				if len(raw.Pix) == 0 || raw.Desc.W <= 0 {
					t.Errorf("empty raw image %+v", raw.Desc)
				}
			}
			seen += len(raws)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	if seen != len(paths) || r.RawDecodeIPS <= 0 || r.RawEndToEndIPS <= 0 {
		t.Errorf("raw path: %d of %d images handed over, result %+v", seen, len(paths), r)
	}
	if _, err := Features(context.Background(), FeaturesConfig{Prep: imageprep.Default}); err == nil {
		t.Error("no images accepted")
	}
}
