package tagger

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"tagimp/data/features"
	"tagimp/data/imageprep"
	"tagimp/data/npy"
	"tagimp/model"
	"tagimp/model/cpu"
	"tagimp/model/vgg16"
)

// Options says which model of a run to open and how to run it.
type Options struct {
	// Model is baseline, model1 or model2; "" picks the most advanced
	// model the run holds.
	Model string
	// Weights overrides the VGG16 weights the run's features name (a file
	// or random:SEED); their SHA-256 must match the one recorded.
	Weights string
	// Threshold overrides the run's θ when > 0; otherwise the global θ
	// train chose on the validation split is used, else the run's
	// --threshold.
	Threshold float64
	// SkipChecksum does not compare the checkpoint files with the SHA-256
	// their metadata records.
	SkipChecksum bool
	// NewExtractor wraps the network for the device that computes fc7;
	// nil runs it on the CPU.
	NewExtractor func(net *vgg16.Net) (ex features.Extractor, device string, err error)
	// Factory builds the engine that runs the model; nil is the CPU one.
	Factory model.Factory
	// Engine names the engine for messages ("cpu" when Factory is nil).
	Engine string
}

// Model is a trained model of a run with the feature network its training
// features came from. Predict may be called from several goroutines: the
// network runs concurrently, the model's engine one batch at a time.
type Model struct {
	Run     string
	Kind    model.Kind
	Meta    *model.Meta
	Config  model.Config // the checkpoint's, with Threshold overridden
	Tags    []string
	TagVecs []float32 // Model 2 only
	Net     *vgg16.Net
	Prep    imageprep.Config
	// FeatureDevice and Engine name where fc7 and the model run.
	FeatureDevice, Engine string

	ex features.Extractor
	mu sync.Mutex // guards tr
	tr model.Trainer
}

// CPUExtractor runs a VGG16 on the CPU as a features.Extractor.
type CPUExtractor struct{ Net *vgg16.Net }

// Extract returns the fc7 rows of n preprocessed images.
func (e CPUExtractor) Extract(x []float32, n int) ([]float32, error) { return e.Net.FC7(x, n) }

// Dim is the width of fc7.
func (e CPUExtractor) Dim() int { return e.Net.Config().FC }

// Open loads a model of run with its feature network.
func Open(run string, opt Options) (*Model, error) {
	kind, err := PickModel(run, opt.Model)
	if err != nil {
		return nil, err
	}
	meta, st, err := model.LoadCheckpointWith(run, kind, model.LoadOptions{SkipChecksum: opt.SkipChecksum})
	if err != nil {
		return nil, err
	}
	cfg := meta.Config
	if meta.Theta != nil {
		cfg.Threshold = meta.Theta.Global // chosen on the validation split (per-tag θs are for eval's scores)
	}
	if opt.Threshold > 0 {
		cfg.Threshold = opt.Threshold
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("threshold: %w", err)
		}
	}
	m := &Model{Run: run, Kind: kind, Meta: meta, Config: cfg, Tags: meta.Tags, Engine: opt.Engine}
	if kind == model.Model2 {
		if m.TagVecs, err = RunTagVecs(meta); err != nil {
			return nil, err
		}
	}
	if m.Net, m.Prep, err = FeatureNet(meta.Data.Features, opt.Weights); err != nil {
		return nil, err
	}
	if opt.NewExtractor != nil {
		if m.ex, m.FeatureDevice, err = opt.NewExtractor(m.Net); err != nil {
			return nil, err
		}
	} else {
		m.ex, m.FeatureDevice = CPUExtractor{m.Net}, "cpu"
	}
	if m.ex.Dim() != cfg.D {
		return nil, fmt.Errorf("the network gives %d features, the model of %s takes %d", m.ex.Dim(), run, cfg.D)
	}
	factory := opt.Factory
	if factory == nil {
		factory = cpu.New
		if m.Engine == "" {
			m.Engine = "cpu (" + cpu.BLAS + ")"
		}
	}
	if m.tr, err = factory(cfg, st); err != nil {
		return nil, fmt.Errorf("start %s engine: %w", m.Engine, err)
	}
	return m, nil
}

// Close releases the model's engine.
func (m *Model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tr == nil {
		return nil
	}
	err := m.tr.Close()
	m.tr = nil
	return err
}

// Features returns the fc7 rows of n preprocessed images (n×3·S·S values).
func (m *Model) Features(x []float32, n int) ([]float32, error) {
	f, err := m.ex.Extract(x, n)
	if err != nil {
		return nil, fmt.Errorf("VGG16: %w", err)
	}
	return f, nil
}

// Classify runs the model over n fc7 rows and returns the tag
// probabilities and importance (n×T each).
func (m *Model) Classify(fc7 []float32, n int) (prob, imp []float32, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tr == nil {
		return nil, nil, fmt.Errorf("tagger: model of %s is closed", m.Run)
	}
	return model.Predict(m.tr, m.Config, m.TagVecs, fc7, n, nil)
}

// Predict runs VGG16 and the model over n preprocessed images.
func (m *Model) Predict(x []float32, n int) (prob, imp []float32, err error) {
	f, err := m.Features(x, n)
	if err != nil {
		return nil, nil, err
	}
	return m.Classify(f, n)
}

// Rank returns row i's predicted tags of prob and imp (n×T), most
// important first; all keeps the tags below the threshold too.
func (m *Model) Rank(prob, imp []float32, i int, all bool) []Tag {
	T := m.Config.T
	return Rank(m.Tags, prob[i*T:(i+1)*T], imp[i*T:(i+1)*T], m.Config.Threshold, all)
}

// String describes the model for logs.
func (m *Model) String() string {
	return fmt.Sprintf("%s of %s (%d tags), VGG16 %s, %s, features on %s, model on %s",
		m.Kind, m.Run, m.Config.T, m.Net.Source(), m.Prep, m.FeatureDevice, m.Engine)
}

// PickModel returns the model named by name, or the most advanced model the
// run holds.
func PickModel(run, name string) (model.Kind, error) {
	if name != "" {
		return model.ParseKind(name)
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

// RunTagVecs reads the [T,E] tag vectors a Model 2 run was trained with.
func RunTagVecs(meta *model.Meta) ([]float32, error) {
	path := meta.Data.TagVec
	if path == "" {
		return nil, fmt.Errorf("the run records no tag-vector file, which model2 needs: use --model model1")
	}
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model2's tag vectors: %w (the run was trained with --tagvec %s; restore that file or use --model model1)", err, path)
	}
	if a.Dtype != "<f4" || len(a.Shape) != 2 || a.Shape[0] != meta.Config.T || a.Shape[1] != meta.Config.E {
		return nil, fmt.Errorf("tag vectors %s are %s %v, the model needs float32 [%d %d]", path, a.Dtype, a.Shape, meta.Config.T, meta.Config.E)
	}
	return a.F32, nil
}

// ParseRandomWeights recognises weights given as random:SEED.
func ParseRandomWeights(w string) (seed int64, ok bool, err error) {
	s, found := strings.CutPrefix(w, "random:")
	if !found {
		return 0, false, nil
	}
	seed, err = strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("--weights %q: want random:SEED with an integer seed", w)
	}
	return seed, true, nil
}

// FeatureNet rebuilds the VGG16 and preprocessing a run's features were
// computed with, as the run's metadata records them (weights, SHA-256,
// preprocessing, center crop, input size); the feature cache's manifest
// is read only for what runs trained before the metadata recorded it lack,
// so a run predicts without its cache. weights overrides the network (a
// file or random:SEED); its SHA-256 must match the one recorded.
func FeatureNet(src model.FeatureSource, weights string) (*vgg16.Net, imageprep.Config, error) {
	if src.Weights == "" || src.CenterCrop == nil || src.ImageSize == 0 || src.Preprocess == "" || src.Decoder == "" {
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
		return nil, imageprep.Config{}, fmt.Errorf("the run does not say which VGG16 weights its features used (its metadata records none and %s has no manifest.json): pass --weights FILE or random:SEED", src.Path)
	}
	cfg := vgg16.VGG16()
	cfg.InputSize = size
	var net *vgg16.Net
	seed, random, err := ParseRandomWeights(weights)
	switch {
	case err != nil:
		return nil, imageprep.Config{}, err
	case random:
		net, err = vgg16.NewRandomConfig(cfg, seed)
	default:
		if _, statErr := os.Stat(weights); statErr != nil {
			return nil, imageprep.Config{}, fmt.Errorf("VGG16 weights %s: %w; pass the file the run's features were computed with as --weights FILE", weights, statErr)
		}
		net, err = vgg16.LoadConfig(weights, cfg)
	}
	if err != nil {
		return nil, imageprep.Config{}, err
	}
	if want := src.WeightsSHA256; want != "" && net.SHA256() != want {
		return nil, imageprep.Config{}, fmt.Errorf("VGG16 %s has SHA-256 %.12s…, but the run was trained on features from weights %.12s…: pass those weights with --weights", net.Source(), net.SHA256(), want)
	}
	if mode == "" {
		mode = net.Preprocess()
	}
	// Decode as the features were decoded: `features --full-decode` records
	// a decoder named "... full" (imageprep.Config.Decoder).
	full := strings.HasSuffix(src.Decoder, " full")
	prep := imageprep.Config{Mode: mode, Size: size, CenterCrop: crop, FullDecode: full}
	return net, prep, prep.Validate()
}
