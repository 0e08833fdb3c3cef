//go:build gpu

package gpu

import (
	"errors"
	"fmt"
	"math"

	"tagimp/model"
)

// ErrNoRoom is wrapped by SetTrainingSet when the split does not fit in the
// GPU's free memory; the caller then feeds batches with Step instead. It is
// model.ErrNoRoom, so model.Train falls back to Step on it.
var ErrNoRoom = model.ErrNoRoom

// Trainer keeps a split on the device for model.Train and bench.
var _ model.ResidentTrainer = (*Trainer)(nil)

// reserveBytes is the device memory SetTrainingSet leaves free for cuBLAS
// workspaces and the driver.
const reserveBytes = 512 << 20

// resident is a training split kept on the device.
type resident struct {
	n             int
	x, y, imp, wa buf
	// rows holds the row indices of up to Options.LossSlots queued steps,
	// Config.Batch int32 per step (for the gather kernel).
	rows buf
}

func (r *resident) free(d device) error {
	var errs []error
	for _, b := range []buf{r.x, r.y, r.imp, r.wa, r.rows} {
		if !b.isNull() {
			errs = append(errs, d.free(b))
		}
	}
	return errors.Join(errs...)
}

// SetTrainingSet copies a training split of n rows to the device: features
// x (n×D), presence y (n×T, 0 or 1), importance imp (n×T) and, for Model 2,
// the tag vectors tagVecs (T×E), from which the device computes every
// row's ground-truth WA once (kernel tg_weighted_average with θ =
// Config.Threshold, as model.Train does on the host). A previous split is
// freed first. When the split does not fit, the error wraps ErrNoRoom.
func (t *Trainer) SetTrainingSet(x, y, imp []float32, n int, tagVecs []float32) (err error) {
	if err := t.usable(); err != nil {
		return err
	}
	c := t.c
	if n < 1 || len(x) != n*c.D || len(y) != n*c.T || len(imp) != n*c.T {
		return fmt.Errorf("gpu training split: %d rows with %d features, %d presences, %d importances; want %d, %d, %d",
			n, len(x), len(y), len(imp), n*c.D, n*c.T, n*c.T)
	}
	if c.Kind.HasImportanceMLP() && len(tagVecs) != c.T*c.E {
		return fmt.Errorf("gpu training split: model2 needs %d×%d tag vectors, got %d values", c.T, c.E, len(tagVecs))
	}
	if err := t.drain(); err != nil {
		return err
	}
	// A captured step reads the old split's buffers.
	if t.graph != nil {
		t.graph.destroy()
		t.graph = nil
	}
	t.graphTried, t.graphErr = false, nil
	if t.res != nil {
		if err := t.res.free(t.d); err != nil {
			return fmt.Errorf("gpu training split: free the previous one: %w", err)
		}
		t.res = nil
	}
	width := c.D + 2*c.T
	if c.Kind.HasImportanceMLP() {
		width += c.E
	}
	need := int64(n)*int64(width)*4 + int64(c.T*c.E)*4
	free, err := t.d.memFree()
	if err != nil {
		return fmt.Errorf("gpu training split: %w", err)
	}
	if need > free-reserveBytes {
		return fmt.Errorf("gpu training split of %d rows needs %.1f MiB, %.1f MiB free (keeping %d MiB spare): %w",
			n, float64(need)/(1<<20), float64(free)/(1<<20), reserveBytes>>20, ErrNoRoom)
	}
	r := &resident{n: n}
	if r.rows, err = t.d.alloc(t.opt.LossSlots * c.Batch); err != nil {
		return fmt.Errorf("gpu training split row indices: %w", err)
	}
	defer func() {
		if err != nil {
			r.free(t.d)
		}
	}()
	for _, a := range []struct {
		dst  *buf
		src  []float32
		what string
	}{{&r.x, x, "features"}, {&r.y, y, "presence"}, {&r.imp, imp, "importance"}} {
		if *a.dst, err = t.d.alloc(len(a.src)); err != nil {
			return fmt.Errorf("gpu training split %s: %w", a.what, err)
		}
		if err = t.d.upload(*a.dst, a.src); err != nil {
			return fmt.Errorf("gpu training split %s: %w", a.what, err)
		}
	}
	if c.Kind.HasImportanceMLP() {
		if r.wa, err = t.d.alloc(n * c.E); err != nil {
			return fmt.Errorf("gpu training split WA: %w", err)
		}
		vecs, err := t.d.alloc(c.T * c.E)
		if err != nil {
			return fmt.Errorf("gpu training split tag vectors: %w", err)
		}
		defer t.d.free(vecs)
		if err = t.d.upload(vecs, tagVecs); err != nil {
			return fmt.Errorf("gpu training split tag vectors: %w", err)
		}
		if err = t.d.weightedAverage(r.wa, c.E, r.y, vecs, n, c.T, c.E, float32(c.Threshold)); err != nil {
			return fmt.Errorf("gpu training split WA: %w", err)
		}
		if err = t.d.sync(); err != nil {
			return fmt.Errorf("gpu training split WA: %w", err)
		}
	}
	t.res = r
	return nil
}

// StepRows queues one training step on the given rows of the split set by
// SetTrainingSet (1 ≤ len(rows) ≤ Config.Batch) and returns without waiting
// for the device. Steps are launched in chunks of Options.LossSlots (the
// row indices of a chunk go to the device in one copy, the only point where
// the host waits for earlier steps) and by Sync, State, Forward and the
// other methods; an error of a launch may therefore come back from a later
// call. Losses stay on the device until Sync.
func (t *Trainer) StepRows(rows []int32) error {
	if err := t.usable(); err != nil {
		return err
	}
	if t.res == nil {
		return fmt.Errorf("gpu StepRows: no training split on the device: call SetTrainingSet first")
	}
	if err := t.checkRows(len(rows)); err != nil {
		return err
	}
	for _, r := range rows {
		if r < 0 || int(r) >= t.res.n {
			return fmt.Errorf("gpu StepRows: row %d outside the training split of %d rows", r, t.res.n)
		}
	}
	t.qrows = append(t.qrows, rows...)
	for i := len(rows); i < t.c.Batch; i++ {
		t.qrows = append(t.qrows, 0) // padding, never read
	}
	t.qn = append(t.qn, len(rows))
	if len(t.qn) == t.opt.LossSlots {
		return t.flush()
	}
	return nil
}

// flush launches the queued steps (see StepRows).
func (t *Trainer) flush() error {
	if len(t.qn) == 0 {
		return nil
	}
	defer func() { t.qrows, t.qn = t.qrows[:0], t.qn[:0] }()
	// Frees the loss slots and waits for the previous chunk.
	if err := t.readLosses(); err != nil {
		return err
	}
	if !t.rowCopies {
		if err := t.d.uploadI32(t.res.rows, t.qrows); err != nil {
			return fmt.Errorf("gpu StepRows: row indices: %w", err)
		}
	}
	B := t.c.Batch
	for i := 0; i < len(t.qn); {
		if t.qn[i] == B && t.useGraph() {
			// A run of full batches: replays of the captured step, from
			// the step counter and slot set here.
			j := i
			for j < len(t.qn) && t.qn[j] == B {
				j++
			}
			if err := t.d.setState(t.state, uint64(t.step), i); err != nil {
				return fmt.Errorf("gpu StepRows: step state: %w", err)
			}
			pw := []float32{
				float32(math.Pow(float64(t.hyper.beta1), float64(t.step))),
				float32(math.Pow(float64(t.hyper.beta2), float64(t.step))),
			}
			if err := t.d.upload(t.pw, pw); err != nil {
				return fmt.Errorf("gpu StepRows: Adam powers: %w", err)
			}
			for ; i < j; i++ {
				if err := t.graph.launch(); err != nil {
					return fmt.Errorf("gpu StepRows: step %d: %w", t.step, err)
				}
				t.pending = append(t.pending, B)
				t.step++
			}
			continue
		}
		n := t.qn[i]
		if err := t.gather(t.qrows[i*B:i*B+n], i); err != nil {
			return fmt.Errorf("gpu StepRows: %w", err)
		}
		if err := t.queueStep(n, i, false); err != nil {
			return err
		}
		t.pending = append(t.pending, n)
		i++
	}
	return nil
}

// useGraph reports whether full-batch steps replay a captured CUDA graph,
// capturing it on first use. A capture that fails is not retried; GraphMode
// says why.
func (t *Trainer) useGraph() bool {
	if t.opt.NoGraph || t.rowCopies {
		return false
	}
	if t.eagerSteps == 0 {
		// Run one step kernel by kernel first: libraries and kernels that
		// initialise lazily on first use do so outside the capture.
		return false
	}
	if !t.graphTried {
		t.graphTried = true
		// A capture can fail once on something initialised lazily inside
		// it; the second attempt starts from fresh capture resources.
		for try := 0; try < 2; try++ {
			if t.graphErr = t.captureGraph(); t.graphErr == nil {
				break
			}
			if err := t.d.resetCapture(); err != nil {
				t.graphErr = errors.Join(t.graphErr, err)
				break
			}
		}
	}
	return t.graph != nil
}

// captureGraph records one full-batch resident step (gather included) as a
// graph.
func (t *Trainer) captureGraph() error {
	if err := t.d.beginCapture(); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	err := t.gatherDev()
	if err == nil {
		err = t.queueStep(t.c.Batch, 0, true)
	}
	g, eerr := t.d.endCapture()
	if err == nil {
		err = eerr
	}
	if err != nil {
		if g != nil {
			g.destroy()
		}
		return fmt.Errorf("capture: %w", err)
	}
	t.graph = g
	return nil
}

// GraphMode says how StepRows runs full batches: "CUDA graph", or why not.
func (t *Trainer) GraphMode() string {
	switch {
	case t.graph != nil:
		return "CUDA graph"
	case t.opt.NoGraph:
		return "kernel by kernel (Options.NoGraph)"
	case t.rowCopies:
		return "kernel by kernel (batches gathered row by row)"
	case t.graphErr != nil:
		return fmt.Sprintf("kernel by kernel (%v)", t.graphErr)
	default:
		return "kernel by kernel (no graph captured yet)"
	}
}

// gatherDev queues the gather of the rows of slot state.slot.
func (t *Trainer) gatherDev() error {
	c, r := t.c, t.res
	for _, a := range t.batchArrays() {
		ok, err := t.d.gatherDev(a.dst, a.src, r.rows, t.state, c.Batch, a.width)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("no gather kernel")
		}
	}
	return nil
}

// batchArray is one array of the split and its batch buffer.
type batchArray struct {
	dst, src buf
	width    int
}

// batchArrays lists the arrays a step of t's model reads.
func (t *Trainer) batchArrays() []batchArray {
	c, r := t.c, t.res
	arrays := []batchArray{{t.x, r.x, c.D}, {t.y, r.y, c.T}}
	if c.Kind != model.Baseline {
		arrays = append(arrays, batchArray{t.imp, r.imp, c.T})
	}
	if c.Kind.HasImportanceMLP() {
		arrays = append(arrays, batchArray{t.wa, r.wa, c.E})
	}
	return arrays
}

// drain launches the queued steps, waits for them and adds their losses
// to t.sum.
func (t *Trainer) drain() error {
	if err := t.flush(); err != nil {
		return err
	}
	return t.readLosses()
}

// gather fills the batch buffers with the split's rows for queued step
// slot: with the gather kernel one launch per array from the row indices
// uploaded by flush; without it (the kernel failed to load, or
// t.rowCopies) one device-to-device copy per row and array.
func (t *Trainer) gather(rows []int32, slot int) error {
	c, r := t.c, t.res
	arrays := t.batchArrays()
	if !t.rowCopies {
		idx, err := r.rows.slice(slot*c.Batch, len(rows))
		if err != nil {
			return err
		}
		for i, a := range arrays {
			ok, err := t.d.gather(a.dst, a.src, idx, len(rows), a.width)
			if err != nil {
				return err
			}
			if !ok && i == 0 {
				// No gather kernel: copy row by row from now on (the
				// indices already on the device are simply unused).
				t.rowCopies = true
				break
			}
		}
		if !t.rowCopies {
			return nil
		}
	}
	for _, a := range arrays {
		for i, row := range rows {
			dst, err := a.dst.slice(i*a.width, a.width)
			if err != nil {
				return err
			}
			src, err := a.src.slice(int(row)*a.width, a.width)
			if err != nil {
				return err
			}
			if err := t.d.copy(dst, src); err != nil {
				return fmt.Errorf("gather row %d: %w", row, err)
			}
		}
	}
	return nil
}

// Sync launches and waits for the queued steps and returns the mean losses
// of the steps since the previous Sync, each weighted by its rows (as
// model.Train averages an epoch), and how many steps there were.
func (t *Trainer) Sync() (model.Losses, int, error) {
	if err := t.usable(); err != nil {
		return model.Losses{}, 0, err
	}
	if err := t.drain(); err != nil {
		return model.Losses{}, 0, err
	}
	steps := t.sum.steps
	return t.takeLosses(), steps, nil
}
