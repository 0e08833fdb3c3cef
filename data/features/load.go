package features

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"tagimp/data/npy"
)

// Matrix is a feature table in memory: row i of Rows (Dim values) belongs
// to image IDs[i].
type Matrix struct {
	IDs  []int64
	Dim  int
	Rows []float32
	Meta Meta // zero for a bare .npy, which records nothing
}

// Row returns the features of row i.
func (m *Matrix) Row(i int) []float32 { return m.Rows[i*m.Dim : (i+1)*m.Dim] }

// Select returns the rows of ids, in that order, or an error naming the
// first id the matrix lacks.
func (m *Matrix) Select(ids []int64) (*Matrix, error) {
	at := make(map[int64]int, len(m.IDs))
	for i, id := range m.IDs {
		at[id] = i
	}
	out := &Matrix{IDs: append([]int64(nil), ids...), Dim: m.Dim, Rows: make([]float32, 0, len(ids)*m.Dim), Meta: m.Meta}
	missing := 0
	var first int64
	for _, id := range ids {
		i, ok := at[id]
		if !ok {
			if missing == 0 {
				first = id
			}
			missing++
			continue
		}
		out.Rows = append(out.Rows, m.Row(i)...)
	}
	if missing > 0 {
		return nil, fmt.Errorf("features: %d of %d images have no features (first: id %d); they failed to decode (see the cache manifest) or were not in the caption file given to `tagimp-gpu features`", missing, len(ids), first)
	}
	return out, nil
}

// Load reads features from path: a cache folder written by Build or Merge
// (manifest.json, every file checked against its SHA-256), or a single
// [N, D] float32 (or float64) .npy with the image ids, int64 [N], in
// NAME.ids.npy beside it. NaN and Inf are rejected naming the image id, and
// an id that appears twice is an error.
func Load(path string) (*Matrix, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load features: %w", err)
	}
	var m *Matrix
	if st.IsDir() {
		m, err = loadDir(path)
	} else {
		m, err = loadNPY(path)
	}
	if err != nil {
		return nil, err
	}
	seen := make(map[int64]bool, len(m.IDs))
	for i, id := range m.IDs {
		if seen[id] {
			return nil, fmt.Errorf("load features %s: image id %d appears twice", path, id)
		}
		seen[id] = true
		if j := firstNonFinite(m.Row(i)); j >= 0 {
			return nil, fmt.Errorf("load features %s: image id %d has %v at column %d; recompute its features", path, id, m.Row(i)[j], j)
		}
	}
	return m, nil
}

func loadDir(dir string) (*Matrix, error) {
	mpath := filepath.Join(dir, "manifest.json")
	man, err := ReadManifest(mpath)
	if errors.Is(err, os.ErrNotExist) {
		parts, _ := filepath.Glob(filepath.Join(dir, "manifest-*of*.json"))
		if len(parts) > 0 {
			return nil, fmt.Errorf("load features %s: it holds parts of a split run (%s) but no manifest.json; join them with `tagimp-gpu features merge --out %s %s`",
				dir, strings.Join(baseNames(parts), ", "), dir, dir)
		}
		return nil, fmt.Errorf("load features %s: no manifest.json; is it a feature cache written by `tagimp-gpu features`?", dir)
	}
	if err != nil {
		return nil, err
	}
	if !man.Complete {
		return nil, fmt.Errorf("load features %s: the cache is incomplete (%d shards done, %d of %d images); run the same `tagimp-gpu features` command again to finish it",
			dir, len(man.Shards), doneImages(man), man.Images)
	}
	m := &Matrix{Dim: man.Dim, Meta: man.Meta, IDs: make([]int64, 0, man.Rows), Rows: make([]float32, 0, man.Rows*man.Dim)}
	for _, s := range man.Shards {
		feat, err := readChecked(filepath.Join(dir, s.Features), s.FeaturesSHA256)
		if err != nil {
			return nil, err
		}
		ids, err := readChecked(filepath.Join(dir, s.IDs), s.IDsSHA256)
		if err != nil {
			return nil, err
		}
		if err := appendRows(m, feat, ids, filepath.Join(dir, s.Features)); err != nil {
			return nil, err
		}
		if len(ids.I64) != s.Rows {
			return nil, fmt.Errorf("load features %s: %d rows, the manifest says %d", filepath.Join(dir, s.Features), len(ids.I64), s.Rows)
		}
	}
	return m, nil
}

func doneImages(m *Manifest) int {
	n := 0
	for _, s := range m.Shards {
		n += s.Images
	}
	return n
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

// readChecked reads a .npy file, checking its SHA-256 on the same bytes.
func readChecked(path, want string) (*npy.Array, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load features: %w", err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("load features %s: SHA-256 %s, the manifest says %s; the file changed or is damaged, delete it and rerun `tagimp-gpu features` to recompute its shard", path, got, want)
	}
	a, err := npy.Read(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("load features %s: %w", path, err)
	}
	return a, nil
}

func loadNPY(path string) (*Matrix, error) {
	if !strings.HasSuffix(path, ".npy") {
		return nil, fmt.Errorf("load features %s: want a cache folder or a .npy file", path)
	}
	idsPath := strings.TrimSuffix(path, ".npy") + ".ids.npy"
	feat, err := npy.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load features: %w", err)
	}
	ids, err := npy.ReadFile(idsPath)
	if err != nil {
		return nil, fmt.Errorf("load features %s: its image ids must be in %s (int64, one per row): %w", path, idsPath, err)
	}
	if len(feat.Shape) != 2 {
		return nil, fmt.Errorf("load features %s: shape %v, want [images, dim]", path, feat.Shape)
	}
	m := &Matrix{Dim: feat.Shape[1]}
	if err := appendRows(m, feat, ids, path); err != nil {
		return nil, err
	}
	return m, nil
}

// appendRows adds a features array and its ids array to m after checking
// types and shapes.
func appendRows(m *Matrix, feat, ids *npy.Array, path string) error {
	if len(feat.Shape) != 2 || feat.Shape[1] != m.Dim {
		return fmt.Errorf("load features %s: shape %v, want [rows, %d]", path, feat.Shape, m.Dim)
	}
	var ints []int64
	switch ids.Dtype {
	case npy.Int64:
		ints = ids.I64
	case npy.Int32:
		for _, v := range ids.I32 {
			ints = append(ints, int64(v))
		}
	default:
		return fmt.Errorf("load features %s: ids have dtype %s, want int64", path, ids.Dtype)
	}
	if len(ids.Shape) != 1 || len(ints) != feat.Shape[0] {
		return fmt.Errorf("load features %s: %d feature rows but ids of shape %v", path, feat.Shape[0], ids.Shape)
	}
	switch feat.Dtype {
	case npy.Float32:
		m.Rows = append(m.Rows, feat.F32...)
	case npy.Float64:
		for _, v := range feat.F64 {
			m.Rows = append(m.Rows, float32(v))
		}
	default:
		return fmt.Errorf("load features %s: dtype %s, want float32", path, feat.Dtype)
	}
	m.IDs = append(m.IDs, ints...)
	return nil
}
