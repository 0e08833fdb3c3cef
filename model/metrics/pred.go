package metrics

import (
	"fmt"
	"slices"

	"tagimp/data/npy"
)

// Predictions are a model's outputs for a set of images, the content of a
// pred.npz: arrays "ids" (int64 [N]), "prob" (float32 [N,T], tag
// probabilities) and "importance" (float32 [N,T], predicted importance).
// Any framework can write one (numpy.savez) and have it scored by
// tagimp-gpu metrics.
type Predictions struct {
	IDs        []int64
	Tags       int
	Prob       []float32 // N×T row-major
	Importance []float32 // N×T row-major
}

// ReadPredictions reads a pred.npz and checks its arrays' names, types and
// shapes.
func ReadPredictions(path string) (*Predictions, error) {
	arrays, err := npy.ReadNPZ(path)
	if err != nil {
		return nil, fmt.Errorf("read predictions: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("read predictions %s: %s (want ids int64 [N], prob float32 [N,T], importance float32 [N,T])", path, fmt.Sprintf(format, args...))
	}
	ids, prob, imp := arrays["ids"], arrays["prob"], arrays["importance"]
	switch {
	case ids == nil || prob == nil || imp == nil:
		return nil, bad("arrays are %v", npy.Names(arrays))
	case ids.Dtype != npy.Int64 || len(ids.Shape) != 1:
		return nil, bad("ids is %s %v", ids.Dtype, ids.Shape)
	case prob.Dtype != npy.Float32 || len(prob.Shape) != 2 || prob.Shape[0] != ids.Shape[0]:
		return nil, bad("prob is %s %v for %d ids", prob.Dtype, prob.Shape, ids.Shape[0])
	case imp.Dtype != npy.Float32 || !slices.Equal(imp.Shape, prob.Shape):
		return nil, bad("importance is %s %v, prob %v", imp.Dtype, imp.Shape, prob.Shape)
	}
	return &Predictions{IDs: ids.I64, Tags: prob.Shape[1], Prob: prob.F32, Importance: imp.F32}, nil
}

// WritePredictions writes p as a pred.npz, atomically.
func WritePredictions(path string, p *Predictions) error {
	n := len(p.IDs)
	if len(p.Prob) != n*p.Tags || len(p.Importance) != n*p.Tags {
		return fmt.Errorf("write predictions %s: %d ids × %d tags, but %d prob and %d importance values", path, n, p.Tags, len(p.Prob), len(p.Importance))
	}
	return npy.WriteNPZ(path,
		npy.NamedArray{Name: "ids", Array: npy.I64(p.IDs, n)},
		npy.NamedArray{Name: "prob", Array: npy.F32(p.Prob, n, p.Tags)},
		npy.NamedArray{Name: "importance", Array: npy.F32(p.Importance, n, p.Tags)},
	)
}

// Joined holds the labels and predictions of the images both have, row by
// row in the predictions' order, ready for Evaluate.
type Joined struct {
	IDs            []int64
	Tags           int
	Presence       []uint8
	Importance     []float32
	Prob           []float32
	PredImportance []float32
	// LabelsOnly are the labelled images without a prediction, in label
	// order (expected when the labels cover more than the test split).
	LabelsOnly []int64
	// PredOnly are the predicted images without labels, in prediction
	// order; they are left out.
	PredOnly []int64
}

// Join matches predictions to labels by image id. labelIDs, presence and
// importance are the labels of len(labelIDs) images over tags tags. A
// different tag count, a repeated predicted id or no id in common is an
// error.
func Join(labelIDs []int64, presence []uint8, importance []float32, tags int, p *Predictions) (*Joined, error) {
	if p.Tags != tags {
		return nil, fmt.Errorf("predictions have %d tags, the labels %d: were they made with another vocabulary?", p.Tags, tags)
	}
	if len(presence) != len(labelIDs)*tags || len(importance) != len(labelIDs)*tags {
		return nil, fmt.Errorf("labels: %d ids × %d tags, but %d presence and %d importance values", len(labelIDs), tags, len(presence), len(importance))
	}
	row := make(map[int64]int, len(labelIDs))
	for i, id := range labelIDs {
		row[id] = i
	}
	j := &Joined{Tags: tags}
	predicted := make(map[int64]bool, len(p.IDs))
	for k, id := range p.IDs {
		if predicted[id] {
			return nil, fmt.Errorf("predictions hold image id %d twice", id)
		}
		predicted[id] = true
		i, ok := row[id]
		if !ok {
			j.PredOnly = append(j.PredOnly, id)
			continue
		}
		j.IDs = append(j.IDs, id)
		j.Presence = append(j.Presence, presence[i*tags:(i+1)*tags]...)
		j.Importance = append(j.Importance, importance[i*tags:(i+1)*tags]...)
		j.Prob = append(j.Prob, p.Prob[k*tags:(k+1)*tags]...)
		j.PredImportance = append(j.PredImportance, p.Importance[k*tags:(k+1)*tags]...)
	}
	for _, id := range labelIDs {
		if !predicted[id] {
			j.LabelsOnly = append(j.LabelsOnly, id)
		}
	}
	if len(j.IDs) == 0 {
		return nil, fmt.Errorf("no image id in common: labels have %d images (%s), predictions %d (%s)", len(labelIDs), FirstIDs(labelIDs, 5), len(p.IDs), FirstIDs(p.IDs, 5))
	}
	return j, nil
}

// FirstIDs formats up to k ids for a message: "1, 2, 3, … (10 in all)".
func FirstIDs(ids []int64, k int) string {
	s := ""
	for i, id := range ids {
		if i == k {
			return s + fmt.Sprintf(", … (%d in all)", len(ids))
		}
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(id)
	}
	if s == "" {
		return "none"
	}
	return s
}

// Evaluate scores the joined rows; see the package-level Evaluate.
func (j *Joined) Evaluate(threshold float64) (Report, error) {
	return Evaluate(j.Presence, j.Importance, j.Prob, j.PredImportance, len(j.IDs), j.Tags, threshold)
}
