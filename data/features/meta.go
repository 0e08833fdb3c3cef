package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"tagimp/data/atomicfile"
)

// Format names the manifest layout written by this package.
const Format = "tagimp-features/1"

// Meta says how the features were computed. Two caches can be mixed, and a
// model trained on one applied to the other, only when their Meta agree.
type Meta struct {
	Backbone      string `json:"backbone"`       // "vgg16-fc7": VGG16, fc7 after its ReLU
	Weights       string `json:"weights"`        // where the weights came from: file name, or "random:SEED"
	WeightsSHA256 string `json:"weights_sha256"` // SHA-256 of the weights (file hash, or of the generated tensors)
	Preprocess    string `json:"preprocess"`     // "torchvision" or "caffe"
	CenterCrop    bool   `json:"center_crop"`    // resize 256 then crop, instead of resize to ImageSize
	ImageSize     int    `json:"image_size"`     // network input side, 224
	// Precision is the arithmetic of the network: "" for the CPU path (FP32,
	// the reference; what every cache before the GPU path holds), or
	// "gpu-fp32" / "gpu-tf32". Features of another precision are other
	// features: a resume, a merge or a training run refuses to mix them.
	Precision string `json:"precision,omitempty"`
	// Device names the GPU and CuDNN the cuDNN library (version and file)
	// that computed a GPU cache; empty for the CPU path. Recorded so that a
	// resume continues with the same bytes, or refuses.
	Device string `json:"device,omitempty"`
	CuDNN  string `json:"cudnn,omitempty"`
	// Decoder names the JPEG decoder and scaling (imageprep.Config.Decoder,
	// e.g. "libjpeg-turbo dct-scaled"); empty in caches written before it
	// was recorded. Informational: Check does not compare it, but a resumed
	// or merged cache must keep one decoder throughout.
	Decoder string `json:"decoder,omitempty"`
}

// Check returns an error when m differs from want in any field that want
// sets (non-empty string, non-zero size; CenterCrop is compared when want
// names a preprocessing). The message names both values and the fix.
func (m Meta) Check(want Meta) error {
	var diffs []string
	cmp := func(field, got, exp string) {
		if exp != "" && got != exp {
			diffs = append(diffs, fmt.Sprintf("%s is %q, expected %q", field, got, exp))
		}
	}
	cmp("backbone", m.Backbone, want.Backbone)
	if want.WeightsSHA256 != "" && m.WeightsSHA256 != want.WeightsSHA256 {
		diffs = append(diffs, fmt.Sprintf("weights SHA-256 is %s (%s), expected %s (%s)",
			short(m.WeightsSHA256), m.Weights, short(want.WeightsSHA256), want.Weights))
	}
	cmp("preprocessing", m.Preprocess, want.Preprocess)
	if want.Preprocess != "" && m.CenterCrop != want.CenterCrop {
		diffs = append(diffs, fmt.Sprintf("center crop is %v, expected %v", m.CenterCrop, want.CenterCrop))
	}
	if want.ImageSize != 0 && m.ImageSize != want.ImageSize {
		diffs = append(diffs, fmt.Sprintf("image size is %d, expected %d", m.ImageSize, want.ImageSize))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: %s; recompute the features with the same weights and preprocessing (tagimp-gpu features), or use the cache that matches",
			ErrMetaMismatch, strings.Join(diffs, "; "))
	}
	return nil
}

// ErrMetaMismatch is wrapped by Meta.Check errors.
var ErrMetaMismatch = errors.New("features were computed differently")

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	if h == "" {
		return "(none)"
	}
	return h
}

// Manifest describes a cache folder. It is rewritten after every finished
// shard; Complete is set when all of the run's images are done.
type Manifest struct {
	Format string `json:"format"`
	Meta
	Dim       int    `json:"dim"`        // feature width (4096 for fc7)
	Dtype     string `json:"dtype"`      // "<f4"
	ShardRule string `json:"shard_rule"` // how images are split across machines
	// Shard is "K/N" for one machine's part, or "" for a merged cache.
	Shard string `json:"shard,omitempty"`
	// MergedFrom lists the parts ("K/N") a merged cache was joined from.
	MergedFrom []string `json:"merged_from,omitempty"`
	// MissingParts lists the parts "K/N" a merge did not have.
	MissingParts []string `json:"missing_parts,omitempty"`
	ShardSize    int      `json:"shard_size"` // images per shard file
	// ImageListSHA256 identifies the run's image list (ids and file names)
	// so a resumed run can tell it is the same job.
	ImageListSHA256 string      `json:"image_list_sha256,omitempty"`
	Images          int         `json:"images"` // images assigned, including failed ones
	Rows            int         `json:"rows"`   // feature rows written so far
	Complete        bool        `json:"complete"`
	Shards          []ShardFile `json:"shards"`
	Failed          []Failure   `json:"failed"`
	// Plan is what the GPU run that wrote the cache chose (nil on the CPU).
	Plan *Plan `json:"gpu_plan,omitempty"`
}

// Plan is what a GPU run chose that changes the bytes it writes beyond
// Meta: the batch and each convolution's cuDNN algorithm (measured at
// start-up, so it may differ from run to run). A resumed run reads it back
// and makes the same choices, so that it writes the bytes an uninterrupted
// run would have.
type Plan struct {
	Batch     int   `json:"batch"`
	ConvAlgos []int `json:"conv_algorithms"`
}

// String is the plan in a few words.
func (p *Plan) String() string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("batch %d, convolution algorithms %v", p.Batch, p.ConvAlgos)
}

func (p *Plan) equal(q *Plan) bool { return p.String() == q.String() }

// ShardFile is one pair of shard files.
type ShardFile struct {
	Index          int    `json:"index"`
	Features       string `json:"features"` // file name in the cache folder
	IDs            string `json:"ids"`
	Images         int    `json:"images"` // images assigned to the shard
	Rows           int    `json:"rows"`   // rows written (images minus failures)
	FeaturesSHA256 string `json:"features_sha256"`
	IDsSHA256      string `json:"ids_sha256"`
}

// Failure is an image that produced no features.
type Failure struct {
	ID     int64  `json:"id"`
	File   string `json:"file"`
	Shard  string `json:"shard"` // the shard file it belonged to
	Reason string `json:"reason"`
}

// ShardRule is the rule recorded in manifests.
const ShardRule = "image id mod N == K; images sorted by id, then cut into shard files of shard_size"

// ManifestName returns the manifest file name for part s of a run.
func ManifestName(s Shard) string {
	if s.N <= 1 {
		return "manifest.json"
	}
	return fmt.Sprintf("manifest-%dof%d.json", s.K, s.N)
}

// ReadManifest reads a manifest file.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read feature manifest: %w", err)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("%s: format %q, want %q", path, m.Format, Format)
	}
	for _, s := range m.Shards {
		for _, f := range []string{s.Features, s.IDs} {
			if f != filepath.Base(f) || f == "" || f == "." || f == ".." {
				return nil, fmt.Errorf("%s: shard file %q must be a plain file name in the cache folder", path, f)
			}
		}
	}
	return &m, nil
}

// write stores the manifest atomically, in a fixed key order and with the
// failures sorted, so that equal runs give equal bytes.
func (m *Manifest) write(path string) error {
	sort.Slice(m.Failed, func(i, j int) bool { return m.Failed[i].ID < m.Failed[j].ID })
	sort.Slice(m.Shards, func(i, j int) bool { return m.Shards[i].Features < m.Shards[j].Features })
	if m.Failed == nil {
		m.Failed = []Failure{}
	}
	if m.Shards == nil {
		m.Shards = []ShardFile{}
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(m); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}

// partManifests returns the manifest files in dir: manifest.json and/or
// manifest-KofN.json, sorted.
func partManifests(dir string) ([]string, error) {
	var out []string
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err == nil {
		out = append(out, filepath.Join(dir, "manifest.json"))
	}
	parts, err := filepath.Glob(filepath.Join(dir, "manifest-*of*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(parts)
	return append(out, parts...), nil
}
