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
and writes to --out the files below.

What the paper gives: tags are the nouns of the training captions counted at least
--min-count times (1000 over ~32k train2014 images -> 116 tags). Our choices on top,
each decided by statistics of the counted captions, not by word lists:
   capitals   a capitalised first word is tagged in lower case when the captions
              write that word in lower case more often than capitalised mid-sentence
              ("Woman carrying a bunch of bananas"); a proper-noun token (NNP/NNPS,
              "a Frisbee") counts as its lower-case lemma when the captions use that
              lemma as a common noun at least as often as as a proper noun. On
              val2017 this recovers frisbee +83, woman +55, group +38, street +27,
              person +26, cat +24, ... mentions, and night (125) reaches min-count 125.
   noun share a lemma is a tag only if at least --noun-share of its tokens (any POS)
              are counted as nouns: "sits" tagged NNS 227 times does not make "sit"
              a tag when most of its 580 tokens are verbs. The default 0.5 ("a noun
              more often than not") comes from the val2017 counts at min-count 125:
              standing 0.10, blue 0.27, stand 0.32, sit 0.48 | stop 0.53, laptop
              0.57, sheep 0.63, couch 0.63, then every other tag above 0.66, most
              above 0.9 (nouns the tagger reads as adjectives before another noun,
              "stop sign", "laptop computer", sit just above the cut). It drops
              exactly the four verbs and adjectives; 0 disables the check (the
              paper's rule). The dropped lemmas are printed with their share.

   vocab.json   the tags counted in at least --min-count captions (of the training images
                when --train is given), most frequent first:
                {"min_count":N,"noun_share":S,"images":I,"captions":C,
                 "tags":[{"tag":"man","count":3380,"noun_share":0.99},...]}
                (a caption naming a tag twice counts once; a tag's noun_share is the
                share of its tokens counted as nouns)
   labels.npz   ids int64 [N], presence uint8 [N,T], importance float32 [N,T]
                importance = captions of the image naming the tag / captions of the image,
                presence = importance > 0; rows by ascending image id, columns in vocab order
   splits.json  with --train: {"seed":S,"train":[ids],"test":[ids]}, drawn by a seeded
                hash of the image id (the same on every machine); with --val N also
                "val":[ids], N images carved out of the training images (not ours
                to count tags over, not trained on): train reports metrics on them
                every epoch and can choose θ on them. The paper has no validation
                split; without --val there is none (the paper's setting).

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
   tagimp-gpu vocab --captions captions_train2014.json --min-count 1000 --out labels-val \
       --train 32000 --test 8000 --val 3000 --seed 1    # 29000 train, 3000 val, 8000 test
   tagimp-gpu vocab --captions captions_val2014.json --vocab labels/vocab.json --out labels-val`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "captions", Required: true, Usage: "COCO captions JSON file"},
			&cli.IntFlag{Name: "min-count", Usage: "keep tags named in at least this many captions (paper: 1000 over ~32k train2014 images; ~125 for val2017)"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output directory for vocab.json, labels.npz and splits.json"},
			&cli.StringFlag{Name: "vocab", Usage: "label over this existing vocab.json instead of building one (no --min-count)"},
			&cli.IntFlag{Name: "train", Usage: "draw a split: this many training images"},
			&cli.IntFlag{Name: "test", Usage: "with --train: this many test images (0 = all the others)"},
			&cli.IntFlag{Name: "val", Usage: "with --train: carve this many validation images out of the training images (our addition; the paper has none)"},
			&cli.Float64Flag{Name: "noun-share", Value: labels.DefaultNounShare, Usage: "a tag's tokens must be tagged as nouns at least this share of the time (our check, default from the val2017 counts, see above; 0 = off, the paper's rule)"},
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
	case c.IsSet("val") && !c.IsSet("train"):
		return errors.New("vocab: --val needs --train (the validation images are carved out of the training images)")
	case fixed != "" && c.IsSet("noun-share"):
		return errors.New("vocab: --noun-share and --vocab exclude each other (the vocabulary is fixed)")
	}
	share := c.Float64("noun-share")
	if !(share >= 0 && share <= 1) {
		return fmt.Errorf("vocab: --noun-share %g outside [0, 1]", share)
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

	var splits *labels.Splits
	var countIDs []int64 // nil: count the tags over every image
	if c.IsSet("train") {
		splits, err = labels.MakeSplits(caps.IDs, c.Int("train"), c.Int("test"), c.Int64("seed"))
		if err != nil {
			return err
		}
		if c.IsSet("val") {
			if err := splits.CarveVal(c.Int("val")); err != nil {
				return err
			}
		}
		countIDs = splits.Train
	}

	tagger, err := nouns.NewTagger()
	if err != nil {
		return err
	}
	// Case is learnt from the captions that choose the vocabulary (the
	// training images' when there is a split).
	caseTexts := texts
	if countIDs != nil {
		caseTexts = caps.TextsOf(countIDs)
	}
	tagger.LearnCase(caseTexts)
	bar = newProgress(len(texts), "captions")
	start := time.Now()
	words := tagger.WordsAll(texts, c.Int("workers"), func(done, _ int) { bar.Set(done) })
	bar.Finish()
	elapsed := time.Since(start)

	var set *labels.Set
	var dropped []labels.Dropped
	if vocab == nil {
		vocab, set, dropped, err = labels.BuildWords(caps, words, labels.Options{MinCount: minCount, NounShare: share, Count: countIDs})
	} else {
		set, err = labels.ApplyWords(caps, words, vocab)
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
	for _, d := range dropped {
		fmt.Fprintf(w, "dropped %s (%d captions): %s\n", d.Tag, d.Count, d.Reason)
	}
	files := "vocab.json, labels.npz"
	if splits != nil {
		val := ""
		if len(splits.Val) > 0 {
			val = fmt.Sprintf(", val %d", len(splits.Val))
		}
		files += fmt.Sprintf(", splits.json (train %d%s, test %d, seed %d)", len(splits.Train), val, len(splits.Test), splits.Seed)
	}
	fmt.Fprintf(w, "wrote %s: %s\n", filepath.Clean(out), files)
	return nil
}
