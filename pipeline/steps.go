package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"tagimp/data/coco"
	"tagimp/data/features"
	"tagimp/data/imageprep"
	"tagimp/data/labels"
	"tagimp/data/nouns"
	"tagimp/data/npy"
	"tagimp/data/ppmi"
	"tagimp/data/wordvec"
	"tagimp/model"
	"tagimp/model/cpu"
	"tagimp/model/metrics"
	"tagimp/model/vgg16"
	"tagimp/tagger"
)

// Folders and files under the output folder.
const (
	LabelsDir   = "labels"
	FeaturesDir = "features"
	RunDir      = "run"
	TagVecFile  = "labels/tagvec.npy"
)

// Engines says where fc7 and the models are computed.
type Engines struct {
	// NewExtractor wraps VGG16 for the feature device and records in meta
	// what the cache must say about it (a GPU's precision, name, cuDNN);
	// nil: the CPU.
	NewExtractor func(net *vgg16.Net, meta *features.Meta) (features.Extractor, string, error)
	// Factory builds the models' engine; nil: the CPU engine.
	Factory model.Factory
	// Engine names the models' engine (recorded in the runs' metadata).
	Engine string
}

func (e Engines) withDefaults() Engines {
	if e.Factory == nil {
		e.Factory = cpu.New
		if e.Engine == "" {
			e.Engine = "cpu (" + cpu.BLAS + ")"
		}
	}
	if e.NewExtractor == nil {
		e.NewExtractor = func(net *vgg16.Net, _ *features.Meta) (features.Extractor, string, error) {
			return tagger.CPUExtractor{Net: net}, "cpu", nil
		}
	}
	return e
}

// Training holds the models' hyper-parameters that a pipeline sets.
type Training struct {
	Epochs, Batch, Hidden, Hidden2 int
	LR, Dropout, Threshold         float64
	ImpLossMask                    string
	Seed                           int64
	// CheckpointEvery saves every k epochs (and the last); 0 or 1: every
	// epoch.
	CheckpointEvery int
}

// Config returns the model.Config of kind for features of width d, t tags
// and word vectors of width e.
func (tr Training) Config(kind model.Kind, d, t, e int) model.Config {
	m := model.DefaultConfig(kind)
	m.D, m.T, m.E = d, t, e
	m.H, m.H2 = tr.Hidden, tr.Hidden2
	m.Epochs, m.Batch, m.LR = tr.Epochs, tr.Batch, tr.LR
	m.Seed, m.Threshold = tr.Seed, tr.Threshold
	m.Dropout = tr.Dropout
	m.ImpLossMask = tr.ImpLossMask
	if kind != model.Model2 {
		m.E, m.H2 = 0, 0 // as train writes them
	}
	return m
}

// runner carries what every stage of one pipeline invocation shares.
type runner struct {
	ctx    context.Context
	out    string
	st     *stages
	hooks  Hooks
	eng    Engines
	caps   *coco.Captions // read once, on demand
	capsOf string
}

func newRunner(ctx context.Context, out string, h Hooks, eng Engines) (*runner, error) {
	st, err := openStages(out, h)
	if err != nil {
		return nil, err
	}
	return &runner{ctx: ctx, out: out, st: st, hooks: h, eng: eng.withDefaults()}, nil
}

func (r *runner) captions(path string) (*coco.Captions, error) {
	if r.caps != nil && r.capsOf == path {
		return r.caps, nil
	}
	up, fin := r.hooks.progress("caption bytes", -1)
	caps, err := coco.Read(path, up)
	fin()
	if err != nil {
		return nil, err
	}
	r.caps, r.capsOf = caps, path
	return caps, nil
}

// LabelSpec says how the vocabulary, labels and split are made.
type LabelSpec struct {
	Captions string
	MinCount int
	// Train and Test are the split's sizes; with Train 0, TrainShare of
	// the images are training images and the rest test images.
	Train, Test int
	TrainShare  float64
	Seed        int64
	// OnTrain counts the tags over the training images' captions only
	// (the paper); otherwise over every image's.
	OnTrain bool
	// Words labels as the vocab command does (capitalised words learnt
	// from the counted captions, proper nouns folded into their common
	// lemma, lemmas whose noun share is below NounShare dropped); otherwise
	// every noun lemma of the tagger counts (the demo's labels).
	Words     bool
	NounShare float64
}

// Labeled is the result of the labels stage, read back from LabelsDir.
type Labeled struct {
	Vocab  *labels.Vocab
	Set    *labels.Set
	Splits *labels.Splits
	Tags   []string
}

// labels runs the vocabulary stage (nouns → vocabulary, labels, split).
func (r *runner) labels(spec LabelSpec) (*Labeled, error) {
	capsHash, err := fileHash(spec.Captions)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(r.out, LabelsDir)
	err = r.st.run("vocab", struct {
		Captions string
		Spec     LabelSpec
	}{capsHash, LabelSpec{MinCount: spec.MinCount, Train: spec.Train, Test: spec.Test, TrainShare: spec.TrainShare, Seed: spec.Seed,
		OnTrain: spec.OnTrain, Words: spec.Words, NounShare: spec.NounShare}},
		func() error {
			caps, err := r.captions(spec.Captions)
			if err != nil {
				return err
			}
			tg, err := nouns.NewTagger()
			if err != nil {
				return err
			}
			texts, _ := caps.Flat()
			nTrain, nTest := spec.Train, spec.Test
			if nTrain == 0 {
				nTrain = int(float64(len(caps.IDs))*spec.TrainShare + 0.5)
			}
			splits, err := labels.MakeSplits(caps.IDs, nTrain, nTest, spec.Seed)
			if err != nil {
				return fmt.Errorf("split: %w", err)
			}
			var count []int64
			if spec.OnTrain {
				count = splits.Train
			}
			var vocab *labels.Vocab
			var set *labels.Set
			if spec.Words {
				// As the vocab command: case is learnt from the captions
				// that choose the vocabulary.
				caseTexts := texts
				if count != nil {
					caseTexts = caps.TextsOf(count)
				}
				tg.LearnCase(caseTexts)
				up, fin := r.hooks.progress("captions", len(texts))
				words := tg.WordsAll(texts, 0, up)
				fin()
				var dropped []labels.Dropped
				vocab, set, dropped, err = labels.BuildWords(caps, words, labels.Options{MinCount: spec.MinCount, NounShare: spec.NounShare, Count: count})
				if err != nil {
					return err
				}
				for _, d := range dropped {
					r.hooks.logf("not a tag: %v", d)
				}
			} else {
				up, fin := r.hooks.progress("captions", len(texts))
				nn := tg.NounsAll(texts, 0, up)
				fin()
				if vocab, set, err = labels.BuildOn(caps, nn, spec.MinCount, count); err != nil {
					return err
				}
			}
			if len(vocab.Tags) == 0 {
				return fmt.Errorf("no noun appears in %d captions of %s; lower --min-count", spec.MinCount, spec.Captions)
			}
			return labels.WriteDir(dir, vocab, set, splits)
		},
		func() []string {
			return []string{filepath.Join(LabelsDir, "vocab.json"), filepath.Join(LabelsDir, "labels.npz"), filepath.Join(LabelsDir, "splits.json")}
		})
	if err != nil {
		return nil, err
	}
	l := &Labeled{}
	if l.Vocab, err = labels.ReadVocab(filepath.Join(dir, "vocab.json")); err != nil {
		return nil, err
	}
	if l.Set, err = labels.Read(dir); err != nil {
		return nil, err
	}
	if l.Splits, err = labels.ReadSplits(dir); err != nil {
		return nil, err
	}
	l.Tags = l.Vocab.Names()
	return l, nil
}

// NetSpec says which VGG16 computes the features.
type NetSpec struct {
	// Weights is a .pth/.npz file or random:SEED; "" means random:Seed.
	Weights string
	Seed    int64
	// InputSize is the input side for random weights (real weights use
	// 224).
	InputSize  int
	CenterCrop bool
}

// Net builds the VGG16 of spec with the features.Meta it records.
func (spec NetSpec) Net() (*vgg16.Net, features.Meta, error) {
	meta := features.Meta{Backbone: "vgg16-fc7"}
	seed := spec.Seed
	if w := spec.Weights; w != "" {
		s, isRandom, err := tagger.ParseRandomWeights(w)
		if err != nil {
			return nil, meta, err
		}
		if !isRandom {
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
	if spec.InputSize > 0 {
		cfg.InputSize = spec.InputSize
	}
	net, err := vgg16.NewRandomConfig(cfg, seed)
	if err != nil {
		return nil, meta, fmt.Errorf("input size %d: %w", cfg.InputSize, err)
	}
	meta.Weights, meta.WeightsSHA256 = "random:"+strconv.FormatInt(seed, 10), net.SHA256()
	return net, meta, nil
}

// Featured is the result of the features stage.
type Featured struct {
	Matrix *features.Matrix
	Meta   features.Meta
	Device string
	Prep   imageprep.Config
	// Failed lists the images that gave no features, with the reason.
	Failed []features.Failure
}

// features runs VGG16 over images into FeaturesDir; the cache's manifest
// decides what is already done.
func (r *runner) features(spec NetSpec, imagesDir string, images []features.Image, batch int) (*Featured, error) {
	var f Featured
	err := r.st.timed("features", func() error {
		net, meta, err := spec.Net()
		if err != nil {
			return err
		}
		r.hooks.logf("VGG16: %s (sha256 %.12s), input %d×%d", meta.Weights, meta.WeightsSHA256, net.Config().InputSize, net.Config().InputSize)
		prep := imageprep.Config{Mode: net.Preprocess(), Size: net.Config().InputSize, CenterCrop: spec.CenterCrop}
		meta.Preprocess, meta.ImageSize, meta.CenterCrop, meta.Decoder = prep.Mode, prep.Size, prep.CenterCrop, prep.Decoder()
		ex, device, err := r.eng.NewExtractor(net, &meta)
		if err != nil {
			return err
		}
		dir := filepath.Join(r.out, FeaturesDir)
		up, fin := r.hooks.progress("images", len(images))
		cfg := features.Config{Out: dir, ImagesDir: imagesDir, Images: images, Meta: meta, Batch: batch, Progress: up}
		cfg.UseExtractor(ex, prep) // the GPU preprocesses on the device
		sum, err := features.Build(r.ctx, cfg)
		fin()
		if err != nil {
			return err
		}
		if sum.Computed == 0 {
			r.st.Skipped = append(r.st.Skipped, "features")
			r.hooks.logf("features: all %d shards kept from an earlier run (manifest %s)", sum.Reused, sum.ManifestPath)
		}
		m, err := features.Load(dir)
		if err != nil {
			return err
		}
		f = Featured{Matrix: m, Meta: meta, Device: device, Prep: prep, Failed: sum.Manifest.Failed}
		r.hooks.logf("fc7 of %d images (%d-d) on %s, %s; %d failed", len(m.IDs), m.Dim, device, prep, sum.Failed)
		return nil
	})
	return &f, err
}

// VectorSpec says where the tag vectors come from: a word-vector file, or
// PPMI + SVD of the captions.
type VectorSpec struct {
	File     string
	Dim      int    // PPMI width
	Captions string // captions for PPMI
}

// tagVectors runs the tag-vector stage into TagVecFile.
func (r *runner) tagVectors(spec VectorSpec, tags []string) (vecs []float32, dim int, source string, err error) {
	in := struct {
		Spec VectorSpec
		Hash string
		Tags []string
	}{Spec: spec, Tags: tags}
	src := spec.File
	if src == "" {
		src = spec.Captions
	}
	if in.Hash, err = fileHash(src); err != nil {
		return nil, 0, "", err
	}
	in.Spec.File, in.Spec.Captions = filepath.Base(spec.File), ""
	path := filepath.Join(r.out, TagVecFile)
	err = r.st.run("tagvec", in, func() error {
		var v []float32
		var d int
		if spec.File != "" {
			tab, err := wordvec.Load(spec.File, tags, wordvec.Options{})
			if err != nil {
				return err
			}
			if len(tab.Missing) > 0 {
				r.hooks.logf("%d tags have no vector in %s (zero rows): %v", len(tab.Missing), spec.File, tab.Missing)
			}
			v, d = tab.Vectors, tab.Dim
		} else {
			caps, err := r.captions(spec.Captions)
			if err != nil {
				return err
			}
			texts, _ := caps.Flat()
			docs := make([][]string, len(texts))
			for i, s := range texts {
				docs[i] = ppmi.Tokenize(s)
			}
			if v, err = ppmi.Vectors(docs, tags, spec.Dim); err != nil {
				return err
			}
			d = spec.Dim
		}
		return npy.WriteFile(path, npy.F32(v, len(tags), d))
	}, func() []string { return []string{TagVecFile} })
	if err != nil {
		return nil, 0, "", err
	}
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, 0, "", err
	}
	if a.Dtype != "<f4" || len(a.Shape) != 2 || a.Shape[0] != len(tags) {
		return nil, 0, "", fmt.Errorf("%s is %s %v, want float32 [%d, E]", path, a.Dtype, a.Shape, len(tags))
	}
	source = spec.File
	if source == "" {
		source = fmt.Sprintf("ppmi+svd of the captions (%d-d)", spec.Dim)
	}
	return a.F32, a.Shape[1], source, nil
}

// Trained is the result of the training stage.
type Trained struct {
	Train, Test *model.Data
	Metas       []*model.Meta // baseline, model1, model2
	Config      model.Config  // the last model's
}

// train trains the three models into RunDir; each run's checkpoint
// metadata decides what is done (a finished model returns at once, an
// unfinished one resumes).
func (r *runner) train(tr Training, l *Labeled, f *Featured, tagVecs []float32, dim int) (*Trained, error) {
	res := &Trained{}
	err := r.st.timed("train", func() error {
		feat, lab := f.Matrix, l.Set
		T := len(l.Tags)
		trainIDs, testIDs := l.Splits.Train, l.Splits.Test
		var dropped model.Dropped
		trainIDs, dropped = model.DropFailed("training", trainIDs, f.Failed)
		if dropped.Count > 0 {
			r.hooks.logf("warning: %s", dropped)
		}
		testIDs, dropped = model.DropFailed("test", testIDs, f.Failed)
		if dropped.Count > 0 {
			r.hooks.logf("warning: %s", dropped)
		}
		var err error
		if res.Train, err = model.Join("train", trainIDs, feat.IDs, feat.Rows, feat.Dim, lab.IDs, lab.Presence, lab.Importance, T); err != nil {
			return err
		}
		if res.Test, err = model.Join("test", testIDs, feat.IDs, feat.Rows, feat.Dim, lab.IDs, lab.Presence, lab.Importance, T); err != nil {
			return err
		}
		absFeat, _ := filepath.Abs(filepath.Join(r.out, FeaturesDir))
		absLabels, _ := filepath.Abs(filepath.Join(r.out, LabelsDir))
		absVec, _ := filepath.Abs(filepath.Join(r.out, TagVecFile))
		source := model.DataSource{
			Labels: absLabels, Splits: filepath.Join(absLabels, "splits.json"), TagVec: absVec,
			Features: model.NewFeatureSource(absFeat, feat.Dim, f.Meta),
			NTrain:   res.Train.N, NTest: res.Test.N,
		}
		runDir := filepath.Join(r.out, RunDir)
		finished := 0
		for _, kind := range model.Kinds {
			cfg := tr.Config(kind, feat.Dim, T, dim)
			res.Config = cfg
			if m, err := model.ReadMeta(runDir, kind); err == nil && m.Epoch >= cfg.Epochs {
				finished++
			}
			up, fin := r.hooks.progress(string(kind)+" epochs", cfg.Epochs)
			m, err := model.Train(&model.Run{
				Dir: runDir, Config: cfg, Tags: l.Tags, TagVecs: tagVecs, Train: res.Train, Test: res.Test,
				Source: source, Device: r.eng.Engine, Factory: r.eng.Factory,
				Log:             func(msg string) { r.hooks.logf("%s: %s", kind, msg) },
				CheckpointEvery: tr.CheckpointEvery,
				OnEpoch: func(m *model.Meta) {
					up(m.Epoch, m.Config.Epochs)
					// Drawing the curves costs about as much as an epoch
					// of a small model: every 10th epoch and the last.
					if m.Epoch%10 != 0 && m.Epoch != m.Config.Epochs {
						return
					}
					if err := WriteCurves(runDir, m); err != nil {
						r.hooks.logf("warning: %v", err)
					}
				},
			})
			fin()
			if err != nil {
				return err
			}
			res.Metas = append(res.Metas, m)
		}
		if finished == len(model.Kinds) {
			r.st.Skipped = append(r.st.Skipped, "train")
			r.hooks.logf("train: the three models were already trained (%s)", runDir)
		}
		return nil
	})
	return res, err
}

// ChanceDefinition says what the chance row of the results is.
const ChanceDefinition = "pixel-blind prior: every test image gets each tag's training frequency as probability and the tag's mean training importance where present as importance"

// ChanceReport scores the pixel-blind prior on the test images: every
// image gets each tag's training frequency as its probability and the tag's
// mean training importance over the images that hold it as its importance
// (the best constant for the importance error, which is measured on the true
// tags only).
func ChanceReport(train, test *model.Data, threshold float64) (metrics.Report, error) {
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
		return rep, fmt.Errorf("chance: %w", err)
	}
	rep.Model = "chance"
	return rep, nil
}
