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
	arrays, err := npy.ReadNPZ(npzPath)
	if err != nil {
		return nil, fmt.Errorf("read labels: %w", err)
	}
	if err := checkCommitted(filepath.Dir(npzPath), filepath.Base(npzPath)); err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("read labels %s: %s (rewrite it with tagimp-gpu vocab)", npzPath, fmt.Sprintf(format, args...))
	}
	ids, pres, imp := arrays["ids"], arrays["presence"], arrays["importance"]
	switch {
	case ids == nil || pres == nil || imp == nil:
		return nil, bad("want arrays ids, presence and importance, found %v", npy.Names(arrays))
	case ids.Dtype != "<i8" || len(ids.Shape) != 1:
		return nil, bad("ids is %s %v, want int64 [N]", ids.Dtype, ids.Shape)
	}
	n, t := ids.Shape[0], len(v.Tags)
	switch {
	case pres.Dtype != "|u1" || !slices.Equal(pres.Shape, []int{n, t}):
		return nil, bad("presence is %s %v, want uint8 [%d %d] (N images × T tags of vocab.json)", pres.Dtype, pres.Shape, n, t)
	case imp.Dtype != "<f4" || !slices.Equal(imp.Shape, []int{n, t}):
		return nil, bad("importance is %s %v, want float32 [%d %d] (N images × T tags of vocab.json)", imp.Dtype, imp.Shape, n, t)
	}
	for k, x := range imp.F32 {
		if !(x >= 0 && x <= 1) || (x > 0) != (pres.U8[k] == 1) || pres.U8[k] > 1 {
			return nil, bad("image %d tag %q: importance %g with presence %d; want importance in [0,1] and presence = importance > 0", ids.I64[k/t], v.Tags[k%t].Tag, x, pres.U8[k])
		}
	}
	return &Set{IDs: ids.I64, Tags: v.Names(), Presence: pres.U8, Importance: imp.F32}, nil
}

// unwrapPath drops a *PathError's own path (the message names it).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
