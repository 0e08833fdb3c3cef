package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"tagimp/data/atomicfile"
	"tagimp/model"
	"tagimp/model/metrics"
	"tagimp/pipeline"
)

var kindTitle = map[model.Kind]string{model.Baseline: "Baseline", model.Model1: "Model 1", model.Model2: "Model 2"}

func init() {
	register(&cli.Command{
		Name:  "eval",
		Usage: "score a run's models on its test split: the paper's Table 1 and more",
		Description: `Loads each model's checkpoint in --run, predicts the test split it was trained
with (the labels, split, features and tag vectors named in its metadata; the flags
override them) and prints the paper's Table 1 — importance MAE and MSE over the
true tags, Jaccard at θ and mAP — with the paper's numbers beside ours. mAP is
the per-image average precision averaged over images (the paper's description);
the per-class mAP of the COCO multi-label literature is shown too. Then the
extended metrics: CP/CR/CF1, OP/OR/OF1 at θ and for the top-3 tags, and the
per-image Spearman correlation and NDCG of the importance.

The data given must match the run: --features must hold features computed as
the run's were (same backbone, VGG16 weights by SHA-256, preprocessing, center
crop, image size and width; a run trained on a bare .npy accepts only that file),
or eval refuses. Without --labels/--test-labels the test images must be the ones
the run was validated on (a changed splits.json is refused); giving either flag
evaluates on another test set deliberately (noted on stderr). Make sure such a
set holds no training images: eval cannot check that.

Model 2 at test time averages the word vectors of the tags its tag head predicts
with probability ≥ θ (WA), weighted by those probabilities.

A run stopped before its last epoch is scored at the epoch it reached and said
so below the table ("model1: epoch 1 of 4 (unfinished); ...").

θ: the θ train chose on the validation split when it was run with
--choose-threshold (global or per tag), else the run's --threshold (0.5 by default;
the paper states no θ, and Table 1 is compared at this default). --threshold here
overrides both. The output says which θ each model used and where it came from.

--json FILE writes a JSON array with one object per model (keys model, epoch,
epochs, n_images, n_tags, threshold, map_image, map_class, jaccard, mae, mse, cp, cr, cf1, op, or,
of1, cp_top3, cr_top3, cf1_top3, op_top3, or_top3, of1_top3, spearman, ndcg).

Example:
   tagimp-gpu eval --run run --json run/eval.json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "run", Required: true, Usage: "run folder written by tagimp-gpu train"},
			&cli.StringFlag{Name: "model", Value: "all", Usage: "baseline, model1, model2 or all (those with a checkpoint)"},
			&cli.StringFlag{Name: "json", Usage: "also write the reports to this JSON file"},
			&cli.StringFlag{Name: "labels", Usage: "labels folder (default: the one the run was trained with)"},
			&cli.StringFlag{Name: "test-labels", Usage: "labels of the test images (default: the run's)"},
			&cli.StringFlag{Name: "features", Usage: "features of the test images (default: the run's)"},
			&cli.StringFlag{Name: "tagvec", Usage: "tag word vectors for model2 (default: the run's)"},
			&cli.Float64Flag{Name: "threshold", Usage: "θ in (0, 1) for Jaccard, the P/R/F1 metrics and Model 2's WA (default: the θ train chose on the validation split, else the run's --threshold)"},
			deviceFlag(),
			skipChecksumFlag(),
		},
		Action: runEval,
	})
}

func runEval(c *cli.Context) error {
	dir := c.String("run")
	kinds, err := parseModels(c.String("model"))
	if err != nil {
		return err
	}
	device, err := resolveDevice(c)
	if err != nil {
		return err
	}
	factory, err := factoryFor(device)
	if err != nil {
		return err
	}
	explicit := c.String("model") != "all"
	var reports []metrics.Report
	var runs []evalRun
	loaded := map[model.Inputs]*model.Loaded{}
	for _, kind := range kinds {
		meta, st, err := model.LoadCheckpointWith(dir, kind, model.LoadOptions{SkipChecksum: c.Bool("skip-checksum")})
		if model.IsNotExist(err) && !explicit {
			continue
		}
		if err != nil {
			return err
		}
		in := model.Inputs{
			Labels: pick(c.String("labels"), meta.Data.Labels), TestLabels: pick(c.String("test-labels"), meta.Data.TestLabels),
			Features: pick(c.String("features"), meta.Data.Features.Path), TagVec: pick(c.String("tagvec"), meta.Data.TagVec), TestOnly: true,
		}
		if kind != model.Model2 {
			in.TagVec = ""
		}
		data := loaded[in]
		if data == nil {
			if data, err = model.LoadInputs(in, kind == model.Model2); err != nil {
				return err
			}
			for _, d := range data.Dropped {
				fmt.Fprintln(os.Stderr, "warning:", d)
			}
			loaded[in] = data
		}
		if err := model.SameTags(meta.Tags, data.Tags); err != nil {
			return fmt.Errorf("%s was trained on another vocabulary than the labels %s: %w; evaluate with the labels it was trained on", dir, in.Labels, err)
		}
		otherTestSet := c.IsSet("labels") || c.IsSet("test-labels")
		if err := meta.Data.CheckEval(model.CompleteFeatureSource(data.Source.Features), data.Test.IDs, otherTestSet); err != nil {
			return fmt.Errorf("%s in %s: %w", kind, dir, err)
		}
		if otherTestSet && meta.Data.TestIDsSHA256 != "" && model.IDsSHA256(data.Test.IDs) != meta.Data.TestIDsSHA256 {
			fmt.Fprintf(os.Stderr, "note: %s is scored on another test set (%d images of %s), not the %d images it was validated on during training\n",
				kind, data.Test.N, pick(in.TestLabels, in.Labels), meta.Data.NTest)
		}
		cfg := meta.Config
		theta := meta.Theta
		switch {
		case c.IsSet("threshold"):
			cfg.Threshold = c.Float64("threshold")
			if err := cfg.Validate(); err != nil {
				return err
			}
			theta = nil
			fmt.Fprintf(os.Stderr, "%s: θ = %g, from eval --threshold\n", kind, cfg.Threshold)
		case theta != nil:
			fmt.Fprintf(os.Stderr, "%s: %s\n", kind, theta)
		default:
			fmt.Fprintf(os.Stderr, "%s: θ = %g, the run's train --threshold (no θ chosen on a validation split; the paper states no θ)\n", kind, cfg.Threshold)
		}
		if data.Test.D != cfg.D {
			return fmt.Errorf("%s: features %s are %d wide, the model was trained on %d", kind, in.Features, data.Test.D, cfg.D)
		}
		if kind == model.Model2 && data.E != cfg.E {
			return fmt.Errorf("%s: tag vectors %s are %d wide, the model was trained on %d", kind, in.TagVec, data.E, cfg.E)
		}
		cfg = model.EngineConfig(cfg, data.Test.N)
		tr, err := factory(cfg, st)
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		bar := newProgress(data.Test.N, string(kind)+" test images")
		rep, err := model.EvaluateChosen(tr, cfg, data.TagVecs, data.Test, theta, func(done, total int) { bar.Set(done) })
		tr.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		reports = append(reports, rep)
		runs = append(runs, evalRun{Report: rep, Epoch: meta.Epoch, Epochs: meta.Config.Epochs})
	}
	if len(reports) == 0 {
		return fmt.Errorf("%s holds no checkpoint (baseline.json, model1.json, model2.json): train first with tagimp-gpu train --out %s", dir, dir)
	}
	if err := printTable(os.Stdout, reports, unfinished(runs, dir)...); err != nil {
		return err
	}
	if path := c.String("json"); path != "" {
		err := atomicfile.WriteFile(path, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(runs)
		})
		if err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	return nil
}

func pick(flag, recorded string) string {
	if flag != "" {
		return flag
	}
	return recorded
}

// printTable writes the paper's Table 1 with our numbers, the notes
// below it (unfinished runs), then the extended metrics.
func printTable(w io.Writer, reps []metrics.Report, notes ...string) error {
	r0 := reps[0]
	theta := fmt.Sprintf("θ = %g", r0.Threshold)
	for _, r := range reps {
		if r.Threshold != r0.Threshold || r.Thresholds != nil {
			theta = "θ per model (see above)"
		}
	}
	fmt.Fprintf(w, "Table 1 — test split: %d images, %d tags, %s (paper: COCO, ~8k test images, 116 tags)\n\n", r0.NImages, r0.NTags, theta)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\tMAE\tMSE\tJaccard\tmAP(image)\tmAP(class)\t\tpaper MAE\tMSE\tJaccard\tmAP\t")
	for _, r := range reps {
		k := model.Kind(r.Model)
		p := pipeline.PaperTable1[k]
		fmt.Fprintf(tw, "%s\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t\t%.4f\t%.4f\t%.4f\t%.4f\t\n", kindTitle[k], r.MAE, r.MSE, r.Jaccard, r.MAPImage, r.MAPClass, p[0], p[1], p[2], p[3])
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w, "\nmAP(image): AP per image averaged over images (the paper's reading); mAP(class): AP per tag averaged over tags.")
	fmt.Fprintln(w, "MAE, MSE: importance over the ground-truth tags only.")
	fmt.Fprintln(w, "\nExtended metrics")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	cols := []string{"method", "CP", "CR", "CF1", "OP", "OR", "OF1", "CP@3", "CR@3", "CF1@3", "OP@3", "OR@3", "OF1@3", "Spearman", "NDCG"}
	fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	for _, r := range reps {
		vals := []float64{r.CP, r.CR, r.CF1, r.OP, r.OR, r.OF1, r.CPTop3, r.CRTop3, r.CF1Top3, r.OPTop3, r.ORTop3, r.OF1Top3, r.Spearman, r.NDCG}
		fmt.Fprint(tw, kindTitle[model.Kind(r.Model)])
		for _, v := range vals {
			fmt.Fprintf(tw, "\t%.4f", v)
		}
		fmt.Fprintln(tw, "\t")
	}
	return tw.Flush()
}

// evalRun is one model's scores and how far its training got: the JSON
// of eval --json.
type evalRun struct {
	metrics.Report
	Epoch  int `json:"epoch"`  // epochs completed
	Epochs int `json:"epochs"` // epochs the run was asked for
}

// unfinished returns one note per model whose run stopped before its last
// epoch.
func unfinished(runs []evalRun, dir string) []string {
	var notes []string
	for _, r := range runs {
		if r.Epoch < r.Epochs {
			notes = append(notes, fmt.Sprintf("%s: epoch %d of %d (unfinished); resume with the same train command (--out %s)", r.Model, r.Epoch, r.Epochs, dir))
		}
	}
	return notes
}
