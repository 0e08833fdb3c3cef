package main

import (
	"fmt"
	"io"
	"os"
	"runtime"

	"github.com/urfave/cli/v2"

	"tagimp/bench"
	"tagimp/model/vgg16"
	"tagimp/tagger"
)

func init() {
	register(&cli.Command{
		Name:      "tag",
		Usage:     "tag any number of images (files or folders) with a trained run, one JSON line per image, resumable",
		ArgsUsage: "DIR_OR_FILE...",
		Description: `Streams images through VGG16 fc7 and the run's model (model2 when the run has it;
--model picks one) in batches, so memory does not grow with the number of images,
and writes one JSON line per image:
   {"file":"train2014/COCO_train2014_000000000009.jpg","id":9,
    "tags":[{"tag":"bowl","importance":0.83,"probability":0.97}, …]}
"id" is the number the file name ends in, when it ends in one; "tags" holds the
tags whose probability is at least θ, most important first. An image that cannot
be read gets {"file":…,"tags":[],"error":"…"} and the others go on.

A folder gives its .jpg, .jpeg and .png files (recursively, in name order).
Images are decoded by --workers goroutines while --parallel batches run through
VGG16 at once, so all cores stay busy. With OpenBLAS and --parallel above 1,
each batch's matrix products run on one BLAS thread (--blas-threads 0, the
default): parallel batches rather than threads spinning inside one product,
which on two busy cores gave about 1.5 times the images per CPU-second.

With --jsonl FILE the lines go to FILE, and running the same command again skips
the files already there (an interrupted run resumes; a last line cut short by the
interruption is dropped and its image tagged again). Without it they go to stdout.
Progress goes to stderr. For a handful of images with tables and tag clouds, use
predict.

Examples:
   tagimp-gpu tag --run run --jsonl tags.jsonl train2014/
   tagimp-gpu tag --run demo-run/run demo-run/data/images/000000000007.png`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "run", Required: true, Usage: "run folder written by train (or demo: DIR/run)"},
			&cli.StringFlag{Name: "model", Usage: "baseline, model1 or model2 (default: the most advanced one in the run)"},
			&cli.StringFlag{Name: "weights", Usage: "VGG16 weights (.pth/.npz) or random:SEED; default: what the run's features were computed with"},
			&cli.Float64Flag{Name: "threshold", Usage: "probability θ above which a tag is predicted (default: the run's)"},
			skipChecksumFlag(),
			&cli.StringFlag{Name: "jsonl", Usage: "write the lines to this file and resume from it (default: stdout)"},
			&cli.IntFlag{Name: "batch", Value: 16, Usage: "images per VGG16 batch"},
			&cli.IntFlag{Name: "workers", Value: runtime.NumCPU(), Usage: "image decoding goroutines"},
			&cli.IntFlag{Name: "parallel", Value: 2, Usage: "batches in VGG16 at once"},
			&cli.IntFlag{Name: "blas-threads", Usage: "OpenBLAS threads per product (0: 1 when --parallel > 1, else OpenBLAS's own count)"},
			deviceFlag(),
		},
		Action: runTag,
	})
}

func runTag(c *cli.Context) error {
	if c.NArg() == 0 {
		return fmt.Errorf("tag: name at least one image file or folder")
	}
	files, err := tagger.ListImages(c.Args().Slice())
	if err != nil {
		return fmt.Errorf("tag: %w", err)
	}
	if n := c.Int("blas-threads"); vgg16.BLAS == "openblas" && (n > 0 || c.Int("parallel") > 1) {
		if err := bench.SetBLASThreads(max(n, 1)); err != nil {
			return fmt.Errorf("tag: %w", err)
		}
	}
	m, err := openTagger(c)
	if err != nil {
		return fmt.Errorf("tag: %w", err)
	}
	defer m.Close()
	fmt.Fprintf(os.Stderr, "tag: %s\n", m)

	var w io.Writer = os.Stdout
	var skip map[string]bool
	var out *os.File
	if path := c.String("jsonl"); path != "" {
		var good int64
		if skip, good, err = tagger.ReadDone(path); err != nil {
			return fmt.Errorf("tag: %w", err)
		}
		// Whole lines only: what an interruption left of a last line goes.
		if out, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			return fmt.Errorf("tag: %w", err)
		}
		defer out.Close()
		if err := out.Truncate(good); err != nil {
			return fmt.Errorf("tag: %s: %w", path, err)
		}
		if _, err := out.Seek(good, io.SeekStart); err != nil {
			return fmt.Errorf("tag: %s: %w", path, err)
		}
		w = out
		if len(skip) > 0 {
			fmt.Fprintf(os.Stderr, "tag: %d images already in %s are skipped\n", len(skip), path)
		}
	}
	bar := newProgress(-1, "images")
	sum, err := m.Stream(c.Context, files, w, tagger.StreamOptions{
		Batch: c.Int("batch"), Workers: c.Int("workers"), Parallel: c.Int("parallel"), Skip: skip,
		Progress: progressFunc(bar),
	})
	bar.Finish()
	if out != nil {
		if serr := out.Sync(); err == nil && serr != nil {
			err = serr
		}
	}
	if err != nil {
		return fmt.Errorf("tag: %w (run the same command again to go on)", err)
	}
	fmt.Fprintf(os.Stderr, "tag: %d images tagged, %d could not be read, %d skipped (done before)\n", sum.Tagged, sum.Failed, sum.Skipped)
	return nil
}
