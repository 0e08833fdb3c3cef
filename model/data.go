package model

import (
	"fmt"
	"math"
	"strings"

	"tagimp/data/features"
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
// importance with rows of width t). Every id must appear in both (drop the
// images a feature cache lists as failed first: see DropFailed); features
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
		return nil, fmt.Errorf("%s split: %d of %d images have no features (first: %d) and the feature cache gives no reason: they were not in the caption file given to `tagimp-gpu features`, or the cache is of other images; compute their features (tagimp-gpu features --captions FILE naming them) or fix the split", split, len(noFeat), len(ids), noFeat[0])
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

// MaxDroppedListed is how many dropped images Dropped.First keeps.
const MaxDroppedListed = 5

// Dropped says which images of a split were left out because the feature
// cache lists them as failed (an image that did not decode: `tagimp-gpu
// features` records it with the reason in the cache's manifest.json and
// goes on).
type Dropped struct {
	Split string // "training" or "test"
	// Count is the number of images left out; Total the split's images
	// before dropping.
	Count, Total int
	// First holds up to MaxDroppedListed of them, in split order, with the
	// file and the reason the cache records.
	First []features.Failure
}

// String is one line for the user: how many images were dropped and the
// first few with their reasons.
func (d Dropped) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s split: %d of %d images dropped, the feature cache lists them as failed:", d.Split, d.Count, d.Total)
	for i, f := range d.First {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %d", f.ID)
		if f.File != "" {
			fmt.Fprintf(&b, " (%s)", f.File)
		}
		fmt.Fprintf(&b, ": %s", f.Reason)
	}
	if d.Count > len(d.First) {
		fmt.Fprintf(&b, "; … %d more in the cache's manifest.json", d.Count-len(d.First))
	}
	return b.String()
}

// DropFailed removes from ids the images listed in failed (the Failed list
// of a feature cache's manifest) and returns the rest, in order, with what
// was dropped (Count 0 when nothing was).
func DropFailed(split string, ids []int64, failed []features.Failure) ([]int64, Dropped) {
	d := Dropped{Split: split, Total: len(ids)}
	if len(failed) == 0 {
		return ids, d
	}
	why := make(map[int64]features.Failure, len(failed))
	for _, f := range failed {
		why[f.ID] = f
	}
	kept := make([]int64, 0, len(ids))
	for _, id := range ids {
		f, bad := why[id]
		if !bad {
			kept = append(kept, id)
			continue
		}
		if d.Count < MaxDroppedListed {
			d.First = append(d.First, f)
		}
		d.Count++
	}
	return kept, d
}
