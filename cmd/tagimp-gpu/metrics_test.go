package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/data/npy"
	"tagimp/model/metrics"
)

// writeMetricsLabels writes a bare labels.npz into dir: images 10, 11, 12
// over three tags.
func writeMetricsLabels(t *testing.T, dir string) {
	t.Helper()
	presence := []uint8{1, 0, 1, 0, 1, 0, 0, 0, 0}
	importance := []float32{.6, 0, .2, 0, 1, 0, 0, 0, 0}
	err := npy.WriteNPZ(filepath.Join(dir, "labels.npz"),
		npy.NamedArray{Name: "ids", Array: npy.I64([]int64{10, 11, 12}, 3)},
		npy.NamedArray{Name: "presence", Array: npy.U8(presence, 3, 3)},
		npy.NamedArray{Name: "importance", Array: npy.F32(importance, 3, 3)})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMetricsCommand scores a small prediction against values computed by
// hand (the working is in the comments), not by metrics.Evaluate.
func TestMetricsCommand(t *testing.T) {
	dir := t.TempDir()
	writeMetricsLabels(t, dir) // a bare labels.npz: no vocab.json beside it
	// Predictions for images 11 and 10 (in that order) and an unknown 99.
	pred := &metrics.Predictions{IDs: []int64{11, 10, 99}, Tags: 3,
		Prob:       []float32{.2, .7, .4, .9, .6, .3, .5, .5, .5},
		Importance: []float32{.1, .8, .2, .2, .35, .3, 0, 0, 0}}
	predPath := filepath.Join(dir, "run1.npz")
	if err := metrics.WritePredictions(predPath, pred); err != nil {
		t.Fatal(err)
	}
	// Scored rows, θ = 0.4:
	//   image 11: true {1} (importance 1);          prob .2 .7 .4; importance .1 .8 .2
	//   image 10: true {0: .6, 2: .2};               prob .9 .6 .3; importance .2 .35 .3
	// map_image: 11 ranks tag 1 first → AP 1; 10 ranks 0+, 1-, 2+ → (1/1 + 2/3)/2 = 5/6;
	//            mean 11/12.
	// map_class: tag 0: 10 (.9, +) above 11 (.2) → 1; tag 1: 11 (.7, +) above 10 → 1;
	//            tag 2: 11 (.4, -) above 10 (.3, +) → 1/2; mean 5/6.
	// jaccard: 11 predicts {1, 2} (.4 ≥ θ) vs {1} → 1/2; 10 predicts {0, 1} vs {0, 2} → 1/3;
	//          mean 5/12.
	// mae, mse over the 3 true pairs: |1-.8|, |.6-.2|, |.2-.3| → (.2+.4+.1)/3 = 7/30;
	//          (.04+.16+.01)/3 = .07.
	// cp, cr: tag 0 P 1 R 1; tag 1 predicted for 11 and 10, true for 11 → P 1/2 R 1;
	//         tag 2 predicted for 11 only, true for 10 → P 0 R 0. cp 1/2, cr 2/3,
	//         cf1 = 2·(1/2)(2/3)/(7/6) = 4/7.
	// op, or: 2 of 4 decisions right, 2 of 3 true pairs found → 1/2, 2/3, of1 4/7.
	// top-3: with 3 tags the top 3 that are ≥ θ are the decisions above: same values.
	// spearman: only image 10 has ≥ 2 true tags; true .6 > .2, predicted .2 < .3 → -1.
	// ndcg: 11 ranks tag 1 first → 1; 10 ranks 1 (.35, gain 0), 2 (.3, gain .2),
	//       0 (.2, gain .6): DCG .2/log2(3) + .6/log2(4) over the ideal .6 + .2/log2(3)
	//       = 0.586876…; mean 0.793441…
	want := map[string]float64{
		"n_images": 2, "n_tags": 3, "threshold": 0.4,
		"map_image": 11.0 / 12, "map_class": 5.0 / 6, "jaccard": 5.0 / 12,
		"mae": 7.0 / 30, "mse": 0.07,
		"cp": 0.5, "cr": 2.0 / 3, "cf1": 4.0 / 7, "op": 0.5, "or": 2.0 / 3, "of1": 4.0 / 7,
		"cp_top3": 0.5, "cr_top3": 2.0 / 3, "cf1_top3": 4.0 / 7, "op_top3": 0.5, "or_top3": 2.0 / 3, "of1_top3": 4.0 / 7,
		"spearman": -1,
		"ndcg":     (1 + (0.2/math.Log2(3)+0.6/2)/(0.6+0.2/math.Log2(3))) / 2,
	}

	stdout, stderr, err := runCLI("metrics", "--labels", filepath.Join(dir, "labels.npz"), "--pred", predPath, "--threshold", "0.4", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, stdout)
	}
	if got["model"] != "run1" {
		t.Errorf("model %v, want run1", got["model"])
	}
	for key, w := range want {
		g, ok := got[key].(float64)
		if !ok || math.Abs(g-w) > 1e-6 {
			t.Errorf("%s = %v, want %.6f (by hand)", key, got[key], w)
		}
	}
	if len(got) != len(want)+1 {
		t.Errorf("JSON has %d keys, want %d: %s", len(got), len(want)+1, stdout)
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

// TestMetricsRefuses checks the range checks train and eval share: θ in
// (0, 1), probabilities and importances in [0, 1], named by image and tag
// (by --vocab's names, or by index for a bare labels.npz).
func TestMetricsRefuses(t *testing.T) {
	dir := t.TempDir()
	writeMetricsLabels(t, dir)
	vocabDir := t.TempDir()
	vocab := writeTestVocab(t, vocabDir, "man", "dog", "cat")
	write := func(name string, prob, imp []float32) string {
		p := filepath.Join(dir, name)
		if err := metrics.WritePredictions(p, &metrics.Predictions{IDs: []int64{10, 11}, Tags: 3, Prob: prob, Importance: imp}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := []float32{.9, .1, .8, .2, .7, .1}
	logits := write("logits.npz", []float32{2.2, -1.5, 1.4, -1.4, .8, -2.2}, good)
	imp := write("imp.npz", good, []float32{.9, .1, .8, .2, 1.5, .1})
	ok := write("ok.npz", good, good)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--pred", logits}, `probability of image 10 tag "tag0" is 2.2, outside [0, 1] (values range over [-2.2, 2.2])`},
		{[]string{"--pred", logits}, "apply a sigmoid"},
		{[]string{"--pred", logits, "--vocab", vocab}, `image 10 tag "man"`},
		{[]string{"--pred", imp}, `predicted importance of image 11 tag "tag1" is 1.5`},
		{[]string{"--pred", ok, "--threshold", "1"}, "outside (0, 1)"},
		{[]string{"--pred", ok, "--threshold", "0"}, "outside (0, 1)"},
		{[]string{"--pred", ok, "--vocab", filepath.Join(vocabDir, "none.json")}, "none.json"},
	} {
		_, _, err := runCLI(append([]string{"metrics", "--labels", dir}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.args, err, c.want)
		}
	}
	// A vocab.json beside labels.npz names the tags without --vocab.
	if err := os.Rename(vocab, filepath.Join(dir, "vocab.json")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI("metrics", "--labels", dir, "--pred", logits); err == nil || !strings.Contains(err.Error(), `tag "man"`) {
		t.Errorf("vocab.json beside the labels: %v", err)
	}
}
