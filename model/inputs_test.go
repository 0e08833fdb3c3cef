package model_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tagimp/data/features"
	"tagimp/data/labels"
	"tagimp/model"
)

// rowExtractor gives each image a row of 2 values copied from its input.
type rowExtractor struct{}

func (rowExtractor) Extract(x []float32, n int) ([]float32, error) { return x[:n*2], nil }
func (rowExtractor) Dim() int                                      { return 2 }

// writeRun writes labels for images 1..8 (split: train 1-6, test 7-8) and
// a feature cache of the images in cached, where the ids in broken fail
// to decode.
func writeRun(t *testing.T, cached []int64, broken map[int64]bool) (labelsDir, cacheDir string) {
	t.Helper()
	dir := t.TempDir()
	labelsDir, cacheDir = filepath.Join(dir, "labels"), filepath.Join(dir, "fc7")
	ids := []int64{1, 2, 3, 4, 5, 6, 7, 8}
	set := &labels.Set{IDs: ids, Tags: []string{"dog", "cat"}}
	for i := range ids {
		set.Presence = append(set.Presence, uint8(i%2), 1)
		set.Importance = append(set.Importance, float32(i%2)*0.4, 0.2)
	}
	v := &labels.Vocab{MinCount: 1, Images: len(ids), Captions: 5 * len(ids), Tags: []labels.TagCount{{Tag: "dog", Count: 9}, {Tag: "cat", Count: 8}}}
	sp := &labels.Splits{Seed: 1, Train: ids[:6], Test: ids[6:]}
	if err := labels.WriteDir(labelsDir, v, set, sp); err != nil {
		t.Fatal(err)
	}
	imgDir := filepath.Join(dir, "images")
	if err := os.Mkdir(imgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var images []features.Image
	for _, id := range cached {
		images = append(images, features.Image{ID: id, File: fmt.Sprintf("%d.jpg", id)})
	}
	load := func(path string) ([]float32, error) {
		var id int64
		fmt.Sscanf(filepath.Base(path), "%d.jpg", &id)
		if broken[id] {
			return nil, errors.New("unexpected EOF in JPEG data")
		}
		return []float32{float32(id), 1}, nil
	}
	if _, err := features.Build(context.Background(), features.Config{Out: cacheDir, ImagesDir: imgDir, Images: images,
		Load: load, Extractor: rowExtractor{}, Meta: features.Meta{Backbone: "test"}, Workers: 1}); err != nil {
		t.Fatal(err)
	}
	return labelsDir, cacheDir
}

// A cache with failed images still trains: the failed images leave the
// splits, and LoadInputs says which and why.
func TestLoadInputsDropsFailedImages(t *testing.T) {
	lab, cache := writeRun(t, []int64{1, 2, 3, 4, 5, 6, 7, 8}, map[int64]bool{2: true, 5: true, 8: true})
	d, err := model.LoadInputs(model.Inputs{Labels: lab, Features: cache}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Train.IDs, []int64{1, 3, 4, 6}) || !slices.Equal(d.Test.IDs, []int64{7}) {
		t.Errorf("splits %v and %v, want [1 3 4 6] and [7]", d.Train.IDs, d.Test.IDs)
	}
	if d.Train.X[2] != 3 || d.Source.NTrain != 4 || d.Source.NTest != 1 {
		t.Errorf("rows %v, NTrain %d, NTest %d", d.Train.X, d.Source.NTrain, d.Source.NTest)
	}
	if len(d.Dropped) != 2 {
		t.Fatalf("dropped %+v, want one entry per split", d.Dropped)
	}
	tr := d.Dropped[0]
	if tr.Split != "training" || tr.Count != 2 || tr.Total != 6 || len(tr.First) != 2 || tr.First[0].ID != 2 || tr.First[1].ID != 5 {
		t.Errorf("training drop %+v", tr)
	}
	msg := tr.String()
	for _, w := range []string{"training split: 2 of 6 images dropped", "2 (2.jpg): ", "unexpected EOF in JPEG data", "5 (5.jpg)"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q lacks %q", msg, w)
		}
	}
	if te := d.Dropped[1]; te.Split != "test" || te.Count != 1 || te.First[0].ID != 8 {
		t.Errorf("test drop %+v", te)
	}
	// Evaluation (test split only) drops the same test image.
	d, err = model.LoadInputs(model.Inputs{Labels: lab, Features: cache, TestOnly: true}, false)
	if err != nil || len(d.Dropped) != 1 || d.Dropped[0].Split != "test" || !slices.Equal(d.Test.IDs, []int64{7}) {
		t.Errorf("test only: %+v, %v", d, err)
	}
}

func TestLoadInputsMissingFeatures(t *testing.T) {
	// Images 4 and 6 are not in the cache at all: no recorded reason, so
	// an error that says how many and what to do.
	lab, cache := writeRun(t, []int64{1, 2, 3, 5, 7, 8}, map[int64]bool{2: true})
	_, err := model.LoadInputs(model.Inputs{Labels: lab, Features: cache}, false)
	if err == nil || !strings.Contains(err.Error(), "2 of 5 images have no features (first: 4)") || !strings.Contains(err.Error(), "tagimp-gpu features") {
		t.Errorf("error %v", err)
	}
	// Every test image failed: an error, not an empty split.
	lab, cache = writeRun(t, []int64{1, 2, 3, 4, 5, 6, 7, 8}, map[int64]bool{7: true, 8: true})
	_, err = model.LoadInputs(model.Inputs{Labels: lab, Features: cache}, false)
	if err == nil || !strings.Contains(err.Error(), "all 2 images of the test split are listed as failed") {
		t.Errorf("error %v", err)
	}
}

func TestDroppedString(t *testing.T) {
	var failed []features.Failure
	var ids []int64
	for id := int64(1); id <= 9; id++ {
		ids = append(ids, id)
		if id > 1 {
			failed = append(failed, features.Failure{ID: id, Reason: "bad"})
		}
	}
	kept, d := model.DropFailed("test", ids, failed)
	if !slices.Equal(kept, []int64{1}) || d.Count != 8 || len(d.First) != model.MaxDroppedListed {
		t.Fatalf("kept %v, dropped %+v", kept, d)
	}
	if s := d.String(); !strings.HasSuffix(s, "6: bad; … 3 more in the cache's manifest.json") {
		t.Errorf("String() = %q", s)
	}
}
