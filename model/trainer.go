package model

import (
	"fmt"
	"math"
)

// Batch is one mini-batch of n rows, all row-major. Engines with a fixed
// batch size pad a partial batch with zero-weight rows; the losses and
// gradients are those of the n real rows only.
type Batch struct {
	N int
	// X is the features, n×D.
	X []float32
	// Y is the tag presence (0 or 1), n×T.
	Y []float32
	// Imp is the ground-truth importance, n×T (ignored by the Baseline).
	Imp []float32
	// WA is the weighted average of the tags' word vectors, n×E, already
	// L2-normalised (Model 2 only; in training built from the ground-truth
	// tags with p = 1, see WeightedAverage).
	WA []float32
}

// Losses are the mean losses of one step over the batch's real rows.
// Tag is the BCE of the tag head averaged over n×T; Imp the MSE of the
// importance head and Imp2 that of Model 2's importance MLP, each averaged
// as Config.ImpLossMask says; Total is their sum (what is minimised).
type Losses struct {
	Tag, Imp, Imp2, Total float64
}

// Finite reports whether all losses are finite.
func (l Losses) Finite() bool {
	for _, v := range []float64{l.Tag, l.Imp, l.Imp2, l.Total} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// State is everything a Trainer needs to resume: the parameters, Adam's
// first and second moments (same names and shapes as the parameters) and
// the number of steps taken (Adam's bias correction and the dropout
// streams depend on it).
type State struct {
	Params *Params
	M, V   *Params
	Step   int64
}

// NewState returns a fresh state for c: parameters from Init, zero moments,
// step 0.
func NewState(c Config) *State {
	return &State{Params: Init(c), M: Zeros(c), V: Zeros(c)}
}

// Check verifies the state's tensors against c.
func (s *State) Check(c Config) error {
	if s == nil || s.Params == nil {
		return fmt.Errorf("state: no parameters")
	}
	if err := s.Params.Check(c); err != nil {
		return err
	}
	if s.M == nil || s.V == nil {
		return fmt.Errorf("state: Adam moments missing")
	}
	if err := s.M.Check(c); err != nil {
		return fmt.Errorf("Adam first moment: %w", err)
	}
	if err := s.V.Check(c); err != nil {
		return fmt.Errorf("Adam second moment: %w", err)
	}
	if s.Step < 0 {
		return fmt.Errorf("state: step %d is negative", s.Step)
	}
	return nil
}

// Trainer is one model on one compute engine. The CPU engine (model/cpu)
// and the GPU engine (gpu) implement it; Train, Predict and the commands
// use nothing else, so the engines are interchangeable and their
// checkpoints too.
//
// Contract, which the GPU engine must follow to match the CPU engine step
// for step:
//   - Step runs forward, backward and one Adam update (PyTorch's Adam, no
//     weight decay, as ops.Adam: m = β1·m + (1-β1)·g; v = β2·v + (1-β2)·g²;
//     p -= (lr/bc1)·m / (sqrt(v)/sqrt(bc2) + eps) with bc1, bc2 from
//     ops.AdamBiasCorrections(β1, β2, step+1)), then increments the step
//     counter. A step whose loss is not finite updates nothing.
//   - The dropout mask of hidden unit j of batch row r in the step with
//     counter s (before incrementing) is ops.DropoutScale(uint64(Seed),
//     ops.DropoutStream(uint64(s), layer), uint64(r*width+j), Dropout), layer 0
//     for the trunk (width H), 1 for Model 2's importance MLP (width H2).
//     Dropout applies after the ReLU.
//   - Model 2's importance MLP reads concat(L2norm(x), WA) (see
//     Imp2Input); the trunk reads x as given.
//   - Losses: see Losses and DESIGN.md; BCE is the stable form
//     max(z,0) - z·y + log(1+exp(-|z|)).
//
// A Trainer is not safe for concurrent use.
type Trainer interface {
	// Step trains on one batch of 1 ≤ n ≤ Config.Batch rows.
	Step(b *Batch) (Losses, error)
	// Forward returns the tag probabilities and the importance head's
	// output (both n×T) in inference mode (no dropout). For the Baseline
	// the importance is the tag probability.
	Forward(x []float32, n int) (prob, imp []float32, err error)
	// Importance2 returns Model 2's importance MLP output (n×T) for
	// features x (n×D) and L2-normalised word-vector averages wa (n×E).
	// Other models return an error.
	Importance2(x, wa []float32, n int) ([]float32, error)
	// State returns a copy of the parameters, Adam moments and step
	// counter.
	State() (*State, error)
	// Close releases the engine's memory.
	Close() error
}

// Factory builds a Trainer for c starting from st (NewState(c) for a fresh
// model, a loaded checkpoint to resume or predict).
type Factory func(c Config, st *State) (Trainer, error)
