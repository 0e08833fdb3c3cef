package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"tagimp/data/labels"
	"tagimp/model/metrics"
)

func init() {
	register(&cli.Command{
		Name:  "metrics",
		Usage: "score predictions made by any framework (pred.npz) against labels.npz",
		Description: `Reads labels (a labels.npz as "tagimp-gpu vocab" writes it, or any with the same
arrays: ids int64 [N], presence uint8 [N, T], importance float32 [N, T] in [0, 1])
and a pred.npz holding
   ids         int64   [N]     image ids
   prob        float32 [N, T]  tag probabilities in [0, 1], tags in the labels' column order
   importance  float32 [N, T]  predicted importance of every tag, in [0, 1]
as written by numpy.savez("pred.npz", ids=..., prob=..., importance=...).
Tags are named by --vocab, else by the vocab.json beside labels.npz when there is
one, else by their column index (tag0, tag1, ...): a bare labels.npz is enough.

Refused, as train and eval refuse them: θ outside (0, 1), a probability or
importance outside [0, 1] (the message names the image and tag; logits are the
usual cause: apply a sigmoid first).
Rows are matched by image id; labelled images without a prediction (the training
split, usually) and predicted images without labels are counted and left out.

Prints the paper's metrics (mAP per image and per class, Jaccard at the threshold,
MAE and MSE of importance over the true tags) and the extended ones (CP/CR/CF1,
OP/OR/OF1 and top-3 variants, Spearman and NDCG of importance); --json prints them
as one JSON object instead. The definitions, including ties and empty cases, are in
the documentation of package tagimp/model/metrics (go doc tagimp/model/metrics).

Example:
   tagimp-gpu metrics --labels labels/labels.npz --pred pred.npz --threshold 0.5`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "labels", Required: true, Usage: "labels.npz, or the folder holding it"},
			&cli.StringFlag{Name: "vocab", Usage: "vocab.json naming the tags (default: the one beside labels.npz, else tags are named by index)"},
			&cli.StringFlag{Name: "pred", Required: true, Usage: "pred.npz with ids, prob and importance"},
			&cli.Float64Flag{Name: "threshold", Value: 0.5, Usage: "θ in (0, 1): a tag is predicted when prob ≥ θ (Jaccard, CP … OF1); the paper does not state θ, 0.5 is our default"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of the table"},
			&cli.StringFlag{Name: "name", Usage: "model name in the output (default: the pred file's name)"},
		},
		Action: runMetrics,
	})
}

func runMetrics(c *cli.Context) error {
	if err := metrics.CheckThreshold(c.Float64("threshold")); err != nil {
		return fmt.Errorf("metrics: --threshold: %w", err)
	}
	set, err := labels.ReadAny(c.String("labels"), c.String("vocab"))
	if err != nil {
		return err
	}
	predPath := c.String("pred")
	pred, err := metrics.ReadPredictions(predPath)
	if err != nil {
		return err
	}
	joined, err := metrics.Join(set.IDs, set.Presence, set.Importance, len(set.Tags), pred)
	if err != nil {
		return fmt.Errorf("score %s against %s: %w", predPath, c.String("labels"), err)
	}
	if n := len(joined.PredOnly); n > 0 {
		fmt.Fprintf(c.App.ErrWriter, "warning: %d predicted images are not in the labels and are left out: %s\n", n, metrics.FirstIDs(joined.PredOnly, 5))
	}
	if n := len(joined.LabelsOnly); n > 0 {
		fmt.Fprintf(c.App.ErrWriter, "note: %d labelled images have no prediction (%s); scoring the %d that do\n", n, metrics.FirstIDs(joined.LabelsOnly, 5), len(joined.IDs))
	}
	joined.TagNames = set.Tags
	report, err := joined.Evaluate(c.Float64("threshold"))
	if err != nil {
		return fmt.Errorf("score %s: %w", predPath, err)
	}
	report.Model = c.String("name")
	if report.Model == "" {
		report.Model = strings.TrimSuffix(filepath.Base(predPath), filepath.Ext(predPath))
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	return metrics.WriteTable(c.App.Writer, report)
}
