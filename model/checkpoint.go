package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"tagimp/data/atomicfile"
	"tagimp/data/features"
	"tagimp/data/npy"
	"tagimp/model/metrics"
)

// CheckpointFormat names the layout written by SaveCheckpoint: the
// metadata names the parameter and optimizer files of the epoch it commits
// (Meta.Files). LoadCheckpoint also reads LegacyCheckpointFormat, whose
// files have fixed names (<model>.npz, <model>.opt.npz).
const CheckpointFormat = "tagimp-checkpoint/2"

// LegacyCheckpointFormat is the layout of runs written before
// CheckpointFormat: parameters in <model>.npz and optimizer state in
// <model>.opt.npz, overwritten in place at every save.
const LegacyCheckpointFormat = "tagimp-checkpoint/1"

// FeatureSource records where a run's features came from: enough to
// recompute them from images without the cache (the VGG16 weights by name
// and SHA-256, the preprocessing, the center crop and the input size) and
// to tell whether another cache holds the same kind of features
// (Mismatch).
type FeatureSource struct {
	Path     string `json:"path"`
	Dim      int    `json:"dim"`
	Backbone string `json:"backbone,omitempty"`
	// Weights is where the backbone's weights came from: a file name, or
	// "random:SEED" for generated weights (features.Meta.Weights).
	Weights       string `json:"weights,omitempty"`
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
	// Preprocess is the image preprocessing ("torchvision" or "caffe").
	Preprocess string `json:"preprocess,omitempty"`
	// CenterCrop is whether images were resized to 256 and center-cropped
	// to ImageSize (true) or resized to ImageSize (false); nil when the
	// run did not record it (bare .npy features, runs of
	// LegacyCheckpointFormat): then read the cache's manifest.
	CenterCrop *bool `json:"center_crop,omitempty"`
	ImageSize  int   `json:"image_size,omitempty"`
	// Precision is features.Meta.Precision: "" for the CPU path, else
	// "gpu-fp32" or "gpu-tf32"; another precision is another feature set.
	Precision string `json:"precision,omitempty"`
	// Decoder is features.Meta.Decoder (how JPEGs were decoded, e.g.
	// "libjpeg-turbo full"): prediction decodes the same way. Informational
	// for resume and eval.
	Decoder string `json:"decoder,omitempty"`
}

// NewFeatureSource describes features of width dim read from path with the
// extraction metadata m (zero for a bare .npy, which records none).
func NewFeatureSource(path string, dim int, m features.Meta) FeatureSource {
	s := FeatureSource{Path: path, Dim: dim, Backbone: m.Backbone, Weights: m.Weights,
		WeightsSHA256: m.WeightsSHA256, Preprocess: m.Preprocess, ImageSize: m.ImageSize, Precision: m.Precision,
		Decoder: m.Decoder}
	if m.Preprocess != "" {
		crop := m.CenterCrop
		s.CenterCrop = &crop
	}
	return s
}

// CompleteFeatureSource fills the fields of s that a cache's manifest
// records and s lacks (weights name, center crop), reading only
// <s.Path>/manifest.json; s is returned unchanged when Path is not a cache
// folder.
func CompleteFeatureSource(s FeatureSource) FeatureSource {
	st, err := os.Stat(s.Path)
	if err != nil || !st.IsDir() {
		return s
	}
	man, err := features.ReadManifest(filepath.Join(s.Path, "manifest.json"))
	if err != nil {
		return s
	}
	full := NewFeatureSource(s.Path, s.Dim, man.Meta)
	if s.Weights == "" {
		s.Weights = full.Weights
	}
	if s.CenterCrop == nil {
		s.CenterCrop = full.CenterCrop
	}
	for _, f := range []struct {
		dst *string
		v   string
	}{{&s.Backbone, full.Backbone}, {&s.WeightsSHA256, full.WeightsSHA256}, {&s.Preprocess, full.Preprocess}, {&s.Decoder, full.Decoder}} {
		if *f.dst == "" {
			*f.dst = f.v
		}
	}
	if s.ImageSize == 0 {
		s.ImageSize = full.ImageSize
	}
	return s
}

// HasProvenance reports whether s records how its features were computed
// (a feature cache does; a bare .npy does not).
func (s FeatureSource) HasProvenance() bool {
	return s.Backbone != "" || s.WeightsSHA256 != "" || s.Preprocess != ""
}

// Mismatch lists how the features described by got were computed
// differently from those of s, one phrase per field: width, backbone,
// weights SHA-256, preprocessing, center crop (compared when both record
// it) and image size. The path is not compared: the same features may have
// been moved. Empty when they match.
func (s FeatureSource) Mismatch(got FeatureSource) []string {
	var d []string
	str := func(v string) string {
		if v == "" {
			return "none recorded"
		}
		return fmt.Sprintf("%q", v)
	}
	if s.Dim != got.Dim {
		d = append(d, fmt.Sprintf("width %d, not %d", got.Dim, s.Dim))
	}
	if s.Backbone != got.Backbone {
		d = append(d, fmt.Sprintf("backbone %s, not %s", str(got.Backbone), str(s.Backbone)))
	}
	if s.WeightsSHA256 != got.WeightsSHA256 {
		d = append(d, fmt.Sprintf("weights SHA-256 %s (%s), not %s (%s)", str(shortHash(got.WeightsSHA256)), got.Weights, str(shortHash(s.WeightsSHA256)), s.Weights))
	}
	if s.Preprocess != got.Preprocess {
		d = append(d, fmt.Sprintf("preprocessing %s, not %s", str(got.Preprocess), str(s.Preprocess)))
	}
	if s.CenterCrop != nil && got.CenterCrop != nil && *s.CenterCrop != *got.CenterCrop {
		d = append(d, fmt.Sprintf("center crop %v, not %v", *got.CenterCrop, *s.CenterCrop))
	}
	if s.ImageSize != got.ImageSize {
		d = append(d, fmt.Sprintf("image size %d, not %d", got.ImageSize, s.ImageSize))
	}
	if s.Precision != got.Precision {
		prec := func(v string) string {
			if v == "" {
				return "the CPU path's"
			}
			return fmt.Sprintf("%q", v)
		}
		d = append(d, fmt.Sprintf("precision %s, not %s", prec(got.Precision), prec(s.Precision)))
	}
	return d
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// IDsSHA256 identifies a set of image ids: the SHA-256 (hex) of the ids
// sorted ascending, each as 8 little-endian bytes. The order of ids does
// not matter.
func IDsSHA256(ids []int64) string {
	s := slices.Clone(ids)
	slices.Sort(s)
	h := sha256.New()
	var b [8]byte
	for _, id := range s {
		binary.LittleEndian.PutUint64(b[:], uint64(id))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DataSource records the inputs of a run, so that eval can reload them and
// a resumed run or an evaluation can tell whether it is given the same
// data.
type DataSource struct {
	Labels     string        `json:"labels"`
	TestLabels string        `json:"test_labels,omitempty"`
	Splits     string        `json:"splits,omitempty"`
	TagVec     string        `json:"tagvec,omitempty"`
	Features   FeatureSource `json:"features"`
	NTrain     int           `json:"n_train"`
	NTest      int           `json:"n_test"`
	// TrainIDsSHA256 and TestIDsSHA256 identify the images of the
	// training and test splits (IDsSHA256); Train fills them from its
	// data. Empty in runs written before they were recorded.
	TrainIDsSHA256 string `json:"train_ids_sha256,omitempty"`
	TestIDsSHA256  string `json:"test_ids_sha256,omitempty"`
	// NVal and ValIDsSHA256 describe the validation split (splits.json's
	// "val", from tagimp-gpu vocab --val); zero without one.
	NVal         int    `json:"n_val,omitempty"`
	ValIDsSHA256 string `json:"val_ids_sha256,omitempty"`
	// TagVecMissing lists tags without a word vector (zero vectors).
	TagVecMissing []string `json:"tagvec_missing,omitempty"`
}

// CheckEval checks the data given to evaluate a run that was trained on d:
// the features (got) must have been computed as the run's were — the same
// backbone, weights, preprocessing, center crop, image size and width
// (FeatureSource.Mismatch), or, when the run's features were a bare .npy
// that records none of this, the same file. The test images (testIDs)
// must be those the run was validated on, unless otherTestSet says the
// caller chose another test set deliberately (other labels); runs that
// predate the id hash are not checked for ids. The error is one line that
// says what differs and the fix; callers prefix the run.
func (d DataSource) CheckEval(got FeatureSource, testIDs []int64, otherTestSet bool) error {
	was := d.Features
	diffs := was.Mismatch(got)
	if !was.HasProvenance() && !got.HasProvenance() && filepath.Clean(was.Path) != filepath.Clean(got.Path) {
		diffs = append(diffs, fmt.Sprintf("the run's features %s are a bare .npy that records no provenance, so only that file can be checked", was.Path))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("features %s were computed differently from those the run was trained on (%s): %s; evaluate with features of the same weights and preprocessing (tagimp-gpu features), e.g. the run's own --features %s",
			got.Path, was.Path, strings.Join(diffs, "; "), was.Path)
	}
	if !otherTestSet && d.TestIDsSHA256 != "" && IDsSHA256(testIDs) != d.TestIDsSHA256 {
		return fmt.Errorf("the test images of %s (%d) are not the %d the run was validated on: the labels, their split or the images the feature cache lists as failed changed since training; evaluate with the labels it was trained on, or pass --labels/--test-labels to evaluate on another test set deliberately",
			d.labelDesc(), len(testIDs), d.NTest)
	}
	return nil
}

// labelDesc names the labels that gave a run's test split.
func (d DataSource) labelDesc() string {
	if d.TestLabels != "" {
		return d.TestLabels
	}
	return d.Labels
}

// CheckpointFiles names the files of one committed checkpoint, relative to
// the run folder.
type CheckpointFiles struct {
	// Params is the parameters (.npz of named float32 arrays).
	Params string `json:"params"`
	// Opt is the optimizer state: "m.NAME" and "v.NAME" per parameter and
	// an int64 "step".
	Opt string `json:"opt"`
	// ParamsSHA256 and OptSHA256 are the SHA-256 (hex) of the two files
	// as saved; LoadCheckpoint checks them, so a file changed on disk
	// afterwards (bit rot, an edit in place) is refused. Empty in runs
	// saved before they were recorded (not checked then).
	ParamsSHA256 string `json:"params_sha256,omitempty"`
	OptSHA256    string `json:"opt_sha256,omitempty"`
}

// EpochRecord is one line of a run's history.
type EpochRecord struct {
	Epoch   int            `json:"epoch"`
	Loss    Losses         `json:"loss"`
	Seconds float64        `json:"seconds"`
	Val     metrics.Report `json:"val"`
	// Split names the images Val was scored on: "validation" (the split
	// of vocab --val) or "test" (runs without a validation split, as the
	// paper has none).
	Split string `json:"split,omitempty"`
}

// ParamShape is one entry of Meta.Shapes.
type ParamShape struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// Meta is a checkpoint's JSON metadata (RUN/<model>.json).
type Meta struct {
	Format string       `json:"format"`
	Config Config       `json:"config"`
	Tags   []string     `json:"tags"`
	Shapes []ParamShape `json:"shapes"`
	// Epoch is the number of epochs completed, Step the number of
	// optimizer steps taken.
	Epoch int   `json:"epoch"`
	Step  int64 `json:"step"`
	// Files names the parameter and optimizer files this metadata commits
	// (empty in LegacyCheckpointFormat).
	Files   CheckpointFiles `json:"files"`
	Device  string          `json:"device"`
	Data    DataSource      `json:"data"`
	Metrics metrics.Report  `json:"metrics"`
	// Theta is the θ chosen on the validation split (train
	// --choose-threshold); nil keeps Config.Threshold.
	Theta   *ThetaChoice  `json:"theta_choice,omitempty"`
	History []EpochRecord `json:"history"`
	Saved   time.Time     `json:"saved"`
}

// CheckpointPaths returns the fixed names of kind's checkpoint in dir: the
// numpy-readable parameters (<model>.npz: a copy of the parameters of the
// last committed checkpoint), the
// optimizer state of LegacyCheckpointFormat runs (<model>.opt.npz; newer
// runs name theirs in Meta.Files) and the metadata (<model>.json).
func CheckpointPaths(dir string, kind Kind) (params, opt, meta string) {
	base := filepath.Join(dir, string(kind))
	return base + ".npz", base + ".opt.npz", base + ".json"
}

// saveFault, when set (by tests), is called after each stage of
// SaveCheckpoint ("params", "opt", "meta", "published", "cleaned"); an error
// stops the save there, as if the process had been killed.
var saveFault func(stage string) error

func afterStage(stage string) error {
	if saveFault != nil {
		return saveFault(stage)
	}
	return nil
}

// SaveCheckpoint writes st and m as kind's checkpoint in dir so that a
// crash at any point leaves a loadable checkpoint, the new one or the one
// before:
//
//  1. the parameters and the optimizer state go to files named after the
//     epoch (<model>.e0007.npz, <model>.e0007.opt.npz), each written
//     atomically, never over the files of the committed checkpoint;
//  2. the metadata <model>.json, which names them (Meta.Files), is written
//     atomically: this is the commit point;
//  3. <model>.npz, the numpy-readable parameters at a fixed name, is
//     replaced (atomically) by a copy of the new parameters;
//  4. the files of superseded checkpoints, and of saves interrupted
//     before step 2, are deleted.
//
// LoadCheckpoint follows the metadata, so a crash before step 2 loads the
// previous epoch, after it the new one. A crash between steps 2 and 3
// leaves <model>.npz one epoch behind until the next save or resume
// (Train refreshes it).
func SaveCheckpoint(dir string, m *Meta, st *State) error {
	if err := st.Check(m.Config); err != nil {
		return fmt.Errorf("save checkpoint in %s: %w", dir, err)
	}
	kind := m.Config.Kind
	_, _, mPath := CheckpointPaths(dir, kind)
	files := newFiles(kind, m.Epoch, committedFiles(mPath))
	next := *m
	next.Format = CheckpointFormat
	next.Files = files
	next.Step = st.Step
	next.Shapes = nil
	var params, opt []npy.NamedArray
	for i, t := range st.Params.Tensors {
		next.Shapes = append(next.Shapes, ParamShape{t.Name, t.Shape})
		params = append(params, npy.NamedArray{Name: t.Name, Array: npy.F32(t.Data, t.Shape...)})
		opt = append(opt,
			npy.NamedArray{Name: "m." + t.Name, Array: npy.F32(st.M.Tensors[i].Data, t.Shape...)},
			npy.NamedArray{Name: "v." + t.Name, Array: npy.F32(st.V.Tensors[i].Data, t.Shape...)})
	}
	opt = append(opt, npy.NamedArray{Name: "step", Array: npy.I64([]int64{st.Step}, 1)})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := npy.WriteNPZ(filepath.Join(dir, files.Params), params...); err != nil {
		return fmt.Errorf("save parameters: %w", err)
	}
	if err := afterStage("params"); err != nil {
		return err
	}
	if err := npy.WriteNPZ(filepath.Join(dir, files.Opt), opt...); err != nil {
		return fmt.Errorf("save optimizer state: %w", err)
	}
	if err := afterStage("opt"); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		sum  *string
	}{{files.Params, &next.Files.ParamsSHA256}, {files.Opt, &next.Files.OptSHA256}} {
		h, err := features.FileSHA256(filepath.Join(dir, f.name))
		if err != nil {
			return fmt.Errorf("save checkpoint: %w", err)
		}
		*f.sum = h
	}
	// The new files must be on disk before the metadata that names them.
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	next.Saved = time.Now().UTC()
	err := atomicfile.WriteFile(mPath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(&next)
	})
	if err != nil {
		return fmt.Errorf("save checkpoint metadata: %w", err)
	}
	*m = next
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	if err := afterStage("meta"); err != nil {
		return err
	}
	if err := publishParams(dir, kind, files); err != nil {
		return fmt.Errorf("checkpoint of epoch %d saved (%s), but %w", m.Epoch, mPath, err)
	}
	if err := afterStage("published"); err != nil {
		return err
	}
	removeSuperseded(dir, kind, files)
	return afterStage("cleaned")
}

// newFiles names the files of a checkpoint of epoch, never those of the
// committed checkpoint (a second save of the same epoch gets a suffix).
func newFiles(kind Kind, epoch int, committed CheckpointFiles) CheckpointFiles {
	base := fmt.Sprintf("%s.e%04d", kind, epoch)
	if committed.Params == base+".npz" || committed.Opt == base+".opt.npz" {
		base += ".1"
	}
	return CheckpointFiles{Params: base + ".npz", Opt: base + ".opt.npz"}
}

// committedFiles returns the files named by the metadata at mPath, if any.
func committedFiles(mPath string) CheckpointFiles {
	var m struct {
		Files CheckpointFiles `json:"files"`
	}
	if b, err := os.ReadFile(mPath); err == nil {
		json.Unmarshal(b, &m)
	}
	return m.Files
}

// publishParams makes <model>.npz an atomic copy of the parameters of
// files. A copy rather than a hard link: a user who saves over <model>.npz
// in place must not change the committed checkpoint.
func publishParams(dir string, kind Kind, files CheckpointFiles) error {
	src := filepath.Join(dir, files.Params)
	stable, _, _ := CheckpointPaths(dir, kind)
	err := atomicfile.WriteFile(stable, func(w io.Writer) error {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("update %s: %w", stable, err)
	}
	return nil
}

// removeSuperseded deletes kind's epoch files other than keep, the
// optimizer state of a legacy checkpoint, and temporary files left by
// interrupted saves. Errors are ignored: leftovers only cost disk space and
// go at the next save.
func removeSuperseded(dir string, kind Kind, keep CheckpointFiles) {
	k := string(kind)
	epochFiles, _ := filepath.Glob(filepath.Join(dir, k+".e[0-9]*.npz"))
	temps := runTemps(dir, kind)
	_, legacyOpt, _ := CheckpointPaths(dir, kind)
	for _, p := range append(append(epochFiles, temps...), legacyOpt) {
		if b := filepath.Base(p); b != keep.Params && b != keep.Opt {
			os.Remove(p)
		}
	}
}

// runTemps lists the temporary files that writes of kind's files into dir
// leave when killed: checkpoints (.<model>.*tmp*) and the history and
// curves (.<model>-history.csv.tmp-*, .<model>-curves.png.tmp-*).
func runTemps(dir string, kind Kind) []string {
	k := string(kind)
	a, _ := filepath.Glob(filepath.Join(dir, "."+k+".*tmp*"))
	b, _ := filepath.Glob(filepath.Join(dir, "."+k+"-*.tmp-*"))
	return append(a, b...)
}

// syncDir flushes dir's entries (renames, new files) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// ReadMeta reads kind's checkpoint metadata in dir. A missing file gives
// an error wrapping os.ErrNotExist.
func ReadMeta(dir string, kind Kind) (*Meta, error) {
	_, _, mPath := CheckpointPaths(dir, kind)
	b, err := os.ReadFile(mPath)
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w (the file is damaged; retrain or restore it)", mPath, err)
	}
	switch m.Format {
	case CheckpointFormat:
		for _, f := range []string{m.Files.Params, m.Files.Opt} {
			if f == "" || f != filepath.Base(f) || strings.HasPrefix(f, ".") {
				return nil, fmt.Errorf("read checkpoint %s: files %+v are not file names in the run folder (the file is damaged; retrain or restore it)", mPath, m.Files)
			}
		}
	case LegacyCheckpointFormat:
	default:
		return nil, fmt.Errorf("read checkpoint %s: format %q, this program reads %q and %q", mPath, m.Format, CheckpointFormat, LegacyCheckpointFormat)
	}
	if err := m.Config.Validate(); err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", mPath, err)
	}
	if len(m.Tags) != m.Config.T {
		return nil, fmt.Errorf("read checkpoint %s: %d tag names for T = %d", mPath, len(m.Tags), m.Config.T)
	}
	return &m, nil
}

// files returns the paths of the parameter and optimizer files m commits.
func (m *Meta) files(dir string) (params, opt string) {
	if m.Format == LegacyCheckpointFormat {
		params, opt, _ = CheckpointPaths(dir, m.Config.Kind)
		return params, opt
	}
	return filepath.Join(dir, m.Files.Params), filepath.Join(dir, m.Files.Opt)
}

// LoadOptions say what LoadCheckpointWith reads and checks.
type LoadOptions struct {
	// Opt also reads the optimizer state (needed to resume training; not
	// needed to predict).
	Opt bool
	// SkipChecksum does not compare the files with the SHA-256 the
	// metadata records (saves reading them twice; for very large files).
	SkipChecksum bool
}

// LoadCheckpoint reads kind's checkpoint in dir: the metadata, then the
// files it names, checked against the SHA-256 the metadata records. With
// withOpt it also reads the optimizer state (needed to resume training;
// not needed to predict) and checks that its step matches the metadata.
func LoadCheckpoint(dir string, kind Kind, withOpt bool) (*Meta, *State, error) {
	return LoadCheckpointWith(dir, kind, LoadOptions{Opt: withOpt})
}

// LoadCheckpointWith is LoadCheckpoint with options.
func LoadCheckpointWith(dir string, kind Kind, o LoadOptions) (*Meta, *State, error) {
	withOpt := o.Opt
	m, err := ReadMeta(dir, kind)
	if err != nil {
		return nil, nil, err
	}
	_, _, mPath := CheckpointPaths(dir, kind)
	pPath, oPath := m.files(dir)
	c := m.Config
	// Not %w: a missing file here is a damaged checkpoint, not an absent one.
	unreadable := func(what, path string, err error) error {
		return fmt.Errorf("read checkpoint %s: its %s %s cannot be read: %v (restore it, or delete %s* and train again)", mPath, what, filepath.Base(path), err, filepath.Join(dir, string(kind)))
	}
	arrays, err := npy.ReadNPZ(pPath)
	if err != nil {
		return nil, nil, unreadable("parameters", pPath, err)
	}
	if !o.SkipChecksum {
		if err := m.verify(pPath, m.Files.ParamsSHA256, mPath); err != nil {
			return nil, nil, err
		}
	}
	st := &State{Step: m.Step}
	if st.Params, err = paramsFrom(arrays, c, "", pPath); err != nil {
		return nil, nil, err
	}
	if !withOpt {
		st.M, st.V = Zeros(c), Zeros(c)
		return m, st, nil
	}
	arrays, err = npy.ReadNPZ(oPath)
	if err != nil {
		return nil, nil, unreadable("optimizer state", oPath, err)
	}
	if !o.SkipChecksum {
		if err := m.verify(oPath, m.Files.OptSHA256, mPath); err != nil {
			return nil, nil, err
		}
	}
	if st.M, err = paramsFrom(arrays, c, "m.", oPath); err != nil {
		return nil, nil, err
	}
	if st.V, err = paramsFrom(arrays, c, "v.", oPath); err != nil {
		return nil, nil, err
	}
	s := arrays["step"]
	if s == nil || len(s.I64) != 1 {
		return nil, nil, fmt.Errorf("read optimizer state %s: no int64 \"step\" array", oPath)
	}
	if s.I64[0] != m.Step {
		return nil, nil, fmt.Errorf("checkpoint in %s is inconsistent: optimizer state at step %d, metadata at step %d (a save was interrupted; delete %s* to start over)", dir, s.I64[0], m.Step, filepath.Join(dir, string(kind)))
	}
	return m, st, nil
}

// verify compares the file at path with the SHA-256 want recorded in the
// metadata at mPath (nothing to compare when want is empty).
func (m *Meta) verify(path, want, mPath string) error {
	if want == "" {
		return nil
	}
	got, err := features.FileSHA256(path)
	if err != nil {
		return fmt.Errorf("read checkpoint %s: %v (restore it, or delete %s* and train again)", mPath, err, strings.TrimSuffix(mPath, ".json"))
	}
	if got != want {
		return fmt.Errorf("read checkpoint %s: %s has SHA-256 %.12s…, the checkpoint recorded %.12s…: the file changed after it was saved (bit rot or an edit); restore it or train again (--skip-checksum loads it anyway)",
			mPath, filepath.Base(path), got, want)
	}
	return nil
}

func paramsFrom(arrays map[string]*npy.Array, c Config, prefix, path string) (*Params, error) {
	p := &Params{}
	for _, s := range Specs(c) {
		a := arrays[prefix+s.Name]
		if a == nil {
			return nil, fmt.Errorf("read %s: no array %q (the file is not a %s checkpoint)", path, prefix+s.Name, c.Kind)
		}
		if a.Dtype != "<f4" || !slices.Equal(a.Shape, s.Shape) {
			return nil, fmt.Errorf("read %s: %q is %s %v, want <f4 %v", path, prefix+s.Name, a.Dtype, a.Shape, s.Shape)
		}
		p.Tensors = append(p.Tensors, &Tensor{Name: s.Name, Shape: append([]int(nil), s.Shape...), Data: a.F32})
	}
	if err := p.Check(c); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return p, nil
}

// IsNotExist reports whether err says a checkpoint is absent.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
