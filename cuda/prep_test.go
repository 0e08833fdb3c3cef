//go:build gpu

package cuda

import (
	"image"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"unsafe"

	"tagimp/data/imageprep"
	"tagimp/internal/realdata"
)

// TestPrep runs tg_prep on a batch of every image kind Decode returns
// (and the real COCO images when TAGIMP_TEST_DATA or ../shared/data has
// them) and compares each output with imageprep's CPU path. Bound: bit
// for bit — the kernel does the CPU path's float64 operations in its order
// with tg_dmul/tg_dadd (no fused multiply-add) and IEEE division.
func TestPrep(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(21, 22))
	var imgs []image.Image
	for _, sz := range [][2]int{{1, 1}, {9, 5}, {40, 23}, {640, 480}, {333, 500}} {
		rect := image.Rect(0, 0, sz[0], sz[1])
		rgba := image.NewRGBA(rect)
		for i := range rgba.Pix {
			rgba.Pix[i] = uint8(r.IntN(256))
		}
		gray := image.NewGray(rect)
		for i := range gray.Pix {
			gray.Pix[i] = uint8(r.IntN(256))
		}
		imgs = append(imgs, rgba, gray)
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio420,
			image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410} {
			y := image.NewYCbCr(rect, ratio)
			for _, p := range [][]byte{y.Y, y.Cb, y.Cr} {
				for i := range p {
					p[i] = uint8(r.IntN(256))
				}
			}
			imgs = append(imgs, y)
		}
	}
	if os.Getenv(realdata.EnvDir) != "" {
		for _, p := range realdata.Images(t) {
			img, err := imageprep.Decode(p, 0)
			must(t, err)
			imgs = append(imgs, img)
		}
	}
	for _, c := range []imageprep.Config{
		{Mode: imageprep.Torchvision, Size: 224},
		{Mode: imageprep.Torchvision, Size: 224, CenterCrop: true},
		{Mode: imageprep.Caffe, Size: 224, CenterCrop: true},
	} {
		raws := make([]imageprep.Raw, len(imgs))
		for i, img := range imgs {
			var err error
			raws[i], err = c.Raw(img)
			must(t, err)
		}
		got := prepRaws(t, c, raws)
		n := c.Len()
		want := make([]float32, n)
		bad := 0
		for i, img := range imgs {
			must(t, c.Tensor(want, img))
			for j := range want {
				if g := got[i*n+j]; math.Float32bits(g) != math.Float32bits(want[j]) {
					if bad < 5 {
						t.Errorf("%s image %d (%T %v): value %d = %v, CPU path %v", c, i, img, img.Bounds().Size(), j, g, want[j])
					}
					bad++
				}
			}
		}
		t.Logf("%s: %d images, %d values differ from the CPU path", c, len(imgs), bad)
	}
}

// TestPrepDCTScaled is TestPrep for real COCO JPEGs as `features --device
// gpu` feeds them: decoded at a DCT scale (imageprep LoadRaw: full-size
// crop geometry, the decode's exact extent in Span8). Bound: bit for bit
// with the Go twin FromRaw, for the reason TestPrep gives.
func TestPrepDCTScaled(t *testing.T) {
	bind(t)
	paths := realdata.Images(t)
	for _, c := range []imageprep.Config{
		{Mode: imageprep.Torchvision, Size: 224},
		{Mode: imageprep.Torchvision, Size: 224, CenterCrop: true},
	} {
		raws := make([]imageprep.Raw, len(paths))
		for i, p := range paths {
			var err error
			raws[i], err = c.LoadRaw(p)
			must(t, err)
		}
		got := prepRaws(t, c, raws)
		n := c.Len()
		want := make([]float32, n)
		bad := 0
		for i, raw := range raws {
			must(t, c.FromRaw(want, raw))
			for j := range want {
				if g := got[i*n+j]; math.Float32bits(g) != math.Float32bits(want[j]) {
					if bad < 5 {
						t.Errorf("%s image %d: value %d = %v, twin %v", c, i, j, g, want[j])
					}
					bad++
				}
			}
		}
		t.Logf("%s: %d DCT-scaled images, %d values differ from the twin", c, len(raws), bad)
	}
}

// prepRaws packs raws into one pixel buffer and one descriptor buffer on
// the device, runs tg_prep on them (into a poisoned output) and returns
// the len(raws) preprocessed images.
func prepRaws(t *testing.T, c imageprep.Config, raws []imageprep.Raw) []float32 {
	t.Helper()
	var pix []byte
	var descs []imageprep.RawDesc
	for _, raw := range raws {
		descs = append(descs, raw.Desc.Shifted(int64(len(pix))))
		pix = append(pix, raw.Pix...)
	}
	dpix, err := tctx.Alloc(int64(len(pix)))
	must(t, err)
	defer tctx.Free(&dpix)
	must(t, tctx.UploadBytes(dpix, pix))
	ddesc, err := tctx.Alloc(int64(len(descs)) * imageprep.RawDescBytes)
	must(t, err)
	defer tctx.Free(&ddesc)
	must(t, tctx.UploadBytes(ddesc, unsafe.Slice((*byte)(unsafe.Pointer(&descs[0])), len(descs)*imageprep.RawDescBytes)))
	n := c.Len()
	out := poisoned(t, len(descs)*n)
	mean, std := imageprep.TorchvisionMean, imageprep.TorchvisionStd
	if c.Mode == imageprep.Caffe {
		mean = imageprep.CaffeMeanBGR
	}
	must(t, tk.Prep(nil, out, dpix, ddesc, len(descs), c.Size, c.Mode == imageprep.Caffe, mean, std))
	return host(t, out, len(descs)*n)
}
