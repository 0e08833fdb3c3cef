package model

import (
	"fmt"

	"tagimp/model/ops"
)

// Imp2Input fills dst (n×(d+e)) with Model 2's importance-MLP input:
// each row is concat(L2norm(x row), wa row). wa is expected to be
// L2-normalised already (WeightedAverage returns it so).
func Imp2Input(dst, x, wa []float32, n, d, e int) {
	w := d + e
	for r := 0; r < n; r++ {
		row := dst[r*w : (r+1)*w]
		copy(row[:d], x[r*d:(r+1)*d])
		ops.L2Normalize(row[:d])
		copy(row[d:], wa[r*e:(r+1)*e])
	}
}

// WeightedAverage fills wa (n×e) with WA = Σ_{p_i≥θ} v_i·p_i / N, then
// L2-normalised, for the n×t probabilities probs and the t×e tag vectors.
// In training probs is the ground-truth presence (p = 1 for true tags);
// at test time it is the tag head's output. Rows with no tag ≥ θ get a
// zero vector.
func WeightedAverage(wa, probs, tagVecs []float32, n, t, e int, theta float64) {
	ops.WeightedAverage(wa, probs, tagVecs, n, t, e, float32(theta))
}

// Predict runs tr over the n×c.D features x in batches of c.Batch and
// returns the tag probabilities and the predicted importance (n×T each).
// The importance is the tag probability for the Baseline, the importance
// head for Model 1, and for Model 2 the importance MLP fed with the WA of
// the tags the tag head predicts with probability ≥ c.Threshold. tagVecs
// (T×E) is needed for Model 2 only. progress, if not nil, is called after
// each batch with rows done and n.
func Predict(tr Trainer, c Config, tagVecs, x []float32, n int, progress func(done, total int)) (prob, imp []float32, err error) {
	if len(x) != n*c.D {
		return nil, nil, fmt.Errorf("predict: %d feature values for %d rows of width %d", len(x), n, c.D)
	}
	if c.Kind == Model2 && len(tagVecs) != c.T*c.E {
		return nil, nil, fmt.Errorf("predict: %d tag-vector values, model2 needs %d tags × %d", len(tagVecs), c.T, c.E)
	}
	prob = make([]float32, n*c.T)
	imp = make([]float32, n*c.T)
	var wa []float32
	if c.Kind == Model2 {
		wa = make([]float32, c.Batch*c.E)
	}
	for lo := 0; lo < n; lo += c.Batch {
		m := min(c.Batch, n-lo)
		xb := x[lo*c.D : (lo+m)*c.D]
		p, q, err := tr.Forward(xb, m)
		if err != nil {
			return nil, nil, fmt.Errorf("predict rows %d–%d: %w", lo, lo+m-1, err)
		}
		copy(prob[lo*c.T:], p)
		if c.Kind == Model2 {
			WeightedAverage(wa[:m*c.E], p, tagVecs, m, c.T, c.E, c.Threshold)
			if q, err = tr.Importance2(xb, wa[:m*c.E], m); err != nil {
				return nil, nil, fmt.Errorf("predict rows %d–%d: %w", lo, lo+m-1, err)
			}
		}
		copy(imp[lo*c.T:], q)
		if progress != nil {
			progress(lo+m, n)
		}
	}
	return prob, imp, nil
}
