package main

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/data/features"
	"tagimp/data/labels"
	"tagimp/data/npy"
	"tagimp/model"
)

// trainFixture writes a small labelled set with a planted signal: labels
// (with splits.json) in DIR/labels, features DIR/fc7.npy + ids, tag
// vectors DIR/tagvec.npy.
func trainFixture(t *testing.T, dir string, tags []string) {
	t.Helper()
	const n, d, e = 120, 16, 4
	T := len(tags)
	rng := rand.New(rand.NewPCG(1, 2))
	proto := make([]float32, T*d)
	for i := range proto {
		proto[i] = float32(rng.NormFloat64())
	}
	set := &labels.Set{Tags: tags, Presence: make([]uint8, n*T), Importance: make([]float32, n*T)}
	feat := make([]float32, n*d)
	for i := 0; i < n; i++ {
		set.IDs = append(set.IDs, int64(500+i))
		for _, j := range rng.Perm(T)[:1+rng.IntN(2)] {
			imp := float32(1+rng.IntN(5)) / 5
			set.Presence[i*T+j], set.Importance[i*T+j] = 1, imp
			for c := 0; c < d; c++ {
				feat[i*d+c] += 2 * imp * proto[j*d+c]
			}
		}
	}
	v := &labels.Vocab{MinCount: 1, Images: n, Captions: 5 * n}
	for _, tag := range tags {
		v.Tags = append(v.Tags, labels.TagCount{Tag: tag, Count: 10})
	}
	sp := &labels.Splits{Seed: 1, Train: set.IDs[:90], Test: set.IDs[90:]}
	if err := labels.WriteDir(filepath.Join(dir, "labels"), v, set, sp); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(filepath.Join(dir, "fc7.npy"), npy.F32(feat, n, d)); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(filepath.Join(dir, "fc7.ids.npy"), npy.I64(set.IDs, n)); err != nil {
		t.Fatal(err)
	}
	vec := make([]float32, T*e)
	for i := range vec {
		vec[i] = float32(rng.NormFloat64())
	}
	if err := npy.WriteFile(filepath.Join(dir, "tagvec.npy"), npy.F32(vec, T, e)); err != nil {
		t.Fatal(err)
	}
}

// runTrainCLI runs the application with args.
func runTrainCLI(args ...string) error {
	return newApp().Run(append([]string{"tagimp-gpu"}, args...))
}

func trainArgs(dir string, extra ...string) []string {
	return append([]string{"train", "--model", "all", "--labels", filepath.Join(dir, "labels"), "--features", filepath.Join(dir, "fc7.npy"),
		"--tagvec", filepath.Join(dir, "tagvec.npy"), "--out", filepath.Join(dir, "run"), "--epochs", "2", "--batch", "16",
		"--hidden", "16", "--hidden2", "16", "--lr", "3e-3", "--device", "cpu"}, extra...)
}

func TestTrainEval(t *testing.T) {
	dir := t.TempDir()
	trainFixture(t, dir, []string{"dog", "cat", "man", "car", "tree"})
	if err := runTrainCLI(trainArgs(dir)...); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	for _, k := range []string{"baseline", "model1", "model2"} {
		for _, f := range []string{k + ".npz", k + ".json", k + ".e0002.npz", k + ".e0002.opt.npz", k + "-history.csv", k + "-curves.png"} {
			if _, err := os.Stat(filepath.Join(run, f)); err != nil {
				t.Errorf("missing output: %v", err)
			}
		}
	}
	js := filepath.Join(dir, "eval.json")
	if err := runTrainCLI("eval", "--run", run, "--json", js, "--device", "cpu"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var reps []map[string]any
	if err := json.Unmarshal(b, &reps); err != nil {
		t.Fatal(err)
	}
	if len(reps) != 3 {
		t.Fatalf("%d reports, want 3", len(reps))
	}
	for _, key := range []string{"model", "n_images", "n_tags", "threshold", "map_image", "map_class", "jaccard", "mae", "mse", "cp", "cr", "cf1", "op", "or", "of1", "cp_top3", "cr_top3", "cf1_top3", "op_top3", "or_top3", "of1_top3", "spearman", "ndcg"} {
		if _, ok := reps[2][key]; !ok {
			t.Errorf("eval JSON lacks %q", key)
		}
	}
	if reps[2]["model"] != "model2" || reps[2]["n_images"] != float64(30) {
		t.Errorf("model2 report: %v", reps[2])
	}
	if m := reps[1]["map_image"].(float64); !(m > 0.6) || math.IsNaN(m) {
		t.Errorf("model1 mAP(image) %v after 2 epochs on a planted signal", m)
	}
}

// TestTrainBadInput checks one-line errors and that nothing is written or
// overwritten.
func TestTrainBadInput(t *testing.T) {
	dir := t.TempDir()
	trainFixture(t, dir, []string{"dog", "cat", "man", "car", "tree"})
	other := t.TempDir()
	trainFixture(t, other, []string{"dog", "cat", "man", "car", "bus"})
	if err := runTrainCLI(trainArgs(dir, "--model", "model1")...); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	before, _ := os.ReadFile(filepath.Join(run, "model1.npz"))

	shortVec := filepath.Join(dir, "short.npy")
	npy.WriteFile(shortVec, npy.F32(make([]float32, 8), 2, 4))
	nanDir := t.TempDir()
	trainFixture(t, nanDir, []string{"dog", "cat", "man", "car", "tree"})
	a, _ := npy.ReadFile(filepath.Join(nanDir, "fc7.npy"))
	a.F32[3*16+2] = float32(math.NaN())
	npy.WriteFile(filepath.Join(nanDir, "fc7.npy"), a)
	fewIDs := filepath.Join(dir, "few.npy")
	npy.WriteFile(fewIDs, npy.F32(make([]float32, 10*16), 10, 16))
	npy.WriteFile(filepath.Join(dir, "few.ids.npy"), npy.I64([]int64{500, 501, 502, 503, 504, 505, 506, 507, 508, 509}, 10))
	noSplit := t.TempDir()
	set, _ := labels.Read(filepath.Join(dir, "labels"))
	voc, _ := labels.ReadVocab(filepath.Join(dir, "labels", "vocab.json"))
	labels.WriteDir(noSplit, voc, set, nil)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"tag vectors", trainArgs(dir, "--tagvec", shortVec, "--out", t.TempDir()), "have 2 rows, the vocabulary 5 tags"},
		{"NaN features", trainArgs(dir, "--features", filepath.Join(nanDir, "fc7.npy"), "--out", t.TempDir()), "image id 503 has NaN at column 2"},
		{"ids do not join", trainArgs(dir, "--features", fewIDs, "--out", t.TempDir()), "images have no features"},
		{"no split", trainArgs(dir, "--labels", noSplit, "--out", t.TempDir()), "no test split"},
		{"other vocabulary", trainArgs(dir, "--model", "model1", "--labels", filepath.Join(other, "labels"), "--features", filepath.Join(other, "fc7.npy"), "--tagvec", filepath.Join(other, "tagvec.npy")), "another vocabulary"},
		{"other settings", trainArgs(dir, "--model", "model1", "--lr", "1e-2"), "other settings"},
		{"eval other vocabulary", []string{"eval", "--run", run, "--labels", filepath.Join(other, "labels"), "--features", filepath.Join(other, "fc7.npy")}, "another vocabulary"},
		{"eval empty run", []string{"eval", "--run", t.TempDir()}, "holds no checkpoint"},
		{"gpu in the plain build", trainArgs(dir, "--device", "gpu", "--out", t.TempDir()), "without GPU support"},
	} {
		err := runTrainCLI(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", tc.name, err)
		}
	}
	after, _ := os.ReadFile(filepath.Join(run, "model1.npz"))
	if len(before) == 0 || string(before) != string(after) {
		t.Error("a failed command changed the run's checkpoint")
	}
}

// writeCache turns the fixture's fc7.npy into a one-shard feature cache
// folder at dir with the extraction metadata meta.
func writeCache(t *testing.T, fixture, dir string, meta features.Meta) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	feat, err := npy.ReadFile(filepath.Join(fixture, "fc7.npy"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := npy.ReadFile(filepath.Join(fixture, "fc7.ids.npy"))
	if err != nil {
		t.Fatal(err)
	}
	sf := features.ShardFile{Features: "fc7-0.npy", IDs: "fc7-0.ids.npy", Images: feat.Shape[0], Rows: feat.Shape[0]}
	if err := npy.WriteFile(filepath.Join(dir, sf.Features), feat); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(filepath.Join(dir, sf.IDs), ids); err != nil {
		t.Fatal(err)
	}
	if sf.FeaturesSHA256, err = features.FileSHA256(filepath.Join(dir, sf.Features)); err != nil {
		t.Fatal(err)
	}
	if sf.IDsSHA256, err = features.FileSHA256(filepath.Join(dir, sf.IDs)); err != nil {
		t.Fatal(err)
	}
	m := features.Manifest{Format: features.Format, Meta: meta, Dim: feat.Shape[1], Dtype: "<f4", ShardRule: features.ShardRule,
		ShardSize: feat.Shape[0], Images: feat.Shape[0], Rows: feat.Shape[0], Complete: true, Shards: []features.ShardFile{sf}, Failed: []features.Failure{}}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTrainEvalOtherData: resume and eval refuse features computed another
// way and a changed split, record the cache's full provenance, and take a
// moved cache or another test set given deliberately.
func TestTrainEvalOtherData(t *testing.T) {
	dir := t.TempDir()
	trainFixture(t, dir, []string{"dog", "cat", "man", "car", "tree"})
	meta := features.Meta{Backbone: "vgg16-fc7", Weights: "vgg16.pth", WeightsSHA256: strings.Repeat("ab", 32), Preprocess: "torchvision", CenterCrop: true, ImageSize: 224}
	cache := filepath.Join(dir, "cache")
	writeCache(t, dir, cache, meta)
	caffe := meta
	caffe.Preprocess = "caffe"
	writeCache(t, dir, filepath.Join(dir, "caffe"), caffe)
	nocrop := meta
	nocrop.CenterCrop = false
	writeCache(t, dir, filepath.Join(dir, "nocrop"), nocrop)
	writeCache(t, dir, filepath.Join(dir, "moved"), meta)
	run := filepath.Join(dir, "run")
	args := func(extra ...string) []string {
		return trainArgs(dir, append([]string{"--model", "model1", "--features", cache, "--epochs", "1"}, extra...)...)
	}
	if err := runTrainCLI(args()...); err != nil {
		t.Fatal(err)
	}
	m, err := model.ReadMeta(run, model.Model1)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Data.Features
	if f.Weights != "vgg16.pth" || f.CenterCrop == nil || !*f.CenterCrop || f.ImageSize != 224 || f.Preprocess != "torchvision" || m.Data.TestIDsSHA256 == "" {
		t.Errorf("recorded source %+v", m.Data)
	}
	// A second labels folder with the same images but another split.
	resplit := filepath.Join(dir, "resplit")
	set, _ := labels.Read(filepath.Join(dir, "labels"))
	voc, _ := labels.ReadVocab(filepath.Join(dir, "labels", "vocab.json"))
	if err := labels.WriteDir(resplit, voc, set, &labels.Splits{Seed: 2, Train: set.IDs[30:], Test: set.IDs[:30]}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"resume other preprocessing", args("--epochs", "2", "--features", filepath.Join(dir, "caffe")), `preprocessing "caffe", not "torchvision"`},
		{"resume no crop", args("--epochs", "2", "--features", filepath.Join(dir, "nocrop")), "center crop false, not true"},
		{"resume bare npy", args("--epochs", "2", "--features", filepath.Join(dir, "fc7.npy")), "weights SHA-256 none recorded"},
		{"resume other split", args("--epochs", "2", "--labels", resplit), "other training images"},
		{"eval other preprocessing", []string{"eval", "--run", run, "--features", filepath.Join(dir, "caffe")}, `preprocessing "caffe", not "torchvision"`},
		{"eval bare npy", []string{"eval", "--run", run, "--features", filepath.Join(dir, "fc7.npy")}, "were computed differently"},
	} {
		err := runTrainCLI(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines: %q", tc.name, err)
		}
		if strings.HasPrefix(tc.name, "resume") && !strings.Contains(err.Error(), "use the original --features "+cache) {
			t.Errorf("%s: error does not give the fix: %v", tc.name, err)
		}
	}
	// The split of the run's own labels changes after training: refused
	// unless another test set is asked for.
	if err := runTrainCLI("eval", "--run", run, "--features", filepath.Join(dir, "moved"), "--device", "cpu"); err != nil {
		t.Errorf("eval with the same features moved: %v", err)
	}
	if err := labels.WriteDir(filepath.Join(dir, "labels"), voc, set, &labels.Splits{Seed: 2, Train: set.IDs[30:], Test: set.IDs[:30]}); err != nil {
		t.Fatal(err)
	}
	err = runTrainCLI("eval", "--run", run, "--device", "cpu")
	if err == nil || !strings.Contains(err.Error(), "are not the 30 the run was validated on") {
		t.Errorf("eval after the split changed: %v", err)
	}
	if err := runTrainCLI("eval", "--run", run, "--labels", resplit, "--device", "cpu"); err != nil {
		t.Errorf("eval on another test set given deliberately: %v", err)
	}
	// Resuming from the moved cache with the original split works.
	if err := labels.WriteDir(filepath.Join(dir, "labels"), voc, set, &labels.Splits{Seed: 1, Train: set.IDs[:90], Test: set.IDs[90:]}); err != nil {
		t.Fatal(err)
	}
	if err := runTrainCLI(args("--epochs", "2", "--features", filepath.Join(dir, "moved"))...); err != nil {
		t.Errorf("resume from the moved cache: %v", err)
	}
}

// captureStderr runs f with os.Stderr sent to a pipe and returns what was
// written.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	defer func() { os.Stderr = old }()
	f()
	w.Close()
	os.Stderr = old
	return <-out
}

// TestTrainNaNMessage: with --lr 1e30 the first epoch diverges: the error
// says no checkpoint exists and starts on a new line after the bar.
func TestTrainNaNMessage(t *testing.T) {
	dir := t.TempDir()
	trainFixture(t, dir, []string{"dog", "cat", "man", "car", "tree"})
	var err error
	stderr := captureStderr(t, func() {
		err = runTrainCLI(trainArgs(dir, "--model", "model1", "--lr", "1e30")...)
	})
	if !errors.Is(err, model.ErrNonFinite) {
		t.Fatalf("lr 1e30: %v", err)
	}
	if !strings.Contains(err.Error(), "holds no model1 checkpoint") || strings.Contains(err.Error(), "epoch 0") {
		t.Errorf("message %q", err)
	}
	// stderr is not a terminal here: no bar, and no blank line either.
	if !strings.HasSuffix(stderr, "\n") || strings.Contains(stderr, "\n\n") || strings.Contains(stderr, "\r") {
		t.Errorf("stderr before the error does not end a line: %q", stderr)
	}
}

// TestTrainEvalValidation: with a validation split in splits.json, train
// --choose-threshold records θ chosen on it and eval scores the test split
// with that θ and says where it came from.
func TestTrainEvalValidation(t *testing.T) {
	dir := t.TempDir()
	trainFixture(t, dir, []string{"dog", "cat", "man", "car", "tree"})
	sp, err := labels.ReadSplits(filepath.Join(dir, "labels"))
	if err != nil {
		t.Fatal(err)
	}
	sp.Train, sp.Val = sp.Train[:70], sp.Train[70:]
	// Rewritten as vocab would (a splits.json edited by hand no longer
	// matches the folder's labels-manifest.json and is refused).
	labelsDir := filepath.Join(dir, "labels")
	set, err := labels.Read(labelsDir)
	if err != nil {
		t.Fatal(err)
	}
	voc, err := labels.ReadVocab(filepath.Join(labelsDir, "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := labels.WriteDir(labelsDir, voc, set, sp); err != nil {
		t.Fatal(err)
	}
	args := trainArgs(dir, "--choose-threshold", "global")
	args[2] = "model1"
	if err := runTrainCLI(args...); err != nil {
		t.Fatal(err)
	}
	m, err := model.ReadMeta(filepath.Join(dir, "run"), model.Model1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Theta == nil || m.Theta.Images != 20 || m.History[0].Split != "validation" || m.Data.NVal != 20 {
		t.Fatalf("θ choice %+v, history split %q, data %+v", m.Theta, m.History[0].Split, m.Data)
	}
	jsonPath := filepath.Join(dir, "eval.json")
	stderr := captureStderr(t, func() {
		_, err = captureStdout(t, func() error {
			return runTrainCLI("eval", "--run", filepath.Join(dir, "run"), "--json", jsonPath, "--device", "cpu")
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "chosen by train --choose-threshold global on the validation split of 20 images") {
		t.Errorf("eval does not say where θ came from:\n%s", stderr)
	}
	var reps []map[string]any
	b, _ := os.ReadFile(jsonPath)
	if err := json.Unmarshal(b, &reps); err != nil || len(reps) != 1 {
		t.Fatalf("eval.json: %v\n%s", err, b)
	}
	if got := reps[0]["threshold"].(float64); got != m.Theta.Global || reps[0]["n_images"].(float64) != 30 {
		t.Errorf("eval scored at θ %v over %v images, want θ %v over the 30 test images", got, reps[0]["n_images"], m.Theta.Global)
	}
}
