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
	for _, tg := range preds[0].Tags {
		if p, ok := want[tg.Tag]; ok && (tg.Probability-p > 1e-4 || p-tg.Probability > 1e-4) {
			t.Errorf("predict %s probability %.5f, the demo had %.5f", tg.Tag, tg.Probability, p)
		}
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
