package ops

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// refF16 is binary16 rounding computed another way: in float64, on the
// grid of fp16 values around x (ulp 2^(e−10) in the normal range, 2^-24
// below 2^-14), math.RoundToEven, and ±Inf when the rounded magnitude
// exceeds 65504. x is finite.
func refF16(x float32) float64 {
	v := float64(x)
	a := math.Abs(v)
	ulp := math.Ldexp(1, -24)
	if a >= math.Ldexp(1, -14) {
		_, e := math.Frexp(a) // a = f·2^e, f in [0.5, 1)
		ulp = math.Ldexp(1, e-1-10)
	}
	r := math.RoundToEven(v/ulp) * ulp
	if math.Abs(r) > 65504 {
		return math.Inf(int(math.Copysign(1, v)))
	}
	if r == 0 {
		return math.Copysign(0, v)
	}
	return r
}

// refBF16 rounds x to the nearer of its two bfloat16 neighbours (the
// truncation t toward zero and the next one away), ties to the even
// pattern; past the largest finite bfloat16, the next neighbour counts as
// 2^128 (±Inf when chosen). x is finite.
func refBF16(x float32) uint16 {
	u := math.Float32bits(x)
	t := uint16(u >> 16)
	lo := math.Abs(float64(BF16ToF32(t)))
	hi := math.Ldexp(1, 128)
	if t&0x7fff != 0x7f7f {
		hi = math.Abs(float64(BF16ToF32(t + 1)))
	}
	a := math.Abs(float64(x))
	switch dl, dh := a-lo, hi-a; {
	case dl < dh:
		return t
	case dh < dl:
		return t + 1
	case t&1 == 0:
		return t
	}
	return t + 1
}

// halfInputs are float32 bit patterns that probe every rounding case:
// around each exponent (every float32 exponent, both signs), the mantissa
// patterns at the bf16 and fp16 rounding points (just below, at and above
// the halfway point, even and odd kept bits), the subnormal fp16 range
// bit by bit, and random values.
func halfInputs() []uint32 {
	var in []uint32
	low := []uint32{0, 1, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x7fff, 0x8000, 0x8001, 0xffff,
		0x10000, 0x17fff, 0x18000, 0x18001, 0x7fffff, 0x400000, 0x7fe000, 0x7ff000, 0x7fefff}
	for s := uint32(0); s < 2; s++ {
		for e := uint32(0); e < 256; e++ {
			for _, m := range low {
				in = append(in, s<<31|e<<23|m)
			}
		}
	}
	// fp16's subnormal and lowest normal range, every rounding position.
	for e := uint32(100); e <= 114; e++ {
		for sh := uint32(0); sh < 23; sh++ {
			for _, d := range []int32{-1, 0, 1} {
				m := uint32(int32(1<<sh) + d)
				in = append(in, e<<23|m&0x7fffff, 1<<31|e<<23|m&0x7fffff)
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		in = append(in, r.Uint32())
	}
	return in
}

func TestF32ToF16(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000},
		{65504, 0x7bff}, {65519.99, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{float32(math.Ldexp(1, -14)), 0x0400},         // smallest normal
		{float32(math.Ldexp(1, -24)), 0x0001},         // smallest subnormal
		{float32(math.Ldexp(1, -25)), 0x0000},         // tie between 0 and 2^-24: even 0
		{float32(math.Ldexp(1.0000001, -25)), 0x0001}, // just above the tie
		{float32(math.Ldexp(3, -25)), 0x0002},         // 1.5·2^-24: tie, to even 2
		{float32(math.Ldexp(5, -25)), 0x0002},         // 2.5·2^-24: tie, to even 2
		{float32(math.Ldexp(1023.5, -24)), 0x0400},    // rounds up into the normal range
		{1 + float32(math.Ldexp(1, -11)), 0x3c00},     // tie, to even
		{1 + float32(math.Ldexp(3, -11)), 0x3c02},     // tie, to even (up)
		{1 + float32(math.Ldexp(1.5, -11)), 0x3c01},   // above the tie
		{2047 + 0.5, 0x6800},                          // 2047.5: ulp 1 at 1024..2048, tie to even 2048
		{math.Float32frombits(0x7fc00000), 0x7e00},    // quiet NaN
		{math.Float32frombits(0xff800001), 0xfe00},    // signalling NaN, low payload: still NaN
		{math.Float32frombits(0x7fffe000), 0x7fff},    // payload's top bits kept
		{math.Float32frombits(0x00000001), 0x0000},    // float32 subnormal
		{math.Float32frombits(0x80000001), 0x8000},
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.want {
			t.Errorf("F32ToF16(%g = %#08x) = %#04x, want %#04x", c.f, math.Float32bits(c.f), got, c.want)
		}
	}
	for _, u := range halfInputs() {
		f := math.Float32frombits(u)
		got := F32ToF16(f)
		if f != f {
			if g := F16ToF32(got); g == g || got&0x8000 != uint16(u>>16)&0x8000 {
				t.Fatalf("F32ToF16(NaN %#08x) = %#04x, not a NaN of the same sign", u, got)
			}
			continue
		}
		want := refF16(f)
		g := float64(F16ToF32(got))
		if g != want || math.Signbit(g) != math.Signbit(want) {
			t.Fatalf("F32ToF16(%g = %#08x) = %#04x (%g), reference %g", f, u, got, g, want)
		}
	}
}

func TestF32ToBF16(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3f80}, {-1, 0xbf80},
		{1 + float32(math.Ldexp(1, -8)), 0x3f80},   // tie, to even
		{1 + float32(math.Ldexp(3, -8)), 0x3f82},   // tie, to even (up)
		{1 + float32(math.Ldexp(1.5, -8)), 0x3f81}, // above the tie
		{math.MaxFloat32, 0x7f80},                  // rounds past the largest bf16: Inf
		{float32(math.Inf(-1)), 0xff80},
		{math.Float32frombits(0x7f800001), 0x7fc0}, // signalling NaN with a low payload: quiet NaN, not Inf
		{math.Float32frombits(0xffc12345), 0xffc1},
		{math.Float32frombits(0x00008000), 0x0000}, // float32 subnormal, tie to even 0
		{math.Float32frombits(0x00018000), 0x0002}, // tie to even 2
	}
	for _, c := range cases {
		if got := F32ToBF16(c.f); got != c.want {
			t.Errorf("F32ToBF16(%g = %#08x) = %#04x, want %#04x", c.f, math.Float32bits(c.f), got, c.want)
		}
	}
	for _, u := range halfInputs() {
		f := math.Float32frombits(u)
		got := F32ToBF16(f)
		if f != f {
			if g := BF16ToF32(got); g == g || got>>15 != uint16(u>>31) {
				t.Fatalf("F32ToBF16(NaN %#08x) = %#04x, not a NaN of the same sign", u, got)
			}
			continue
		}
		if want := refBF16(f); got != want {
			t.Fatalf("F32ToBF16(%g = %#08x) = %#04x, reference %#04x", f, u, got, want)
		}
	}
}

// TestWiden16 checks both widenings on all 65536 patterns against their
// definition, and that narrowing them again gives the same pattern (NaNs:
// quieted).
func TestWiden16(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		s := 1.0
		if h&0x8000 != 0 {
			s = -1
		}
		e, m := int(h>>10)&0x1f, float64(h&0x3ff)
		var want float64
		switch {
		case e == 0x1f && m == 0:
			want = math.Inf(int(s))
		case e == 0x1f:
			want = math.NaN()
		case e == 0:
			want = s * math.Ldexp(m, -24)
		default:
			want = s * math.Ldexp(1+m/1024, e-15)
		}
		got := F16ToF32(h)
		if float64(got) != want && !(got != got && want != want) || math.Signbit(float64(got)) != (s < 0) {
			t.Fatalf("F16ToF32(%#04x) = %g, want %g", h, got, want)
		}
		back, q := F32ToF16(got), h
		if e == 0x1f && m != 0 {
			q |= 0x200
		}
		if back != q {
			t.Fatalf("F32ToF16(F16ToF32(%#04x)) = %#04x", h, back)
		}
		b := BF16ToF32(h)
		if math.Float32bits(b) != uint32(h)<<16 {
			t.Fatalf("BF16ToF32(%#04x) = %#08x", h, math.Float32bits(b))
		}
		q = h
		if h&0x7f80 == 0x7f80 && h&0x7f != 0 {
			q |= 0x40
		}
		if back := F32ToBF16(b); back != q {
			t.Fatalf("F32ToBF16(BF16ToF32(%#04x)) = %#04x", h, back)
		}
	}
}

// TestF32ToF16Numpy compares F32ToF16 with numpy's float32 → float16 cast
// (round to nearest even) on the probe inputs, when python3 with numpy is
// installed.
func TestF32ToF16Numpy(t *testing.T) {
	py := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import numpy").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("no python3 with numpy (PATH, /usr/bin): numpy's float16 cast not compared")
	}
	in := halfInputs()
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "in.f32"), filepath.Join(dir, "out.f16")
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, in); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	script := "import numpy as np, sys, warnings\nwarnings.simplefilter('ignore')\n" +
		"np.fromfile(sys.argv[1], '<f4').astype('<f2').tofile(sys.argv[2])\n"
	if b, err := exec.Command(py, "-c", script, src, dst).CombinedOutput(); err != nil {
		t.Fatalf("numpy: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(dst)
	if err != nil || len(raw) != 2*len(in) {
		t.Fatalf("numpy wrote %d bytes for %d values (%v)", len(raw), len(in), err)
	}
	for i, u := range in {
		want := binary.LittleEndian.Uint16(raw[2*i:])
		got := F32ToF16(math.Float32frombits(u))
		if f := math.Float32frombits(u); f != f {
			continue // NaN payloads: numpy's are its own; both are NaN (TestF32ToF16)
		}
		if got != want {
			t.Fatalf("F32ToF16(%#08x) = %#04x, numpy %#04x", u, got, want)
		}
	}
}

func TestHalfLayouts(t *testing.T) {
	const n, c, cpad, hw = 2, 3, 8, 5
	src := make([]float32, n*c*hw)
	for i := range src {
		src[i] = float32(i) - 7.5 // exact in both formats
	}
	for _, bf := range []bool{false, true} {
		nhwc := make([]uint16, n*hw*cpad)
		for i := range nhwc {
			nhwc[i] = 0xffff
		}
		NCHWToNHWC16(nhwc, src, n, c, cpad, hw, bf)
		for b := 0; b < n; b++ {
			for p := 0; p < hw; p++ {
				for k := 0; k < cpad; k++ {
					want := float32(0)
					if k < c {
						want = src[(b*c+k)*hw+p]
					}
					if got := From16(nhwc[(b*hw+p)*cpad+k], bf); got != want {
						t.Fatalf("bf16=%v: NHWC[%d,%d,%d] = %g, want %g", bf, b, p, k, got, want)
					}
				}
			}
		}
		// Back, from an unpadded NHWC tensor.
		packed := make([]uint16, n*hw*c)
		for i := 0; i < n*hw; i++ {
			copy(packed[i*c:(i+1)*c], nhwc[i*cpad:i*cpad+c])
		}
		back := make([]float32, len(src))
		NHWC16ToNCHW(back, packed, n, c, hw, bf)
		for i := range src {
			if back[i] != src[i] {
				t.Fatalf("bf16=%v: round trip [%d] = %g, want %g", bf, i, back[i], src[i])
			}
		}
	}
}

func TestFilterToNHWC16(t *testing.T) {
	// w[o][i][y][x] = 1000o + 100i + 10y + x, out 2, in 3, 2×2 taps, padded to 4.
	const out, in, kh, kw, pad = 2, 3, 2, 2, 4
	w := make([]float32, out*in*kh*kw)
	for o := 0; o < out; o++ {
		for i := 0; i < in; i++ {
			for y := 0; y < kh; y++ {
				for x := 0; x < kw; x++ {
					w[((o*in+i)*kh+y)*kw+x] = float32(1000*o + 100*i + 10*y + x)
				}
			}
		}
	}
	got := FilterToNHWC16(w, out, in, kh, kw, pad, false)
	// [o][y][x][i]: o=1, y=0, x=1 → 1001, 1101, 1201, 0 (padding).
	base := ((1*kh+0)*kw + 1) * pad
	for i, want := range []float32{1001, 1101, 1201, 0} {
		if g := F16ToF32(got[base+i]); g != want {
			t.Errorf("filter[1][0][1][%d] = %g, want %g", i, g, want)
		}
	}
	if len(got) != out*kh*kw*pad {
		t.Errorf("len %d, want %d", len(got), out*kh*kw*pad)
	}
	// Rounding: 1 + 2^-8 + 2^-9 (0.75 of a bf16 ulp above 1) rounds up.
	if g := FilterToNHWC16([]float32{1 + 1.0/256 + 1.0/512}, 1, 1, 1, 1, 1, true); g[0] != 0x3f81 {
		t.Errorf("bf16 filter rounding: %#04x, want 0x3f81", g[0])
	}
}

func TestBiasReLU16(t *testing.T) {
	for _, bf := range []bool{false, true} {
		h := func(f float32) uint16 { return To16(f, bf) }
		for _, c := range []struct{ y, b, want float32 }{
			{1, 0.5, 1.5}, {-1, 0.5, 0}, {-0.5, 0.5, 0}, {2, -3, 0}, {float32(math.Inf(1)), -1, float32(math.Inf(1))},
			{float32(math.NaN()), 1, 0}, {float32(math.Inf(1)), float32(math.Inf(-1)), 0},
		} {
			got := BiasReLU16(h(c.y), h(c.b), bf)
			if g := From16(got, bf); g != c.want || math.Signbit(float64(g)) {
				t.Errorf("bf16=%v: BiasReLU16(%g, %g) = %g, want %g", bf, c.y, c.b, g, c.want)
			}
		}
		y := []uint16{h(1), h(-1), h(3), h(-3)}
		BiasReLUNHWC16(y, []uint16{h(1), h(2)}, 2, bf)
		for i, want := range []float32{2, 1, 4, 0} {
			if g := From16(y[i], bf); g != want {
				t.Errorf("bf16=%v: BiasReLUNHWC16[%d] = %g, want %g", bf, i, g, want)
			}
		}
	}
	// The sum is rounded once, in float32, then to 16 bits: fp16 1 + 2^-11
	// (tie) → 1; 1 + 2^-10 (one fp16 ulp) stays.
	if g := BiasReLU16(F32ToF16(1), F32ToF16(float32(math.Ldexp(1, -11))), false); g != 0x3c00 {
		t.Errorf("fp16 tie: %#04x, want 0x3c00", g)
	}
}
