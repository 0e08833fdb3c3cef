package imageprep

import (
	"path/filepath"
	"testing"
)

// TestLoadRawMatchesLoadFile: what the device computes from LoadRaw's
// bytes (FromRaw is tg_prep's bit-exact twin) against the CPU path's
// LoadFile, on the golden COCO images and the shared real ones, for both
// modes with and without the centre crop. The two resize the same decoded
// (DCT-scaled) pixels, the device with the reference filter and LoadFile
// with the fused one; both take the crop geometry from the full-size image
// and map the decode's exact extent (Span8). Measured: max 1 level (float32
// vs float64 rounding ties), mean 0.0000; bound: max 1, mean ≤ 0.01.
// Without Span8 and the full-size geometry it was mean 0.9–2.4 levels,
// max 89–158.
func TestLoadRawMatchesLoadFile(t *testing.T) {
	paths := goldenAndSharedImages()
	for _, cfg := range []Config{
		{Mode: Caffe, Size: 224}, {Mode: Torchvision, Size: 224, CenterCrop: true}, {Mode: Torchvision, Size: 224, FullDecode: true},
	} {
		t.Run(cfg.String(), func(t *testing.T) {
			var got, want []uint8
			for _, p := range paths {
				r, err := cfg.LoadRaw(p)
				if err != nil {
					t.Fatal(err)
				}
				dev := make([]float32, cfg.Len())
				if err := cfg.FromRaw(dev, r); err != nil {
					t.Fatal(err)
				}
				cpu, err := cfg.LoadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, tensorLevels(cfg, dev)...)
				want = append(want, tensorLevels(cfg, cpu)...)
			}
			s := compareLevels(got, want)
			t.Logf("device preprocessing of LoadRaw vs LoadFile over %d images: mean |Δ| %.4f levels, 99.9%% ≤ %d, max %d", len(paths), s.mean, s.p999, s.max)
			if s.mean > 0.01 || s.max > 1 {
				t.Fatalf("LoadRaw + device preprocessing differs from LoadFile: mean %.4f (bound 0.01), max %d (bound 1)", s.mean, s.max)
			}
		})
	}
	if _, err := (Config{Mode: Caffe, Size: 224}).LoadRaw(filepath.Join(t.TempDir(), "missing.jpg")); err == nil {
		t.Error("LoadRaw of a missing file: no error")
	}
}
