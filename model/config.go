package model

import (
	"errors"
	"fmt"
	"math"
)

// Kind names one of the three models of the method.
type Kind string

// The three models (DESIGN.md §4–6).
const (
	// Baseline is the MLP D→H (ReLU, dropout)→T sigmoid trained with BCE;
	// its importance is the predicted tag probability.
	Baseline Kind = "baseline"
	// Model1 adds a second sigmoid head of T on the same trunk for the
	// importance, trained with MSE.
	Model1 Kind = "model1"
	// Model2 is Model 1 plus an importance MLP on concat(L2norm(fc7),
	// L2norm(WA)) whose output replaces Model 1's importance.
	Model2 Kind = "model2"
)

// Kinds lists the models in the order of the paper's Table 1.
var Kinds = []Kind{Baseline, Model1, Model2}

// ParseKind returns the Kind named s ("baseline", "model1" or "model2").
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown model %q: want baseline, model1 or model2", s)
}

// HasImportanceHead reports whether the model has the trunk's importance
// head (imp.*).
func (k Kind) HasImportanceHead() bool { return k == Model1 || k == Model2 }

// HasImportanceMLP reports whether the model has Model 2's importance MLP
// (imp2.*).
func (k Kind) HasImportanceMLP() bool { return k == Model2 }

// Importance-loss masks (Config.ImpLossMask).
const (
	// MaskAll averages the importance MSE over all batch×T entries.
	MaskAll = "all"
	// MaskTrue averages it over the ground-truth tags of the batch only.
	MaskTrue = "true"
)

// Config holds a model's shapes and training hyper-parameters. Every field
// is written into each checkpoint's metadata, defaults included.
type Config struct {
	Kind Kind `json:"model"`
	// D is the feature width (4096 for fc7), H the trunk's hidden width,
	// T the number of tags, E the word-vector width and H2 the hidden width
	// of Model 2's importance MLP.
	D  int `json:"d"`
	H  int `json:"h"`
	T  int `json:"t"`
	E  int `json:"e"`
	H2 int `json:"h2"`
	// Dropout is the drop probability of both hidden layers in training
	// (paper: 0.5).
	Dropout float64 `json:"dropout"`
	// LR, Beta1, Beta2 and Eps are Adam's hyper-parameters. The paper
	// names neither the optimiser nor its settings: Adam and its defaults
	// here are our choice.
	LR    float64 `json:"lr"`
	Beta1 float64 `json:"beta1"`
	Beta2 float64 `json:"beta2"`
	Eps   float64 `json:"eps"`
	// Seed drives initialisation, shuffling and dropout masks (ours).
	Seed int64 `json:"seed"`
	// Epochs and Batch: paper 50 and 32.
	Epochs int `json:"epochs"`
	Batch  int `json:"batch"`
	// Threshold is θ, in (0, 1): tags with probability ≥ θ are predicted
	// (Jaccard, Model 2's WA at test time). The paper does not state θ;
	// 0.5 is our default, and train --choose-threshold can choose it on a
	// validation split instead.
	Threshold float64 `json:"threshold"`
	// ImpLossMask is MaskAll or MaskTrue.
	ImpLossMask string `json:"imp_loss_mask"`
}

// DefaultConfig returns the default settings for kind at fc7 width with
// t left to fill in. From the paper: D = 4096 (fc7), H = H2 = 4096, E =
// 300 (word2vec), dropout 0.5, 50 epochs, batch 32. Our choices, because
// the paper gives none: Adam with lr 1e-4, betas (0.9, 0.999), eps 1e-8
// (PyTorch's and Keras's defaults but the learning rate), seed 1, θ = 0.5,
// importance loss over all entries.
func DefaultConfig(kind Kind) Config {
	return Config{
		Kind: kind, D: 4096, H: 4096, E: 300, H2: 4096,
		Dropout: 0.5, LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		Seed: 1, Epochs: 50, Batch: 32, Threshold: 0.5, ImpLossMask: MaskAll,
	}
}

// Validate reports the first field that makes c unusable.
func (c Config) Validate() error {
	if _, err := ParseKind(string(c.Kind)); err != nil {
		return err
	}
	check := []struct {
		name string
		v    int
		need bool
	}{
		{"feature width D", c.D, true},
		{"hidden width H", c.H, true},
		{"tag count T", c.T, true},
		{"word-vector width E", c.E, c.Kind == Model2},
		{"importance hidden width H2", c.H2, c.Kind == Model2},
		{"epochs", c.Epochs, true},
		{"batch", c.Batch, true},
	}
	for _, f := range check {
		if f.need && f.v <= 0 {
			return fmt.Errorf("config: %s is %d, must be positive", f.name, f.v)
		}
	}
	switch {
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("config: dropout %g outside [0, 1)", c.Dropout)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("config: learning rate %g must be positive", c.LR)
	case !(c.Beta1 >= 0 && c.Beta1 < 1), !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("config: Adam betas (%g, %g) must lie in [0, 1)", c.Beta1, c.Beta2)
	case !(c.Eps > 0):
		return fmt.Errorf("config: Adam eps %g must be positive", c.Eps)
	case !(c.Threshold > 0 && c.Threshold < 1):
		return fmt.Errorf("config: threshold %g outside (0, 1)", c.Threshold)
	case c.ImpLossMask != MaskAll && c.ImpLossMask != MaskTrue:
		return fmt.Errorf("config: importance loss mask %q: want %q or %q", c.ImpLossMask, MaskAll, MaskTrue)
	}
	return nil
}

// ErrNonFinite is wrapped by errors about NaN or Inf values in inputs or
// losses.
var ErrNonFinite = errors.New("non-finite value")
