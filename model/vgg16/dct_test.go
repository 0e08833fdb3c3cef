package vgg16

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"tagimp/data/imageprep"
	"tagimp/internal/realdata"
)

// TestDCTScalingFC7 measures what decoding at a DCT scale (imageprep's
// default with libjpeg-turbo) changes in fc7, against full decoding: the
// relative L2 error ‖fc7(scaled) − fc7(full)‖ / ‖fc7(full)‖ per image, through
// VGG16 with seeded random weights (no pretrained weights are available to
// tests), on the three golden COCO images and the shared real ones where
// present. imageprep.DCTScalingNote (quoted by `features --help`) states the
// measured figures; the test fails when they grow past twice the note's.
func TestDCTScalingFC7(t *testing.T) {
	if testing.Short() {
		t.Skip("full VGG16 forwards skipped in -short mode")
	}
	if imageprep.JPEGDecoder != "libjpeg-turbo" {
		t.Skip("this build decodes with image/jpeg: no DCT scaling")
	}
	paths, _ := filepath.Glob(filepath.Join("..", "..", "data", "imageprep", "testdata", "golden", "coco-*.jpg"))
	if len(paths) == 0 {
		t.Fatal("golden COCO images missing")
	}
	if testing.Verbose() {
		// The full measurement behind the note; -v only, to keep make test short.
		paths = append(paths, realdata.Images(t)...)
	}
	net := NewRandom(1)
	for _, crop := range []bool{false, true} {
		var errs []float64
		for _, p := range paths {
			var fc7 [2][]float32
			for i, full := range []bool{false, true} {
				cfg := imageprep.Config{Mode: imageprep.Torchvision, Size: 224, CenterCrop: crop, FullDecode: full}
				x, err := cfg.LoadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if fc7[i], err = net.FC7(x, 1); err != nil {
					t.Fatal(err)
				}
			}
			var d, n float64
			for i := range fc7[1] {
				e := float64(fc7[0][i] - fc7[1][i])
				d += e * e
				n += float64(fc7[1][i]) * float64(fc7[1][i])
			}
			errs = append(errs, math.Sqrt(d/n))
		}
		slices.Sort(errs)
		mean := 0.0
		for _, e := range errs {
			mean += e / float64(len(errs))
		}
		t.Logf("crop=%v: fc7 relative L2 error, DCT-scaled vs full decode, over %d images: mean %.4f, median %.4f, max %.4f",
			crop, len(errs), mean, errs[len(errs)/2], errs[len(errs)-1])
		if mean > 2*imageprep.DCTNoteMean || errs[len(errs)-1] > 2*imageprep.DCTNoteMax || mean == 0 {
			t.Fatalf("DCT scaling changes fc7 more than imageprep.DCTScalingNote says: %s", fmt.Sprint(errs))
		}
	}
}
