package pipeline

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"tagimp/data/demo"
	"tagimp/model"
)

// Reproduce runs end to end on the demo's COCO-format data (captions.json,
// images/) with a lowered --min-count, writes a report with the paper's
// Table 1 beside ours and the rest the issue lists, and a second run skips
// every stage and gives the same table.
func TestReproduceOnDemoData(t *testing.T) {
	if testing.Short() {
		t.Skip("runs VGG16 and trains three models")
	}
	dir := t.TempDir()
	d := demo.DefaultConfig()
	d.Images, d.Size = 48, 64
	set, err := demo.Write(filepath.Join(dir, "coco"), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "repro")
	tr := PaperTraining()
	tr.Epochs, tr.Hidden, tr.Hidden2, tr.Batch, tr.Dropout, tr.LR = 2, 16, 16, 8, 0, 1e-3
	cfg := ReproduceConfig{
		COCO: set.Dir, Captions: set.Captions, Images: set.ImageDir, Out: out,
		Net: NetSpec{Weights: "random:1", InputSize: 32}, Vectors: "ppmi", Dim: 8,
		MinCount: 3, Train: 36, Test: 12, Seed: 1, Training: tr, Batch: 8, Command: "tagimp-gpu reproduce (test)",
	}

	// Missing assets are named with the fetch command that brings them.
	bad := cfg
	bad.Captions, bad.COCO = "", filepath.Join(dir, "nothing")
	if _, err := Reproduce(context.Background(), bad, Hooks{}, Engines{}); err == nil || !strings.Contains(err.Error(), "fetch coco2014-annotations") {
		t.Errorf("missing captions: %v", err)
	}
	bad = cfg
	bad.Vectors = filepath.Join(dir, PaperVectors)
	if _, err := Reproduce(context.Background(), bad, Hooks{}, Engines{}); err == nil || !strings.Contains(err.Error(), "fetch word2vec-googlenews") {
		t.Errorf("missing vectors: %v", err)
	}

	rep, err := Reproduce(context.Background(), cfg, Hooks{}, Engines{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Reports) != 3 || rep.Trained.Train.N != 36 || rep.Trained.Test.N != 12 {
		t.Fatalf("%d reports, %d/%d images", len(rep.Reports), rep.Trained.Train.N, rep.Trained.Test.N)
	}
	b, err := os.ReadFile(filepath.Join(out, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"## Table 1", "| Baseline |", "| Model 1 |", "| Model 2 |",
		"0.2778", "0.1284", "0.2478", "0.5086", "0.3073", "0.2143", "0.0783", "0.5660", // the paper's numbers
		"## Per tag", "highest AP", "lowest AP", PerTagCSV, PerTagPNG,
		"## Training curves", "run/model2-curves.png",
		"## Vocabulary", "116 in the paper",
		"## Time and machine", "| features |", "| train |", "logical CPUs",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	// Our numbers and the differences are the ones computed.
	r2 := rep.Reports[2]
	p := PaperTable1[model.Model2]
	row := "| Model 2 | " + f4(r2.MAE) + " | 0.2143 | " + signed(r2.MAE-p[0]) + " | " + f4(r2.MSE) + " | 0.0783 | " + signed(r2.MSE-p[1])
	if !strings.Contains(md, row) {
		t.Errorf("report.md lacks the Model 2 row %q:\n%s", row, md)
	}
	for _, tag := range rep.Labeled.Tags {
		if !strings.Contains(md, tag) {
			t.Errorf("report.md does not list tag %q", tag)
		}
	}
	csv, err := os.ReadFile(filepath.Join(out, PerTagCSV))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(csv), "\n"); lines != len(rep.Labeled.Tags)+1 {
		t.Errorf("per-tag.csv has %d lines for %d tags", lines, len(rep.Labeled.Tags))
	}
	for _, f := range []string{PerTagPNG, "run/baseline-curves.png", "run/model1-curves.png", "run/model2-curves.png"} {
		fh, err := os.Open(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(fh); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		fh.Close()
	}

	again, err := Reproduce(context.Background(), cfg, Hooks{}, Engines{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"vocab", "features", "tagvec", "train"}; !reflect.DeepEqual(again.Skipped, want) {
		t.Errorf("second run skipped %v, want %v", again.Skipped, want)
	}
	if jsonOf(t, again.Reports) != jsonOf(t, rep.Reports) {
		t.Errorf("second run's scores differ")
	}
}
