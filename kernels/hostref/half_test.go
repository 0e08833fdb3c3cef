package hostref

import (
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/model/ops"
)

// halfProbe returns float32 bit patterns covering every upper half
// (sign, exponent and the top 7 mantissa bits: every bf16 and every fp16
// rounding neighbourhood) with the low-bit patterns at and around both
// formats' rounding points, plus random patterns.
func halfProbe() []float32 {
	low := []uint32{0, 1, 0x0fff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x5000, 0x7fff, 0x8000, 0x8001,
		0x9000, 0xafff, 0xb000, 0xffff}
	var in []float32
	for hi := uint32(0); hi < 1<<16; hi++ {
		for _, lo := range low {
			in = append(in, math.Float32frombits(hi<<16|lo))
		}
	}
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 1<<20; i++ {
		in = append(in, math.Float32frombits(r.Uint32()))
	}
	return in
}

// TestHalfMatchesTwin: the header's conversions (what the kernels and the
// emulator run) and the Go twins give the same bits on ~2 million inputs,
// NaNs included (same payload rule on both sides), for both formats; the
// widenings on all 65536 patterns.
func TestHalfMatchesTwin(t *testing.T) {
	in := halfProbe()
	got := make([]uint16, len(in))
	for _, bf := range []bool{false, true} {
		To16(got, in, bf)
		for i, f := range in {
			if want := ops.To16(f, bf); got[i] != want {
				t.Fatalf("bf16=%v: tg_to16(%#08x) = %#04x, Go twin %#04x", bf, math.Float32bits(f), got[i], want)
			}
		}
		all := make([]uint16, 1<<16)
		for i := range all {
			all[i] = uint16(i)
		}
		wide := make([]float32, len(all))
		From16(wide, all, bf)
		for i, h := range all {
			if w := ops.From16(h, bf); math.Float32bits(wide[i]) != math.Float32bits(w) {
				t.Fatalf("bf16=%v: tg_from16(%#04x) = %#08x, Go twin %#08x", bf, h, math.Float32bits(wide[i]), math.Float32bits(w))
			}
		}
	}
}

// TestBiasReLU16MatchesTwin: tg_bias_relu16 and ops.BiasReLU16 agree bit
// for bit for every 16-bit pre-activation against a set of biases (zeros,
// ±Inf, NaN, the extremes, random).
func TestBiasReLU16MatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, bf := range []bool{false, true} {
		biases := []uint16{0, 0x8000, ops.To16(float32(math.Inf(1)), bf), ops.To16(float32(math.Inf(-1)), bf),
			ops.To16(float32(math.NaN()), bf), ops.To16(65504, bf), ops.To16(-1, bf), 1, 0x8001}
		for len(biases) < 24 {
			biases = append(biases, uint16(r.Uint32()))
		}
		for _, b := range biases {
			y := make([]uint16, 1<<16)
			bs := make([]uint16, len(y))
			for i := range y {
				y[i], bs[i] = uint16(i), b
			}
			BiasReLU16(y, bs, bf)
			for i, g := range y {
				if want := ops.BiasReLU16(uint16(i), b, bf); g != want {
					t.Fatalf("bf16=%v: tg_bias_relu16(%#04x, %#04x) = %#04x, Go twin %#04x", bf, i, b, g, want)
				}
			}
		}
	}
}
