package gpu

import (
	"strings"
	"testing"

	"tagimp/model/vgg16"
)

func TestParsePrecision(t *testing.T) {
	for _, s := range []string{"fp32", "tf32", "bf16", "fp16"} {
		if p, err := ParsePrecision(s); err != nil || string(p) != s {
			t.Errorf("ParsePrecision(%q) = %q, %v", s, p, err)
		}
	}
	for _, s := range []string{"", "FP16", "half", "int8"} {
		if _, err := ParsePrecision(s); err == nil || !strings.Contains(err.Error(), "bf16 or fp16") {
			t.Errorf("ParsePrecision(%q): %v, want an error listing the precisions", s, err)
		}
	}
}

// TestDeviceBytes checks the memory arithmetic against numbers worked out
// by hand for the real VGG16 (224×224 input, 4096-wide fc6/fc7, pool5
// 512×7×7 = 25088).
func TestDeviceBytes(t *testing.T) {
	cfg := vgg16.VGG16()
	const (
		input = 3 * 224 * 224 * 4 // 602,112: float32 NCHW input
		act   = 64 * 224 * 224    // 3,211,264 elements: conv1's output, the largest
		fcs   = 2 * 4096 * 4      // 32,768: fc6 and fc7 rows
		in16  = 8 * 224 * 224 * 2 // 802,816: 16-bit NHWC input, padded to 8 channels
		flat  = 25088 * 4         // 100,352: pool5 as float32 NCHW for fc6
		// Parameters: conv weights 14,710,464 + biases 4,224 = 14,714,688;
		// conv1_1 padded to 8 inputs adds 64·5·9 = 2,880 weights in 16 bits;
		// fc6 4096·25088 + 4096 = 102,764,544, fc7 4096·4096 + 4096 =
		// 16,781,312, together 119,545,856 float32.
		conv32 = 14714688 * 4               // 58,858,752
		conv16 = (14710464+2880)*2 + 4224*2 // 29,435,136
		fc     = 119545856 * 4              // 478,183,424
	)
	for _, tc := range []struct {
		p              Precision
		perImage, wgts int64
	}{
		{FP32, input + 2*act*4 + fcs, conv32 + fc}, // 26,324,992; 537,042,176
		{TF32, input + 2*act*4 + fcs, conv32 + fc},
		{BF16, input + 2*act*2 + fcs + in16 + flat, conv16 + fc}, // 14,383,104; 507,618,560
		{FP16, input + 2*act*2 + fcs + in16 + flat, conv16 + fc},
	} {
		if got := DeviceBytesPerImage(cfg, tc.p); got != tc.perImage {
			t.Errorf("%s: DeviceBytesPerImage = %d, want %d", tc.p, got, tc.perImage)
		}
		if got := WeightBytes(cfg, tc.p); got != tc.wgts {
			t.Errorf("%s: WeightBytes = %d, want %d", tc.p, got, tc.wgts)
		}
	}
	if DeviceBytesPerImage(cfg, FP32) != 26324992 || WeightBytes(cfg, BF16) != 507618560 {
		t.Error("the worked numbers in the comments are stale")
	}
}
