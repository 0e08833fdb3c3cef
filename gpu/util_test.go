//go:build gpu

package gpu

import (
	"math/rand/v2"
)

// randn returns n seeded normal values times scale.
func randn(rng *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * scale)
	}
	return x
}
