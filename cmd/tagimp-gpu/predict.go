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
	"tagimp/data/imageprep"
	"tagimp/data/npy"
	"tagimp/internal/argcheck"
	"tagimp/model"
	"tagimp/model/cpu"
	"tagimp/model/vgg16"
	"tagimp/viz"
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

// predictedTag is one tag of one image's prediction.
type predictedTag struct {
	Tag         string  `json:"tag"`
	Importance  float64 `json:"importance"`
	Probability float64 `json:"probability"`
	Predicted   bool    `json:"predicted"` // probability ≥ threshold
}

// imagePrediction is what predict prints for one image.
type imagePrediction struct {
	Image     string         `json:"image"`
	Model     string         `json:"model"`
	Threshold float64        `json:"threshold"`
	Tags      []predictedTag `json:"tags"`
	Cloud     string         `json:"cloud,omitempty"`
	// Truth is the true importance of the image's tags, when known (demo).
	Truth map[string]float64 `json:"truth,omitempty"`
	// Error says why the image could not be tagged (unreadable file);
	// Tags is then empty.
	Error string `json:"error,omitempty"`
}

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
	run := c.String("run")
	kind, err := pickRunModel(run, c.String("model"))
	if err != nil {
		return err
	}
	meta, st, err := model.LoadCheckpointWith(run, kind, model.LoadOptions{SkipChecksum: c.Bool("skip-checksum")})
	if err != nil {
		return err
	}
	cfg := meta.Config
	if meta.Theta != nil {
		cfg.Threshold = meta.Theta.Global // chosen on the validation split (per-tag θs are for eval's scores)
	}
	if c.IsSet("threshold") {
		cfg.Threshold = c.Float64("threshold")
		if err := cfg.Validate(); err != nil {
			return fmt.Errorf("--threshold: %w", err)
		}
	}
	var tagVecs []float32
	if kind == model.Model2 {
		if tagVecs, err = readRunTagVecs(meta); err != nil {
			return err
		}
	}
	net, prep, err := runFeatureNet(meta.Data.Features, c.String("weights"))
	if err != nil {
		return err
	}
	ex, device, err := featureExtractor(c, net)
	if err != nil {
		return err
	}
	factory, engine, err := engineFactory(c)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "predict: %s of %s (%d tags), VGG16 %s, %s, features on %s, model on %s\n",
		kind, run, cfg.T, net.Source(), prep, device, engine)

	// An image that cannot be read is reported and skipped; the others
	// still get their tags.
	failed := make([]error, len(paths))
	var good []int
	x := make([]float32, 0, len(paths)*prep.Len())
	for i, p := range paths {
		img, err := prep.LoadFile(p)
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
		if prob, imp, err = predictImages(c, ex, factory, engine, cfg, st, tagVecs, x, len(good), prep.Len(), run); err != nil {
			return err
		}
	}
	var out []imagePrediction
	row := 0
	for i, p := range paths {
		pr := imagePrediction{Image: p, Model: string(kind), Threshold: cfg.Threshold}
		if failed[i] != nil {
			pr.Error = failed[i].Error()
			out = append(out, pr)
			continue
		}
		pr.Tags = rankTags(meta.Tags, prob[row*cfg.T:(row+1)*cfg.T], imp[row*cfg.T:(row+1)*cfg.T], cfg.Threshold, c.Bool("all"))
		row++
		if cl := c.String("cloud"); cl != "" {
			pr.Cloud = cloudPath(cl, i, len(paths))
			if err := writeTagCloud(pr.Cloud, pr.Tags, filepath.Base(p)+" — "+string(kind)); err != nil {
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

// predictImages runs VGG16 (ex) over the n preprocessed images in x (each
// of size values) and the run's model over their fc7 features, returning
// the tag probabilities and importance (n×T each).
func predictImages(c *cli.Context, ex features.Extractor, factory model.Factory, engine string, cfg model.Config, st *model.State, tagVecs, x []float32, n, size int, run string) (prob, imp []float32, err error) {
	batch := max(1, c.Int("batch"))
	bar := newProgress(n, "images")
	fc7 := make([]float32, 0, n*ex.Dim())
	for lo := 0; lo < n; lo += batch {
		m := min(batch, n-lo)
		f, err := ex.Extract(x[lo*size:(lo+m)*size], m)
		if err != nil {
			return nil, nil, fmt.Errorf("predict: VGG16: %w", err)
		}
		fc7 = append(fc7, f...)
		bar.Add(m)
	}
	bar.Finish()
	if ex.Dim() != cfg.D {
		return nil, nil, fmt.Errorf("predict: the network gives %d features, the model of %s takes %d", ex.Dim(), run, cfg.D)
	}
	cfg = model.EngineConfig(cfg, n)
	tr, err := factory(cfg, st)
	if err != nil {
		return nil, nil, fmt.Errorf("predict: start %s engine: %w", engine, err)
	}
	defer tr.Close()
	return model.Predict(tr, cfg, tagVecs, fc7, n, nil)
}

// pickRunModel returns the model named by flag, or the most advanced model
// the run holds.
func pickRunModel(run, flag string) (model.Kind, error) {
	if flag != "" {
		return model.ParseKind(flag)
	}
	for _, k := range []model.Kind{model.Model2, model.Model1, model.Baseline} {
		if _, err := model.ReadMeta(run, k); err == nil {
			return k, nil
		} else if !model.IsNotExist(err) {
			return "", err
		}
	}
	return "", fmt.Errorf("--run %s holds no trained model (no baseline.json, model1.json or model2.json): train one with `tagimp-gpu train --out %s`", run, run)
}

// readRunTagVecs reads the [T,E] tag vectors a Model 2 run was trained with.
func readRunTagVecs(meta *model.Meta) ([]float32, error) {
	path := meta.Data.TagVec
	if path == "" {
		return nil, fmt.Errorf("predict: the run records no tag-vector file, which model2 needs: predict with --model model1")
	}
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("predict: model2's tag vectors: %w (the run was trained with --tagvec %s; restore that file or use --model model1)", err, path)
	}
	if a.Dtype != "<f4" || len(a.Shape) != 2 || a.Shape[0] != meta.Config.T || a.Shape[1] != meta.Config.E {
		return nil, fmt.Errorf("predict: tag vectors %s are %s %v, the model needs float32 [%d %d]", path, a.Dtype, a.Shape, meta.Config.T, meta.Config.E)
	}
	return a.F32, nil
}

// runFeatureNet rebuilds the VGG16 and preprocessing a run's features were
// computed with, as the run's metadata records them (weights, SHA-256,
// preprocessing, center crop, input size); the feature cache's manifest
// is read only for what runs trained before the metadata recorded it lack,
// so a run predicts without its cache. weights overrides the network (a
// file or random:SEED); its SHA-256 must match the one recorded.
func runFeatureNet(src model.FeatureSource, weights string) (*vgg16.Net, imageprep.Config, error) {
	if src.Weights == "" || src.CenterCrop == nil || src.ImageSize == 0 || src.Preprocess == "" {
		src = model.CompleteFeatureSource(src)
	}
	if weights == "" {
		weights = src.Weights
	}
	size, mode, crop := src.ImageSize, src.Preprocess, false
	if src.CenterCrop != nil {
		crop = *src.CenterCrop
	}
	if size == 0 {
		size = 224
	}
	if weights == "" {
		return nil, imageprep.Config{}, fmt.Errorf("predict: the run does not say which VGG16 weights its features used (its metadata records none and %s has no manifest.json): pass --weights FILE or random:SEED", src.Path)
	}
	cfg := vgg16.VGG16()
	cfg.InputSize = size
	var net *vgg16.Net
	seed, random, err := parseRandomWeights(weights)
	switch {
	case err != nil:
		return nil, imageprep.Config{}, err
	case random:
		net, err = vgg16.NewRandomConfig(cfg, seed)
	default:
		if _, statErr := os.Stat(weights); statErr != nil {
			return nil, imageprep.Config{}, fmt.Errorf("predict: VGG16 weights %s: %w; pass the file the run's features were computed with as --weights FILE", weights, statErr)
		}
		net, err = vgg16.LoadConfig(weights, cfg)
	}
	if err != nil {
		return nil, imageprep.Config{}, fmt.Errorf("predict: %w", err)
	}
	if want := src.WeightsSHA256; want != "" && net.SHA256() != want {
		return nil, imageprep.Config{}, fmt.Errorf("predict: VGG16 %s has SHA-256 %.12s…, but the run was trained on features from weights %.12s…: pass those weights with --weights", net.Source(), net.SHA256(), want)
	}
	if mode == "" {
		mode = net.Preprocess()
	}
	prep := imageprep.Config{Mode: mode, Size: size, CenterCrop: crop}
	return net, prep, prep.Validate()
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

// rankTags lists tags by importance (highest first), keeping those predicted
// (probability ≥ threshold) unless all is set; ties go by probability, then
// name.
func rankTags(tags []string, prob, imp []float32, threshold float64, all bool) []predictedTag {
	var out []predictedTag
	for j, t := range tags {
		p := float64(prob[j])
		if p >= threshold || all {
			out = append(out, predictedTag{Tag: t, Importance: float64(imp[j]), Probability: p, Predicted: p >= threshold})
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Importance != out[b].Importance {
			return out[a].Importance > out[b].Importance
		}
		if out[a].Probability != out[b].Probability {
			return out[a].Probability > out[b].Probability
		}
		return out[a].Tag < out[b].Tag
	})
	return out
}

// cloudPath numbers the cloud file when there are several images.
func cloudPath(path string, i, n int) string {
	if n == 1 {
		return path
	}
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + strconv.Itoa(i+1) + ext
}

// writeTagCloud draws the predicted tags, sized by importance.
func writeTagCloud(path string, tags []predictedTag, title string) error {
	var words []viz.CloudWord
	for _, t := range tags {
		if t.Predicted {
			words = append(words, viz.CloudWord{Text: t.Tag, Weight: max(t.Importance, 0)})
		}
	}
	if len(words) == 0 {
		title += " (no tag above the threshold)"
	}
	opt := viz.DefaultCloudOptions()
	opt.Title = title
	cl, err := viz.LayoutCloud(words, opt)
	if err != nil {
		return err
	}
	return viz.WriteCloud(path, cl)
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
