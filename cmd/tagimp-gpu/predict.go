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
run's training features were computed (same weights, preprocessing and input size,
read from the run's metadata and the feature cache's manifest), and prints the tags
whose probability is at least the threshold, most important first.

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
			&cli.Float64Flag{Name: "threshold", Usage: "probability θ above which a tag is predicted (default: the run's)"},
			&cli.BoolFlag{Name: "all", Usage: "list every tag, not only those predicted"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON instead of a table"},
			&cli.StringFlag{Name: "cloud", Usage: "write a tag cloud per image to this .png or .svg file"},
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
}

func runPredict(c *cli.Context) error {
	paths := c.Args().Slice()
	if len(paths) == 0 {
		return fmt.Errorf("predict: name at least one image file")
	}
	run := c.String("run")
	kind, err := pickRunModel(run, c.String("model"))
	if err != nil {
		return err
	}
	meta, st, err := model.LoadCheckpoint(run, kind, false)
	if err != nil {
		return err
	}
	cfg := meta.Config
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

	x := make([]float32, 0, len(paths)*prep.Len())
	for _, p := range paths {
		img, err := prep.LoadFile(p)
		if err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		x = append(x, img...)
	}
	bar := newProgress(len(paths), "images")
	fc7 := make([]float32, 0, len(paths)*ex.Dim())
	for lo := 0; lo < len(paths); lo += max(1, c.Int("batch")) {
		n := min(max(1, c.Int("batch")), len(paths)-lo)
		f, err := ex.Extract(x[lo*prep.Len():(lo+n)*prep.Len()], n)
		if err != nil {
			return fmt.Errorf("predict: VGG16 on %s…: %w", paths[lo], err)
		}
		fc7 = append(fc7, f...)
		bar.Add(n)
	}
	bar.Finish()
	if ex.Dim() != cfg.D {
		return fmt.Errorf("predict: the network gives %d features, the model of %s takes %d", ex.Dim(), run, cfg.D)
	}
	tr, err := factory(cfg, st)
	if err != nil {
		return fmt.Errorf("predict: start %s engine: %w", engine, err)
	}
	defer tr.Close()
	prob, imp, err := model.Predict(tr, cfg, tagVecs, fc7, len(paths), nil)
	if err != nil {
		return err
	}
	var out []imagePrediction
	for i, p := range paths {
		pr := imagePrediction{Image: p, Model: string(kind), Threshold: cfg.Threshold,
			Tags: rankTags(meta.Tags, prob[i*cfg.T:(i+1)*cfg.T], imp[i*cfg.T:(i+1)*cfg.T], cfg.Threshold, c.Bool("all"))}
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
		return enc.Encode(out)
	}
	for _, pr := range out {
		printPrediction(os.Stdout, pr)
	}
	return nil
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
// computed with. weights overrides the network (a file or random:SEED); its
// SHA-256 must match the one recorded.
func runFeatureNet(src model.FeatureSource, weights string) (*vgg16.Net, imageprep.Config, error) {
	size, mode, crop := src.ImageSize, src.Preprocess, false
	if m, err := features.ReadManifest(filepath.Join(src.Path, "manifest.json")); err == nil {
		if weights == "" {
			weights = m.Weights
		}
		if size == 0 {
			size = m.ImageSize
		}
		if mode == "" {
			mode = m.Preprocess
		}
		crop = m.CenterCrop
	}
	if size == 0 {
		size = 224
	}
	if weights == "" {
		return nil, imageprep.Config{}, fmt.Errorf("predict: the run does not say which VGG16 weights its features used (%s has no manifest.json): pass --weights FILE or random:SEED", src.Path)
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
