package gpu

// This file has no build tag: the precisions and the memory arithmetic of
// VGG16 on the device are plain Go, used (and tested) in every build.

import (
	"fmt"

	"tagimp/model/vgg16"
)

// Precision is the arithmetic of VGG16 on the device.
type Precision string

// The precisions implemented. FP32 is pedantic (no tensor cores in cuDNN or
// cuBLAS); TF32 (the default, as PyTorch runs cuDNN convolutions) lets both
// use TF32 tensor cores. BF16 and FP16 run the 13 convolutions and 5 pools
// on channels-last (NHWC) bfloat16 / IEEE half tensors with float32
// accumulation (cuDNN's PSEUDO_BFLOAT16_CONFIG / PSEUDO_HALF_CONFIG, tensor
// cores), as PyTorch's autocast with channels_last does; the input stays
// float32 NCHW and fc6/fc7 run as in TF32.
const (
	FP32 Precision = "fp32"
	TF32 Precision = "tf32"
	BF16 Precision = "bf16"
	FP16 Precision = "fp16"
)

// ParsePrecision checks a --precision value.
func ParsePrecision(s string) (Precision, error) {
	switch p := Precision(s); p {
	case FP32, TF32, BF16, FP16:
		return p, nil
	}
	return "", fmt.Errorf("precision %q: want fp32, tf32, bf16 or fp16", s)
}

// is16 reports whether the convolutions of p run on 16-bit tensors.
func (p Precision) is16() bool { return p == BF16 || p == FP16 }

// actBytes is the size of one activation element at p.
func (p Precision) actBytes() int64 {
	if p.is16() {
		return 2
	}
	return 4
}

// input16Channels is the channel count of the 16-bit NHWC input: the
// image's 3 channels zero-padded to 8 (and conv1_1's filter with zero
// weights), the channel multiple of cuDNN's half/bfloat16 tensor-core
// kernels.
const input16Channels = 8

// maxActivation is the largest convolution output of one image, in
// elements (VGG16: conv1's 64×224×224).
func maxActivation(cfg vgg16.Config) int64 {
	var m int64
	s := int64(cfg.InputSize)
	for _, block := range cfg.Blocks {
		for _, out := range block {
			m = max(m, int64(out)*s*s)
		}
		s /= 2
	}
	return m
}

// DeviceBytesPerImage is the device memory one image of a batch needs in
// VGG16.Forward at precision p: the float32 input, the two ping-pong
// activation buffers (each the largest activation, at the precision's
// element size: 4 bytes, or 2 for bf16/fp16), the float32 fc6 and fc7
// rows, and for bf16/fp16 the 16-bit NHWC input (8 channels) and the
// float32 NCHW copy of pool5 that fc6 reads. Weights (WeightBytes), the
// cuDNN workspace and the raw-image buffers of PrepRaw are not included.
func DeviceBytesPerImage(cfg vgg16.Config, p Precision) int64 {
	s := int64(cfg.InputSize)
	in := int64(cfg.InputLen()) * 4
	act := maxActivation(cfg)
	if !p.is16() {
		act = max(act, int64(cfg.InputLen())) // the input is ping-pong buffer 0's first reader
	}
	b := in + 2*act*p.actBytes() + 2*int64(cfg.FC)*4
	if p.is16() {
		b += input16Channels*s*s*2 + int64(cfg.FlatDim())*4
	}
	return b
}

// WeightBytes is the device memory of VGG16's weights up to fc7 at
// precision p: float32 everywhere for FP32/TF32; for BF16/FP16 the
// convolution weights and biases in 16 bits (conv1_1's filter padded to 8
// input channels) and fc6/fc7 in float32.
func WeightBytes(cfg vgg16.Config, p Precision) int64 {
	var b int64
	in := int64(3)
	for i, block := range cfg.Blocks {
		for j, o := range block {
			out := int64(o)
			cin := in
			if p.is16() && i == 0 && j == 0 {
				cin = input16Channels
			}
			b += (out*cin*9 + out) * p.actBytes()
			in = out
		}
	}
	fc, flat := int64(cfg.FC), int64(cfg.FlatDim())
	return b + (fc*flat+fc+fc*fc+fc)*4
}
