package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"tagimp/internal/progress"
	"tagimp/model"
	"tagimp/model/cpu"
	"tagimp/viz"
)

// gpuTrainerFactory builds the GPU engine. It is nil in the plain build;
// the GPU build (tag gpu) sets it from package gpu in an init function.
var gpuTrainerFactory model.Factory

func init() {
	register(&cli.Command{
		Name:  "train",
		Usage: "train the Baseline, Model 1 and/or Model 2 on fc7 features and caption labels",
		Description: `Trains the paper's models (MLP 4096→4096→|T| on VGG16 fc7 features):
   baseline  tag head only (BCE); importance = tag probability
   model1    tag head + importance head on the same trunk (BCE + MSE)
   model2    model1 + an importance MLP on concat(L2norm(fc7), L2norm(WA)), WA the
             average word vector of the image's tags (needs --tagvec)
--model all trains the three one after another.

Data: --labels is the folder of "tagimp-gpu vocab" (labels.npz, vocab.json); its
splits.json gives the train/test split, or --test-labels a second labels folder
for the test images (then all of --labels is training data).

Validation (our addition; the paper has no validation split): when splits.json
has a "val" split (tagimp-gpu vocab --val N), the metrics printed and recorded
after every epoch (history, curves) are those of the validation images, not the
test images, and --choose-threshold global|per-tag chooses θ on them after the
last epoch: global, the θ in 0.05…0.95 with the highest mean Jaccard; per-tag,
also one θ per tag with the highest F1 of that tag (Model 2's WA keeps the global
one). eval then scores the test split with the chosen θ and says so. Without --val
the per-epoch metrics are the test split's, and θ is --threshold (0.5): the
default, and the setting the paper's Table 1 is compared at. --features is a
feature cache (tagimp-gpu features) or an [N,D] .npy with its .ids.npy; rows are
joined by image id. --tagvec is the [T,300] .npy of "tagimp-gpu embed" or a
word2vec file.

Output in --out (RUN), rewritten after every epoch: <model>.json (vocabulary,
hyper-parameters, data sources, metrics, history; it names the epoch's files and
is written last, atomically: a run killed at any moment resumes from the last
epoch it committed), <model>.eNNNN.npz and <model>.eNNNN.opt.npz (parameters and
Adam state of that epoch), <model>.npz (the same parameters at a fixed name,
numpy-readable), <model>-history.csv and <model>-curves.png.

Rerunning the same command resumes after the last completed epoch (raise
--epochs to train longer); the checkpoint's files must match the SHA-256 its
<model>.json records (--skip-checksum skips that check). A second train (or
any writer) into a folder in use is refused, naming the process. Buffers hold
min(--batch, training rows) rows; a batch that cannot fit memory is refused. Refused, naming what differs: other settings,
another vocabulary, features computed differently (backbone, weights, pre-
processing, center crop, image size, width; a bare .npy must be the same file)
or other training or test images. A NaN/Inf loss stops training, naming epoch
and batch, and keeps the last good checkpoint (or says that none exists yet).

Example:
   tagimp-gpu train --model all --labels labels --features fc7 \
       --tagvec labels/tagvec.npy --out run`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "model", Value: "all", Usage: "baseline, model1, model2 or all"},
			&cli.StringFlag{Name: "labels", Required: true, Usage: "labels folder from tagimp-gpu vocab (or its labels.npz)"},
			&cli.StringFlag{Name: "test-labels", Usage: "labels of the test images, when the labels folder has no splits.json"},
			&cli.StringFlag{Name: "features", Required: true, Usage: "feature cache folder, or an [N,D] .npy with <name>.ids.npy beside it"},
			&cli.StringFlag{Name: "tagvec", Usage: "tag word vectors: .npy [T,E] from tagimp-gpu embed, or a word2vec/GloVe file (needed by model2)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "run folder for checkpoints, history and curves"},
			&cli.IntFlag{Name: "epochs", Value: 50, Usage: "epochs to train (paper: 50)"},
			&cli.IntFlag{Name: "batch", Value: 32, Usage: "mini-batch size (paper: 32); the last batch of an epoch may be smaller"},
			&cli.IntFlag{Name: "hidden", Value: 4096, Usage: "hidden width H of the trunk (paper: 4096)"},
			&cli.IntFlag{Name: "hidden2", Value: 4096, Usage: "hidden width H2 of Model 2's importance MLP (paper: 4096)"},
			&cli.Float64Flag{Name: "dropout", Value: 0.5, Usage: "dropout probability of the hidden layers in training (paper: 0.5)"},
			&cli.Float64Flag{Name: "lr", Value: 1e-4, Usage: "Adam learning rate (our choice: the paper names no optimiser or settings)"},
			&cli.Float64Flag{Name: "beta1", Value: 0.9, Usage: "Adam β1 (our choice)"},
			&cli.Float64Flag{Name: "beta2", Value: 0.999, Usage: "Adam β2 (our choice)"},
			&cli.Float64Flag{Name: "eps", Value: 1e-8, Usage: "Adam ε (our choice)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of initialisation, shuffling and dropout masks (ours)"},
			&cli.Float64Flag{Name: "threshold", Value: 0.5, Usage: "θ in (0, 1): tags with probability ≥ θ are predicted (Jaccard, Model 2's WA at test time); the paper does not state θ, 0.5 is our default"},
			&cli.StringFlag{Name: "choose-threshold", Value: model.ChooseNone, Usage: "none (θ = --threshold, the default), global or per-tag: choose θ on the validation split after the last epoch (needs vocab --val)"},
			&cli.StringFlag{Name: "imp-loss-mask", Value: model.MaskAll, Usage: "importance MSE over all entries (all) or over the ground-truth tags only (true)"},
			&cli.IntFlag{Name: "checkpoint-every", Value: 1, Usage: "save a checkpoint every `K` epochs and after the last (a stopped run resumes from the last saved epoch)"},
			deviceFlag(),
			skipChecksumFlag(),
		},
		Action: runTrain,
	})
}

// parseModels turns --model into the kinds to train.
func parseModels(s string) ([]model.Kind, error) {
	if s == "all" {
		return model.Kinds, nil
	}
	var kinds []model.Kind
	for _, part := range strings.Split(s, ",") {
		k, err := model.ParseKind(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("--model: %w (or all)", err)
		}
		kinds = append(kinds, k)
	}
	return kinds, nil
}

// factoryFor returns the engine of device.
func factoryFor(device string) (model.Factory, error) {
	if device == "gpu" {
		if gpuTrainerFactory == nil {
			return nil, fmt.Errorf("this binary has no GPU engine: build it with the gpu tag (make kernels && make build)")
		}
		return gpuTrainerFactory, nil
	}
	return cpu.New, nil
}

func runTrain(c *cli.Context) error {
	kinds, err := parseModels(c.String("model"))
	if err != nil {
		return err
	}
	if err := positive(c, "epochs", "batch", "hidden", "hidden2", "checkpoint-every"); err != nil {
		return err
	}
	release, err := lockOut(c, "out")
	if err != nil {
		return err
	}
	defer release()
	device, err := resolveDevice(c)
	if err != nil {
		return err
	}
	factory, err := factoryFor(device)
	if err != nil {
		return err
	}
	needVec := false
	for _, k := range kinds {
		needVec = needVec || k == model.Model2
	}
	in := model.Inputs{Labels: c.String("labels"), TestLabels: c.String("test-labels"), Features: c.String("features"), TagVec: c.String("tagvec")}
	data, err := model.LoadInputs(in, needVec)
	if err != nil {
		return err
	}
	for _, d := range data.Dropped {
		fmt.Fprintln(os.Stderr, "warning:", d)
	}
	// Record everything the cache's manifest says about how the features
	// were computed (what predict needs to recompute them from images).
	data.Source.Features = model.CompleteFeatureSource(data.Source.Features)
	if len(data.Source.TagVecMissing) > 0 {
		fmt.Fprintf(os.Stderr, "warning: %d tags have no word vector (zero rows): %s\n", len(data.Source.TagVecMissing), strings.Join(data.Source.TagVecMissing, ", "))
	}
	out := c.String("out")
	if err := model.CheckChoice(c.String("choose-threshold")); err != nil {
		return err
	}
	nVal := 0
	if data.Val != nil {
		nVal = data.Val.N
	}
	fmt.Fprintf(os.Stderr, "data: %d training, %d validation and %d test images, %d features, %d tags; engine %s", data.Train.N, nVal, data.Test.N, data.Train.D, len(data.Tags), device)
	if device == "cpu" {
		fmt.Fprintf(os.Stderr, " (BLAS: %s)", cpu.BLAS)
	}
	fmt.Fprintln(os.Stderr)
	for _, kind := range kinds {
		cfg := model.Config{
			Kind: kind, D: data.Train.D, H: c.Int("hidden"), T: len(data.Tags), E: data.E, H2: c.Int("hidden2"),
			Dropout: c.Float64("dropout"), LR: c.Float64("lr"), Beta1: c.Float64("beta1"), Beta2: c.Float64("beta2"), Eps: c.Float64("eps"),
			Seed: c.Int64("seed"), Epochs: c.Int("epochs"), Batch: c.Int("batch"), Threshold: c.Float64("threshold"), ImpLossMask: c.String("imp-loss-mask"),
		}
		if kind != model.Model2 {
			cfg.E, cfg.H2 = 0, 0
		}
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		var bar *progress.Bar
		epochLabel := func(e int) string { return fmt.Sprintf("%s epoch %d/%d", kind, e, cfg.Epochs) }
		epoch := 0
		if m, err := model.ReadMeta(out, kind); err == nil {
			epoch = m.Epoch
			if m.Epoch < cfg.Epochs {
				fmt.Fprintf(os.Stderr, "%s: resuming after epoch %d\n", kind, m.Epoch)
			}
		}
		run := &model.Run{
			Dir: out, Config: cfg, Tags: data.Tags, TagVecs: data.TagVecs, Train: data.Train, Test: data.Test, Val: data.Val,
			ChooseThreshold: c.String("choose-threshold"),
			Source:          data.Source, Device: device, Factory: factory,
			CheckpointEvery: c.Int("checkpoint-every"), SkipChecksum: c.Bool("skip-checksum"),
			Log: func(msg string) { fmt.Fprintf(os.Stderr, "%s: %s\n", kind, msg) },
			Progress: func(done, total int) {
				if done == 1 {
					epoch++
					bar = newProgress(total, "batches")
					bar.Describe(epochLabel(epoch))
				}
				bar.Set(done)
			},
			OnEpoch: func(m *model.Meta) {
				h := m.History[len(m.History)-1]
				fmt.Fprintf(os.Stderr, "%s epoch %d: loss %.4f (tag %.4f imp %.4f imp2 %.4f)  %s mAP(image) %.4f mAP(class) %.4f Jaccard %.4f MAE %.4f MSE %.4f  %.0fs\n",
					kind, h.Epoch, h.Loss.Total, h.Loss.Tag, h.Loss.Imp, h.Loss.Imp2, h.Split, h.Val.MAPImage, h.Val.MAPClass, h.Val.Jaccard, h.Val.MAE, h.Val.MSE, h.Seconds)
				if m.Theta != nil && m.Theta.Epoch == h.Epoch {
					fmt.Fprintf(os.Stderr, "%s: %s\n", kind, m.Theta)
				}
				if err := writeCurves(out, m); err != nil {
					fmt.Fprintln(os.Stderr, "warning:", err)
				}
			},
		}
		m, err := model.Train(run)
		if err != nil {
			if bar != nil {
				bar.Exit() // the error goes on its own line, not after the bar
			}
			return err
		}
		p, _, _ := model.CheckpointPaths(out, kind)
		fmt.Fprintf(os.Stderr, "%s: %d epochs done, checkpoint %s\n", kind, m.Epoch, p)
	}
	fmt.Fprintf(os.Stderr, "evaluate with: tagimp-gpu eval --run %s\n", out)
	return nil
}

// curvesPath returns RUN/<model>-curves.png.
func curvesPath(dir string, kind model.Kind) string {
	return filepath.Join(dir, string(kind)+"-curves.png")
}

// writeCurves draws the run's training losses and validation metrics.
func writeCurves(dir string, m *model.Meta) error {
	var x, total, tag, imp, imp2, mapI, mapC, jac, mae, mse []float64
	for _, h := range m.History {
		x = append(x, float64(h.Epoch))
		total, tag, imp, imp2 = append(total, h.Loss.Total), append(tag, h.Loss.Tag), append(imp, h.Loss.Imp), append(imp2, h.Loss.Imp2)
		mapI, mapC, jac = append(mapI, h.Val.MAPImage), append(mapC, h.Val.MAPClass), append(jac, h.Val.Jaccard)
		mae, mse = append(mae, h.Val.MAE), append(mse, h.Val.MSE)
	}
	loss := viz.Panel{Title: "training loss", YLabel: "loss", Series: []viz.Series{{Name: "total", X: x, Y: total}, {Name: "tag BCE", X: x, Y: tag}}}
	if m.Config.Kind.HasImportanceHead() {
		loss.Series = append(loss.Series, viz.Series{Name: "importance MSE", X: x, Y: imp})
	}
	if m.Config.Kind.HasImportanceMLP() {
		loss.Series = append(loss.Series, viz.Series{Name: "importance MLP MSE", X: x, Y: imp2})
	}
	split := "test"
	if n := len(m.History); n > 0 && m.History[n-1].Split != "" {
		split = m.History[n-1].Split
	}
	val := viz.Panel{Title: "metrics on the " + split + " split", YLabel: "metric", Series: []viz.Series{
		{Name: "mAP per image", X: x, Y: mapI}, {Name: "mAP per class", X: x, Y: mapC}, {Name: "Jaccard", X: x, Y: jac},
		{Name: "importance MAE", X: x, Y: mae}, {Name: "importance MSE", X: x, Y: mse}}}
	return viz.WriteCurves(curvesPath(dir, m.Config.Kind), string(m.Config.Kind), loss, val)
}
