package emu

import (
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/data/imageprep"
	"tagimp/internal/realdata"
)

// packBatch packs imgs into one buffer as the GPU pipeline does: each
// image's planes appended, its descriptor shifted to its offset.
func packBatch(t *testing.T, c imageprep.Config, imgs []image.Image) ([]byte, []imageprep.RawDesc) {
	t.Helper()
	raws := make([]imageprep.Raw, len(imgs))
	for i, img := range imgs {
		var err error
		if raws[i], err = c.Raw(img); err != nil {
			t.Fatal(err)
		}
	}
	pix, descs := packRaws(raws)
	return pix, descs
}

// packRaws is packBatch for images already packed one by one.
func packRaws(raws []imageprep.Raw) ([]byte, []imageprep.RawDesc) {
	var pix []byte
	var descs []imageprep.RawDesc
	for _, raw := range raws {
		descs = append(descs, raw.Desc.Shifted(int64(len(pix))))
		pix = append(pix, raw.Pix...)
	}
	return pix, descs
}

// runPrep runs the kernel on a packed batch with c's normalisation; values
// it does not write stay NaN.
func runPrep(t *testing.T, k Kernels, c imageprep.Config, pix []byte, descs []imageprep.RawDesc) []float32 {
	t.Helper()
	out := make([]float32, len(descs)*c.Len())
	for i := range out {
		out[i] = float32(math.NaN()) // unwritten values show
	}
	mean, std := imageprep.TorchvisionMean, imageprep.TorchvisionStd
	if c.Mode == imageprep.Caffe {
		mean = imageprep.CaffeMeanBGR
	}
	if err := k.Prep(out, pix, descs, c.Size, c.Mode == imageprep.Caffe, mean, std); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPrepMatchesTwinAndCPU runs the preprocessing kernel on a batch of
// every image kind and on real COCO images, and compares each image with
// imageprep's CPU path (Tensor), bit for bit: the kernel computes the same
// float64 operations in the same order (no contraction on the host; on the
// device tg_dmul/tg_dadd forbid it), so the bound is zero.
func TestPrepMatchesTwinAndCPU(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var small []image.Image
	for _, sz := range [][2]int{{1, 1}, {9, 5}, {40, 23}, {130, 61}} {
		rect := image.Rect(0, 0, sz[0], sz[1])
		rgba := image.NewRGBA(rect)
		for i := range rgba.Pix {
			rgba.Pix[i] = uint8(r.IntN(256))
		}
		gray := image.NewGray(rect)
		for i := range gray.Pix {
			gray.Pix[i] = uint8(r.IntN(256))
		}
		small = append(small, rgba, gray)
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420,
			image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
			y := image.NewYCbCr(rect, ratio)
			for _, p := range [][]byte{y.Y, y.Cb, y.Cr} {
				for i := range p {
					p[i] = uint8(r.IntN(256))
				}
			}
			small = append(small, y)
		}
	}
	cases := []struct {
		cfg  imageprep.Config
		imgs []image.Image
	}{
		{imageprep.Config{Mode: imageprep.Torchvision, Size: 20}, small},
		{imageprep.Config{Mode: imageprep.Caffe, Size: 20, CenterCrop: true}, small},
	}
	if !testing.Short() {
		paths := realdata.Images(t)
		var real []image.Image
		for _, p := range paths[:2] {
			img, err := imageprep.Decode(p, 0)
			if err != nil {
				t.Fatal(err)
			}
			real = append(real, img)
		}
		cases = append(cases,
			struct {
				cfg  imageprep.Config
				imgs []image.Image
			}{imageprep.Config{Mode: imageprep.Torchvision, Size: 224, CenterCrop: true}, real})
	}
	k := Kernels{SMs: 2}
	for _, tc := range cases {
		c := tc.cfg
		pix, descs := packBatch(t, c, tc.imgs)
		n := c.Len()
		out := runPrep(t, k, c, pix, descs)
		want := make([]float32, n)
		for i, img := range tc.imgs {
			if err := c.Tensor(want, img); err != nil {
				t.Fatal(err)
			}
			got := out[i*n : (i+1)*n]
			for j := range want {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Errorf("%s image %d (%T %v): value %d = %v, CPU path %v", c, i, img, img.Bounds().Size(), j, got[j], want[j])
					break
				}
			}
		}
	}
}

// TestPrepDCTScaled runs the kernel on real COCO JPEGs as features
// --device gpu feeds it: decoded at a DCT scale (LoadRaw), with the
// full-size crop geometry and the decode's exact extent (Span8), and
// compares it with its Go twin FromRaw, bit for bit.
func TestPrepDCTScaled(t *testing.T) {
	paths := realdata.Images(t)
	k := Kernels{SMs: 2}
	for _, c := range []imageprep.Config{
		{Mode: imageprep.Torchvision, Size: 224},
		{Mode: imageprep.Caffe, Size: 224, CenterCrop: true},
	} {
		var raws []imageprep.Raw
		spans := 0
		for _, p := range paths[:4] {
			raw, err := c.LoadRaw(p)
			if err != nil {
				t.Fatal(err)
			}
			if raw.Desc.Span8 != 0 {
				spans++
			}
			raws = append(raws, raw)
		}
		if spans == 0 && imageprep.JPEGDecoder == "libjpeg-turbo" {
			t.Errorf("%s: no image was decoded at a DCT scale; the test does not exercise Span8", c)
		}
		pix, descs := packRaws(raws)
		n := c.Len()
		out := runPrep(t, k, c, pix, descs)
		want := make([]float32, n)
		for i, raw := range raws {
			if err := c.FromRaw(want, raw); err != nil {
				t.Fatal(err)
			}
			for j := range want {
				if math.Float32bits(out[i*n+j]) != math.Float32bits(want[j]) {
					t.Errorf("%s image %d: value %d = %v, twin %v", c, i, j, out[i*n+j], want[j])
					break
				}
			}
		}
	}
}
