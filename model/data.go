package model

import (
	"fmt"
	"math"
)

// Data is one split joined by image id: row i of every field belongs to
// image IDs[i].
type Data struct {
	IDs []int64
	N   int
	D   int
	T   int
	// X is the features, N×D.
	X []float32
	// Presence is the ground-truth tag presence, N×T (0 or 1).
	Presence []uint8
	// Importance is the ground-truth importance, N×T in [0, 1].
	Importance []float32
}

// Join builds the split of the images ids from a feature matrix (featIDs,
// feat with rows of width d) and a label set (labIDs, presence and
// importance with rows of width t). Every id must appear in both; features
// must be finite and importance within [0, 1]. The errors name the first
// offending image and say how many more there are.
func Join(split string, ids []int64, featIDs []int64, feat []float32, d int, labIDs []int64, presence []uint8, importance []float32, t int) (*Data, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("%s split is empty: give images for it (splits.json or --test-labels)", split)
	}
	if d <= 0 || len(feat) != len(featIDs)*d {
		return nil, fmt.Errorf("features: %d values for %d images of width %d", len(feat), len(featIDs), d)
	}
	if t <= 0 || len(presence) != len(labIDs)*t || len(importance) != len(labIDs)*t {
		return nil, fmt.Errorf("labels: %d presence and %d importance values for %d images × %d tags", len(presence), len(importance), len(labIDs), t)
	}
	fRow := indexOf(featIDs)
	lRow := indexOf(labIDs)
	out := &Data{IDs: append([]int64(nil), ids...), N: len(ids), D: d, T: t,
		X: make([]float32, len(ids)*d), Presence: make([]uint8, len(ids)*t), Importance: make([]float32, len(ids)*t)}
	var noFeat, noLab []int64
	seen := make(map[int64]bool, len(ids))
	for i, id := range ids {
		if seen[id] {
			return nil, fmt.Errorf("%s split lists image %d twice", split, id)
		}
		seen[id] = true
		fr, okF := fRow[id]
		lr, okL := lRow[id]
		if !okF {
			noFeat = append(noFeat, id)
		}
		if !okL {
			noLab = append(noLab, id)
		}
		if !okF || !okL {
			continue
		}
		src := feat[fr*d : (fr+1)*d]
		for j, v := range src {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("features of image %d hold %v at column %d: %w (re-extract that image)", id, v, j, ErrNonFinite)
			}
		}
		copy(out.X[i*d:], src)
		copy(out.Presence[i*t:], presence[lr*t:(lr+1)*t])
		for j, v := range importance[lr*t : (lr+1)*t] {
			if !(v >= 0 && v <= 1) {
				return nil, fmt.Errorf("labels of image %d: importance %v of tag %d outside [0, 1]", id, v, j)
			}
			out.Importance[i*t+j] = v
		}
	}
	if len(noFeat) > 0 {
		return nil, fmt.Errorf("%s split: %d of %d images have no features (first: %d): extract them or fix the split", split, len(noFeat), len(ids), noFeat[0])
	}
	if len(noLab) > 0 {
		return nil, fmt.Errorf("%s split: %d of %d images have no labels (first: %d): the labels and the split disagree", split, len(noLab), len(ids), noLab[0])
	}
	return out, nil
}

func indexOf(ids []int64) map[int64]int {
	m := make(map[int64]int, len(ids))
	for i, id := range ids {
		if _, dup := m[id]; !dup {
			m[id] = i
		}
	}
	return m
}
