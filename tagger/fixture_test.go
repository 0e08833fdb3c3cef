package tagger_test

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
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

// demoRun trains a tiny demo once per test binary and returns its output
// folder (run in OUT/run, images in OUT/data/images).
func demoRun(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("trains a tiny demo run")
	}
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "tagger-test-")
		if fixtureErr != nil {
			return
		}
		d := demo.DefaultConfig()
		d.Images, d.Size = 40, 64
		_, fixtureErr = pipeline.Demo(context.Background(), pipeline.DemoConfig{
			Out: fixtureDir, Data: d, Net: pipeline.NetSpec{Seed: d.Seed, InputSize: 32}, Dim: 8,
			MinCount: 3, TrainShare: 0.75,
			Training: pipeline.Training{Epochs: 2, Batch: 8, Hidden: 16, Hidden2: 16, LR: 1e-3, Threshold: 0.3,
				ImpLossMask: model.MaskTrue, Seed: d.Seed},
		}, pipeline.Hooks{}, pipeline.Engines{})
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return fixtureDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func demoImages(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "data", "images", "*.png"))
	if err != nil || len(files) == 0 {
		t.Fatalf("demo images: %v %v", files, err)
	}
	return files
}
