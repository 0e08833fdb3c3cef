//go:build gpu

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randn returns n seeded normal values times scale.
func randn(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}

// maxRel returns the largest |got−want| / max(|want|, floor) and its index;
// a NaN or Inf in got (a poisoned value left behind) gives +Inf.
func maxRel(got, want []float32, floor float64) (float64, int) {
	worst, at := 0.0, -1
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.Inf(1), i
		}
		e := math.Abs(g-w) / math.Max(math.Abs(w), floor)
		if e > worst {
			worst, at = e, i
		}
	}
	return worst, at
}

// checkRel fails the test when maxRel(got, want, floor) exceeds bound.
func checkRel(t *testing.T, what string, got, want []float32, floor, bound float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	if e, i := maxRel(got, want, floor); e > bound {
		t.Errorf("%s: relative error %.3g at %d (got %v, want %v), bound %.1g", what, e, i, got[i], want[i], bound)
	}
}
