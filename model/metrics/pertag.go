package metrics

import "math"

// TagScore is the score of one tag over the test images.
type TagScore struct {
	Tag int `json:"tag"` // column
	// Positives is the number of images that hold the tag.
	Positives int `json:"positives"`
	// AP is the tag's average precision (images ranked by the tag's
	// probability; NaN when no image holds the tag), the term of
	// Report.MAPClass.
	AP float64 `json:"ap"`
	// MAE and MSE are the tag's importance errors over the images that
	// hold it (NaN when none does), the terms of Report.MAE and MSE.
	MAE float64 `json:"mae"`
	MSE float64 `json:"mse"`
}

// PerTag scores every tag on its own: AP over the images ranked by the
// tag's probability, and the importance error over the images that hold
// it. The inputs are those of Evaluate (n×T, row-major).
func PerTag(presence []uint8, importance, prob, predImportance []float32, n, t int) ([]TagScore, error) {
	if err := check(presence, importance, prob, predImportance, n, t, 0.5, cellNamer(nil, nil, t)); err != nil {
		return nil, err
	}
	out := make([]TagScore, t)
	items := make([]item, n)
	scores := make([]float32, n)
	labels := make([]uint8, n)
	for j := 0; j < t; j++ {
		s := TagScore{Tag: j, AP: math.NaN(), MAE: math.NaN(), MSE: math.NaN()}
		var abs, sq float64
		for i := 0; i < n; i++ {
			scores[i], labels[i] = prob[i*t+j], presence[i*t+j]
			if labels[i] == 1 {
				s.Positives++
				d := float64(predImportance[i*t+j]) - float64(importance[i*t+j])
				abs += math.Abs(d)
				sq += d * d
			}
		}
		if s.Positives > 0 {
			s.AP = averagePrecision(order(items, scores), labels)
			s.MAE, s.MSE = abs/float64(s.Positives), sq/float64(s.Positives)
		}
		out[j] = s
	}
	return out, nil
}
