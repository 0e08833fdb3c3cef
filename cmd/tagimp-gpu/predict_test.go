package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/model"
)

// runFeatureNet takes the network and preprocessing from the run's
// metadata, without the feature cache, and reads the cache's manifest only
// for runs whose metadata lacks them.
func TestRunFeatureNet(t *testing.T) {
	yes := true
	cache := filepath.Join(t.TempDir(), "fc7")
	if err := os.Mkdir(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	manifest := `{"format":"tagimp-features/1","backbone":"vgg16-fc7","weights":"random:6","preprocess":"caffe","center_crop":true,"image_size":32}`
	if err := os.WriteFile(filepath.Join(cache, "manifest.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		src    model.FeatureSource
		source string // the network's Source
		mode   string
		crop   bool
		full   bool // JPEGs decoded at full size, as the features were
	}{
		{"metadata, no cache", model.FeatureSource{Path: filepath.Join(cache, "gone"), Weights: "random:5", Preprocess: "caffe", CenterCrop: &yes, ImageSize: 32},
			"random(seed=5)", "caffe", true, false},
		{"features decoded in full", model.FeatureSource{Path: filepath.Join(cache, "gone"), Weights: "random:5", Preprocess: "caffe", CenterCrop: &yes, ImageSize: 32, Decoder: "libjpeg-turbo full"},
			"random(seed=5)", "caffe", true, true},
		{"metadata wins over the manifest", model.FeatureSource{Path: cache, Weights: "random:5", Preprocess: "torchvision", CenterCrop: new(bool), ImageSize: 32},
			"random(seed=5)", "torchvision", false, false},
		{"old run: the manifest fills in", model.FeatureSource{Path: cache, Preprocess: "caffe", ImageSize: 32},
			"random(seed=6)", "caffe", true, false},
	}
	for _, tc := range tests {
		net, prep, err := runFeatureNet(tc.src, "")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if net.Source() != tc.source || prep.Mode != tc.mode || prep.CenterCrop != tc.crop || prep.FullDecode != tc.full || prep.Size != 32 || net.Config().InputSize != 32 {
			t.Errorf("%s: network %s, %+v; want %s, %s, crop %v, full decode %v, 32", tc.name, net.Source(), prep, tc.source, tc.mode, tc.crop, tc.full)
		}
	}
	_, _, err := runFeatureNet(model.FeatureSource{Path: filepath.Join(cache, "gone"), ImageSize: 32}, "")
	if err == nil || !strings.Contains(err.Error(), "pass --weights") {
		t.Errorf("nothing recorded: %v", err)
	}
}

// predict with a bad image among good ones tags the good ones, reports the
// bad one (stderr, and an "error" entry with --json) and fails at the end.
func TestPredictSkipsBadImages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a tiny demo (VGG16 and three models)")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "demo")
	args := []string{"tagimp-gpu", "demo", "--out", out, "--images", "24", "--size", "48", "--input-size", "32",
		"--epochs", "1", "--hidden", "16", "--min-count", "2", "--batch", "8", "--dim", "8", "--device", "cpu"}
	if _, err := captureStdout(t, func() error { return newApp().Run(args) }); err != nil {
		t.Fatalf("demo: %v", err)
	}
	good, _ := filepath.Glob(filepath.Join(out, "data", "images", "*.png"))
	if len(good) < 2 {
		t.Fatalf("demo images: %v", good)
	}
	bad := filepath.Join(dir, "notes.jpg")
	if err := os.WriteFile(bad, []byte("not a picture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "absent.png")
	stdout, err := captureStdout(t, func() error {
		return newApp().Run([]string{"tagimp-gpu", "predict", "--run", filepath.Join(out, "run"), "--json", "--all", "--device", "cpu", good[0], bad, good[1], missing})
	})
	if err == nil || !strings.Contains(err.Error(), "2 of 4 images could not be tagged") {
		t.Errorf("error %v, want one saying 2 of 4 images failed", err)
	}
	var preds []imagePrediction
	if err := json.Unmarshal([]byte(stdout), &preds); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if len(preds) != 4 {
		t.Fatalf("%d entries, want 4: %+v", len(preds), preds)
	}
	for i, p := range preds {
		wantErr := i == 1 || i == 3
		if (p.Error != "") != wantErr || (len(p.Tags) > 0) == wantErr {
			t.Errorf("entry %d (%s): error %q, %d tags", i, p.Image, p.Error, len(p.Tags))
		}
	}
	if preds[1].Image != bad || !strings.Contains(preds[1].Error, "notes.jpg") {
		t.Errorf("bad image entry %+v", preds[1])
	}
	if preds[3].Image != missing || !strings.Contains(preds[3].Error, "absent.png") {
		t.Errorf("missing image entry %+v", preds[3])
	}
}
