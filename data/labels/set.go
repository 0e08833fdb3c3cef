package labels

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"tagimp/data/npy"
)

// Set holds the labels of N images over T tags, the content of labels.npz.
type Set struct {
	IDs        []int64   // image ids, N
	Tags       []string  // tag names, T, vocabulary order
	Presence   []uint8   // N×T row-major; 1 where importance > 0
	Importance []float32 // N×T row-major; captions mentioning the tag / captions of the image
}

// Subset returns the rows of the given image ids, in the order given.
func (s *Set) Subset(ids []int64) (*Set, error) {
	row := make(map[int64]int, len(s.IDs))
	for i, id := range s.IDs {
		row[id] = i
	}
	t := len(s.Tags)
	out := &Set{
		IDs:        slices.Clone(ids),
		Tags:       s.Tags,
		Presence:   make([]uint8, 0, len(ids)*t),
		Importance: make([]float32, 0, len(ids)*t),
	}
	for _, id := range ids {
		i, ok := row[id]
		if !ok {
			return nil, fmt.Errorf("labels subset: image id %d is not in the labels (%d images); were the splits made from another caption file?", id, len(s.IDs))
		}
		out.Presence = append(out.Presence, s.Presence[i*t:(i+1)*t]...)
		out.Importance = append(out.Importance, s.Importance[i*t:(i+1)*t]...)
	}
	return out, nil
}

// Read reads labels.npz and the vocab.json beside it. path is the
// directory written by tagimp-gpu vocab or the labels.npz in it.
func Read(path string) (*Set, error) {
	npzPath := path
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("labels %s: %w; pass the folder written by tagimp-gpu vocab (or its labels.npz)", path, unwrapPath(err))
	}
	if st.IsDir() {
		npzPath = filepath.Join(path, "labels.npz")
	}
	v, err := ReadVocab(filepath.Join(filepath.Dir(npzPath), "vocab.json"))
	if err != nil {
		return nil, fmt.Errorf("read labels %s: %w", npzPath, err)
	}
	return ReadNPZ(npzPath, v.Names())
}

// ReadAny reads labels for scoring someone's predictions: path is a
// labels.npz or the folder holding it. The tags are named by vocabPath
// when given, else by the vocab.json beside the file when there is one,
// else by their column index ("tag0", "tag1", …): a bare labels.npz is
// enough.
func ReadAny(path, vocabPath string) (*Set, error) {
	npzPath := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		npzPath = filepath.Join(path, "labels.npz")
	}
	if vocabPath == "" {
		beside := filepath.Join(filepath.Dir(npzPath), "vocab.json")
		if _, err := os.Stat(beside); err == nil {
			vocabPath = beside
		}
	}
	var names []string
	if vocabPath != "" {
		v, err := ReadVocab(vocabPath)
		if err != nil {
			return nil, fmt.Errorf("read labels %s: %w", npzPath, err)
		}
		names = v.Names()
	}
	return ReadNPZ(npzPath, names)
}

// ReadNPZ reads a labels.npz (ids int64 [N], presence uint8 [N,T],
// importance float32 [N,T]; numpy's int32 ids, bool presence and float64
// importance are converted) with tags naming its columns; nil tags names
// them by index. Importance must lie in [0, 1] and presence equal
// importance > 0.
func ReadNPZ(npzPath string, tags []string) (*Set, error) {
	arrays, err := npy.ReadNPZ(npzPath)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	if err := checkCommitted(filepath.Dir(npzPath), filepath.Base(npzPath)); err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("read labels %s: %s (write ids int64 [N], presence uint8 [N,T], importance float32 [N,T], as tagimp-gpu vocab does)", npzPath, fmt.Sprintf(format, args...))
	}
	ids, pres, imp := arrays["ids"], arrays["presence"], arrays["importance"]
	switch {
	case ids == nil || pres == nil || imp == nil:
		return nil, bad("want arrays ids, presence and importance, found %v", npy.Names(arrays))
	case ids.Dtype != npy.Int64 && ids.Dtype != npy.Int32 || len(ids.Shape) != 1:
		return nil, bad("ids is %s %v, want int64 [N]", ids.Dtype, ids.Shape)
	case len(pres.Shape) != 2:
		return nil, bad("presence is %s %v, want [N T]", pres.Dtype, pres.Shape)
	}
	n := ids.Shape[0]
	t := pres.Shape[1]
	what := "N images × T tags"
	if tags != nil {
		t, what = len(tags), "N images × T tags of the vocabulary"
	}
	switch {
	case pres.Dtype != npy.Uint8 || !slices.Equal(pres.Shape, []int{n, t}):
		return nil, bad("presence is %s %v, want uint8 [%d %d] (%s)", pres.Dtype, pres.Shape, n, t, what)
	case imp.Dtype != npy.Float32 && imp.Dtype != npy.Float64 || !slices.Equal(imp.Shape, []int{n, t}):
		return nil, bad("importance is %s %v, want float32 [%d %d] (%s)", imp.Dtype, imp.Shape, n, t, what)
	}
	if tags == nil {
		tags = make([]string, t)
		for j := range tags {
			tags[j] = fmt.Sprintf("tag%d", j)
		}
	}
	idv := ids.I64
	if ids.Dtype == npy.Int32 {
		idv = make([]int64, n)
		for i, x := range ids.I32 {
			idv[i] = int64(x)
		}
	}
	impv := imp.F32
	if imp.Dtype == npy.Float64 {
		impv = make([]float32, len(imp.F64))
		for k, x := range imp.F64 {
			impv[k] = float32(x)
		}
	}
	for k, x := range impv {
		if !(x >= 0 && x <= 1) || (x > 0) != (pres.U8[k] == 1) || pres.U8[k] > 1 {
			return nil, bad("image %d tag %q: importance %g with presence %d; want importance in [0,1] and presence = importance > 0", idv[k/t], tags[k%t], x, pres.U8[k])
		}
	}
	return &Set{IDs: idv, Tags: tags, Presence: pres.U8, Importance: impv}, nil
}

// unwrapPath drops a *PathError's own path (the message names it).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
