// Package testrun trains a tiny demo run once per test binary, for the
// tests of the packages that put a run to use (tagger, serve, the CLI).
package testrun

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"tagimp/data/demo"
	"tagimp/model"
	"tagimp/pipeline"
)

var (
	once sync.Once
	dir  string
	err  error
)

// Demo returns the output folder of a tiny demo (40 images of 64×64,
// VGG16 with random weights at input 32, 2 epochs, θ 0.3): the run in
// DIR/run, the images in DIR/data/images. It skips the test in -short mode.
// Call Cleanup from TestMain.
func Demo(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("trains a tiny demo run")
	}
	once.Do(func() {
		if dir, err = os.MkdirTemp("", "tagimp-testrun-"); err != nil {
			return
		}
		err = build(dir)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Fresh is Demo in a folder of the test's own (t.TempDir), for test
// binaries that cannot call Cleanup.
func Fresh(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("trains a tiny demo run")
	}
	d := t.TempDir()
	if err := build(d); err != nil {
		t.Fatal(err)
	}
	return d
}

func build(dir string) error {
	d := demo.DefaultConfig()
	d.Images, d.Size = 40, 64
	_, err := pipeline.Demo(context.Background(), pipeline.DemoConfig{
		Out: dir, Data: d, Net: pipeline.NetSpec{Seed: d.Seed, InputSize: 32}, Dim: 8,
		MinCount: 3, TrainShare: 0.75,
		Training: pipeline.Training{Epochs: 2, Batch: 8, Hidden: 16, Hidden2: 16, LR: 1e-3, Threshold: 0.3,
			ImpLossMask: model.MaskTrue, Seed: d.Seed},
	}, pipeline.Hooks{}, pipeline.Engines{})
	return err
}

// Images returns the demo's image files in name order.
func Images(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "data", "images", "*.png"))
	if err != nil || len(files) == 0 {
		t.Fatalf("demo images: %v %v", files, err)
	}
	return files
}

// Cleanup removes the run, if one was made.
func Cleanup() {
	if dir != "" {
		os.RemoveAll(dir)
	}
}
