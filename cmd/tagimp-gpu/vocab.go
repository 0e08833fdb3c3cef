package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"tagimp/data/coco"
	"tagimp/data/labels"
	"tagimp/data/nouns"
)

func init() {
	register(&cli.Command{
		Name:  "vocab",
		Usage: "build the tag vocabulary and per-image importance labels from a COCO captions file",
		Description: `Reads a COCO captions file (captions_train2014.json, captions_val2017.json, ...),
finds the nouns of every caption with a POS tagger (NN/NNS, lower-cased, singular:
dogs -> dog, men -> man; "people", "glasses" and "tennis" are kept as they are),
and writes to --out:

   vocab.json   the tags counted in at least --min-count captions (of the training images
                when --train is given), most frequent first:
                {"min_count":N,"images":I,"captions":C,"tags":[{"tag":"man","count":3380},...]}
                (a caption naming a tag twice counts once)
   labels.npz   ids int64 [N], presence uint8 [N,T], importance float32 [N,T]
                importance = captions of the image naming the tag / captions of the image,
                presence = importance > 0; rows by ascending image id, columns in vocab order
   splits.json  with --train: {"seed":S,"train":[ids],"test":[ids]}, drawn by a seeded
                hash of the image id (the same on every machine)

Label a second file (e.g. the test file) over the vocabulary of the first with
--vocab; its vocab.json is then a copy of that vocabulary.

All files appear together or not at all: labels-manifest.json, written as the
commit, names them with their SHA-256, and every reader checks it; a rerun into
the folder removes a splits.json it does not write. A second vocab (or any
writer) into a folder in use is refused, naming the process. A malformed or inconsistent captions file
(captions for unknown images, images without captions) is an error.

Examples:
   tagimp-gpu vocab --captions captions_train2014.json --min-count 1000 --out labels \
       --train 32000 --test 8000 --seed 1
   tagimp-gpu vocab --captions captions_val2014.json --vocab labels/vocab.json --out labels-val`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "captions", Required: true, Usage: "COCO captions JSON file"},
			&cli.IntFlag{Name: "min-count", Usage: "keep tags named in at least this many captions (paper: 1000 over ~32k train2014 images; ~125 for val2017)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output directory for vocab.json, labels.npz and splits.json"},
			&cli.StringFlag{Name: "vocab", Usage: "label over this existing vocab.json instead of building one (no --min-count)"},
			&cli.IntFlag{Name: "train", Usage: "draw a split: this many training images"},
			&cli.IntFlag{Name: "test", Usage: "with --train: this many test images (0 = all the others)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed of the split"},
			&cli.IntFlag{Name: "workers", Usage: "tagging goroutines (0 = one per CPU)"},
		},
		Action: runVocab,
	})
}

func runVocab(c *cli.Context) error {
	minCount, fixed := c.Int("min-count"), c.String("vocab")
	switch {
	case fixed == "" && minCount < 1:
		return errors.New("vocab: give --min-count N (N ≥ 1) or --vocab EXISTING/vocab.json")
	case fixed != "" && c.IsSet("min-count"):
		return errors.New("vocab: --min-count and --vocab exclude each other (the vocabulary is fixed)")
	case c.IsSet("test") && !c.IsSet("train"):
		return errors.New("vocab: --test needs --train")
	}
	release, err := lockOut(c, "out")
	if err != nil {
		return err
	}
	defer release()
	var vocab *labels.Vocab
	if fixed != "" {
		v, err := labels.ReadVocab(fixed)
		if err != nil {
			return err
		}
		vocab = v
	}

	path := c.String("captions")
	bar := newProgress(-1, "bytes")
	caps, err := coco.Read(path, progressFunc(bar))
	bar.Finish()
	if err != nil {
		return err
	}
	texts, _ := caps.Flat()

	tagger, err := nouns.NewTagger()
	if err != nil {
		return err
	}
	bar = newProgress(len(texts), "captions")
	start := time.Now()
	ns := tagger.NounsAll(texts, c.Int("workers"), func(done, _ int) { bar.Set(done) })
	bar.Finish()
	elapsed := time.Since(start)

	var splits *labels.Splits
	var countIDs []int64 // nil: count the tags over every image
	if c.IsSet("train") {
		splits, err = labels.MakeSplits(caps.IDs, c.Int("train"), c.Int("test"), c.Int64("seed"))
		if err != nil {
			return err
		}
		countIDs = splits.Train
	}
	var set *labels.Set
	if vocab == nil {
		vocab, set, err = labels.BuildOn(caps, ns, minCount, countIDs)
	} else {
		set, err = labels.Apply(caps, ns, vocab)
	}
	if err != nil {
		return err
	}
	out := c.String("out")
	if err := labels.WriteDir(out, vocab, set, splits); err != nil {
		return err
	}

	w := c.App.Writer
	fmt.Fprintf(w, "%s: %d images, %d captions; nouns tagged at %.0f captions/s\n",
		path, len(caps.IDs), len(texts), float64(len(texts))/elapsed.Seconds())
	if countIDs != nil {
		fmt.Fprintf(w, "tags counted over the %d training images (%d captions)\n", vocab.Images, vocab.Captions)
	}
	t := len(set.Tags)
	untagged, present := 0, 0
	for i := range set.IDs {
		n := 0
		for _, p := range set.Presence[i*t : (i+1)*t] {
			n += int(p)
		}
		present += n
		if n == 0 {
			untagged++
		}
	}
	how := fmt.Sprintf("min-count %d", vocab.MinCount)
	if fixed != "" {
		how = "from " + fixed
	}
	fmt.Fprintf(w, "vocabulary: %d tags (%s); %.1f tags per image, %d images with none\n",
		t, how, float64(present)/float64(max(len(set.IDs), 1)), untagged)
	var top []string
	for _, tc := range vocab.Tags[:min(10, len(vocab.Tags))] {
		top = append(top, fmt.Sprintf("%s %d", tc.Tag, tc.Count))
	}
	fmt.Fprintf(w, "top tags: %s\n", strings.Join(top, ", "))
	files := "vocab.json, labels.npz"
	if splits != nil {
		files += fmt.Sprintf(", splits.json (train %d, test %d, seed %d)", len(splits.Train), len(splits.Test), splits.Seed)
	}
	fmt.Fprintf(w, "wrote %s: %s\n", filepath.Clean(out), files)
	return nil
}
