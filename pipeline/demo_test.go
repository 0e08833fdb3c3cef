package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"tagimp/data/demo"
	"tagimp/model"
)

func tinyDemo(out string) DemoConfig {
	d := demo.DefaultConfig()
	d.Images, d.Size = 40, 64
	return DemoConfig{
		Out: out, Data: d,
		Net:      NetSpec{Seed: d.Seed, InputSize: 32},
		Dim:      8,
		MinCount: 3, TrainShare: 0.75,
		Training: Training{Epochs: 2, Batch: 8, Hidden: 16, Hidden2: 16, LR: 1e-3, Threshold: 0.5,
			ImpLossMask: model.MaskTrue, Seed: d.Seed, CheckpointEvery: 1},
	}
}

// The demo's stages run once; a second run skips each of them (stages.json,
// the feature manifest and the checkpoints decide) and gives the same
// results; a changed input reruns only the stages that read it; more epochs
// resume training where it stopped.
func TestDemoStagesSkipAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs VGG16 and trains three models")
	}
	out := t.TempDir()
	cfg := tinyDemo(out)
	ctx := context.Background()
	first, err := Demo(ctx, cfg, Hooks{}, Engines{})
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Setup.Skipped) != 0 {
		t.Errorf("first run skipped %v", first.Setup.Skipped)
	}
	if len(first.Models) != 4 || first.Cloud == nil {
		t.Fatalf("results: %d models, cloud %v", len(first.Models), first.Cloud)
	}

	second, err := Demo(ctx, cfg, Hooks{}, Engines{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"generate", "vocab", "features", "tagvec", "train"}
	if !reflect.DeepEqual(second.Setup.Skipped, want) {
		t.Errorf("second run skipped %v, want %v", second.Setup.Skipped, want)
	}
	// (compared as results.json holds them)
	if a, b := jsonOf(t, first.Models), jsonOf(t, second.Models); a != b {
		t.Errorf("results differ between the runs:\n%s\n%s", a, b)
	}

	// A labels file changed by hand: the vocabulary stage runs again
	// (and writes the same labels); what does not read it stays.
	npz := filepath.Join(out, LabelsDir, "labels.npz")
	orig, err := os.ReadFile(npz)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(npz, append(orig[:len(orig):len(orig)], 0), 0o644); err != nil {
		t.Fatal(err)
	}
	third, err := Demo(ctx, cfg, Hooks{}, Engines{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(third.Setup.Skipped, "vocab") || !slices.Contains(third.Setup.Skipped, "generate") || !slices.Contains(third.Setup.Skipped, "features") {
		t.Errorf("after editing labels.npz, skipped %v", third.Setup.Skipped)
	}
	if again, _ := os.ReadFile(npz); !reflect.DeepEqual(again, orig) {
		t.Errorf("labels.npz not rebuilt as before")
	}

	// One more epoch: training resumes from the saved epoch 2.
	cfg.Training.Epochs = 3
	fourth, err := Demo(ctx, cfg, Hooks{}, Engines{})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(fourth.Setup.Skipped, "train") {
		t.Errorf("more epochs: train skipped")
	}
	m, err := model.ReadMeta(filepath.Join(out, RunDir), model.Model2)
	if err != nil {
		t.Fatal(err)
	}
	m0, err := model.ReadMeta(filepath.Join(out, RunDir), model.Baseline)
	if err != nil {
		t.Fatal(err)
	}
	if m.Epoch != 3 || len(m.History) != 3 || m0.Epoch != 3 {
		t.Errorf("after resuming: model2 epoch %d (%d records), baseline epoch %d", m.Epoch, len(m.History), m0.Epoch)
	}
	if !reflect.DeepEqual(fourth.Models[0], first.Models[0]) {
		t.Errorf("chance row changed though the data did not")
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
