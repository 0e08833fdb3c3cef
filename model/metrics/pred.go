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
// shapes. Besides the types WritePredictions writes it accepts what numpy
// writes by default: ids as int32, prob and importance as float64
// (converted to float32), and hard 0/1 outputs (bool, uint8, int32 or
// int64 arrays holding only 0 and 1) as prob or importance.
func ReadPredictions(path string) (*Predictions, error) {
	arrays, err := npy.ReadNPZ(path)
	if err != nil {
		return nil, fmt.Errorf("read predictions: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("read predictions %s: %s (want ids int64 [N], prob float32 [N,T], importance float32 [N,T]; float64 and 0/1 integer or bool arrays are converted)", path, fmt.Sprintf(format, args...))
	}
	ids, prob, imp := arrays["ids"], arrays["prob"], arrays["importance"]
	switch {
	case ids == nil || prob == nil || imp == nil:
		return nil, bad("arrays are %v", npy.Names(arrays))
	case ids.Dtype != npy.Int64 && ids.Dtype != npy.Int32 || len(ids.Shape) != 1:
		return nil, bad("ids is %s %v", ids.Dtype, ids.Shape)
	case len(prob.Shape) != 2 || prob.Shape[0] != ids.Shape[0]:
		return nil, bad("prob is %s %v for %d ids", prob.Dtype, prob.Shape, ids.Shape[0])
	case !slices.Equal(imp.Shape, prob.Shape):
		return nil, bad("importance is %s %v, prob %v", imp.Dtype, imp.Shape, prob.Shape)
	}
	p := &Predictions{IDs: ids.I64, Tags: prob.Shape[1]}
	if ids.Dtype == npy.Int32 {
		p.IDs = make([]int64, len(ids.I32))
		for i, v := range ids.I32 {
			p.IDs[i] = int64(v)
		}
	}
	if p.Prob, err = asFloat32(prob); err != nil {
		return nil, bad("prob: %v", err)
	}
	if p.Importance, err = asFloat32(imp); err != nil {
		return nil, bad("importance: %v", err)
	}
	return p, nil
}

// asFloat32 returns a's values as float32: float32 as is, float64
// converted, integer and bool arrays when they hold only 0 and 1.
func asFloat32(a *npy.Array) ([]float32, error) {
	switch a.Dtype {
	case npy.Float32:
		return a.F32, nil
	case npy.Float64:
		out := make([]float32, len(a.F64))
		for i, v := range a.F64 {
			out[i] = float32(v)
		}
		return out, nil
	case npy.Uint8:
		return binary(a.U8, a.Dtype)
	case npy.Int32:
		return binary(a.I32, a.Dtype)
	case npy.Int64:
		return binary(a.I64, a.Dtype)
	}
	return nil, fmt.Errorf("dtype %s", a.Dtype)
}

// binary converts 0/1 integers to float32, rejecting any other value.
func binary[T uint8 | int32 | int64](v []T, dtype string) ([]float32, error) {
	out := make([]float32, len(v))
	for i, x := range v {
		if x != 0 && x != 1 {
			return nil, fmt.Errorf("%s value %d at flat index %d; integer arrays must hold 0 or 1 (hard predictions), give scores as float", dtype, x, i)
		}
		out[i] = float32(x)
	}
	return out, nil
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
	// TagNames, when set, name the tags in errors (else their index).
	TagNames []string
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
	return evaluateNamed(j.Presence, j.Importance, j.Prob, j.PredImportance, len(j.IDs), j.Tags, threshold, j.IDs, j.TagNames)
}
