//go:build gpu && !emu

package gpu

import (
	"image"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"tagimp/cuda"
	"tagimp/data/imageprep"
	"tagimp/internal/realdata"
	"tagimp/model/vgg16"
)

// vggInputs returns n preprocessed images: the real COCO images when
// TAGIMP_TEST_DATA names them (scripts/gpu-check.sh carries them), else
// random pictures.
func vggInputs(t *testing.T, n int) []float32 {
	c := imageprep.Default
	x := make([]float32, n*c.Len())
	var paths []string
	if os.Getenv(realdata.EnvDir) != "" {
		paths = realdata.Images(t)
	}
	r := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < n; i++ {
		var img image.Image
		if i < len(paths) {
			var err error
			if img, err = imageprep.Decode(paths[i], 0); err != nil {
				t.Fatal(err)
			}
		} else {
			m := image.NewRGBA(image.Rect(0, 0, 320, 240))
			for j := range m.Pix {
				m.Pix[j] = uint8(r.IntN(256))
			}
			img = m
		}
		if err := c.Tensor(x[i*c.Len():(i+1)*c.Len()], img); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// vggRaws returns the first n real images packed for the device
// preprocessing, or nil when they are not carried (vggInputs then used
// random pictures).
func vggRaws(t *testing.T, n int) []imageprep.Raw {
	if os.Getenv(realdata.EnvDir) == "" {
		return nil
	}
	paths := realdata.Images(t)
	if len(paths) < n {
		return nil
	}
	raws := make([]imageprep.Raw, n)
	for i := range raws {
		img, err := imageprep.Decode(paths[i], 0)
		if err != nil {
			t.Fatal(err)
		}
		if raws[i], err = imageprep.Default.Raw(img); err != nil {
			t.Fatal(err)
		}
	}
	return raws
}

// TestVGG16FC7 compares fc7 on the device with the CPU path (model/vgg16,
// the reference) for seeded random VGG16 weights with random biases, per
// precision, and logs the deviation that `features --help` quotes. Bounds
// on ‖gpu − cpu‖₂/‖cpu‖₂ per image: 1e-4 for FP32 (fifteen layers of FP32
// sums in another order), 3e-2 for TF32 (inputs of every product rounded to
// 10-bit mantissas, ≈ 5e-4 each, through fifteen layers).
func TestVGG16FC7(t *testing.T) {
	ctx, err := cuda.Open(0) // binds the context to this test's (locked) thread
	if err != nil {
		t.Fatalf("open GPU: %v", err)
	}
	defer ctx.Close()
	net := vgg16.NewRandom(7)
	r := rand.New(rand.NewPCG(7, 8))
	for _, p := range net.Params() {
		if len(p.Shape) == 1 { // biases (zero in NewRandom): exercise the bias path
			for i := range p.Data {
				p.Data[i] = float32(r.NormFloat64() * 0.05)
			}
		}
	}
	const n = 3
	x := vggInputs(t, n)
	want, err := net.FC7(x, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prec Precision
		tol  float64
	}{{FP32, 1e-4}, {TF32, 3e-2}} {
		v, err := NewVGG16(ctx, net, VGGOptions{Batch: 4, Precision: tc.prec})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(v.Describe())
		got, err := v.FC7Host(x, n)
		if err != nil {
			t.Fatal(err)
		}
		fc := net.Config().FC
		worst := 0.0
		for i := 0; i < n; i++ {
			var num, den float64
			for j := 0; j < fc; j++ {
				dv := float64(got[i*fc+j]) - float64(want[i*fc+j])
				num += dv * dv
				den += float64(want[i*fc+j]) * float64(want[i*fc+j])
			}
			e := math.Sqrt(num / den)
			worst = max(worst, e)
			if !(e <= tc.tol) {
				t.Errorf("%s image %d: ‖gpu − cpu‖/‖cpu‖ = %.3g, bound %.0g", tc.prec, i, e, tc.tol)
			}
		}
		// The same images preprocessed on the device (tg_prep, bit for bit
		// imageprep's output) give the same fc7 up to the convolutions'
		// run-to-run differences (some cuDNN algorithms sum in varying order).
		if real := vggRaws(t, n); real != nil {
			gotRaw, err := v.FC7Raw(real, imageprep.Default)
			if err != nil {
				t.Fatal(err)
			}
			var num, den float64
			for j := range got {
				dv := float64(gotRaw[j]) - float64(got[j])
				num += dv * dv
				den += float64(got[j]) * float64(got[j])
			}
			if e := math.Sqrt(num / den); !(e <= tc.tol/10) {
				t.Errorf("%s: fc7 of device-preprocessed images differs from host-preprocessed by %.3g (bound %.0g)", tc.prec, e, tc.tol/10)
			}
		}
		t.Logf("%s: fc7 deviation from the CPU path ‖gpu − cpu‖₂/‖cpu‖₂ ≤ %.3g over %d images", tc.prec, worst, n)
		v.Close()
	}
}
