package model

import (
	"strings"
	"testing"

	"tagimp/data/features"
)

// TestFeatureSourcePrecision: features computed at another precision (the
// GPU's TF32, or the CPU path's FP32) are other features for training.
func TestFeatureSourcePrecision(t *testing.T) {
	m := features.Meta{Backbone: "vgg16-fc7", WeightsSHA256: "ab", Preprocess: "torchvision", ImageSize: 224}
	cpu := NewFeatureSource("a", 4096, m)
	m.Precision = "gpu-tf32"
	tf32 := NewFeatureSource("b", 4096, m)
	if d := cpu.Mismatch(tf32); len(d) != 1 || !strings.Contains(d[0], `precision "gpu-tf32", not the CPU path's`) {
		t.Errorf("CPU run vs TF32 cache: %q", d)
	}
	if d := tf32.Mismatch(tf32); len(d) != 0 {
		t.Errorf("same precision: %q", d)
	}
}
