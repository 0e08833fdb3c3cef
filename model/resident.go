package model

import "errors"

// ResidentTrainer is implemented by trainers that can keep the training
// split in device memory and queue steps on rows of it without a round trip
// to the host per step (the GPU engine, package gpu). When Run.Factory
// returns one, Train uploads the training split once with SetTrainingSet
// and then feeds each batch as row indices with StepRows, reading the
// losses back once per epoch with Sync; the batches, their order, the
// losses and the checkpoints are those of the host-fed path (Step).
//
// When SetTrainingSet fails with an error that wraps ErrNoRoom, the split
// does not fit: Train says so through Run.Log and trains with Step instead.
// Any other error of SetTrainingSet stops training.
type ResidentTrainer interface {
	Trainer
	// SetTrainingSet copies a split of n rows to the device: features x
	// (n×D), presence y (n×T, 0 or 1), importance imp (n×T) and, for
	// Model 2, the tag vectors tagVecs (T×E) from which the device builds
	// each row's ground-truth WA with θ = Config.Threshold, as
	// WeightedAverage does for a host-fed batch. A split that does not fit
	// gives an error wrapping ErrNoRoom.
	SetTrainingSet(x, y, imp []float32, n int, tagVecs []float32) error
	// StepRows queues one training step on the given rows of the split
	// (1 ≤ len(rows) ≤ Config.Batch, in batch order), the same step Step
	// takes on a batch of those rows. It need not wait for the device: an
	// error of a queued step may come back from a later call.
	StepRows(rows []int32) error
	// Sync waits for the queued steps and returns the mean losses of the
	// steps since the previous Sync, each step weighted by its rows
	// (Σ nᵢ·lossᵢ / Σ nᵢ per term, Total the sum of the terms), and how many
	// steps there were.
	Sync() (Losses, int, error)
}

// ErrNoRoom is wrapped by ResidentTrainer.SetTrainingSet when the training
// split does not fit in the device's memory (package gpu's ErrNoRoom is
// this error).
var ErrNoRoom = errors.New("training split does not fit in device memory")
