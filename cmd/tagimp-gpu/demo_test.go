package main

import (
	"encoding/json"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"tagimp/model"
)

// captureStdout runs f and returns what it printed on stdout.
func captureStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	ferr := f()
	w.Close()
	os.Stdout = old
	return <-done, ferr
}

// A tiny demo runs the whole pipeline; predict then reads its run back.
func TestDemoAndPredict(t *testing.T) {
	if testing.Short() {
		t.Skip("runs VGG16 and trains three models")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "demo")
	args := []string{"tagimp-gpu", "demo", "--out", out, "--images", "48", "--size", "64", "--input-size", "32",
		"--epochs", "3", "--hidden", "32", "--min-count", "3", "--batch", "8", "--dim", "8", "--dropout", "0.25", "--device", "cpu"}
	stdout, err := captureStdout(t, func() error { return newApp().Run(args) })
	if err != nil {
		t.Fatalf("demo: %v", err)
	}
	for _, want := range []string{"chance", "baseline", "model1", "model2", "test images", "tag cloud"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Models []map[string]any `json:"models"`
		Cloud  *imagePrediction `json:"cloud"`
		Setup  demoSetup        `json:"setup"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range res.Models {
		names = append(names, m["model"].(string))
		for _, key := range []string{"map_image", "map_class", "jaccard", "mae", "mse", "cp", "cr", "cf1", "op", "or", "of1",
			"cp_top3", "cr_top3", "cf1_top3", "op_top3", "or_top3", "of1_top3", "spearman", "ndcg", "n_images", "n_tags", "threshold"} {
			if _, ok := m[key]; !ok {
				t.Errorf("results.json model %v lacks %q", m["model"], key)
			}
		}
	}
	if want := []string{"chance", "baseline", "model1", "model2"}; !reflect.DeepEqual(names, want) {
		t.Errorf("results.json models %v, want %v", names, want)
	}
	if res.Setup.Train+res.Setup.Test != 48 || !strings.HasPrefix(res.Setup.TagVec, "ppmi") {
		t.Errorf("setup %+v", res.Setup)
	}
	if res.Setup.Config.Dropout != 0.25 {
		t.Errorf("results.json records dropout %v, want the --dropout 0.25 given", res.Setup.Config.Dropout)
	}
	if res.Cloud == nil {
		t.Fatal("results.json has no cloud")
	}
	if f, err := os.Open(filepath.Join(out, "cloud.png")); err != nil {
		t.Error(err)
	} else {
		if _, err := png.Decode(f); err != nil {
			t.Errorf("cloud.png: %v", err)
		}
		f.Close()
	}

	// predict rebuilds the random VGG16 from the run and gives the same
	// probabilities the demo computed from the cached features.
	cloud := filepath.Join(dir, "p.svg")
	img := res.Cloud.Image
	stdout, err = captureStdout(t, func() error {
		return newApp().Run([]string{"tagimp-gpu", "predict", "--run", filepath.Join(out, "run"), "--json", "--all", "--cloud", cloud, "--device", "cpu", img, img})
	})
	if err != nil {
		t.Fatalf("predict: %v", err)
	}
	var preds []imagePrediction
	if err := json.Unmarshal([]byte(stdout), &preds); err != nil {
		t.Fatalf("predict --json: %v\n%s", err, stdout)
	}
	if len(preds) != 2 || preds[0].Model != "model2" || len(preds[0].Tags) != len(res.Setup.Tags) {
		t.Fatalf("predict: %+v", preds)
	}
	want := map[string]float64{}
	for _, tg := range res.Cloud.Tags {
		want[tg.Tag] = tg.Probability
	}
	compared := 0
	for _, tg := range preds[0].Tags {
		p, ok := want[tg.Tag]
		if !ok {
			continue
		}
		compared++
		if tg.Probability-p > 1e-4 || p-tg.Probability > 1e-4 {
			t.Errorf("predict %s probability %.5f, the demo had %.5f", tg.Tag, tg.Probability, p)
		}
	}
	// Every tag of the demo's cloud must have been compared, and there
	// must be some: a loop over nothing proves nothing.
	if compared != len(want) || compared < 1 {
		t.Errorf("compared %d tags of predict with the demo's %d (vocabulary %d); want all of them and at least one", compared, len(want), len(res.Setup.Tags))
	}
	for i := 1; i <= 2; i++ {
		if _, err := os.Stat(filepath.Join(dir, "p-"+string(rune('0'+i))+".svg")); err != nil {
			t.Errorf("cloud %d: %v", i, err)
		}
	}

	// A run without a model, and weights that are not the run's, are refused.
	err = newApp().Run([]string{"tagimp-gpu", "predict", "--run", dir, img})
	if err == nil || !strings.Contains(err.Error(), "holds no trained model") {
		t.Errorf("predict on an empty run: %v", err)
	}
	err = newApp().Run([]string{"tagimp-gpu", "predict", "--run", filepath.Join(out, "run"), "--weights", "random:99", img})
	if err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("predict with other weights: %v", err)
	}
}

func TestRankTags(t *testing.T) {
	tags := []string{"dog", "ball", "field", "car"}
	prob := []float32{0.9, 0.6, 0.4, 0.7}
	imp := []float32{0.8, 0.3, 0.9, 0.3}
	tests := []struct {
		all  bool
		want []string
	}{
		{false, []string{"dog", "car", "ball"}}, // car and ball tie on importance: higher probability first
		{true, []string{"field", "dog", "car", "ball"}},
	}
	for _, tt := range tests {
		var got []string
		for _, p := range rankTags(tags, prob, imp, 0.5, tt.all) {
			got = append(got, p.Tag)
			if p.Predicted != (p.Probability >= 0.5) {
				t.Errorf("%s: predicted = %v at probability %v", p.Tag, p.Predicted, p.Probability)
			}
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("all=%v: %v, want %v", tt.all, got, tt.want)
		}
	}
}

func TestCloudPath(t *testing.T) {
	tests := []struct {
		path string
		i, n int
		want string
	}{
		{"c.png", 0, 1, "c.png"},
		{"out/c.png", 0, 3, "out/c-1.png"},
		{"c.svg", 2, 3, "c-3.svg"},
	}
	for _, tt := range tests {
		if got := cloudPath(tt.path, tt.i, tt.n); got != tt.want {
			t.Errorf("cloudPath(%q, %d, %d) = %q, want %q", tt.path, tt.i, tt.n, got, tt.want)
		}
	}
}

// The chance row is the pixel-blind prior: every image gets each tag's
// mean training importance where present, so its MAE over the true tags is
// computable by hand.
func TestChanceReport(t *testing.T) {
	d := &model.Data{N: 4, T: 2, D: 1, IDs: []int64{1, 2, 3, 4}, X: make([]float32, 4),
		Presence:   []uint8{1, 0, 1, 1, 0, 1, 1, 0},
		Importance: []float32{1, 0, 0.6, 0.4, 0, 0.8, 0.2, 0}}
	rep := chanceReport(d, d, 0.5)
	if rep.Model != "chance" || rep.NImages != 4 {
		t.Fatalf("%+v", rep)
	}
	// tag means where present 0.6 and 0.6; |1-.6|+|.6-.6|+|.4-.6|+|.8-.6|+|.2-.6| = 1.2 over 5 true tags
	if math.Abs(rep.MAE-0.24) > 1e-6 {
		t.Errorf("chance MAE = %v, want 0.24", rep.MAE)
	}
}

// TestDemoBeatsChance backs the claim that the models beat the chance row
// (the pixel-blind prior), on a demo smaller than the default (600 images
// at input 32, hidden 256/512, 40 epochs: about a minute and a half of CPU
// instead of three). Seeds 1, 2 and 3 of this setting gave, as a ratio to
// the chance row:
//
//	                        seed 1   seed 2   seed 3   asserted
//	mAP(image), min model   2.09     2.02     1.92     ≥ 1.7
//	mAP(class), min model   3.23     3.26     3.13     ≥ 2.7
//	Model 1 MAE             0.744    0.741    0.769    ≤ 0.85
//	Model 1 MSE             0.667    0.685    0.696    ≤ 0.80
//	Model 2 MAE             0.953    0.919    0.955    ≤ 0.98
//	Model 2 MSE             1.10     0.99     1.02     not asserted
//
// At this size Model 2 beats chance on MAE only narrowly and not on MSE
// (its importance MLP reads L2-normalised random-weight fc7, where images
// differ little, and needs the default's wider MLP and more data); the
// Baseline's importance is its tag probability, which is not meant to beat
// the prior. The test runs seed 1.
func TestDemoBeatsChance(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 600-image demo (about 90 s of CPU)")
	}
	out := filepath.Join(t.TempDir(), "demo")
	args := []string{"tagimp-gpu", "demo", "--out", out, "--images", "600", "--size", "64", "--input-size", "32",
		"--epochs", "40", "--hidden", "256", "--hidden2", "512", "--dim", "32", "--seed", "1", "--device", "cpu"}
	if _, err := captureStdout(t, func() error { return newApp().Run(args) }); err != nil {
		t.Fatalf("demo: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res demoResults
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Models) != 4 || res.Models[0].Model != "chance" {
		t.Fatalf("results.json models: %+v", res.Models)
	}
	chance := res.Models[0]
	for _, r := range res.Models[1:] {
		t.Logf("%s: mAP(image) %.3f (chance %.3f) mAP(class) %.3f (%.3f) MAE %.3f (%.3f) MSE %.3f (%.3f)",
			r.Model, r.MAPImage, chance.MAPImage, r.MAPClass, chance.MAPClass, r.MAE, chance.MAE, r.MSE, chance.MSE)
		if r.MAPImage < 1.7*chance.MAPImage || r.MAPClass < 2.7*chance.MAPClass {
			t.Errorf("%s: mAP(image) %.3f, mAP(class) %.3f; want at least 1.7× and 2.7× the chance row's %.3f, %.3f", r.Model, r.MAPImage, r.MAPClass, chance.MAPImage, chance.MAPClass)
		}
		switch r.Model {
		case "model1":
			if r.MAE > 0.85*chance.MAE || r.MSE > 0.80*chance.MSE {
				t.Errorf("model1: importance MAE %.4f MSE %.4f; want at most 0.85× and 0.80× the chance row's %.4f, %.4f", r.MAE, r.MSE, chance.MAE, chance.MSE)
			}
		case "model2":
			if r.MAE > 0.98*chance.MAE {
				t.Errorf("model2: importance MAE %.4f; want at most 0.98× the chance row's %.4f", r.MAE, chance.MAE)
			}
		}
	}
}
