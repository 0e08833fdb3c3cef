package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"tagimp/data/features"
	"tagimp/model"
	"tagimp/model/metrics"
	"tagimp/tagger"
)

// PaperTable1 is the paper's Table 1 (COCO, ~32k train / ~8k test): MAE,
// MSE, Jaccard, mAP.
var PaperTable1 = map[model.Kind][4]float64{
	model.Baseline: {0.2778, 0.1284, 0.2478, 0.5086},
	model.Model1:   {0.3073, 0.1490, 0.3211, 0.5660},
	model.Model2:   {0.2143, 0.0783, 0.3221, 0.5660},
}

// PaperTags is the size of the paper's vocabulary (nouns in ≥ 1000
// captions of its ~32k training images).
const PaperTags = 116

// The paper's setting, the reproduce command's defaults.
const (
	PaperMinCount = 1000
	PaperTrain    = 32000
	PaperTest     = 8000
	PaperWeights  = "vgg16-397923af.pth"
	PaperVectors  = "GoogleNews-vectors-negative300.bin.gz"
)

// PaperTraining is the paper's training setting (50 epochs, batch 32,
// θ = 0.5, hidden 4096, dropout 0.5) with the train command's optimiser
// defaults.
func PaperTraining() Training {
	d := model.DefaultConfig(model.Model2)
	return Training{Epochs: d.Epochs, Batch: d.Batch, Hidden: d.H, Hidden2: d.H2, LR: d.LR, Dropout: d.Dropout,
		Threshold: d.Threshold, ImpLossMask: d.ImpLossMask, Seed: d.Seed}
}

// ReproduceConfig describes a reproduction of the paper's Table 1 from a
// COCO folder.
type ReproduceConfig struct {
	// COCO is the folder holding annotations/captions_train2014.json and
	// train2014/ (as the fetch command's archives unpack).
	COCO string
	// Captions and Images override the caption file and image folder
	// (e.g. the demo's captions.json and images/).
	Captions, Images string
	Out              string
	Net              NetSpec
	// Vectors is the word-vector file of the tags, or "ppmi" for PPMI
	// vectors of Dim columns learned from the captions.
	Vectors  string
	Dim      int
	MinCount int
	// NounShare is the vocab command's --noun-share (0: off, the paper's
	// rule).
	NounShare   float64
	Train, Test int
	Seed        int64
	Training    Training
	// Batch is the VGG16 batch.
	Batch int
	// Command is the command line, for the report.
	Command string
}

// missingAsset says which fetch command brings a missing file.
func missingAsset(what, path, fetch, how string) error {
	return fmt.Errorf("%s %s is missing: get it with `tagimp-gpu fetch %s`%s", what, path, fetch, how)
}

func (c *ReproduceConfig) resolve() error {
	if c.Captions == "" {
		c.Captions = filepath.Join(c.COCO, "annotations", "captions_train2014.json")
	}
	if c.Images == "" {
		c.Images = filepath.Join(c.COCO, "train2014")
	}
	if _, err := os.Stat(c.Captions); errors.Is(err, fs.ErrNotExist) {
		return missingAsset("COCO captions", c.Captions, "coco2014-annotations", " and unzip it into "+c.COCO+" (or pass --captions FILE)")
	}
	if st, err := os.Stat(c.Images); err != nil || !st.IsDir() {
		return missingAsset("COCO image folder", c.Images, "coco2014-train-images", " and unzip it into "+c.COCO+" (or pass --images DIR)")
	}
	if _, random, err := tagger.ParseRandomWeights(c.Net.Weights); err != nil {
		return err
	} else if !random && c.Net.Weights != "" {
		if _, err := os.Stat(c.Net.Weights); err != nil {
			return missingAsset("VGG16 weights", c.Net.Weights, "vgg16-torchvision", " (or pass --weights FILE)")
		}
	}
	if c.Vectors != "ppmi" {
		if _, err := os.Stat(c.Vectors); err != nil {
			return missingAsset("word vectors", c.Vectors, "word2vec-googlenews", " (or pass --vectors FILE, or --vectors ppmi)")
		}
	}
	return nil
}

// Reproduction is what Reproduce found, the content of the report.
type Reproduction struct {
	Config   ReproduceConfig
	Labeled  *Labeled
	Features *Featured
	Trained  *Trained
	// Reports and PerTag are each model's scores on the test split, in
	// model.Kinds order.
	Reports []metrics.Report
	PerTag  [][]metrics.TagScore
	VecFrom string
	Seconds map[string]float64
	Skipped []string
	Engine  string
	Started time.Time
}

// Reproduce runs the paper's pipeline on a COCO folder: vocabulary of the
// training captions' nouns, fc7 of the split's images, tag vectors, the three
// models, their evaluation on the test split, and OUT/report.md with its
// PNGs. Stages already done with the same inputs are skipped.
func Reproduce(ctx context.Context, cfg ReproduceConfig, h Hooks, eng Engines) (*Reproduction, error) {
	start := time.Now()
	if err := cfg.resolve(); err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("reproduce: %w (choose an --out folder you can write to)", err)
	}
	r, err := newRunner(ctx, cfg.Out, h, eng)
	if err != nil {
		return nil, err
	}
	rep := &Reproduction{Config: cfg, Engine: r.eng.Engine, Started: start}

	// 1. Vocabulary over the training images' captions, labels, split.
	if rep.Labeled, err = r.labels(LabelSpec{Captions: cfg.Captions, MinCount: cfg.MinCount, Train: cfg.Train, Test: cfg.Test, Seed: cfg.Seed, OnTrain: true,
		Words: true, NounShare: cfg.NounShare}); err != nil {
		return nil, fmt.Errorf("reproduce: %w", err)
	}
	l := rep.Labeled
	h.logf("%d tags (nouns in ≥ %d captions of the %d training images; the paper: %d); %d train / %d test images",
		len(l.Tags), cfg.MinCount, len(l.Splits.Train), PaperTags, len(l.Splits.Train), len(l.Splits.Test))

	// 2. fc7 of the split's images only.
	caps, err := r.captions(cfg.Captions)
	if err != nil {
		return nil, err
	}
	all, missing, err := features.MatchCaptionFiles(cfg.Images, caps.IDs, caps.FileNames)
	if err != nil {
		return nil, err
	}
	inSplit := map[int64]bool{}
	for _, id := range append(append([]int64{}, l.Splits.Train...), l.Splits.Test...) {
		inSplit[id] = true
	}
	var images []features.Image
	for _, im := range all {
		if inSplit[im.ID] {
			images = append(images, im)
		}
	}
	if missing > 0 {
		h.logf("warning: %d of the caption file's %d images have no file in %s", missing, len(all), cfg.Images)
	}
	if rep.Features, err = r.features(cfg.Net, cfg.Images, images, cfg.Batch); err != nil {
		return nil, err
	}

	// 3. Tag vectors.
	vspec := VectorSpec{File: cfg.Vectors, Dim: cfg.Dim, Captions: cfg.Captions}
	if cfg.Vectors == "ppmi" {
		vspec.File = ""
	}
	vecs, dim, from, err := r.tagVectors(vspec, l.Tags)
	if err != nil {
		return nil, err
	}
	rep.VecFrom = from

	// 4. The three models.
	if rep.Trained, err = r.train(cfg.Training, l, rep.Features, vecs, dim); err != nil {
		return nil, err
	}

	// 5. Evaluation on the test split, per model and per tag.
	err = r.st.timed("eval", func() error {
		test := rep.Trained.Test
		for _, m := range rep.Trained.Metas {
			_, st, err := model.LoadCheckpoint(filepath.Join(cfg.Out, RunDir), m.Config.Kind, false)
			if err != nil {
				return err
			}
			tr, err := r.eng.Factory(m.Config, st)
			if err != nil {
				return err
			}
			prob, imp, err := model.Predict(tr, m.Config, vecs, test.X, test.N, nil)
			tr.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", m.Config.Kind, err)
			}
			rp, err := metrics.Evaluate(test.Presence, test.Importance, prob, imp, test.N, test.T, m.Config.Threshold)
			if err != nil {
				return fmt.Errorf("%s: %w", m.Config.Kind, err)
			}
			rp.Model = string(m.Config.Kind)
			pt, err := metrics.PerTag(test.Presence, test.Importance, prob, imp, test.N, test.T)
			if err != nil {
				return fmt.Errorf("%s: %w", m.Config.Kind, err)
			}
			rep.Reports = append(rep.Reports, rp)
			rep.PerTag = append(rep.PerTag, pt)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	// 6. The report.
	err = r.st.timed("report", func() error { return writeReport(cfg.Out, rep, r.st) })
	if err != nil {
		return nil, err
	}
	r.st.Seconds["total"] = time.Since(start).Seconds()
	rep.Seconds, rep.Skipped = r.st.Seconds, r.st.Skipped
	// The report's timing table includes the report itself and the total.
	if err := writeReport(cfg.Out, rep, r.st); err != nil {
		return nil, err
	}
	return rep, nil
}
