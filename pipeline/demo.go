package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"tagimp/data/atomicfile"
	"tagimp/data/demo"
	"tagimp/data/features"
	"tagimp/model"
	"tagimp/model/metrics"
	"tagimp/tagger"
)

// DemoConfig describes a demo run: a synthetic COCO-style set and the
// whole pipeline on it.
type DemoConfig struct {
	Out  string // output folder
	Data demo.Config
	Net  NetSpec
	// Vectors is a word-vector file for the tags; "" learns PPMI vectors
	// of Dim columns from the demo captions.
	Vectors    string
	Dim        int
	MinCount   int
	TrainShare float64
	Training   Training
}

// DemoResults is OUT/results.json.
type DemoResults struct {
	Setup  DemoSetup          `json:"setup"`
	Models []metrics.Report   `json:"models"` // chance first, then baseline, model1, model2
	Cloud  *tagger.Prediction `json:"cloud,omitempty"`
}

// DemoSetup records what a demo run did.
type DemoSetup struct {
	Images    int                `json:"images"`
	Train     int                `json:"train"`
	Test      int                `json:"test"`
	Tags      []string           `json:"tags"`
	Weights   string             `json:"weights"`
	TagVec    string             `json:"tagvec"`
	Device    string             `json:"device"`
	Config    model.Config       `json:"config"`
	Seconds   map[string]float64 `json:"seconds"`
	Skipped   []string           `json:"skipped,omitempty"`
	ChanceDef string             `json:"chance"`
}

// DemoResultsFile and DemoCloudFile are written under the output folder.
const (
	DemoResultsFile = "results.json"
	DemoCloudFile   = "cloud.png"
	DemoDataDir     = "data"
)

// Demo generates the synthetic set under OUT/data and runs the pipeline on
// it: vocabulary, fc7 features, tag vectors, the three models, a chance
// baseline and the tag cloud of the test image predicted best; it writes
// OUT/results.json. Stages already done with the same inputs are skipped.
func Demo(ctx context.Context, cfg DemoConfig, h Hooks, eng Engines) (*DemoResults, error) {
	start := time.Now()
	if err := cfg.Data.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("demo: %w (choose an --out folder you can write to)", err)
	}
	r, err := newRunner(ctx, cfg.Out, h, eng)
	if err != nil {
		return nil, err
	}

	// 1. The data set.
	dataDir := filepath.Join(cfg.Out, DemoDataDir)
	var set *demo.Set
	err = r.st.run("generate", cfg.Data, func() error {
		h.logf("generating %d images of %d×%d in %s", cfg.Data.Images, cfg.Data.Size, cfg.Data.Size, dataDir)
		up, fin := h.progress("images", cfg.Data.Images)
		s, err := demo.Write(dataDir, cfg.Data, up)
		fin()
		set = s
		return err
	}, func() []string {
		out := []string{filepath.Join(DemoDataDir, demo.CaptionsFile), filepath.Join(DemoDataDir, demo.InstancesFile)}
		for _, im := range set.Images {
			out = append(out, filepath.Join(DemoDataDir, demo.ImagesDir, im.FileName))
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	if set == nil { // skipped: the scenes again, without pixels
		images, err := demo.Generate(cfg.Data)
		if err != nil {
			return nil, err
		}
		set = &demo.Set{Dir: dataDir, Config: cfg.Data, Images: images, ImageDir: filepath.Join(dataDir, demo.ImagesDir),
			Captions: filepath.Join(dataDir, demo.CaptionsFile), Instances: filepath.Join(dataDir, demo.InstancesFile)}
	}

	// 2. Vocabulary, labels, split (tags counted over every image's
	// captions, as the demo always has).
	l, err := r.labels(LabelSpec{Captions: set.Captions, MinCount: cfg.MinCount, TrainShare: cfg.TrainShare, Seed: cfg.Data.Seed})
	if err != nil {
		return nil, fmt.Errorf("demo: %w (adjust --min-count, --train-share or --images)", err)
	}
	h.logf("%d tags (nouns in ≥ %d captions): %v; %d train / %d test images",
		len(l.Tags), cfg.MinCount, l.Tags, len(l.Splits.Train), len(l.Splits.Test))

	// 3. fc7 features.
	images := make([]features.Image, len(set.Images))
	for i, im := range set.Images {
		images[i] = features.Image{ID: im.ID, File: im.FileName}
	}
	f, err := r.features(cfg.Net, set.ImageDir, images, 16)
	if err != nil {
		return nil, err
	}
	if len(f.Failed) > 0 {
		return nil, fmt.Errorf("demo: %d images gave no features (see %s)", len(f.Failed), filepath.Join(cfg.Out, FeaturesDir, "manifest.json"))
	}

	// 4. Tag vectors.
	vecs, dim, vecSource, err := r.tagVectors(VectorSpec{File: cfg.Vectors, Dim: cfg.Dim, Captions: set.Captions}, l.Tags)
	if err != nil {
		return nil, err
	}

	// 5. The three models, beside the chance row.
	tr, err := r.train(cfg.Training, l, f, vecs, dim)
	if err != nil {
		return nil, err
	}
	chance, err := ChanceReport(tr.Train, tr.Test, cfg.Training.Threshold)
	if err != nil {
		return nil, err
	}
	reports := []metrics.Report{chance}
	for _, m := range tr.Metas {
		reports = append(reports, m.Metrics)
	}

	// 6. A tag cloud for one test image.
	var cloud *tagger.Prediction
	err = r.st.timed("cloud", func() error {
		cloud, err = demoCloud(cfg.Out, set, tr.Test, l.Tags, r.eng.Factory, vecs)
		return err
	})
	if err != nil {
		return nil, err
	}
	r.st.Seconds["total"] = time.Since(start).Seconds()

	res := &DemoResults{
		Setup: DemoSetup{Images: cfg.Data.Images, Train: tr.Train.N, Test: tr.Test.N, Tags: l.Tags, Weights: f.Meta.Weights,
			TagVec: vecSource, Device: r.eng.Engine, Config: tr.Config, Seconds: r.st.Seconds, Skipped: r.st.Skipped,
			ChanceDef: ChanceDefinition},
		Models: reports, Cloud: cloud,
	}
	if err := writeJSON(filepath.Join(cfg.Out, DemoResultsFile), res); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return res, nil
}

func writeJSON(path string, v any) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	})
}

// demoCloud predicts the test images with the most advanced model and
// draws the tag cloud of one of them into OUT/cloud.png: the image whose
// predicted tags match its true tags best (Jaccard; ties: more true tags,
// then the lowest id), an example of the model at its best.
func demoCloud(out string, set *demo.Set, test *model.Data, tags []string, factory model.Factory, tagVecs []float32) (*tagger.Prediction, error) {
	runDir := filepath.Join(out, RunDir)
	kind, err := tagger.PickModel(runDir, "")
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
	if im == nil {
		return nil, fmt.Errorf("demo: test image %d is not in the generated set", test.IDs[best])
	}
	pr := &tagger.Prediction{
		Image: filepath.Join(set.ImageDir, im.FileName), Model: string(kind), Threshold: meta.Config.Threshold,
		Tags:  tagger.Rank(tags, prob, imp, meta.Config.Threshold, false),
		Cloud: filepath.Join(out, DemoCloudFile),
	}
	if err := tagger.WriteCloud(pr.Cloud, pr.Tags, fmt.Sprintf("demo image %d — %s", im.ID, kind)); err != nil {
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
