package model

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"tagimp/data/features"
	"tagimp/data/labels"
	"tagimp/data/npy"
	"tagimp/data/wordvec"
)

// Inputs names the files a run reads.
type Inputs struct {
	// Labels is the folder written by `tagimp-gpu vocab` (labels.npz,
	// vocab.json and, when it made a split, splits.json) or its labels.npz.
	Labels string
	// TestLabels, when set, holds the test images' labels (same
	// vocabulary); then every image of Labels is a training image.
	// Otherwise the split comes from Labels' splits.json.
	TestLabels string
	// Features is a feature cache folder or an [N,D] .npy with its ids
	// beside it (see features.Load).
	Features string
	// TagVec is the tags' word vectors: the [T,E] float32 .npy written by
	// `tagimp-gpu embed`, or a word-vector file (word2vec .bin or text,
	// GloVe) looked up by tag name.
	TagVec string
	// TestOnly skips the training split (Loaded.Train stays nil): what
	// evaluation needs.
	TestOnly bool
}

// Loaded is a run's data, joined and checked.
type Loaded struct {
	Tags        []string
	Train, Test *Data
	// Val is the validation split (splits.json's "val"), nil without one
	// or with Inputs.TestOnly.
	Val *Data
	// TagVecs is T×E (nil without Inputs.TagVec).
	TagVecs []float32
	E       int
	Source  DataSource
	// Dropped lists, per split, the images left out because the feature
	// cache records them as failed (undecodable images); empty when none
	// were. Callers print each entry's String.
	Dropped []Dropped
}

// LoadInputs reads and joins labels, split, features and tag vectors. With
// needTagVec (Model 2) a missing Inputs.TagVec is an error. Every error is
// one line that names the file and the fix.
func LoadInputs(in Inputs, needTagVec bool) (*Loaded, error) {
	set, err := labels.Read(in.Labels)
	if err != nil {
		return nil, err
	}
	out := &Loaded{Tags: set.Tags, Source: DataSource{Labels: in.Labels, TestLabels: in.TestLabels, TagVec: in.TagVec}}
	testSet := set
	var trainIDs, testIDs, valIDs []int64
	if in.TestLabels != "" {
		if testSet, err = labels.Read(in.TestLabels); err != nil {
			return nil, fmt.Errorf("--test-labels: %w", err)
		}
		if err := SameTags(set.Tags, testSet.Tags); err != nil {
			return nil, fmt.Errorf("test labels %s and training labels %s: %w", in.TestLabels, in.Labels, err)
		}
		trainIDs, testIDs = set.IDs, testSet.IDs
		train := make(map[int64]bool, len(trainIDs))
		for _, id := range trainIDs {
			train[id] = true
		}
		for _, id := range testIDs {
			if train[id] {
				return nil, fmt.Errorf("image %d is in both the training labels %s and the test labels %s: split them apart", id, in.Labels, in.TestLabels)
			}
		}
	} else {
		dir := in.Labels
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			dir = filepath.Dir(dir)
		}
		sp, err := labels.ReadSplits(dir)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no test split: %s has no splits.json (make one with tagimp-gpu vocab --train N --test M) and no --test-labels was given", dir)
		}
		if err != nil {
			return nil, err
		}
		out.Source.Splits = filepath.Join(dir, "splits.json")
		trainIDs, testIDs, valIDs = sp.Train, sp.Test, sp.Val
	}
	feat, err := features.Load(in.Features)
	if err != nil {
		return nil, err
	}
	out.Source.Features = NewFeatureSource(in.Features, feat.Dim, feat.Meta)
	failed, err := cacheFailures(in.Features)
	if err != nil {
		return nil, err
	}
	var dropped Dropped
	if !in.TestOnly {
		if trainIDs, dropped = DropFailed("training", trainIDs, failed); dropped.Count > 0 {
			out.Dropped = append(out.Dropped, dropped)
		}
		if valIDs, dropped = DropFailed("validation", valIDs, failed); dropped.Count > 0 {
			out.Dropped = append(out.Dropped, dropped)
		}
	}
	if testIDs, dropped = DropFailed("test", testIDs, failed); dropped.Count > 0 {
		out.Dropped = append(out.Dropped, dropped)
	}
	for _, d := range out.Dropped {
		if d.Count == d.Total {
			return nil, fmt.Errorf("features %s: all %d images of the %s split are listed as failed in the cache's manifest.json (first: %s); check the --images folder of `tagimp-gpu features` and compute the cache again",
				in.Features, d.Total, d.Split, d.First[0].Reason)
		}
	}
	t := len(set.Tags)
	if in.TestOnly {
		trainIDs = nil
	} else if out.Train, err = Join("training", trainIDs, feat.IDs, feat.Rows, feat.Dim, set.IDs, set.Presence, set.Importance, t); err != nil {
		return nil, fmt.Errorf("%w (features %s, labels %s)", err, in.Features, in.Labels)
	}
	if !in.TestOnly && len(valIDs) > 0 {
		if out.Val, err = Join("validation", valIDs, feat.IDs, feat.Rows, feat.Dim, set.IDs, set.Presence, set.Importance, t); err != nil {
			return nil, fmt.Errorf("%w (features %s, labels %s)", err, in.Features, in.Labels)
		}
	}
	testLabels := in.Labels
	if in.TestLabels != "" {
		testLabels = in.TestLabels
	}
	if out.Test, err = Join("test", testIDs, feat.IDs, feat.Rows, feat.Dim, testSet.IDs, testSet.Presence, testSet.Importance, t); err != nil {
		return nil, fmt.Errorf("%w (features %s, labels %s)", err, in.Features, testLabels)
	}
	out.Source.NTrain, out.Source.NTest = len(trainIDs), out.Test.N
	if in.TagVec == "" {
		if needTagVec {
			return nil, fmt.Errorf("model2 needs the tags' word vectors: give --tagvec (the .npy of tagimp-gpu embed, or a word2vec file)")
		}
		return out, nil
	}
	if out.TagVecs, out.E, out.Source.TagVecMissing, err = loadTagVecs(in.TagVec, set.Tags); err != nil {
		return nil, err
	}
	return out, nil
}

// cacheFailures returns the images a feature cache folder's manifest
// lists as failed; a bare .npy records none.
func cacheFailures(path string) ([]features.Failure, error) {
	if st, err := os.Stat(path); err != nil || !st.IsDir() {
		return nil, nil
	}
	m, err := features.ReadManifest(filepath.Join(path, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("features %s: %w", path, err)
	}
	return m.Failed, nil
}

// loadTagVecs reads one vector per tag from a [T,E] .npy or a word-vector
// file.
func loadTagVecs(path string, tags []string) (vecs []float32, e int, missing []string, err error) {
	if strings.HasSuffix(strings.ToLower(path), ".npy") {
		a, err := npy.ReadFile(path)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("tag vectors: %w", err)
		}
		if a.Dtype != "<f4" || len(a.Shape) != 2 {
			return nil, 0, nil, fmt.Errorf("tag vectors %s: %s %v, want float32 [tags, dim] (write it with tagimp-gpu embed)", path, a.Dtype, a.Shape)
		}
		if a.Shape[0] != len(tags) {
			return nil, 0, nil, fmt.Errorf("tag vectors %s have %d rows, the vocabulary %d tags: rerun tagimp-gpu embed with this vocab.json", path, a.Shape[0], len(tags))
		}
		vecs, e = a.F32, a.Shape[1]
		for i := 0; i < len(tags); i++ {
			zero := true
			for _, v := range vecs[i*e : (i+1)*e] {
				if v != 0 {
					zero = false
				}
			}
			if zero {
				missing = append(missing, tags[i])
			}
		}
	} else {
		tab, err := wordvec.Load(path, tags, wordvec.Options{})
		if err != nil {
			return nil, 0, nil, err
		}
		vecs, e, missing = tab.Vectors, tab.Dim, tab.Missing
	}
	if e <= 0 {
		return nil, 0, nil, fmt.Errorf("tag vectors %s: width %d", path, e)
	}
	for i, v := range vecs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, 0, nil, fmt.Errorf("tag vectors %s: tag %q holds %v at column %d: %w", path, tags[i/e], v, i%e, ErrNonFinite)
		}
	}
	return vecs, e, missing, nil
}

// SameTags returns an error naming the first difference when the two
// vocabularies differ.
func SameTags(a, b []string) error {
	if slices.Equal(a, b) {
		return nil
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Errorf("different vocabularies (%d and %d tags; tag %d is %q in one, %q in the other)", len(a), len(b), i, a[i], b[i])
		}
	}
	return fmt.Errorf("different vocabularies (%d and %d tags)", len(a), len(b))
}
