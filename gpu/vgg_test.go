//go:build gpu && !emu

package gpu

import (
	"fmt"
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

// vggTestNet is VGG16 with seeded random weights and random biases (zero
// in NewRandom), so that the bias paths are exercised.
func vggTestNet() *vgg16.Net {
	net := vgg16.NewRandom(7)
	r := rand.New(rand.NewPCG(7, 8))
	for _, p := range net.Params() {
		if len(p.Shape) == 1 {
			for i := range p.Data {
				p.Data[i] = float32(r.NormFloat64() * 0.05)
			}
		}
	}
	return net
}

// relDev is the largest ‖got − want‖₂/‖want‖₂ over the n rows of width fc.
func relDev(got, want []float32, n, fc int) float64 {
	worst := 0.0
	for i := 0; i < n; i++ {
		var num, den float64
		for j := 0; j < fc; j++ {
			dv := float64(got[i*fc+j]) - float64(want[i*fc+j])
			num += dv * dv
			den += float64(want[i*fc+j]) * float64(want[i*fc+j])
		}
		e := math.Sqrt(num / den)
		if e != e {
			return math.Inf(1)
		}
		worst = max(worst, e)
	}
	return worst
}

// TestVGG16FC7 compares fc7 on the device with the CPU path (model/vgg16,
// the reference) for seeded random VGG16 weights with random biases, per
// precision, and logs the deviation that `features --help` quotes. Bounds
// on ‖gpu − cpu‖₂/‖cpu‖₂ per image, from the unit roundoff u of what each
// precision rounds and the fifteen layers it goes through:
//   - FP32: 1e-4 (fifteen layers of FP32 sums in another order);
//   - TF32: 3e-2 (inputs of every product rounded to 10-bit mantissas,
//     u = 2^-11 ≈ 4.9e-4, twice a layer, through fifteen layers: ≈ 61u);
//   - BF16: 0.25 = 64u with u = 2^-8 ≈ 3.9e-3 (8-bit significands): per
//     convolution the weights, the stored input activations and the stored
//     output are each rounded once (3u, accumulation in float32), thirteen
//     convolutions ≈ 39u in the worst case adding up linearly, fc6/fc7 in
//     TF32 (≈ 4·2^-11 ≈ 0.5u) — 64u leaves room for ReLU's amplification of
//     errors near zero, as the TF32 bound does;
//   - FP16: 3e-2 ≈ 64u with u = 2^-11 (11-bit significands), the same
//     count as BF16 (fp16's range, ±65504, is not reached by these
//     activations; an overflow would give Inf/NaN and fail the bound).
func TestVGG16FC7(t *testing.T) {
	ctx, err := cuda.Open(0) // binds the context to this test's (locked) thread
	if err != nil {
		t.Fatalf("open GPU: %v", err)
	}
	defer ctx.Close()
	net := vggTestNet()
	const n = 3
	x := vggInputs(t, n)
	want, err := net.FC7(x, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prec Precision
		tol  float64
	}{{FP32, 1e-4}, {TF32, 3e-2}, {BF16, 0.25}, {FP16, 3e-2}} {
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
			e := relDev(got[i*fc:(i+1)*fc], want[i*fc:(i+1)*fc], 1, fc)
			worst = max(worst, e)
			if !(e <= tc.tol) {
				t.Errorf("%s image %d: ‖gpu − cpu‖/‖cpu‖ = %.3g, bound %.2g", tc.prec, i, e, tc.tol)
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

// TestVGG16Unfused checks the fallback of the 16-bit precisions: every
// layer forced onto cudnnConvolutionForward + tg_bias_relu16 (the path a
// layer takes when cuDNN does not support the fused call) gives the fc7 of
// the path NewVGG16 chooses (fused where cuDNN supports it). The two differ
// by one extra rounding a layer — the unfused path stores the
// pre-activation in 16 bits before the bias is added — so thirteen
// roundings of at most u (2^-8 for bf16, 2^-11 for fp16) each; bound on
// ‖unfused − fused‖₂/‖fused‖₂: 32u (0.125 for bf16, 1.6e-2 for fp16),
// room for ReLU's amplification as in TestVGG16FC7. When cuDNN fuses no
// layer, both runs take the same path and the test says so.
func TestVGG16Unfused(t *testing.T) {
	ctx, err := cuda.Open(0)
	if err != nil {
		t.Fatalf("open GPU: %v", err)
	}
	defer ctx.Close()
	net := vggTestNet()
	const n = 2
	x := vggInputs(t, n)
	for _, tc := range []struct {
		prec Precision
		tol  float64
	}{{BF16, 32.0 / 256}, {FP16, 32.0 / 2048}} {
		run := func(unfused bool) ([]float32, string) {
			v, err := NewVGG16(ctx, net, VGGOptions{Batch: n, Precision: tc.prec, unfused: unfused})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			fused := 0
			for _, l := range v.layers {
				if l.fused {
					fused++
				}
			}
			if unfused && fused != 0 {
				t.Errorf("%s: %d layers fused despite the unfused option", tc.prec, fused)
			}
			got, err := v.FC7Host(x, n)
			if err != nil {
				t.Fatal(err)
			}
			return got, fmt.Sprintf("%d of %d layers fused\n%s", fused, len(v.layers), v.Describe())
		}
		chosen, desc := run(false)
		forced, _ := run(true)
		t.Logf("%s as chosen: %s", tc.prec, desc)
		e := relDev(forced, chosen, n, net.Config().FC)
		if !(e <= tc.tol) {
			t.Errorf("%s: fc7 unfused vs as chosen ‖Δ‖/‖fc7‖ = %.3g, bound %.3g", tc.prec, e, tc.tol)
		}
		t.Logf("%s: fc7 unfused vs as chosen: %.3g (bound %.3g)", tc.prec, e, tc.tol)
	}
}
