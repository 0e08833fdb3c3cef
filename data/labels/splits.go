package labels

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Splits is a train/test split of image ids, the content of splits.json.
type Splits struct {
	Seed  int64   `json:"seed"`
	Train []int64 `json:"train"` // ascending
	Test  []int64 `json:"test"`  // ascending
	// Val is the validation split (tagimp-gpu vocab --val), carved out of
	// the training images: train reports metrics on it every epoch and can
	// choose θ on it. Empty without --val (the paper's setting).
	Val []int64 `json:"val,omitempty"` // ascending
}

// CarveVal moves n of the training images into a validation split, chosen
// by the same seeded hash as MakeSplits (with the seed salted, so the
// choice is not simply the next images of the training order).
func (s *Splits) CarveVal(n int) error {
	if n < 1 || n >= len(s.Train) {
		return fmt.Errorf("splits: --val %d, want 1 to %d (fewer than the %d training images)", n, len(s.Train)-1, len(s.Train))
	}
	order := hashOrder(s.Train, s.Seed^0x76616c) // "val"
	for _, id := range order[:n] {
		s.Val = append(s.Val, id)
	}
	s.Train = order[n:]
	slices.Sort(s.Train)
	slices.Sort(s.Val)
	return nil
}

// hashOrder returns ids ordered by splitmix64(id, seed), ties by id.
func hashOrder(ids []int64, seed int64) []int64 {
	type keyed struct {
		key uint64
		id  int64
	}
	order := make([]keyed, len(ids))
	for i, id := range ids {
		order[i] = keyed{splitmix64(uint64(id) ^ splitmix64(uint64(seed))), id}
	}
	slices.SortFunc(order, func(a, b keyed) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]int64, len(ids))
	for i, k := range order {
		out[i] = k.id
	}
	return out
}

// MakeSplits draws train and test images from ids: the images are ordered
// by splitmix64(id, seed), the first train go to Train and the next test to
// Test. test = 0 means all images not in Train.
func MakeSplits(ids []int64, train, test int, seed int64) (*Splits, error) {
	if train < 1 || test < 0 {
		return nil, fmt.Errorf("splits: --train %d --test %d, want train ≥ 1 and test ≥ 0", train, test)
	}
	if test == 0 {
		if train >= len(ids) {
			return nil, fmt.Errorf("splits: --train %d leaves no test images: the captions have %d images; give a smaller --train", train, len(ids))
		}
		test = len(ids) - train
	}
	if train+test > len(ids) {
		return nil, fmt.Errorf("splits: --train %d --test %d needs %d images, the captions have %d", train, test, train+test, len(ids))
	}
	order := hashOrder(ids, seed)
	s := &Splits{Seed: seed, Train: slices.Clone(order[:train]), Test: slices.Clone(order[train : train+test])}
	slices.Sort(s.Train)
	slices.Sort(s.Test)
	return s, nil
}

// splitmix64 is the finaliser of SplitMix64 (Steele, Lea, Flood 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// ReadSplits reads DIR/splits.json. When the file is absent the error wraps
// os.ErrNotExist.
func ReadSplits(dir string) (*Splits, error) {
	path := filepath.Join(dir, "splits.json")
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read splits: %w (make one with tagimp-gpu vocab --train N --test M)", err)
	}
	if err := checkCommitted(dir, "splits.json"); err != nil {
		return nil, err
	}
	var s Splits
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read splits %s: %w", path, err)
	}
	if len(s.Train) == 0 || len(s.Test) == 0 {
		return nil, fmt.Errorf("read splits %s: %d train and %d test images, want both non-empty", path, len(s.Train), len(s.Test))
	}
	seen := make(map[int64]bool, len(s.Train))
	for _, id := range s.Train {
		seen[id] = true
	}
	for _, id := range s.Test {
		if seen[id] {
			return nil, fmt.Errorf("read splits %s: image %d is in both train and test", path, id)
		}
		seen[id] = true
	}
	for _, id := range s.Val {
		if seen[id] {
			return nil, fmt.Errorf("read splits %s: validation image %d is also in train or test", path, id)
		}
	}
	return &s, nil
}
