package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"tagimp/data/labels"
	"tagimp/data/npy"
	"tagimp/data/wordvec"
	"tagimp/internal/argcheck"
)

func init() {
	register(&cli.Command{
		Name:  "embed",
		Usage: "look up a word vector for every tag of a vocabulary (word2vec .bin, word2vec/fastText text, GloVe)",
		Description: `Reads the tags of --vocab (vocab.json written by "tagimp-gpu vocab") and writes
their word vectors to --out as a float32 .npy of shape [tags, dim], row i = tag i of
the vocabulary. Model 2 uses these vectors for its weighted tag embedding (WA).

The vectors file is streamed once and only the tags' vectors are decoded, so the
3.6 GB GoogleNews-vectors-negative300.bin (or its .bin.gz) needs no more memory than
the result; reading stops once every tag is found (--scan-all reads to the end and
checks the whole file). The format is detected: word2vec binary, word2vec or
fastText text with a "<count> <dim>" header, or GloVe text without one.

Each tag takes the first of: the exact word; for a tag with spaces the phrase with
"_" ("hot dog" -> "hot_dog", as in GoogleNews); the word up to case (the first case
variant in the file, i.e. the most frequent); the phrase up to case; the mean of the
vectors of the phrase's words. Tags with no vector get a zero row and are listed;
--strict makes them an error instead.

Example:
   tagimp-gpu embed --vocab labels/vocab.json \
       --vectors GoogleNews-vectors-negative300.bin --out labels/tagvec.npy`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "vocab", Required: true, Usage: "vocab.json of the tags (from tagimp-gpu vocab)"},
			&cli.StringFlag{Name: "vectors", Required: true, Usage: "word-vector file: word2vec .bin (or .bin.gz), .txt/.vec with header, or GloVe .txt"},
			&cli.StringFlag{Name: "out", Required: true, Usage: "output .npy, float32 [tags, dim] in vocabulary order (written atomically)"},
			&cli.BoolFlag{Name: "strict", Usage: "fail when a tag has no vector instead of writing a zero row"},
			&cli.IntFlag{Name: "dim", Usage: "require vectors of this dimension (e.g. 300); 0 accepts the file's"},
			&cli.StringFlag{Name: "format", Value: "auto", Usage: "file format: auto, bin, text or glove"},
			&cli.BoolFlag{Name: "scan-all", Usage: "read the whole vectors file even when every tag was found early, checking its header count and end"},
		},
		Action: runEmbed,
	})
}

func runEmbed(c *cli.Context) error {
	if err := argcheck.OutputFile("out", c.String("out"), ".npy"); err != nil {
		return err
	}
	vocab, err := labels.ReadVocab(c.String("vocab"))
	if err != nil {
		return err
	}
	tags := vocab.Names()
	format, err := wordvec.ParseFormat(c.String("format"))
	if err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	path := c.String("vectors")
	total := -1
	if st, err := os.Stat(path); err == nil {
		total = int(st.Size() >> 20)
	}
	bar := newProgress(total, "MB")
	tab, err := wordvec.Load(path, tags, wordvec.Options{
		Format:  format,
		Dim:     c.Int("dim"),
		Strict:  c.Bool("strict"),
		ScanAll: c.Bool("scan-all"),
		Progress: func(done, _ int) {
			bar.Set(done >> 20)
		},
	})
	if !bar.IsFinished() {
		bar.Exit() // ends the bar's line where reading stopped
	}
	if err != nil {
		if c.Bool("strict") && strings.Contains(err.Error(), "have no vector") {
			return fmt.Errorf("%w (drop --strict to write zero rows for them)", err)
		}
		return err
	}
	out := c.String("out")
	if err := npy.WriteFile(out, npy.F32(tab.Vectors, len(tab.Words), tab.Dim)); err != nil {
		return err
	}
	printEmbedSummary(c.App.Writer, tab, out)
	return nil
}

// printEmbedSummary says where the vectors came from, how each tag was
// matched and which tags got zero rows.
func printEmbedSummary(w io.Writer, tab *wordvec.Table, out string) {
	read := fmt.Sprintf("read %d records", tab.Records)
	if tab.Complete {
		read += " (whole file)"
	} else {
		read += " (stopped once every tag was found)"
	}
	header := ""
	if tab.HeaderCount >= 0 {
		header = fmt.Sprintf(", header: %d words", tab.HeaderCount)
	}
	fmt.Fprintf(w, "vectors: %s (%s, %d-d%s), %s\n", tab.Path, tab.Format, tab.Dim, header, read)
	counts := map[wordvec.MatchKind]int{}
	var notExact []string
	for _, m := range tab.Matches {
		counts[m.Kind]++
		if m.Kind != wordvec.Exact && m.Kind != wordvec.Missing {
			notExact = append(notExact, fmt.Sprintf("%s -> %s (%s)", m.Word, m.Source, m.Kind))
		}
	}
	kinds := []wordvec.MatchKind{wordvec.Exact, wordvec.Phrase, wordvec.CaseInsensitive, wordvec.PhraseCaseInsensitive, wordvec.Composed, wordvec.Missing}
	var parts []string
	for _, k := range kinds {
		if counts[k] > 0 || k == wordvec.Exact || k == wordvec.Missing {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	fmt.Fprintf(w, "tags: %d: %s\n", len(tab.Words), strings.Join(parts, ", "))
	for _, s := range notExact {
		fmt.Fprintf(w, "  %s\n", s)
	}
	if len(tab.Missing) > 0 {
		fmt.Fprintf(w, "missing (zero vectors): %s\n", strings.Join(tab.Missing, ", "))
	}
	fmt.Fprintf(w, "wrote %s: float32 [%d %d]\n", out, len(tab.Words), tab.Dim)
}
