package model

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"tagimp/data/atomicfile"
	"tagimp/model/metrics"
)

// Run describes one model's training run.
type Run struct {
	// Dir is the run folder (RUN) that holds checkpoints and history.
	Dir    string
	Config Config
	// Tags are the vocabulary, T names in column order.
	Tags []string
	// TagVecs is T×E, one word vector per tag (Model 2 only).
	TagVecs     []float32
	Train, Test *Data
	Source      DataSource
	// Device names the engine ("cpu" or "gpu") for the metadata.
	Device  string
	Factory Factory
	// Progress, if not nil, is called after each training batch with the
	// batches done in this epoch and the epoch's batch count.
	Progress func(done, total int)
	// OnEpoch, if not nil, is called after each epoch's checkpoint is
	// saved, with the metadata just written (its last History entry is
	// the epoch).
	OnEpoch func(m *Meta)
}

// HistoryPath returns RUN/<model>-history.csv.
func HistoryPath(dir string, kind Kind) string {
	return filepath.Join(dir, string(kind)+"-history.csv")
}

// Train trains r.Config.Kind for r.Config.Epochs epochs and returns the
// metadata of the last checkpoint. When the run folder already holds a
// checkpoint of this model with the same settings, training resumes after
// its last completed epoch (a finished run returns at once); other
// settings are refused rather than overwritten.
//
// Each epoch visits the training rows in a seeded random order (the same
// order on resume), in batches of Config.Batch with a smaller last batch,
// then scores the test split with package metrics, saves the checkpoint
// and rewrites the history CSV. A NaN or Inf loss stops training with an
// error naming the epoch and batch; the last good checkpoint is kept.
func Train(r *Run) (*Meta, error) {
	c := r.Config
	if err := r.check(); err != nil {
		return nil, err
	}
	meta, st, err := r.resume()
	if err != nil {
		return nil, err
	}
	if meta.Epoch >= c.Epochs {
		return meta, nil
	}
	tr, err := r.Factory(c, st)
	if err != nil {
		return nil, fmt.Errorf("%s: start engine: %w", c.Kind, err)
	}
	defer tr.Close()

	n := r.Train.N
	batches := (n + c.Batch - 1) / c.Batch
	b := &Batch{
		X:   make([]float32, c.Batch*c.D),
		Y:   make([]float32, c.Batch*c.T),
		Imp: make([]float32, c.Batch*c.T),
	}
	if c.Kind == Model2 {
		b.WA = make([]float32, c.Batch*c.E)
	}
	for epoch := meta.Epoch + 1; epoch <= c.Epochs; epoch++ {
		start := time.Now()
		order := EpochOrder(c.Seed, epoch, n)
		var sum Losses
		for bi := 0; bi < batches; bi++ {
			rows := order[bi*c.Batch : min((bi+1)*c.Batch, n)]
			fillBatch(b, r.Train, rows, c)
			if c.Kind == Model2 {
				WeightedAverage(b.WA[:b.N*c.E], b.Y[:b.N*c.T], r.TagVecs, b.N, c.T, c.E, c.Threshold)
			}
			l, err := tr.Step(b)
			if err != nil {
				return nil, fmt.Errorf("%s: epoch %d, batch %d of %d: %w", c.Kind, epoch, bi+1, batches, err)
			}
			if !l.Finite() {
				return nil, fmt.Errorf("%s: loss is %v (tag %v, imp %v, imp2 %v) at epoch %d, batch %d of %d: %w; stopped, the last good checkpoint (epoch %d) is kept in %s — try a lower --lr",
					c.Kind, l.Total, l.Tag, l.Imp, l.Imp2, epoch, bi+1, batches, ErrNonFinite, meta.Epoch, r.Dir)
			}
			w := float64(b.N) / float64(n)
			sum.Tag += l.Tag * w
			sum.Imp += l.Imp * w
			sum.Imp2 += l.Imp2 * w
			sum.Total += l.Total * w
			if r.Progress != nil {
				r.Progress(bi+1, batches)
			}
		}
		rep, err := Evaluate(tr, c, r.TagVecs, r.Test, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: epoch %d validation: %w", c.Kind, epoch, err)
		}
		if st, err = tr.State(); err != nil {
			return nil, fmt.Errorf("%s: epoch %d: %w", c.Kind, epoch, err)
		}
		meta.Epoch = epoch
		meta.Metrics = rep
		meta.History = append(meta.History, EpochRecord{Epoch: epoch, Loss: sum, Seconds: time.Since(start).Seconds(), Val: rep})
		if err := SaveCheckpoint(r.Dir, meta, st); err != nil {
			return nil, fmt.Errorf("%s: epoch %d: %w", c.Kind, epoch, err)
		}
		if err := WriteHistory(HistoryPath(r.Dir, c.Kind), meta.History); err != nil {
			return nil, fmt.Errorf("%s: epoch %d: %w", c.Kind, epoch, err)
		}
		if r.OnEpoch != nil {
			r.OnEpoch(meta)
		}
	}
	return meta, nil
}

func (r *Run) check() error {
	c := r.Config
	if err := c.Validate(); err != nil {
		return err
	}
	if r.Factory == nil {
		return fmt.Errorf("%s: no engine", c.Kind)
	}
	if len(r.Tags) != c.T {
		return fmt.Errorf("%s: %d tag names for T = %d", c.Kind, len(r.Tags), c.T)
	}
	for _, s := range []struct {
		name string
		d    *Data
	}{{"training", r.Train}, {"test", r.Test}} {
		if s.d == nil || s.d.N == 0 {
			return fmt.Errorf("%s: the %s split is empty", c.Kind, s.name)
		}
		if s.d.D != c.D || s.d.T != c.T {
			return fmt.Errorf("%s: the %s split has %d features × %d tags, the model %d × %d", c.Kind, s.name, s.d.D, s.d.T, c.D, c.T)
		}
	}
	if c.Kind == Model2 && len(r.TagVecs) != c.T*c.E {
		return fmt.Errorf("%s: %d tag-vector values, need %d tags × %d", c.Kind, len(r.TagVecs), c.T, c.E)
	}
	return nil
}

// resume returns the checkpoint to continue from, or a fresh state.
func (r *Run) resume() (*Meta, *State, error) {
	c := r.Config
	old, err := ReadMeta(r.Dir, c.Kind)
	if IsNotExist(err) {
		return &Meta{Config: c, Tags: r.Tags, Device: r.Device, Data: r.Source}, NewState(c), nil
	}
	if err != nil {
		return nil, nil, err
	}
	_, _, mPath := CheckpointPaths(r.Dir, c.Kind)
	if !slices.Equal(old.Tags, r.Tags) {
		return nil, nil, fmt.Errorf("%s was trained on another vocabulary (%d tags) than the labels given (%d tags): use another --out", mPath, len(old.Tags), len(r.Tags))
	}
	oc, nc := old.Config, c
	oc.Epochs, nc.Epochs = 0, 0
	if oc != nc {
		return nil, nil, fmt.Errorf("%s was trained with other settings (%+v) than now (%+v): use the same flags to resume, or another --out", mPath, oc, nc)
	}
	if old.Data.NTrain != r.Source.NTrain || old.Data.NTest != r.Source.NTest {
		return nil, nil, fmt.Errorf("%s was trained on %d/%d train/test images, now %d/%d: use another --out", mPath, old.Data.NTrain, old.Data.NTest, r.Source.NTrain, r.Source.NTest)
	}
	old.Config.Epochs = c.Epochs
	if old.Epoch >= c.Epochs {
		return old, nil, nil
	}
	_, st, err := LoadCheckpoint(r.Dir, c.Kind, true)
	if err != nil {
		return nil, nil, err
	}
	old.Device = r.Device
	return old, st, nil
}

// EpochOrder returns the order in which epoch (1-based) visits n training
// rows: a permutation drawn from a PCG stream keyed by (seed, epoch), so a
// resumed run visits the rows exactly as an uninterrupted one.
func EpochOrder(seed int64, epoch, n int) []int {
	return rand.New(rand.NewPCG(uint64(seed), uint64(epoch))).Perm(n)
}

func fillBatch(b *Batch, d *Data, rows []int, c Config) {
	b.N = len(rows)
	for i, r := range rows {
		copy(b.X[i*c.D:(i+1)*c.D], d.X[r*c.D:(r+1)*c.D])
		for j := 0; j < c.T; j++ {
			b.Y[i*c.T+j] = float32(d.Presence[r*c.T+j])
		}
		copy(b.Imp[i*c.T:(i+1)*c.T], d.Importance[r*c.T:(r+1)*c.T])
	}
}

// Evaluate predicts d with tr (see Predict) and scores it with package
// metrics at c.Threshold.
func Evaluate(tr Trainer, c Config, tagVecs []float32, d *Data, progress func(done, total int)) (metrics.Report, error) {
	prob, imp, err := Predict(tr, c, tagVecs, d.X, d.N, progress)
	if err != nil {
		return metrics.Report{}, err
	}
	rep, err := metrics.Evaluate(d.Presence, d.Importance, prob, imp, d.N, c.T, c.Threshold)
	if err != nil {
		return metrics.Report{}, fmt.Errorf("metrics: %w", err)
	}
	rep.Model = string(c.Kind)
	return rep, nil
}

// HistoryColumns are the columns of the history CSV.
var HistoryColumns = []string{"epoch", "loss", "loss_tag", "loss_imp", "loss_imp2", "seconds",
	"map_image", "map_class", "jaccard", "mae", "mse", "of1", "cf1", "spearman", "ndcg"}

// WriteHistory writes the per-epoch history as CSV (atomically).
func WriteHistory(path string, h []EpochRecord) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write(HistoryColumns)
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
		for _, e := range h {
			v := e.Val
			cw.Write([]string{strconv.Itoa(e.Epoch), f(e.Loss.Total), f(e.Loss.Tag), f(e.Loss.Imp), f(e.Loss.Imp2), f(e.Seconds),
				f(v.MAPImage), f(v.MAPClass), f(v.Jaccard), f(v.MAE), f(v.MSE), f(v.OF1), f(v.CF1), f(v.Spearman), f(v.NDCG)})
		}
		cw.Flush()
		return cw.Error()
	})
}
