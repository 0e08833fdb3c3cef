package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"tagimp/data/features"
	"tagimp/internal/argcheck"
	"tagimp/model"
	"tagimp/model/cpu"
	"tagimp/model/vgg16"
	"tagimp/tagger"
)

func init() {
	register(&cli.Command{
		Name:      "predict",
		Usage:     "tag images with a trained run: tags with their importance, sorted, as a table or JSON, and tag clouds",
		ArgsUsage: "IMAGE...",
		Description: `Loads a model of --run (model2 when the run has it, else model1, else the
baseline; --model picks one), computes each image's VGG16 fc7 features the way the
run's training features were computed (same weights, preprocessing, center crop and
input size, read from the run's metadata, so the feature cache need not be there;
runs trained before the metadata recorded them read the cache's manifest), and
prints the tags whose probability is at least the threshold, most important first.

An image that cannot be read (missing, truncated, not an image) is reported on
stderr, and with --json as an entry with an "error"; the other images are still
tagged, and the exit code is 1 at the end.

The VGG16 weights are those the run's features name: random:SEED weights are
rebuilt from the seed; for a weights file pass --weights FILE (its SHA-256 must
match the one recorded at training). Model 2 also needs the run's tag vectors
(the --tagvec file it was trained with).

--cloud out.png (or .svg) draws a tag cloud whose font size follows importance;
with several images, the image's number is added to the name (out-1.png, ...).

Examples:
   tagimp-gpu predict --run run photo.jpg
   tagimp-gpu predict --run demo-run/run --json --cloud cloud.png demo-run/data/images/000000000007.png
   tagimp-gpu predict --run run --weights vgg16-397923af.pth --all *.jpg`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "run", Required: true, Usage: "run folder written by train (or demo: DIR/run)"},
			&cli.StringFlag{Name: "model", Usage: "baseline, model1 or model2 (default: the most advanced one in the run)"},
			&cli.StringFlag{Name: "weights", Usage: "VGG16 weights (.pth/.npz) or random:SEED; default: what the run's features were computed with"},
			&cli.Float64Flag{Name: "threshold", Usage: "probability θ above which a tag is predicted (default: the global θ train chose on the validation split, else the run's --threshold)"},
			&cli.BoolFlag{Name: "all", Usage: "list every tag, not only those predicted"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"},
			&cli.StringFlag{Name: "cloud", Usage: "write a tag cloud per image to this .png or .svg file"},
			skipChecksumFlag(),
			&cli.IntFlag{Name: "batch", Value: 16, Usage: "images per VGG16 batch"},
			deviceFlag(),
		},
		Action: runPredict,
	})
}

// predictedTag and imagePrediction are the tagger package's types, under
// the names this package's tests and demo use.
type (
	predictedTag    = tagger.Tag
	imagePrediction = tagger.Prediction
)

var (
	rankTags      = tagger.Rank
	writeTagCloud = tagger.WriteCloud
	runFeatureNet = tagger.FeatureNet
	pickRunModel  = tagger.PickModel
)

func runPredict(c *cli.Context) error {
	paths := c.Args().Slice()
	if len(paths) == 0 {
		return fmt.Errorf("predict: name at least one image file")
	}
	if cl := c.String("cloud"); cl != "" {
		if err := argcheck.OutputFile("cloud", cl, ".png", ".svg"); err != nil {
			return err
		}
	}
	m, err := openTagger(c)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	defer m.Close()
	fmt.Fprintf(os.Stderr, "predict: %s\n", m)

	// An image that cannot be read is reported and skipped; the others
	// still get their tags.
	failed := make([]error, len(paths))
	var good []int
	x := make([]float32, 0, len(paths)*m.Prep.Len())
	for i, p := range paths {
		img, err := m.Prep.LoadFile(p)
		if err != nil {
			failed[i] = err
			if strings.Contains(err.Error(), p) {
				fmt.Fprintf(os.Stderr, "predict: skipped: %v\n", err)
			} else {
				fmt.Fprintf(os.Stderr, "predict: skipped %s: %v\n", p, err)
			}
			continue
		}
		good = append(good, i)
		x = append(x, img...)
	}
	var prob, imp []float32
	if len(good) > 0 {
		if prob, imp, err = predictImages(c, m, x, len(good)); err != nil {
			return err
		}
	}
	var out []imagePrediction
	row := 0
	for i, p := range paths {
		pr := imagePrediction{Image: p, Model: string(m.Kind), Threshold: m.Config.Threshold}
		if failed[i] != nil {
			pr.Error = failed[i].Error()
			out = append(out, pr)
			continue
		}
		pr.Tags = m.Rank(prob, imp, row, c.Bool("all"))
		row++
		if cl := c.String("cloud"); cl != "" {
			pr.Cloud = cloudPath(cl, i, len(paths))
			if err := writeTagCloud(pr.Cloud, pr.Tags, filepath.Base(p)+" — "+string(m.Kind)); err != nil {
				return err
			}
		}
		out = append(out, pr)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		for _, pr := range out {
			if pr.Error == "" {
				printPrediction(os.Stdout, pr)
			}
		}
	}
	if bad := len(paths) - len(good); bad > 0 {
		return fmt.Errorf("predict: %d of %d images could not be tagged (see above); the others were", bad, len(paths))
	}
	return nil
}

// openTagger opens the model of --run for the flags --model, --weights,
// --threshold, --device and --batch.
func openTagger(c *cli.Context) (*tagger.Model, error) {
	factory, engine, err := engineFactory(c)
	if err != nil {
		return nil, err
	}
	return tagger.Open(c.String("run"), tagger.Options{
		Model: c.String("model"), Weights: c.String("weights"), Threshold: c.Float64("threshold"),
		SkipChecksum: c.Bool("skip-checksum"), Factory: factory, Engine: engine,
		NewExtractor: func(net *vgg16.Net) (features.Extractor, string, error) { return featureExtractor(c, net) },
	})
}

// predictImages runs VGG16 and the model over the n preprocessed images in
// x in batches of --batch, returning the tag probabilities and importance
// (n×T each).
func predictImages(c *cli.Context, m *tagger.Model, x []float32, n int) (prob, imp []float32, err error) {
	batch := max(1, c.Int("batch"))
	size := m.Prep.Len()
	bar := newProgress(n, "images")
	fc7 := make([]float32, 0, n*m.Config.D)
	for lo := 0; lo < n; lo += batch {
		k := min(batch, n-lo)
		f, err := m.Features(x[lo*size:(lo+k)*size], k)
		if err != nil {
			return nil, nil, fmt.Errorf("predict: %w", err)
		}
		fc7 = append(fc7, f...)
		bar.Add(k)
	}
	bar.Finish()
	return m.Classify(fc7, n)
}

// engineFactory picks the engine that runs the models for --device (the
// train command's factoryFor: the CPU engine, or the GPU one in a GPU
// build) and names it.
func engineFactory(c *cli.Context) (model.Factory, string, error) {
	device, err := resolveDevice(c)
	if err != nil {
		return nil, "", err
	}
	f, err := factoryFor(device)
	if err != nil {
		return nil, "", err
	}
	if device == "cpu" {
		device += " (" + cpu.BLAS + ")"
	}
	return f, device, nil
}

// cloudPath numbers the cloud file when there are several images.
func cloudPath(path string, i, n int) string {
	if n == 1 {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + strconv.Itoa(i+1) + ext
}

func printPrediction(w io.Writer, pr imagePrediction) {
	fmt.Fprintf(w, "%s  (%s, θ = %g)\n", pr.Image, pr.Model, pr.Threshold)
	if len(pr.Tags) == 0 {
		fmt.Fprintln(w, "  no tag has a probability at or above the threshold (try --all or a lower --threshold)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  tag\timportance\tprobability\t")
	for _, t := range pr.Tags {
		mark := ""
		if !t.Predicted {
			mark = " (below θ)"
		}
		fmt.Fprintf(tw, "  %s\t%.3f\t%.3f\t%s\n", t.Tag, t.Importance, t.Probability, mark)
	}
	tw.Flush()
	if len(pr.Truth) > 0 {
		var parts []string
		for _, t := range sortedKeys(pr.Truth) {
			parts = append(parts, fmt.Sprintf("%s %.1f", t, pr.Truth[t]))
		}
		fmt.Fprintf(w, "  true importance (share of its captions): %s\n", strings.Join(parts, ", "))
	}
	if pr.Cloud != "" {
		fmt.Fprintf(w, "  tag cloud: %s\n", pr.Cloud)
	}
}

// sortedKeys returns m's keys by descending value, then name.
func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}
