package model

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"tagimp/data/atomicfile"
	"tagimp/data/dirlock"
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
	// Val, when not nil, is the validation split (vocab --val): the
	// per-epoch metrics of the history are scored on it instead of the
	// test split, and ChooseThreshold chooses θ on it.
	Val *Data
	// ChooseThreshold is ChooseNone (or empty: the default, the paper's
	// setting), ChooseGlobal or ChoosePerTag: after the last epoch, choose
	// θ on Val and record it in Meta.Theta (see ChooseTheta).
	ChooseThreshold string
	Source          DataSource
	// Device names the engine ("cpu" or "gpu") for the metadata.
	Device  string
	Factory Factory
	// Progress, if not nil, is called after each training batch with the
	// batches done in this epoch and the epoch's batch count (on the
	// device-resident path, after the batch is queued: the device may be
	// some steps behind until the epoch's end).
	Progress func(done, total int)
	// OnEpoch, if not nil, is called after each epoch (and after its
	// checkpoint, when one is saved) with the run's metadata (its last
	// History entry is the epoch).
	OnEpoch func(m *Meta)
	// CheckpointEvery saves a checkpoint every k epochs and after the last
	// one; 0 or 1 saves after every epoch. A run stopped in between resumes
	// from the last saved epoch, and the result is the same as with
	// checkpoints after every epoch.
	CheckpointEvery int
	// Log, if not nil, receives one-line notes on how the run is carried
	// out: whether the training split is kept on the device (see
	// ResidentTrainer) or, when it does not fit, fed from the host. That
	// fallback is also recorded in the metadata's Device, so it is never
	// silent even without Log.
	Log func(msg string)
	// SkipChecksum resumes without comparing the checkpoint's files with
	// the SHA-256 its metadata records (see LoadOptions).
	SkipChecksum bool
}

// HistoryPath returns RUN/<model>-history.csv.
func HistoryPath(dir string, kind Kind) string {
	return filepath.Join(dir, string(kind)+"-history.csv")
}

// Train trains r.Config.Kind for r.Config.Epochs epochs and returns the
// metadata of the last checkpoint. When the run folder already holds a
// checkpoint of this model with the same settings and data, training
// resumes after its last completed epoch (a finished run returns at once);
// other settings, another vocabulary, features computed differently or
// other training or test images are refused rather than overwritten (see
// resume).
//
// Each epoch visits the training rows in a seeded random order (the same
// order on resume), in batches of Config.Batch with a smaller last batch,
// then scores the test split (Meta.Metrics) and, when there is one, the
// validation split (the history's per-epoch metrics; without one the
// history holds the test split's, as the paper has no validation split)
// with package metrics, saves the checkpoint and rewrites the history
// CSV. With Run.ChooseThreshold, θ is chosen on the validation split after
// the last epoch (Meta.Theta) and Meta.Metrics scored with it. An epoch's losses are the means over its
// rows: Σ nᵢ·lossᵢ / n over its batches, per term, Total the sum of the
// terms.
//
// When the engine is a ResidentTrainer, the training split is uploaded
// once and each batch goes to the engine as row indices (StepRows), the
// losses coming back once per epoch (Sync); otherwise, or when the split
// does not fit (ErrNoRoom, noted through Log), each batch is gathered on
// the host and fed to Step. Both paths take the same steps on the same
// batches.
//
// A NaN or Inf loss stops training with an error wrapping ErrNonFinite
// that names the epoch and, on the host-fed path, the batch (on the
// resident path the losses of an epoch are read at its end, so the batch
// is unknown); the last good checkpoint is kept, and the message says which
// epoch it holds, or that there is none when no epoch had completed.
func Train(r *Run) (*Meta, error) {
	c := r.Config
	if err := r.check(); err != nil {
		return nil, err
	}
	// One writer per run folder: a second train (or demo) into it is
	// refused, naming the holder, instead of both overwriting each other.
	lock, err := dirlock.Acquire(r.Dir, "")
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	// Temporary files of a killed run of this model (the lock says no
	// other run is writing them).
	for _, p := range runTemps(r.Dir, c.Kind) {
		os.Remove(p)
	}
	meta, st, err := r.resume()
	if err != nil {
		return nil, err
	}
	choose := r.ChooseThreshold != "" && r.ChooseThreshold != ChooseNone
	if meta.Epoch >= c.Epochs {
		if choose && (meta.Theta == nil || meta.Theta.Mode != r.ChooseThreshold) {
			_, _, mPath := CheckpointPaths(r.Dir, c.Kind)
			return nil, fmt.Errorf("%s finished its %d epochs without --choose-threshold %s (θ is chosen after the last epoch): train into a new --out, or raise --epochs", mPath, meta.Epoch, r.ChooseThreshold)
		}
		return meta, nil
	}
	// The engine's buffers hold min(batch, rows) rows; a batch that still
	// cannot fit is refused before anything is allocated.
	ec := EngineConfig(c, r.Train.N)
	if err := CheckBatchMemory(ec); err != nil {
		return nil, err
	}
	tr, err := r.Factory(ec, st)
	if err != nil {
		return nil, fmt.Errorf("%s: start engine: %w", c.Kind, err)
	}
	defer tr.Close()

	res, err := r.upload(tr, meta)
	if err != nil {
		return nil, err
	}
	var b *Batch
	if res == nil {
		b = newBatch(ec)
	}
	saved := meta.Epoch // the epoch of the checkpoint on disk
	for epoch := meta.Epoch + 1; epoch <= c.Epochs; epoch++ {
		start := time.Now()
		order := EpochOrder(c.Seed, epoch, r.Train.N)
		var sum Losses
		if res != nil {
			sum, err = r.residentEpoch(res, epoch, order, saved)
		} else {
			sum, err = r.hostEpoch(tr, b, epoch, order, saved)
		}
		if err != nil {
			return nil, err
		}
		rep, err := Evaluate(tr, ec, r.TagVecs, r.Test, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: epoch %d test metrics: %w", c.Kind, epoch, err)
		}
		val, split := rep, "test"
		if r.Val != nil {
			if val, err = Evaluate(tr, c, r.TagVecs, r.Val, nil); err != nil {
				return nil, fmt.Errorf("%s: epoch %d validation metrics: %w", c.Kind, epoch, err)
			}
			split = "validation"
		}
		if epoch == c.Epochs && choose {
			if meta.Theta, err = ChooseTheta(tr, c, r.TagVecs, r.Val, r.ChooseThreshold); err != nil {
				return nil, fmt.Errorf("%s: epoch %d: choose θ: %w", c.Kind, epoch, err)
			}
			meta.Theta.Epoch = epoch
			if rep, err = EvaluateChosen(tr, c, r.TagVecs, r.Test, meta.Theta, nil); err != nil {
				return nil, fmt.Errorf("%s: epoch %d test metrics: %w", c.Kind, epoch, err)
			}
		}
		meta.Epoch = epoch
		meta.Metrics = rep
		meta.History = append(meta.History, EpochRecord{Epoch: epoch, Loss: sum, Seconds: time.Since(start).Seconds(), Val: val, Split: split})
		if k := r.CheckpointEvery; k <= 1 || epoch%k == 0 || epoch == c.Epochs {
			if st, err = tr.State(); err != nil {
				return nil, fmt.Errorf("%s: epoch %d: %w", c.Kind, epoch, err)
			}
			if err := SaveCheckpoint(r.Dir, meta, st); err != nil {
				return nil, fmt.Errorf("%s: epoch %d: %w", c.Kind, epoch, err)
			}
			saved = epoch
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

// kept says what a stopped run leaves in its folder: the checkpoint of
// epoch last, or none when no epoch had completed.
func (r *Run) kept(last int) string {
	if last == 0 {
		return fmt.Sprintf("no epoch had completed, so %s holds no %s checkpoint", r.Dir, r.Config.Kind)
	}
	_, _, mPath := CheckpointPaths(r.Dir, r.Config.Kind)
	return fmt.Sprintf("the last good checkpoint (epoch %d) is kept in %s", last, mPath)
}

func (r *Run) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(fmt.Sprintf(format, args...))
	}
}

// upload hands the training split to tr when it is a ResidentTrainer and
// returns it; it returns nil when tr is not one or the split does not fit
// (then noted through Log and in meta.Device).
func (r *Run) upload(tr Trainer, meta *Meta) (ResidentTrainer, error) {
	c, d := r.Config, r.Train
	rt, ok := tr.(ResidentTrainer)
	if !ok {
		return nil, nil
	}
	y := make([]float32, len(d.Presence))
	for i, v := range d.Presence {
		y[i] = float32(v)
	}
	var vecs []float32
	if c.Kind == Model2 {
		vecs = r.TagVecs
	}
	err := rt.SetTrainingSet(d.X, y, d.Importance, d.N, vecs)
	switch {
	case err == nil:
		r.logf("%s: training split of %d rows kept in device memory; batches go to the engine as row indices", c.Kind, d.N)
		return rt, nil
	case errors.Is(err, ErrNoRoom):
		r.logf("%s: %v; feeding batches from the host instead (slower: one transfer and one wait per batch)", c.Kind, err)
		meta.Device = r.Device + " (host-fed: " + ErrNoRoom.Error() + ")"
		return nil, nil
	default:
		return nil, fmt.Errorf("%s: upload the training split to the device: %w", c.Kind, err)
	}
}

// residentEpoch queues epoch's batches (rows in order) on the split held by
// rt and returns the epoch's mean losses. last is the last saved epoch.
func (r *Run) residentEpoch(rt ResidentTrainer, epoch int, order []int, last int) (Losses, error) {
	c, n := r.Config, r.Train.N
	batches := (n + c.Batch - 1) / c.Batch
	rows := make([]int32, n)
	for i, v := range order {
		rows[i] = int32(v)
	}
	for bi := 0; bi < batches; bi++ {
		if err := rt.StepRows(rows[bi*c.Batch : min((bi+1)*c.Batch, n)]); err != nil {
			return Losses{}, fmt.Errorf("%s: epoch %d, batch %d of %d (or a step queued before it): %w", c.Kind, epoch, bi+1, batches, err)
		}
		if r.Progress != nil {
			r.Progress(bi+1, batches)
		}
	}
	l, steps, err := rt.Sync()
	if err != nil {
		return Losses{}, fmt.Errorf("%s: epoch %d: %w", c.Kind, epoch, err)
	}
	if steps != batches {
		return Losses{}, fmt.Errorf("%s: epoch %d: the engine ran %d steps for %d batches", c.Kind, epoch, steps, batches)
	}
	if !l.Finite() {
		return Losses{}, fmt.Errorf("%s: mean loss of epoch %d is %v (tag %v, imp %v, imp2 %v), batch unknown (the device-resident path reads losses once per epoch): %w; stopped; %s — try a lower --lr",
			c.Kind, epoch, l.Total, l.Tag, l.Imp, l.Imp2, ErrNonFinite, r.kept(last))
	}
	return l, nil
}

// newBatch returns a batch buffer of Config.Batch rows for the host-fed
// path.
func newBatch(c Config) *Batch {
	b := &Batch{
		X:   make([]float32, c.Batch*c.D),
		Y:   make([]float32, c.Batch*c.T),
		Imp: make([]float32, c.Batch*c.T),
	}
	if c.Kind == Model2 {
		b.WA = make([]float32, c.Batch*c.E)
	}
	return b
}

// hostEpoch gathers epoch's batches (rows in order) on the host into b,
// feeds them to tr.Step and returns the epoch's mean losses. last is the last
// saved epoch.
func (r *Run) hostEpoch(tr Trainer, b *Batch, epoch int, order []int, last int) (Losses, error) {
	c, n := r.Config, r.Train.N
	batches := (n + c.Batch - 1) / c.Batch
	// Row-weighted sums, added in batch order as a ResidentTrainer's Sync
	// adds them, so both paths give the same epoch losses.
	var sum Losses
	for bi := 0; bi < batches; bi++ {
		fillBatch(b, r.Train, order[bi*c.Batch:min((bi+1)*c.Batch, n)], c)
		if c.Kind == Model2 {
			WeightedAverage(b.WA[:b.N*c.E], b.Y[:b.N*c.T], r.TagVecs, b.N, c.T, c.E, c.Threshold)
		}
		l, err := tr.Step(b)
		if err != nil {
			return Losses{}, fmt.Errorf("%s: epoch %d, batch %d of %d: %w", c.Kind, epoch, bi+1, batches, err)
		}
		if !l.Finite() {
			return Losses{}, fmt.Errorf("%s: loss is %v (tag %v, imp %v, imp2 %v) at epoch %d, batch %d of %d: %w; stopped; %s — try a lower --lr",
				c.Kind, l.Total, l.Tag, l.Imp, l.Imp2, epoch, bi+1, batches, ErrNonFinite, r.kept(last))
		}
		w := float64(b.N)
		sum.Tag += w * l.Tag
		sum.Imp += w * l.Imp
		sum.Imp2 += w * l.Imp2
		if r.Progress != nil {
			r.Progress(bi+1, batches)
		}
	}
	m := Losses{Tag: sum.Tag / float64(n), Imp: sum.Imp / float64(n), Imp2: sum.Imp2 / float64(n)}
	m.Total = m.Tag + m.Imp + m.Imp2
	return m, nil
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
	if r.Val != nil && (r.Val.N == 0 || r.Val.D != c.D || r.Val.T != c.T) {
		return fmt.Errorf("%s: the validation split has %d images of %d features × %d tags, the model %d × %d", c.Kind, r.Val.N, r.Val.D, r.Val.T, c.D, c.T)
	}
	if err := CheckChoice(r.ChooseThreshold); err != nil {
		return fmt.Errorf("%s: %w", c.Kind, err)
	}
	if r.ChooseThreshold != "" && r.ChooseThreshold != ChooseNone && r.Val == nil {
		return fmt.Errorf("%s: --choose-threshold %s needs a validation split: make one with tagimp-gpu vocab --train N --val M", c.Kind, r.ChooseThreshold)
	}
	return nil
}

// resume returns the checkpoint to continue from, or a fresh state. An
// existing checkpoint is continued only when it was trained on the same
// vocabulary, settings (but the epoch count) and data: features computed
// the same way (FeatureSource.Mismatch; a bare .npy, which records no
// provenance, must be the same file) and the same training and test images
// (DataSource's id hashes; runs that predate them compare the image
// counts). Anything else is refused with a one-line error that names the
// run, what differs and the fix.
func (r *Run) resume() (*Meta, *State, error) {
	c := r.Config
	src := r.Source
	if len(r.Train.IDs) == r.Train.N {
		src.TrainIDsSHA256 = IDsSHA256(r.Train.IDs)
	}
	if len(r.Test.IDs) == r.Test.N {
		src.TestIDsSHA256 = IDsSHA256(r.Test.IDs)
	}
	if r.Val != nil {
		src.NVal, src.ValIDsSHA256 = r.Val.N, IDsSHA256(r.Val.IDs)
	}
	old, err := ReadMeta(r.Dir, c.Kind)
	if IsNotExist(err) {
		return &Meta{Config: c, Tags: r.Tags, Device: r.Device, Data: src}, NewState(c), nil
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
	if diffs := dataDifferences(old.Data, src); len(diffs) > 0 {
		return nil, nil, fmt.Errorf("%s was trained on other data than given now: %s; to resume use the original --features %s and %s, or train into a new --out",
			mPath, strings.Join(diffs, "; "), old.Data.Features.Path, old.Data.labelFlags())
	}
	// The same data: record it as given now (a moved cache, fields that
	// older runs did not record), keeping what only the old run knew.
	data := src
	if data.Features.CenterCrop == nil {
		data.Features.CenterCrop = old.Data.Features.CenterCrop
	}
	if data.Features.Weights == "" {
		data.Features.Weights = old.Data.Features.Weights
	}
	old.Data = data
	old.Config.Epochs = c.Epochs
	if old.Format == CheckpointFormat {
		// A save killed after its commit may not have refreshed <model>.npz
		// nor deleted the superseded epoch files: finish its steps 3 and 4.
		if err := publishParams(r.Dir, c.Kind, old.Files); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", mPath, err)
		}
		removeSuperseded(r.Dir, c.Kind, old.Files)
	}
	if old.Epoch >= c.Epochs {
		return old, nil, nil
	}
	_, st, err := LoadCheckpointWith(r.Dir, c.Kind, LoadOptions{Opt: true, SkipChecksum: r.SkipChecksum})
	if err != nil {
		return nil, nil, err
	}
	old.Device = r.Device
	return old, st, nil
}

// dataDifferences lists how the data given now (got) differs from the
// data a run was trained on (was).
func dataDifferences(was, got DataSource) []string {
	wf, gf := was.Features, got.Features
	d := wf.Mismatch(gf)
	if !wf.HasProvenance() && !gf.HasProvenance() && filepath.Clean(wf.Path) != filepath.Clean(gf.Path) {
		d = append(d, fmt.Sprintf("features %s, not %s (a bare .npy records no provenance, so only the same file is taken)", gf.Path, wf.Path))
	}
	split := func(name, wasHash, gotHash string, wasN, gotN int) {
		switch {
		case wasHash != "" && gotHash != "" && wasHash != gotHash:
			d = append(d, fmt.Sprintf("other %s images (%d now, %d then; id hash %s, not %s)", name, gotN, wasN, shortHash(gotHash), shortHash(wasHash)))
		case wasN != gotN:
			d = append(d, fmt.Sprintf("%d %s images, not %d", gotN, name, wasN))
		}
	}
	split("training", was.TrainIDsSHA256, got.TrainIDsSHA256, was.NTrain, got.NTrain)
	split("test", was.TestIDsSHA256, got.TestIDsSHA256, was.NTest, got.NTest)
	split("validation", was.ValIDsSHA256, got.ValIDsSHA256, was.NVal, got.NVal)
	return d
}

// labelFlags says which labels a run was trained with, as flags.
func (d DataSource) labelFlags() string {
	s := "--labels " + d.Labels
	if d.TestLabels != "" {
		s += " --test-labels " + d.TestLabels
	}
	return s
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

// HistoryColumns are the columns of the history CSV: the epoch's mean
// losses, then its metrics on the split named in the last column
// ("validation" with vocab --val, else "test").
var HistoryColumns = []string{"epoch", "loss", "loss_tag", "loss_imp", "loss_imp2", "seconds",
	"map_image", "map_class", "jaccard", "mae", "mse", "of1", "cf1", "spearman", "ndcg", "split"}

// WriteHistory writes the per-epoch history as CSV (atomically).
func WriteHistory(path string, h []EpochRecord) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		cw.Write(HistoryColumns)
		f := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
		for _, e := range h {
			v := e.Val
			cw.Write([]string{strconv.Itoa(e.Epoch), f(e.Loss.Total), f(e.Loss.Tag), f(e.Loss.Imp), f(e.Loss.Imp2), f(e.Seconds),
				f(v.MAPImage), f(v.MAPClass), f(v.Jaccard), f(v.MAE), f(v.MSE), f(v.OF1), f(v.CF1), f(v.Spearman), f(v.NDCG), e.Split})
		}
		cw.Flush()
		return cw.Error()
	})
}
