package metrics

import (
	"fmt"
	"math"
)

// ThresholdGrid are the θs ChooseThreshold and ChooseTagThresholds try:
// 0.05, 0.10, …, 0.95.
func ThresholdGrid() []float64 {
	g := make([]float64, 19)
	for i := range g {
		g[i] = float64(i+1) / 20
	}
	return g
}

// ChooseThreshold returns the θ of ThresholdGrid with the highest mean
// Jaccard (the paper's thresholded metric) of prob against presence (n×t,
// a validation split), ties going to the θ nearest 0.5, and that Jaccard.
// Choosing θ on validation data is our addition: the paper states no θ and
// no validation split.
func ChooseThreshold(presence []uint8, prob []float32, n, t int) (theta, jaccard float64, err error) {
	if n <= 0 || t <= 0 || len(presence) != n*t || len(prob) != n*t {
		return 0, 0, fmt.Errorf("choose threshold: %d presence and %d prob values for %d images × %d tags", len(presence), len(prob), n, t)
	}
	best, bestJ := 0.5, -1.0
	for _, th := range ThresholdGrid() {
		sum := 0.0
		for i := 0; i < n; i++ {
			inter, union := 0, 0
			for j := 0; j < t; j++ {
				truth, pred := presence[i*t+j] == 1, float64(prob[i*t+j]) >= th
				if truth && pred {
					inter++
				}
				if truth || pred {
					union++
				}
			}
			if union == 0 {
				sum++
			} else {
				sum += float64(inter) / float64(union)
			}
		}
		j := sum / float64(n)
		if j > bestJ+1e-12 || math.Abs(j-bestJ) <= 1e-12 && math.Abs(th-0.5) < math.Abs(best-0.5) {
			best, bestJ = th, j
		}
	}
	return best, bestJ, nil
}

// ChooseTagThresholds returns one θ per tag: the θ of ThresholdGrid with
// the highest F1 of that tag over the n images (ties to the θ nearest
// 0.5). A tag with no positive image keeps fallback (its F1 is 0 at every
// θ).
func ChooseTagThresholds(presence []uint8, prob []float32, n, t int, fallback float64) ([]float64, error) {
	if n <= 0 || t <= 0 || len(presence) != n*t || len(prob) != n*t {
		return nil, fmt.Errorf("choose per-tag thresholds: %d presence and %d prob values for %d images × %d tags", len(presence), len(prob), n, t)
	}
	out := make([]float64, t)
	for j := 0; j < t; j++ {
		out[j] = fallback
		positives := 0
		for i := 0; i < n; i++ {
			positives += int(presence[i*t+j])
		}
		if positives == 0 {
			continue
		}
		bestF := -1.0
		for _, th := range ThresholdGrid() {
			tp, fp := 0, 0
			for i := 0; i < n; i++ {
				if float64(prob[i*t+j]) >= th {
					if presence[i*t+j] == 1 {
						tp++
					} else {
						fp++
					}
				}
			}
			f := 2 * float64(tp) / float64(tp+fp+positives)
			if f > bestF+1e-12 || math.Abs(f-bestF) <= 1e-12 && math.Abs(th-0.5) < math.Abs(out[j]-0.5) {
				out[j], bestF = th, f
			}
		}
	}
	return out, nil
}
