package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/data/npy"
	"tagimp/model/metrics"
)

func TestMetricsCommand(t *testing.T) {
	dir := t.TempDir()
	writeTestVocab(t, dir, "man", "dog", "cat")
	presence := []uint8{1, 0, 1, 0, 1, 0, 0, 0, 0}
	importance := []float32{.6, 0, .2, 0, 1, 0, 0, 0, 0}
	err := npy.WriteNPZ(filepath.Join(dir, "labels.npz"),
		npy.NamedArray{Name: "ids", Array: npy.I64([]int64{10, 11, 12}, 3)},
		npy.NamedArray{Name: "presence", Array: npy.U8(presence, 3, 3)},
		npy.NamedArray{Name: "importance", Array: npy.F32(importance, 3, 3)})
	if err != nil {
		t.Fatal(err)
	}
	// Predictions for images 11 and 10 (in that order) and an unknown 99.
	pred := &metrics.Predictions{IDs: []int64{11, 10, 99}, Tags: 3,
		Prob:       []float32{.2, .7, .4, .9, .6, .3, .5, .5, .5},
		Importance: []float32{.1, .8, .2, .5, .1, .3, 0, 0, 0}}
	predPath := filepath.Join(dir, "run1.npz")
	if err := metrics.WritePredictions(predPath, pred); err != nil {
		t.Fatal(err)
	}
	want, err := metrics.Evaluate(
		[]uint8{0, 1, 0, 1, 0, 1}, []float32{0, 1, 0, .6, 0, .2},
		[]float32{.2, .7, .4, .9, .6, .3}, []float32{.1, .8, .2, .5, .1, .3}, 2, 3, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	want.Model = "run1"

	stdout, stderr, err := runCLI("metrics", "--labels", filepath.Join(dir, "labels.npz"), "--pred", predPath, "--threshold", "0.4", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got metrics.Report
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	want.ImagesWithoutTags, want.TagsWithoutPositives, want.TrueTags, want.SpearmanImages = 0, 0, 0, 0 // not in JSON
	if got != want {
		t.Errorf("JSON report %+v, want %+v", got, want)
	}
	for _, w := range []string{"1 predicted images are not in the labels", "99", "1 labelled images have no prediction (12)"} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}

	stdout, _, err = runCLI("metrics", "--labels", dir, "--pred", predPath, "--name", "baseline")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"baseline", "mAP per image (paper)", "importance NDCG"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("table lacks %q:\n%s", w, stdout)
		}
	}

	bad := filepath.Join(dir, "bad.npz")
	if err := metrics.WritePredictions(bad, &metrics.Predictions{IDs: []int64{10}, Tags: 2, Prob: make([]float32, 2), Importance: make([]float32, 2)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI("metrics", "--labels", dir, "--pred", bad); err == nil || !strings.Contains(err.Error(), "2 tags, the labels 3") {
		t.Errorf("tag-count mismatch: error %v", err)
	}
}
