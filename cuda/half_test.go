//go:build gpu

package cuda

import (
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"tagimp/model/ops"
)

// dev16 uploads 16-bit values to a new device buffer (padded to a whole
// number of 32-bit words, so that host16 can read it back).
func dev16(t testing.TB, x []uint16) Buffer {
	t.Helper()
	n := (len(x) + 1) &^ 1
	b, err := tctx.Alloc(int64(max(n, 2)) * 2)
	must(t, err)
	t.Cleanup(func() { tctx.Free(&b) })
	if len(x) > 0 {
		must(t, tctx.UploadBytes(b, unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 2*len(x))))
	}
	return b
}

// host16 downloads n 16-bit values (after the device is idle).
func host16(t testing.TB, b Buffer, n int) []uint16 {
	t.Helper()
	must(t, tctx.Synchronize())
	w := make([]uint32, (n+1)/2)
	must(t, tctx.DownloadU32(w, b))
	return unsafe.Slice((*uint16)(unsafe.Pointer(&w[0])), 2*len(w))[:n]
}

// halfInputs are random normals, random bit patterns (every exponent,
// NaNs) and the values at the conversions' edges: signed zeros, ±Inf,
// NaNs, fp16's overflow (65504, 65520) and underflow (2^-24, 2^-25, a tie)
// and rounding ties of both formats.
func halfInputs(r *rand.Rand, n int) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00000), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc12345),
		65504, 65519.99, 65520, -65520, math.MaxFloat32, float32(math.Ldexp(1, -24)), float32(math.Ldexp(1, -25)),
		float32(math.Ldexp(3, -25)), 1 + float32(math.Ldexp(1, -11)), 1 + float32(math.Ldexp(1, -8))}
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(8) {
		case 0:
			x[i] = math.Float32frombits(r.Uint32())
		case 1:
			x[i] = special[r.IntN(len(special))]
		default:
			x[i] = float32(r.NormFloat64() * 4)
		}
	}
	return x
}

// TestHalfKernels runs tg_nchw_to_nhwc16, tg_nhwc16_to_nchw and
// tg_bias_relu16 (kernels/half.cu) at VGG16's shapes (the 3-channel input
// padded to 8, pool5's 512×7×7, conv1's 64 channels at 224×224) and odd
// ones, for bfloat16 and IEEE half, against the Go twins. Bound: bit for
// bit — integer conversions and one float32 addition (__fadd_rn), as the
// twins compute; outputs are poisoned (NaN / 0xAAAA) first.
func TestHalfKernels(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(41, 42))
	for _, bf := range []bool{false, true} {
		for _, s := range []struct{ n, c, cpad, hw int }{{2, 3, 8, 224 * 224}, {3, 5, 6, 7}} {
			in := halfInputs(r, s.n*s.c*s.hw)
			want := make([]uint16, s.n*s.hw*s.cpad)
			ops.NCHWToNHWC16(want, in, s.n, s.c, s.cpad, s.hw, bf)
			poison := make([]uint16, len(want))
			for i := range poison {
				poison[i] = 0xaaaa
			}
			out := dev16(t, poison)
			must(t, tk.NCHWToNHWC16(nil, out, dev(t, in), s.n, s.c, s.cpad, s.hw, bf))
			got := host16(t, out, len(want))
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("tg_nchw_to_nhwc16 bf16=%v %+v: [%d] = %#04x, twin %#04x", bf, s, i, got[i], want[i])
				}
			}
		}
		for _, s := range []struct{ n, c, hw int }{{4, 512, 49}, {3, 7, 13}} {
			in := make([]uint16, s.n*s.c*s.hw)
			for i := range in {
				in[i] = uint16(r.Uint32())
			}
			want := make([]float32, len(in))
			ops.NHWC16ToNCHW(want, in, s.n, s.c, s.hw, bf)
			out := poisoned(t, len(in))
			must(t, tk.NHWC16ToNCHW(nil, out, dev16(t, in), s.n, s.c, s.hw, bf))
			got := host(t, out, len(in))
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("tg_nhwc16_to_nchw bf16=%v %+v: [%d] = %#08x, twin %#08x", bf, s, i,
						math.Float32bits(got[i]), math.Float32bits(want[i]))
				}
			}
		}
		for _, s := range []struct{ pixels, c int }{{2 * 224 * 224, 64}, {3001, 6}, {1, 2}} {
			vals := halfInputs(r, s.pixels*s.c)
			y := make([]uint16, len(vals))
			for i, v := range vals {
				y[i] = ops.To16(v, bf)
			}
			bias := make([]uint16, s.c)
			for i := range bias {
				bias[i] = ops.To16(float32(r.NormFloat64()), bf)
			}
			want := append([]uint16(nil), y...)
			ops.BiasReLUNHWC16(want, bias, s.c, bf)
			dy := dev16(t, y)
			must(t, tk.BiasReLU16(nil, dy, dev16(t, bias), int64(len(y)), s.c, bf))
			got := host16(t, dy, len(y))
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("tg_bias_relu16 bf16=%v %+v: [%d] = %#04x, twin %#04x", bf, s, i, got[i], want[i])
				}
			}
		}
	}
}
