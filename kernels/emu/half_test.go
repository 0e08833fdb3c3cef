package emu

import (
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/model/ops"
)

// specialF32 are float32 values that stress the 16-bit conversions: signed
// zeros, infinities, NaNs (quiet, signalling, negative), values at the
// fp16 overflow and underflow edges and at rounding ties.
var specialF32 = []float32{
	0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
	math.Float32frombits(0x7fc00000), math.Float32frombits(0x7f800001), math.Float32frombits(0xffc12345),
	65504, 65519.99, 65520, -65520, 1e30, math.MaxFloat32, -math.MaxFloat32,
	float32(math.Ldexp(1, -24)), float32(math.Ldexp(1, -25)), float32(math.Ldexp(3, -25)), float32(math.Ldexp(1, -14)),
	1 + float32(math.Ldexp(1, -11)), 1 + float32(math.Ldexp(1, -8)), 1 + float32(math.Ldexp(3, -8)),
	math.Float32frombits(1), math.Float32frombits(0x00018000),
}

// randF32 returns n values: normals of scale 4, random bit patterns (every
// exponent, NaNs included) and the special values, mixed.
func randF32(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(8) {
		case 0:
			x[i] = math.Float32frombits(r.Uint32())
		case 1:
			x[i] = specialF32[r.IntN(len(specialF32))]
		default:
			x[i] = float32(r.NormFloat64() * 4)
		}
	}
	return x
}

func sameBits16(t *testing.T, what string, got, want []uint16) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: [%d] = %#04x, Go twin %#04x", what, i, got[i], want[i])
		}
	}
}

// TestHalfKernelsMatchTwins runs the three kernels of half.cu on the
// emulator with package cuda's launch shapes, on random inputs with special
// values, and compares with the Go twins bit for bit (the kernels use only
// integer conversions and one float32 addition, as the twins do). Small
// SMs make the grid-stride loops go round, and the shapes include pixel
// counts and channel counts that do not divide the grid stride, so the
// channel bookkeeping of tg_bias_relu16 is exercised. Outputs start as
// 0xAAAA / NaN so that unwritten elements show.
func TestHalfKernelsMatchTwins(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	k := Kernels{SMs: 2}
	for _, bf := range []bool{false, true} {
		for _, s := range []struct{ n, c, cpad, hw int }{
			{1, 3, 8, 1}, {2, 3, 8, 49}, {3, 3, 3, 1001}, {2, 5, 6, 7},
		} {
			in := randF32(r, s.n*s.c*s.hw)
			got := make([]uint16, s.n*s.hw*s.cpad)
			for i := range got {
				got[i] = 0xaaaa
			}
			if err := k.NCHWToNHWC16(got, in, s.n, s.c, s.cpad, s.hw, bf); err != nil {
				t.Fatal(err)
			}
			want := make([]uint16, len(got))
			ops.NCHWToNHWC16(want, in, s.n, s.c, s.cpad, s.hw, bf)
			sameBits16(t, "tg_nchw_to_nhwc16", got, want)
		}
		for _, s := range []struct{ n, c, hw int }{{1, 1, 1}, {2, 512, 49}, {3, 7, 13}} {
			in := make([]uint16, s.n*s.c*s.hw)
			for i := range in {
				in[i] = uint16(r.Uint32())
			}
			got := make([]float32, len(in))
			for i := range got {
				got[i] = float32(math.NaN())
			}
			if err := k.NHWC16ToNCHW(got, in, s.n, s.c, s.hw, bf); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(in))
			ops.NHWC16ToNCHW(want, in, s.n, s.c, s.hw, bf)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("tg_nhwc16_to_nchw bf16=%v %v: [%d] = %#08x, Go twin %#08x", bf, s, i,
						math.Float32bits(got[i]), math.Float32bits(want[i]))
				}
			}
		}
		for _, s := range []struct{ pixels, c int }{{1, 2}, {7, 6}, {33, 64}, {1500, 10}, {3000, 6}} {
			y := make([]uint16, s.pixels*s.c)
			for i := range y {
				y[i] = ops.To16(randF32(r, 1)[0], bf)
			}
			bias := make([]uint16, s.c)
			for i := range bias {
				bias[i] = ops.To16(float32(r.NormFloat64()), bf)
			}
			bias[0] = ops.To16(float32(math.Inf(-1)), bf)
			want := append([]uint16(nil), y...)
			ops.BiasReLUNHWC16(want, bias, s.c, bf)
			if err := k.BiasReLU16(y, bias, s.c, bf); err != nil {
				t.Fatal(err)
			}
			sameBits16(t, "tg_bias_relu16", y, want)
		}
	}
	if err := k.BiasReLU16(make([]uint16, 6), make([]uint16, 3), 3, true); err == nil {
		t.Error("odd channel count accepted")
	}
}
