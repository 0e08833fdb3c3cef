package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"tagimp/data/atomicfile"
	"tagimp/data/npy"
	"tagimp/model/metrics"
)

// CheckpointFormat names the layout written by SaveCheckpoint.
const CheckpointFormat = "tagimp-checkpoint/1"

// FeatureSource records where a run's features came from.
type FeatureSource struct {
	Path          string `json:"path"`
	Dim           int    `json:"dim"`
	Backbone      string `json:"backbone,omitempty"`
	WeightsSHA256 string `json:"weights_sha256,omitempty"`
	Preprocess    string `json:"preprocess,omitempty"`
	ImageSize     int    `json:"image_size,omitempty"`
}

// DataSource records the inputs of a run, so that eval can reload them.
type DataSource struct {
	Labels     string        `json:"labels"`
	TestLabels string        `json:"test_labels,omitempty"`
	Splits     string        `json:"splits,omitempty"`
	TagVec     string        `json:"tagvec,omitempty"`
	Features   FeatureSource `json:"features"`
	NTrain     int           `json:"n_train"`
	NTest      int           `json:"n_test"`
	// TagVecMissing lists tags without a word vector (zero vectors).
	TagVecMissing []string `json:"tagvec_missing,omitempty"`
}

// EpochRecord is one line of a run's history.
type EpochRecord struct {
	Epoch   int            `json:"epoch"`
	Loss    Losses         `json:"loss"`
	Seconds float64        `json:"seconds"`
	Val     metrics.Report `json:"val"`
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
	Epoch   int            `json:"epoch"`
	Step    int64          `json:"step"`
	Device  string         `json:"device"`
	Data    DataSource     `json:"data"`
	Metrics metrics.Report `json:"metrics"`
	History []EpochRecord  `json:"history"`
	Saved   time.Time      `json:"saved"`
}

// CheckpointPaths returns the files of kind's checkpoint in dir: the
// parameters (.npz), the optimizer state (.opt.npz) and the metadata
// (.json).
func CheckpointPaths(dir string, kind Kind) (params, opt, meta string) {
	base := filepath.Join(dir, string(kind))
	return base + ".npz", base + ".opt.npz", base + ".json"
}

// SaveCheckpoint writes st and m as kind's checkpoint in dir. Each file is
// written atomically; the metadata, written last, is the commit point:
// LoadCheckpoint refuses a state whose step differs from the metadata's.
func SaveCheckpoint(dir string, m *Meta, st *State) error {
	if err := st.Check(m.Config); err != nil {
		return fmt.Errorf("save checkpoint in %s: %w", dir, err)
	}
	pPath, oPath, mPath := CheckpointPaths(dir, m.Config.Kind)
	m.Format = CheckpointFormat
	m.Step = st.Step
	m.Shapes = m.Shapes[:0]
	var params, opt []npy.NamedArray
	for i, t := range st.Params.Tensors {
		m.Shapes = append(m.Shapes, ParamShape{t.Name, t.Shape})
		params = append(params, npy.NamedArray{Name: t.Name, Array: npy.F32(t.Data, t.Shape...)})
		opt = append(opt,
			npy.NamedArray{Name: "m." + t.Name, Array: npy.F32(st.M.Tensors[i].Data, t.Shape...)},
			npy.NamedArray{Name: "v." + t.Name, Array: npy.F32(st.V.Tensors[i].Data, t.Shape...)})
	}
	opt = append(opt, npy.NamedArray{Name: "step", Array: npy.I64([]int64{st.Step}, 1)})
	if err := npy.WriteNPZ(oPath, opt...); err != nil {
		return fmt.Errorf("save optimizer state: %w", err)
	}
	if err := npy.WriteNPZ(pPath, params...); err != nil {
		return fmt.Errorf("save parameters: %w", err)
	}
	m.Saved = time.Now().UTC()
	err := atomicfile.WriteFile(mPath, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(m)
	})
	if err != nil {
		return fmt.Errorf("save checkpoint metadata: %w", err)
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
	if m.Format != CheckpointFormat {
		return nil, fmt.Errorf("read checkpoint %s: format %q, this program reads %q", mPath, m.Format, CheckpointFormat)
	}
	if err := m.Config.Validate(); err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", mPath, err)
	}
	if len(m.Tags) != m.Config.T {
		return nil, fmt.Errorf("read checkpoint %s: %d tag names for T = %d", mPath, len(m.Tags), m.Config.T)
	}
	return &m, nil
}

// LoadCheckpoint reads kind's checkpoint in dir. With withOpt it also reads
// the optimizer state (needed to resume training; not needed to predict)
// and checks that its step matches the metadata.
func LoadCheckpoint(dir string, kind Kind, withOpt bool) (*Meta, *State, error) {
	m, err := ReadMeta(dir, kind)
	if err != nil {
		return nil, nil, err
	}
	pPath, oPath, _ := CheckpointPaths(dir, kind)
	c := m.Config
	arrays, err := npy.ReadNPZ(pPath)
	if err != nil {
		return nil, nil, fmt.Errorf("read checkpoint: %w", err)
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
		return nil, nil, fmt.Errorf("read optimizer state: %w", err)
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

func paramsFrom(arrays map[string]*npy.Array, c Config, prefix, path string) (*Params, error) {
	p := &Params{}
	for _, s := range Specs(c) {
		a := arrays[prefix+s.Name]
		if a == nil {
			return nil, fmt.Errorf("read %s: no array %q (the file is not a %s checkpoint)", path, prefix+s.Name, c.Kind)
		}
		if a.Dtype != "<f4" || !sameShape(a.Shape, s.Shape) {
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
