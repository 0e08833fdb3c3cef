package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"tagimp/data/demo"
	"tagimp/model"
	"tagimp/model/metrics"
	"tagimp/pipeline"
)

func init() {
	d := demo.DefaultConfig()
	register(&cli.Command{
		Name:  "demo",
		Usage: "generate a synthetic COCO-style data set and run the whole pipeline on it (no downloads)",
		Description: `Generates images of scenes (a field, water, a road or a table) holding a few
objects named by ordinary nouns (dog, ball, house, boat, …), each drawn as its own
shape and colour at a random size and place, with five captions per image from
simulated annotators who mention bigger, more central objects more often. So every
tag's true importance is known, and it can be learned from the pixels.

Then it runs the real pipeline on that set, through the same packages as the
other commands:
   vocab     nouns of the captions (POS tagger + lemmatiser) → vocabulary, labels, splits
   features  VGG16 fc7 of every image (seeded RANDOM weights unless --weights is given;
             random conv features still carry colour and shape)
   tagvec    tag vectors learned from the demo captions (PPMI + SVD) unless --vectors
   train     Baseline, Model 1 and Model 2
   results   the metrics of each model on the test images, beside a chance baseline
             (a model that ignores the pixels and predicts every tag's training prior),
             written to DIR/results.json, and a tag cloud of one test image (DIR/cloud.png)

Layout of DIR: data/ (images/, captions.json, instances.json with the true mention
probabilities), labels/ (vocab.json, labels.npz, splits.json, tagvec.npy),
features/ (fc7 cache), run/ (checkpoints, histories), results.json, cloud.png.
The stages live in package pipeline (as reproduce's do): running it again skips
every stage whose output exists and matches its inputs (DIR/stages.json for the
data set, labels and tag vectors; the feature manifest and the checkpoints for
the rest), and an interrupted run resumes where it stopped.

The defaults take about three minutes of CPU time (VGG16 on 800 images, then 40
epochs of each model): 175 s measured on two cores busy with other work too, less
on idle ones. They use hidden widths of --hidden 512 and --hidden2 1024 instead
of the paper's 4096, a network input of --input-size 64 (random weights only: the
images are small and simple), --imp-loss-mask true (the importance heads learn the
importance of the tags an image holds, which is what MAE and MSE measure) to fit
that budget, and --dropout 0 (see below); raise --images, --epochs, --hidden to
scale up.

Why --dropout 0 with random weights: a deep ReLU network with random weights maps
every image to nearly the same direction (the fc7 rows of two demo images have a
cosine of about 0.95), so what tells images apart is a small part of each hidden
activation, and dropping half the units at random drowns it: with the paper's 0.5
the models hardly get past the chance row in the demo's few hundred steps. Pass
--dropout 0.5 with real --weights.

What to expect with random weights: mAP more than twice the chance row's, and an
importance error of Model 1 and Model 2 about a third below the chance row's. Model 2
learns more slowly than Model 1 (its own MLP reads fc7 L2-normalised, where the
image-specific part is tiny: hence --hidden2 wider than --hidden and 40 epochs) and,
at test time, averages the word vectors of the predicted tags (Jaccard about 0.5),
not of the true ones it was trained on.

Examples:
   tagimp-gpu demo
   tagimp-gpu demo --out demo-big --images 2000 --epochs 50 --hidden 4096 --hidden2 4096
   tagimp-gpu demo --weights vgg16-397923af.pth --vectors googlenews-top1000.bin --dropout 0.5`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Value: "demo-run", Usage: "folder for the data set, features, models and results"},
			&cli.IntFlag{Name: "images", Value: d.Images, Usage: "number of images to generate"},
			&cli.IntFlag{Name: "size", Value: d.Size, Usage: "side of the generated images in pixels"},
			&cli.IntFlag{Name: "input-size", Value: 64, Usage: "VGG16 input side for random weights (a multiple of 32); real --weights always use 224"},
			&cli.Int64Flag{Name: "seed", Value: d.Seed, Usage: "seed of the data set, the random VGG16, the split and the models"},
			&cli.StringFlag{Name: "weights", Usage: "real VGG16 weights (.pth or .npz) instead of seeded random ones"},
			&cli.StringFlag{Name: "vectors", Usage: "word-vector file (word2vec .bin/.txt, GloVe) for the tags instead of PPMI vectors from the captions"},
			&cli.IntFlag{Name: "dim", Value: 300, Usage: "width of the PPMI tag vectors (columns beyond the captions' rank are zero)"},
			&cli.IntFlag{Name: "min-count", Value: 20, Usage: "captions a noun must appear in to become a tag"},
			&cli.Float64Flag{Name: "train-share", Value: 0.75, Usage: "share of the images used for training; the rest are the test images"},
			&cli.IntFlag{Name: "epochs", Value: 40, Usage: "training epochs of each model"},
			&cli.IntFlag{Name: "hidden", Value: 512, Usage: "hidden width H of the trunk (the paper: 4096)"},
			&cli.IntFlag{Name: "hidden2", Value: 1024, Usage: "hidden width H2 of Model 2's importance MLP (the paper: 4096)"},
			&cli.Float64Flag{Name: "lr", Value: 1e-3, Usage: "Adam learning rate (our choice: the paper names no optimiser or settings)"},
			&cli.Float64Flag{Name: "dropout", Value: demoDropout, Usage: "dropout probability of the hidden layers in training (the paper: 0.5; see the description for why the demo uses less)"},
			&cli.IntFlag{Name: "batch", Value: 32, Usage: "mini-batch size (also the VGG16 batch)"},
			&cli.StringFlag{Name: "imp-loss-mask", Value: model.MaskTrue, Usage: "importance MSE over the true tags only (true) or over all image×tag entries (all, the train command's default)"},
			&cli.Float64Flag{Name: "threshold", Value: 0.5, Usage: "probability θ above which a tag is predicted (our default: the paper states no θ)"},
			deviceFlag(),
		},
		Action: runDemo,
	})
}

// demoDropout is the demo's default dropout. With seeded random VGG16
// weights every image's fc7 points almost the same way (mean cosine about
// 0.95 between images: a deep random ReLU network maps all inputs close
// together), so the image-specific part of each hidden activation is small
// beside the shared part, and dropping half the units at random buries it
// in noise; the heads then hardly learn within the demo's few hundred
// steps. With real --weights, use the paper's 0.5.
const demoDropout = 0

// The demo's results, as package pipeline writes them to DIR/results.json.
type (
	demoResults = pipeline.DemoResults
	demoSetup   = pipeline.DemoSetup
)

func runDemo(c *cli.Context) error {
	release, err := lockOut(c, "out")
	if err != nil {
		return err
	}
	defer release()
	d := demo.DefaultConfig()
	d.Images, d.Size, d.Seed = c.Int("images"), c.Int("size"), c.Int64("seed")
	factory, engine, err := engineFactory(c)
	if err != nil {
		return err
	}
	res, err := pipeline.Demo(c.Context, pipeline.DemoConfig{
		Out: c.String("out"), Data: d,
		Net:     pipeline.NetSpec{Weights: c.String("weights"), Seed: d.Seed, InputSize: c.Int("input-size")},
		Vectors: c.String("vectors"), Dim: c.Int("dim"), MinCount: c.Int("min-count"), TrainShare: c.Float64("train-share"),
		Training: trainingFlags(c, 10),
	}, cliHooks("demo"), pipeline.Engines{
		Factory: factory, Engine: engine,
		NewExtractor: pipelineExtractor(c),
	})
	if err != nil {
		return err
	}
	printDemoResults(os.Stdout, res, res.Setup.Weights)
	resPath := filepath.Join(c.String("out"), pipeline.DemoResultsFile)
	fmt.Printf("\nresults: %s   models: %s   tag cloud: %s\n", resPath, filepath.Join(c.String("out"), pipeline.RunDir), res.Cloud.Cloud)
	fmt.Printf("try: tagimp-gpu predict --run %s --cloud cloud.png %s\n", filepath.Join(c.String("out"), pipeline.RunDir), res.Cloud.Image)
	return nil
}

// trainingFlags reads the models' hyper-parameters of demo and reproduce.
func trainingFlags(c *cli.Context, checkpointEvery int) pipeline.Training {
	return pipeline.Training{
		Epochs: c.Int("epochs"), Batch: c.Int("batch"), Hidden: c.Int("hidden"), Hidden2: c.Int("hidden2"),
		LR: c.Float64("lr"), Dropout: c.Float64("dropout"), Threshold: c.Float64("threshold"),
		ImpLossMask: c.String("imp-loss-mask"), Seed: c.Int64("seed"), CheckpointEvery: checkpointEvery,
	}
}

// cliHooks shows the pipeline's notes and progress on stderr.
func cliHooks(name string) pipeline.Hooks {
	return pipeline.Hooks{
		Log: func(msg string) { fmt.Fprintf(os.Stderr, "%s: %s\n", name, msg) },
		Progress: func(what string, total int) (func(done, total int), func()) {
			bar := newProgress(total, what)
			return progressFunc(bar), func() { bar.Finish() }
		},
	}
}

// chanceReport is the demo's chance row (see pipeline.ChanceReport).
func chanceReport(train, test *model.Data, threshold float64) metrics.Report {
	rep, _ := pipeline.ChanceReport(train, test, threshold)
	rep.Model = "chance"
	return rep
}

func printDemoResults(w io.Writer, res *demoResults, weights string) {
	fmt.Fprintf(w, "\nDemo results on %d test images, %d tags (trained on %d; VGG16 weights %s; tag vectors: %s)\n",
		res.Setup.Test, len(res.Setup.Tags), res.Setup.Train, weights, res.Setup.TagVec)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tmAP(image)\tmAP(class)\tJaccard\tMAE↓\tMSE↓\tOF1\tSpearman\tNDCG\t")
	for _, r := range res.Models {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n",
			r.Model, r.MAPImage, r.MAPClass, r.Jaccard, r.MAE, r.MSE, r.OF1, r.Spearman, r.NDCG)
	}
	tw.Flush()
	fmt.Fprintf(w, "chance = %s.\nMAE and MSE are over the true tags only (the paper's definition); lower is better.\n", pipeline.ChanceDefinition)
	if cl := res.Cloud; cl != nil {
		fmt.Fprintf(w, "\nThe test image whose tags %s predicts best:\n", cl.Model)
		printPrediction(w, *cl)
	}
	var parts []string
	for _, k := range []string{"generate", "vocab", "features", "tagvec", "train", "cloud", "total"} {
		parts = append(parts, fmt.Sprintf("%s %.1fs", k, res.Setup.Seconds[k]))
	}
	if len(res.Setup.Skipped) > 0 {
		parts = append(parts, fmt.Sprintf("(done before: %v)", res.Setup.Skipped))
	}
	fmt.Fprintf(w, "time: %v\n", parts)
}
