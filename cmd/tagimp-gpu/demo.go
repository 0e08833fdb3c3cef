package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"tagimp/data/atomicfile"
	"tagimp/data/coco"
	"tagimp/data/demo"
	"tagimp/data/features"
	"tagimp/data/imageprep"
	"tagimp/data/labels"
	"tagimp/data/nouns"
	"tagimp/data/npy"
	"tagimp/data/ppmi"
	"tagimp/data/wordvec"
	"tagimp/model"
	"tagimp/model/metrics"
	"tagimp/model/vgg16"
)

func init() {
	d := demo.DefaultConfig()
	register(&cli.Command{
		Name:  "demo",
		Usage: "generate a synthetic COCO-style data set and run the whole pipeline on it (no downloads)",
		Description: `Generates images of scenes (a field, water, a road or a table) holding a few
objects named by ordinary nouns (dog, ball, house, boat, …), each drawn as its own
shape and colour at a random size and place, with five captions per image from
simulated annotators who mention bigger, more central objects more often. So every
tag's true importance is known, and it can be learned from the pixels.

Then it runs the real pipeline on that set, through the same packages as the
other commands:
   vocab     nouns of the captions (POS tagger + lemmatiser) → vocabulary, labels, splits
   features  VGG16 fc7 of every image (seeded RANDOM weights unless --weights is given;
             random conv features still carry colour and shape)
   tagvec    tag vectors learned from the demo captions (PPMI + SVD) unless --vectors
   train     Baseline, Model 1 and Model 2
   results   the metrics of each model on the test images, beside a chance baseline
             (a model that ignores the pixels and predicts every tag's training prior),
             written to DIR/results.json, and a tag cloud of one test image (DIR/cloud.png)

Layout of DIR: data/ (images/, captions.json, instances.json with the true mention
probabilities), labels/ (vocab.json, labels.npz, splits.json, tagvec.npy),
features/ (fc7 cache), run/ (checkpoints, histories), results.json, cloud.png.
Running it again with the same flags reuses the finished features and models.

The defaults take about three minutes of CPU time (VGG16 on 800 images, then 40
epochs of each model): 175 s measured on two cores busy with other work too, less
on idle ones. They use hidden widths of --hidden 512 and --hidden2 1024 instead
of the paper's 4096, a network input of --input-size 64 (random weights only: the
images are small and simple), --imp-loss-mask true (the importance heads learn the
importance of the tags an image holds, which is what MAE and MSE measure) to fit
that budget, and --dropout 0 (see below); raise --images, --epochs, --hidden to
scale up.

Why --dropout 0 with random weights: a deep ReLU network with random weights maps
every image to nearly the same direction (the fc7 rows of two demo images have a
cosine of about 0.95), so what tells images apart is a small part of each hidden
activation, and dropping half the units at random drowns it: with the paper's 0.5
the models hardly get past the chance row in the demo's few hundred steps. Pass
--dropout 0.5 with real --weights.

What to expect with random weights: mAP more than twice the chance row's, and an
importance error of Model 1 and Model 2 about a third below the chance row's. Model 2
learns more slowly than Model 1 (its own MLP reads fc7 L2-normalised, where the
image-specific part is tiny: hence --hidden2 wider than --hidden and 40 epochs) and,
at test time, averages the word vectors of the predicted tags (Jaccard about 0.5),
not of the true ones it was trained on.

Examples:
   tagimp-gpu demo
   tagimp-gpu demo --out demo-big --images 2000 --epochs 50 --hidden 4096 --hidden2 4096
   tagimp-gpu demo --weights vgg16-397923af.pth --vectors googlenews-top1000.bin --dropout 0.5`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Value: "demo-run", Usage: "folder for the data set, features, models and results"},
			&cli.IntFlag{Name: "images", Value: d.Images, Usage: "number of images to generate"},
			&cli.IntFlag{Name: "size", Value: d.Size, Usage: "side of the generated images in pixels"},
			&cli.IntFlag{Name: "input-size", Value: 64, Usage: "VGG16 input side for random weights (a multiple of 32); real --weights always use 224"},
			&cli.Int64Flag{Name: "seed", Value: d.Seed, Usage: "seed of the data set, the random VGG16, the split and the models"},
			&cli.StringFlag{Name: "weights", Usage: "real VGG16 weights (.pth or .npz) instead of seeded random ones"},
			&cli.StringFlag{Name: "vectors", Usage: "word-vector file (word2vec .bin/.txt, GloVe) for the tags instead of PPMI vectors from the captions"},
			&cli.IntFlag{Name: "dim", Value: 300, Usage: "width of the PPMI tag vectors (columns beyond the captions' rank are zero)"},
			&cli.IntFlag{Name: "min-count", Value: 20, Usage: "captions a noun must appear in to become a tag"},
			&cli.Float64Flag{Name: "train-share", Value: 0.75, Usage: "share of the images used for training; the rest are the test images"},
			&cli.IntFlag{Name: "epochs", Value: 40, Usage: "training epochs of each model"},
			&cli.IntFlag{Name: "hidden", Value: 512, Usage: "hidden width H of the trunk (the paper: 4096)"},
			&cli.IntFlag{Name: "hidden2", Value: 1024, Usage: "hidden width H2 of Model 2's importance MLP (the paper: 4096)"},
			&cli.Float64Flag{Name: "lr", Value: 1e-3, Usage: "Adam learning rate (our choice: the paper names no optimiser or settings)"},
			&cli.Float64Flag{Name: "dropout", Value: demoDropout, Usage: "dropout probability of the hidden layers in training (the paper: 0.5; see the description for why the demo uses less)"},
			&cli.IntFlag{Name: "batch", Value: 32, Usage: "mini-batch size (also the VGG16 batch)"},
			&cli.StringFlag{Name: "imp-loss-mask", Value: model.MaskTrue, Usage: "importance MSE over the true tags only (true) or over all image×tag entries (all, the train command's default)"},
			&cli.Float64Flag{Name: "threshold", Value: 0.5, Usage: "probability θ above which a tag is predicted (our default: the paper states no θ)"},
			deviceFlag(),
		},
		Action: runDemo,
	})
}

// demoDropout is the demo's default dropout. With seeded random VGG16
// weights every image's fc7 points almost the same way (mean cosine about
// 0.95 between images: a deep random ReLU network maps all inputs close
// together), so the image-specific part of each hidden activation is small
// beside the shared part, and dropping half the units at random buries it
// in noise; the heads then hardly learn within the demo's few hundred
// steps. With real --weights, use the paper's 0.5.
const demoDropout = 0

// demoResults is DIR/results.json.
type demoResults struct {
	Setup  demoSetup        `json:"setup"`
	Models []metrics.Report `json:"models"` // chance first, then baseline, model1, model2
	Cloud  *imagePrediction `json:"cloud,omitempty"`
}

type demoSetup struct {
	Images    int                `json:"images"`
	Train     int                `json:"train"`
	Test      int                `json:"test"`
	Tags      []string           `json:"tags"`
	Weights   string             `json:"weights"`
	TagVec    string             `json:"tagvec"`
	Device    string             `json:"device"`
	Config    model.Config       `json:"config"`
	Seconds   map[string]float64 `json:"seconds"`
	ChanceDef string             `json:"chance"`
}

const chanceDefinition = "pixel-blind prior: every test image gets each tag's training frequency as probability and the tag's mean training importance where present as importance"

func runDemo(c *cli.Context) error {
	start := time.Now()
	out := c.String("out")
	release, err := lockOut(c, "out")
	if err != nil {
		return err
	}
	defer release()
	seconds := map[string]float64{}
	stage := func(name string, t time.Time) { seconds[name] = time.Since(t).Seconds() }

	// 1. The data set.
	t := time.Now()
	cfg := demo.DefaultConfig()
	cfg.Images, cfg.Size, cfg.Seed = c.Int("images"), c.Int("size"), c.Int64("seed")
	fmt.Fprintf(os.Stderr, "demo: generating %d images of %d×%d in %s\n", cfg.Images, cfg.Size, cfg.Size, filepath.Join(out, "data"))
	bar := newProgress(cfg.Images, "images")
	set, err := demo.Write(filepath.Join(out, "data"), cfg, func(done, _ int) { bar.Set(done) })
	bar.Finish()
	if err != nil {
		return err
	}
	stage("generate", t)

	// 2. Vocabulary, labels, split.
	t = time.Now()
	caps, err := coco.Read(set.Captions, nil)
	if err != nil {
		return err
	}
	tagger, err := nouns.NewTagger()
	if err != nil {
		return err
	}
	texts, _ := caps.Flat()
	bar = newProgress(len(texts), "captions")
	nn := tagger.NounsAll(texts, 0, func(done, _ int) { bar.Set(done) })
	bar.Finish()
	vocab, lab, err := labels.Build(caps, nn, c.Int("min-count"))
	if err != nil {
		return err
	}
	tags := vocab.Names()
	if len(tags) == 0 {
		return fmt.Errorf("demo: no noun appears in %d captions; lower --min-count or raise --images", c.Int("min-count"))
	}
	nTrain := int(float64(len(caps.IDs))*c.Float64("train-share") + 0.5)
	splits, err := labels.MakeSplits(caps.IDs, nTrain, 0, cfg.Seed)
	if err != nil {
		return fmt.Errorf("demo: split: %w (adjust --train-share or --images)", err)
	}
	labelsDir := filepath.Join(out, "labels")
	if err := labels.WriteDir(labelsDir, vocab, lab, splits); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo: %d tags (nouns in ≥ %d captions): %v; %d train / %d test images\n",
		len(tags), c.Int("min-count"), tags, len(splits.Train), len(splits.Test))
	stage("vocab", t)

	// 3. fc7 features.
	t = time.Now()
	net, meta, err := demoNet(c)
	if err != nil {
		return err
	}
	prep := imageprep.Config{Mode: net.Preprocess(), Size: net.Config().InputSize}
	meta.Preprocess, meta.ImageSize, meta.Decoder = prep.Mode, prep.Size, prep.Decoder()
	ex, device, err := featureExtractor(c, net)
	if err != nil {
		return err
	}
	images := make([]features.Image, len(set.Images))
	for i, im := range set.Images {
		images[i] = features.Image{ID: im.ID, File: im.FileName}
	}
	featDir := filepath.Join(out, "features")
	bar = newProgress(len(images), "images")
	sum, err := features.Build(c.Context, features.Config{
		Out: featDir, ImagesDir: set.ImageDir, Images: images, Load: prep.LoadFile,
		Extractor: ex, Meta: meta, Batch: 16, Progress: func(done, _ int) { bar.Set(done) },
	})
	bar.Finish()
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("demo: %d images gave no features (see %s)", sum.Failed, sum.ManifestPath)
	}
	feat, err := features.Load(featDir)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "demo: fc7 of %d images (%d-d) on %s, %s\n", len(feat.IDs), feat.Dim, device, prep)
	stage("features", t)

	// 4. Tag vectors.
	t = time.Now()
	tagVecs, dim, vecSource, err := demoTagVectors(c, texts, tags)
	if err != nil {
		return err
	}
	tagVecPath, err := filepath.Abs(filepath.Join(labelsDir, "tagvec.npy"))
	if err != nil {
		return err
	}
	if err := npy.WriteFile(tagVecPath, npy.F32(tagVecs, len(tags), dim)); err != nil {
		return err
	}
	stage("tagvec", t)

	// 5. The three models.
	t = time.Now()
	T := len(tags)
	train, err := model.Join("train", splits.Train, feat.IDs, feat.Rows, feat.Dim, lab.IDs, lab.Presence, lab.Importance, T)
	if err != nil {
		return err
	}
	test, err := model.Join("test", splits.Test, feat.IDs, feat.Rows, feat.Dim, lab.IDs, lab.Presence, lab.Importance, T)
	if err != nil {
		return err
	}
	factory, engine, err := engineFactory(c)
	if err != nil {
		return err
	}
	absFeat, _ := filepath.Abs(featDir)
	absLabels, _ := filepath.Abs(labelsDir)
	source := model.DataSource{
		Labels: absLabels, Splits: filepath.Join(absLabels, "splits.json"), TagVec: tagVecPath,
		Features: model.NewFeatureSource(absFeat, feat.Dim, meta),
		NTrain:   train.N, NTest: test.N,
	}
	runDir := filepath.Join(out, "run")
	var mcfg model.Config
	reports := []metrics.Report{chanceReport(train, test, c.Float64("threshold"))}
	for _, kind := range model.Kinds {
		mcfg = demoModelConfig(c, kind, feat.Dim, T, dim)
		bar = newProgress(mcfg.Epochs, string(kind)+" epochs")
		m, err := model.Train(&model.Run{
			Dir: runDir, Config: mcfg, Tags: tags, TagVecs: tagVecs, Train: train, Test: test,
			Source: source, Device: engine, Factory: factory,
			Log: func(msg string) { fmt.Fprintf(os.Stderr, "%s: %s\n", kind, msg) },
			// The demo's models train in a fraction of a second per epoch:
			// a checkpoint after every epoch would cost as much as training.
			CheckpointEvery: 10,
			OnEpoch: func(m *model.Meta) {
				bar.Set(m.Epoch)
				// Drawing the curves costs about as much as an epoch of the
				// demo's small models: every 10th epoch and the last.
				if m.Epoch%10 != 0 && m.Epoch != m.Config.Epochs {
					return
				}
				if err := writeCurves(runDir, m); err != nil {
					fmt.Fprintln(os.Stderr, "warning:", err)
				}
			},
		})
		bar.Finish()
		if err != nil {
			return err
		}
		reports = append(reports, m.Metrics)
	}
	stage("train", t)

	// 6. A tag cloud for one test image.
	t = time.Now()
	cloud, err := demoCloud(out, runDir, set, test, tags, factory, tagVecs)
	if err != nil {
		return err
	}
	stage("cloud", t)
	seconds["total"] = time.Since(start).Seconds()

	res := demoResults{
		Setup: demoSetup{Images: cfg.Images, Train: train.N, Test: test.N, Tags: tags, Weights: meta.Weights,
			TagVec: vecSource, Device: engine, Config: mcfg, Seconds: seconds, ChanceDef: chanceDefinition},
		Models: reports, Cloud: cloud,
	}
	resPath := filepath.Join(out, "results.json")
	if err := atomicfile.WriteFile(resPath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}); err != nil {
		return fmt.Errorf("demo: write %s: %w", resPath, err)
	}
	printDemoResults(os.Stdout, &res, meta.Weights)
	fmt.Printf("\nresults: %s   models: %s   tag cloud: %s\n", resPath, runDir, cloud.Cloud)
	fmt.Printf("try: tagimp-gpu predict --run %s --cloud cloud.png %s\n", runDir, cloud.Image)
	return nil
}

// demoNet builds the VGG16 of the demo: real weights when --weights names a
// file, else seeded random ones at --input-size.
func demoNet(c *cli.Context) (*vgg16.Net, features.Meta, error) {
	meta := features.Meta{Backbone: "vgg16-fc7"}
	seed := c.Int64("seed")
	if w := c.String("weights"); w != "" {
		s, random, err := parseRandomWeights(w)
		if err != nil {
			return nil, meta, err
		}
		if !random {
			fmt.Fprintf(os.Stderr, "demo: VGG16 with the weights of %s\n", w)
			net, err := vgg16.Load(w)
			if err != nil {
				return nil, meta, err
			}
			meta.Weights, meta.WeightsSHA256 = filepath.Base(w), net.SHA256()
			return net, meta, nil
		}
		seed = s
	}
	cfg := vgg16.VGG16()
	cfg.InputSize = c.Int("input-size")
	net, err := vgg16.NewRandomConfig(cfg, seed)
	if err != nil {
		return nil, meta, fmt.Errorf("--input-size %d: %w", cfg.InputSize, err)
	}
	fmt.Fprintf(os.Stderr, "demo: VGG16 with seeded RANDOM weights (seed %d, input %d×%d), not ImageNet ones: pass --weights vgg16-397923af.pth for real features\n",
		seed, cfg.InputSize, cfg.InputSize)
	meta.Weights, meta.WeightsSHA256 = "random:"+strconv.FormatInt(seed, 10), net.SHA256()
	return net, meta, nil
}

// demoTagVectors returns the [T,dim] tag vectors: PPMI + SVD of the
// captions, or the --vectors file.
func demoTagVectors(c *cli.Context, texts, tags []string) ([]float32, int, string, error) {
	if path := c.String("vectors"); path != "" {
		tab, err := wordvec.Load(path, tags, wordvec.Options{})
		if err != nil {
			return nil, 0, "", err
		}
		if len(tab.Missing) > 0 {
			fmt.Fprintf(os.Stderr, "demo: %d tags have no vector in %s (zero rows): %v\n", len(tab.Missing), path, tab.Missing)
		}
		return tab.Vectors, tab.Dim, path, nil
	}
	docs := make([][]string, len(texts))
	for i, s := range texts {
		docs[i] = ppmi.Tokenize(s)
	}
	dim := c.Int("dim")
	v, err := ppmi.Vectors(docs, tags, dim)
	if err != nil {
		return nil, 0, "", err
	}
	return v, dim, fmt.Sprintf("ppmi+svd of the demo captions (%d-d)", dim), nil
}

func demoModelConfig(c *cli.Context, kind model.Kind, d, t, e int) model.Config {
	m := model.DefaultConfig(kind)
	m.D, m.T, m.E = d, t, e
	m.H, m.H2 = c.Int("hidden"), c.Int("hidden2")
	m.Epochs, m.Batch, m.LR = c.Int("epochs"), c.Int("batch"), c.Float64("lr")
	m.Seed, m.Threshold = c.Int64("seed"), c.Float64("threshold")
	m.Dropout = c.Float64("dropout")
	m.ImpLossMask = c.String("imp-loss-mask")
	if kind != model.Model2 {
		m.E, m.H2 = 0, 0 // as train writes them
	}
	return m
}

// chanceReport scores the pixel-blind prior on the test images: every
// image gets each tag's training frequency as its probability and the tag's
// mean training importance over the images that hold it as its importance
// (the best constant for the importance error, which is measured on the true
// tags only).
func chanceReport(train, test *model.Data, threshold float64) metrics.Report {
	T := train.T
	freq := make([]float32, T)
	mean := make([]float32, T)
	for i := 0; i < train.N; i++ {
		for j := 0; j < T; j++ {
			freq[j] += float32(train.Presence[i*T+j])
			mean[j] += train.Importance[i*T+j]
		}
	}
	for j := range freq {
		if freq[j] > 0 {
			mean[j] /= freq[j]
		}
		freq[j] /= float32(train.N)
	}
	prob := make([]float32, test.N*T)
	imp := make([]float32, test.N*T)
	for i := 0; i < test.N; i++ {
		copy(prob[i*T:], freq)
		copy(imp[i*T:], mean)
	}
	rep, err := metrics.Evaluate(test.Presence, test.Importance, prob, imp, test.N, T, threshold)
	if err != nil {
		// The inputs are built above with matching shapes; an error here
		// means an empty split, already refused by model.Join.
		rep = metrics.Report{}
	}
	rep.Model = "chance"
	return rep
}

// demoCloud predicts the test images with the most advanced model and
// draws the tag cloud of one of them into DIR/cloud.png: the image whose
// predicted tags match its true tags best (Jaccard; ties: more true tags,
// then the lowest id), an example of the model at its best.
func demoCloud(out, runDir string, set *demo.Set, test *model.Data, tags []string, factory model.Factory, tagVecs []float32) (*imagePrediction, error) {
	kind, err := pickRunModel(runDir, "")
	if err != nil {
		return nil, err
	}
	meta, st, err := model.LoadCheckpoint(runDir, kind, false)
	if err != nil {
		return nil, err
	}
	tr, err := factory(meta.Config, st)
	if err != nil {
		return nil, err
	}
	defer tr.Close()
	probs, imps, err := model.Predict(tr, meta.Config, tagVecs, test.X, test.N, nil)
	if err != nil {
		return nil, err
	}
	T, theta := test.T, meta.Config.Threshold
	best, bestJ, bestTrue := 0, -1.0, -1
	for i := 0; i < test.N; i++ {
		inter, union, truth := 0, 0, 0
		for j := 0; j < T; j++ {
			p, y := float64(probs[i*T+j]) >= theta, test.Presence[i*T+j] == 1
			if p && y {
				inter++
			}
			if p || y {
				union++
			}
			if y {
				truth++
			}
		}
		jac := 0.0
		if union > 0 {
			jac = float64(inter) / float64(union)
		}
		if jac > bestJ || jac == bestJ && truth > bestTrue {
			best, bestJ, bestTrue = i, jac, truth
		}
	}
	prob, imp := probs[best*T:(best+1)*T], imps[best*T:(best+1)*T]
	im := set.ImageByID(test.IDs[best])
	pr := &imagePrediction{
		Image: filepath.Join(set.ImageDir, im.FileName), Model: string(kind), Threshold: meta.Config.Threshold,
		Tags:  rankTags(tags, prob, imp, meta.Config.Threshold, false),
		Cloud: filepath.Join(out, "cloud.png"),
	}
	if err := writeTagCloud(pr.Cloud, pr.Tags, fmt.Sprintf("demo image %d — %s", im.ID, kind)); err != nil {
		return nil, err
	}
	pr.Truth = map[string]float64{}
	for j, tg := range tags {
		if v := test.Importance[best*T+j]; v > 0 {
			pr.Truth[tg] = float64(v)
		}
	}
	return pr, nil
}

func printDemoResults(w io.Writer, res *demoResults, weights string) {
	fmt.Fprintf(w, "\nDemo results on %d test images, %d tags (trained on %d; VGG16 weights %s; tag vectors: %s)\n",
		res.Setup.Test, len(res.Setup.Tags), res.Setup.Train, weights, res.Setup.TagVec)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tmAP(image)\tmAP(class)\tJaccard\tMAE↓\tMSE↓\tOF1\tSpearman\tNDCG\t")
	for _, r := range res.Models {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n",
			r.Model, r.MAPImage, r.MAPClass, r.Jaccard, r.MAE, r.MSE, r.OF1, r.Spearman, r.NDCG)
	}
	tw.Flush()
	fmt.Fprintf(w, "chance = %s.\nMAE and MSE are over the true tags only (the paper's definition); lower is better.\n", chanceDefinition)
	if cl := res.Cloud; cl != nil {
		fmt.Fprintf(w, "\nThe test image whose tags %s predicts best:\n", cl.Model)
		printPrediction(w, *cl)
	}
	var parts []string
	for _, k := range []string{"generate", "vocab", "features", "tagvec", "train", "cloud", "total"} {
		parts = append(parts, fmt.Sprintf("%s %.1fs", k, res.Setup.Seconds[k]))
	}
	fmt.Fprintf(w, "time: %v\n", parts)
}
