package ops

import "math"

// 16-bit floats for VGG16's bf16 and fp16 precisions on the GPU: the twins
// of tagimp_math.h's tg_f32_to_bf16, tg_f32_to_f16 and their inverses and of
// the kernels of kernels/half.cu. Values are carried as uint16 bit
// patterns. Conversions from float32 round to nearest, ties to even, with
// integer operations, bit for bit as the kernels do.

// F32ToBF16 rounds f to bfloat16 (8 exponent, 7 mantissa bits), ties to
// even; overflow gives ±Inf; a NaN stays a (quiet) NaN with its sign.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x0040
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// BF16ToF32 widens a bfloat16 exactly.
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToF16 rounds f to IEEE binary16 (5 exponent, 10 mantissa bits), ties
// to even: |f| ≥ 65520 gives ±Inf, values below 2^-14 become subnormals
// (|f| ≤ 2^-25 gives ±0); a NaN stays a quiet NaN with its sign and the top
// 10 bits of its payload.
func F32ToF16(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	a := u & 0x7fffffff
	switch {
	case a > 0x7f800000:
		return sign | 0x7e00 | uint16(a>>13)&0x3ff
	case a >= 0x477ff000:
		return sign | 0x7c00
	case a >= 0x38800000:
		a += 0xfff + (a>>13)&1
		return sign | uint16((a-0x38000000)>>13)
	case a <= 0x33000000:
		return sign
	}
	e, m := a>>23, a&0x7fffff|0x800000
	shift := 126 - e
	r, rem, half := m>>shift, m&(1<<shift-1), uint32(1)<<(shift-1)
	if rem > half || rem == half && r&1 == 1 {
		r++
	}
	return sign | uint16(r)
}

// F16ToF32 widens an IEEE binary16 exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	e, m := uint32(h>>10)&0x1f, uint32(h&0x3ff)
	switch {
	case e == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | m<<13)
	case e == 0 && m == 0:
		return math.Float32frombits(sign)
	case e == 0:
		e = 113
		for m&0x400 == 0 {
			m <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (m&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (e+112)<<23 | m<<13)
}

// To16 is tg_to16: F32ToBF16 when bf16, else F32ToF16.
func To16(f float32, bf16 bool) uint16 {
	if bf16 {
		return F32ToBF16(f)
	}
	return F32ToF16(f)
}

// From16 is tg_from16: BF16ToF32 when bf16, else F16ToF32.
func From16(h uint16, bf16 bool) float32 {
	if bf16 {
		return BF16ToF32(h)
	}
	return F16ToF32(h)
}

// BiasReLU16 is tg_bias_relu16: ReLU(y + b) of a 16-bit pre-activation y
// and 16-bit bias b, summed in float32, rounded back to 16 bits; a NaN sum
// gives 0.
func BiasReLU16(y, b uint16, bf16 bool) uint16 {
	x := From16(y, bf16) + From16(b, bf16)
	if !(x > 0) {
		x = 0
	}
	return To16(x, bf16)
}

// NCHWToNHWC16 is kernels/half.cu's tg_nchw_to_nhwc16: src float32
// [n, c, hw] to dst 16-bit [n, hw, cpad], the channels beyond c zero.
func NCHWToNHWC16(dst []uint16, src []float32, n, c, cpad, hw int, bf16 bool) {
	for b := 0; b < n; b++ {
		for p := 0; p < hw; p++ {
			o := dst[(b*hw+p)*cpad : (b*hw+p+1)*cpad]
			for k := range o {
				o[k] = 0
				if k < c {
					o[k] = To16(src[(b*c+k)*hw+p], bf16)
				}
			}
		}
	}
}

// NHWC16ToNCHW is tg_nhwc16_to_nchw: src 16-bit [n, hw, c] to dst float32
// [n, c, hw].
func NHWC16ToNCHW(dst []float32, src []uint16, n, c, hw int, bf16 bool) {
	for b := 0; b < n; b++ {
		for k := 0; k < c; k++ {
			for p := 0; p < hw; p++ {
				dst[(b*c+k)*hw+p] = From16(src[(b*hw+p)*c+k], bf16)
			}
		}
	}
}

// BiasReLUNHWC16 is tg_bias_relu16 over a whole NHWC tensor y (len a
// multiple of c), in place: y[i] = BiasReLU16(y[i], bias[i mod c]).
func BiasReLUNHWC16(y, bias []uint16, c int, bf16 bool) {
	for i := range y {
		y[i] = BiasReLU16(y[i], bias[i%c], bf16)
	}
}

// FilterToNHWC16 converts PyTorch's convolution weights w [out][in][kh][kw]
// (float32) to cuDNN's NHWC filter layout [out][kh][kw][inPad] in 16 bits
// (RNE), the input channels beyond in zero (inPad ≥ in).
func FilterToNHWC16(w []float32, out, in, kh, kw, inPad int, bf16 bool) []uint16 {
	dst := make([]uint16, out*kh*kw*inPad)
	for o := 0; o < out; o++ {
		for y := 0; y < kh; y++ {
			for x := 0; x < kw; x++ {
				for i := 0; i < in; i++ {
					dst[((o*kh+y)*kw+x)*inPad+i] = To16(w[((o*in+i)*kh+y)*kw+x], bf16)
				}
			}
		}
	}
	return dst
}
