package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"tagimp/data/labels"
	"tagimp/pipeline"
)

func init() {
	p := pipeline.PaperTraining()
	register(&cli.Command{
		Name:  "reproduce",
		Usage: "from a COCO folder to the paper's Table 1 in one command: vocabulary, features, three models, evaluation, report",
		Description: `Runs the paper's whole setting on --coco DIR, which holds
annotations/captions_train2014.json and train2014/ (tagimp-gpu fetch
coco2014-annotations and coco2014-train-images, unzipped there):
   vocab     nouns in ≥ --min-count (1000) captions of the --train (32000) training
             images; --test (8000) test images; split seed --seed
   features  VGG16 fc7 of the split's images (--weights, torchvision's
             vgg16-397923af.pth: tagimp-gpu fetch vgg16-torchvision)
   tagvec    word2vec vectors of the tags (--vectors, GoogleNews: tagimp-gpu fetch
             word2vec-googlenews; or --vectors ppmi)
   train     Baseline, Model 1, Model 2: 50 epochs, batch 32, hidden 4096, dropout
             0.5, θ = 0.5
   eval      every model on the test split, overall and per tag
   report    DIR/report.md: the paper's Table 1 with its numbers beside ours and
             the difference, extended metrics, per-tag AP and importance error
             (best and worst ten; all in per-tag.csv, per-tag.png), training curves
             (run/<model>-curves.png), the vocabulary beside the paper's 116 tags,
             the time of each stage and the machine
A missing asset is named with the fetch command that brings it. Every stage is
skipped when its output exists and matches its inputs (stages.json, the feature
manifest, the checkpoints), and resumes where it stopped: run the same command
again after an interruption.

Any COCO-format data works: --captions and --images name the files directly
(e.g. the demo's data/captions.json and data/images/ with --min-count 3 --train
600 --test 200 --weights random:1 --input-size 64 --vectors ppmi).

Examples:
   tagimp-gpu reproduce --coco coco/ --out repro
   tagimp-gpu reproduce --coco demo-run/data --captions demo-run/data/captions.json \
       --images demo-run/data/images --min-count 20 --train 600 --test 200 \
       --weights random:1 --input-size 64 --vectors ppmi --epochs 20 --hidden 512 --out repro-demo`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "coco", Required: true, Usage: "COCO folder (annotations/captions_train2014.json, train2014/)"},
			&cli.StringFlag{Name: "captions", Usage: "caption file (default: COCO/annotations/captions_train2014.json)"},
			&cli.StringFlag{Name: "images", Usage: "image folder (default: COCO/train2014)"},
			&cli.StringFlag{Name: "weights", Usage: "VGG16 weights (.pth/.npz) or random:SEED (default: COCO/" + pipeline.PaperWeights + ")"},
			&cli.IntFlag{Name: "input-size", Value: 224, Usage: "VGG16 input side for random:SEED weights (real weights use 224)"},
			&cli.StringFlag{Name: "vectors", Usage: "word vectors of the tags, or ppmi (default: COCO/" + pipeline.PaperVectors + ")"},
			&cli.IntFlag{Name: "dim", Value: 300, Usage: "width of --vectors ppmi"},
			&cli.IntFlag{Name: "min-count", Value: pipeline.PaperMinCount, Usage: "captions of the training images a noun must appear in to become a tag (paper: 1000)"},
			&cli.Float64Flag{Name: "noun-share", Value: labels.DefaultNounShare, Usage: "as vocab --noun-share: a tag's tokens must be tagged as nouns at least this share of the time (0 = off, the paper's rule)"},
			&cli.IntFlag{Name: "train", Value: pipeline.PaperTrain, Usage: "training images (paper: ~32k)"},
			&cli.IntFlag{Name: "test", Value: pipeline.PaperTest, Usage: "test images (paper: ~8k)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of the split, the models' initialisation, order and dropout"},
			&cli.StringFlag{Name: "out", Value: "repro", Usage: "output folder (labels/, features/, run/, report.md)"},
			&cli.IntFlag{Name: "epochs", Value: p.Epochs, Usage: "training epochs (paper: 50)"},
			&cli.IntFlag{Name: "batch", Value: p.Batch, Usage: "mini-batch size (paper: 32), also the VGG16 batch"},
			&cli.IntFlag{Name: "hidden", Value: p.Hidden, Usage: "hidden width of the trunk (paper: 4096)"},
			&cli.IntFlag{Name: "hidden2", Value: p.Hidden2, Usage: "hidden width of Model 2's importance MLP (paper: 4096)"},
			&cli.Float64Flag{Name: "lr", Value: p.LR, Usage: "Adam learning rate"},
			&cli.Float64Flag{Name: "dropout", Value: p.Dropout, Usage: "dropout of the hidden layers (paper: 0.5)"},
			&cli.Float64Flag{Name: "threshold", Value: p.Threshold, Usage: "θ (paper: 0.5)"},
			&cli.StringFlag{Name: "imp-loss-mask", Value: p.ImpLossMask, Usage: "importance MSE over all entries (all) or the true tags only (true)"},
			deviceFlag(),
		},
		Action: runReproduce,
	})
}

func runReproduce(c *cli.Context) error {
	coco := c.String("coco")
	weights, vectors := c.String("weights"), c.String("vectors")
	if weights == "" {
		weights = filepath.Join(coco, pipeline.PaperWeights)
	}
	if vectors == "" {
		vectors = filepath.Join(coco, pipeline.PaperVectors)
	}
	release, err := lockOut(c, "out")
	if err != nil {
		return err
	}
	defer release()
	factory, engine, err := engineFactory(c)
	if err != nil {
		return err
	}
	rep, err := pipeline.Reproduce(c.Context, pipeline.ReproduceConfig{
		COCO: coco, Captions: c.String("captions"), Images: c.String("images"), Out: c.String("out"),
		Net:     pipeline.NetSpec{Weights: weights, Seed: c.Int64("seed"), InputSize: c.Int("input-size")},
		Vectors: vectors, Dim: c.Int("dim"), MinCount: c.Int("min-count"), NounShare: c.Float64("noun-share"), Train: c.Int("train"), Test: c.Int("test"),
		Seed: c.Int64("seed"), Training: trainingFlags(c, 1), Batch: c.Int("batch"),
		Command: strings.Join(os.Args, " "),
	}, cliHooks("reproduce"), pipeline.Engines{
		Factory: factory, Engine: engine,
		NewExtractor: pipelineExtractor(c),
	})
	if err != nil {
		return err
	}
	if err := printTable(os.Stdout, rep.Reports); err != nil {
		return err
	}
	fmt.Printf("\nreport: %s\n", filepath.Join(c.String("out"), pipeline.ReportFile))
	return nil
}
