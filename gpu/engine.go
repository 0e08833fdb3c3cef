//go:build gpu

package gpu

import (
	"errors"
	"fmt"

	"tagimp/model"
	"tagimp/model/ops"
)

// Options select the device and the GEMM precision.
type Options struct {
	// Device is the GPU ordinal (0 for the first).
	Device int
	// TF32 lets cuBLAS use TF32 tensor cores for the GEMMs (relative error
	// about 1e-3); the default is pedantic FP32, which matches the CPU
	// engine to about 1e-5.
	TF32 bool
	// LossSlots is how many steps' losses StepRows keeps on the device
	// before reading them back (default 1024).
	LossSlots int
	// NoGraph keeps StepRows from capturing its step as a CUDA graph and
	// replaying it (the default when capture works); steps are then
	// launched one kernel at a time.
	NoGraph bool
}

// Trainer is one model on one GPU. It implements model.Trainer and, for a
// training split kept on the device, SetTrainingSet, StepRows and Sync.
//
// A Trainer holds a CUDA context, which is current per OS thread: the
// goroutine that creates a Trainer is bound to it (locked to its thread)
// until Close. Call its methods from that goroutine, or call Bind first in
// another one (and Unbind there when done); a method called from a
// goroutine that is not bound returns an error wrapping ErrNotCurrent. It is
// not safe for concurrent use.
type Trainer struct {
	c     model.Config
	opt   Options
	d     device
	lay   *layout
	hyper adamHyper
	p     float32 // dropout probability
	keep  float32 // 1/(1-p), the scale of a kept unit
	step  int64

	// Flat parameter, gradient and Adam moment buffers (see layout) and
	// views of each tensor in the first two.
	params, grads, m, v buf
	w, g                tensors

	// Activations for up to Config.Batch rows.
	x, y, imp, wa, xn    buf
	h, dh, ztag, dztag   buf
	zimp, dzimp, h2, dh2 buf
	z2, dz2              buf
	loss                 buf // LossSlots × 3 (tag, imp, imp2)
	hostLoss             []float32
	pending              []int // rows of each queued step since the last read-back
	sum                  lossSum
	res                  *resident
	closed               bool

	// Steps queued by StepRows and not launched yet: Config.Batch row
	// indices per step (padded) and each step's row count.
	qrows []int32
	qn    []int
	// rowCopies makes StepRows copy row by row instead of launching the
	// gather kernel (set when the device has none; tests set it too).
	rowCopies bool

	// CUDA-graph mode of StepRows: the device-side step state, Adam's
	// powers, the losses of the step being replayed, and the captured
	// step (nil until captured, or when capture failed: graphErr).
	state, pw, scratch buf
	graph              graph
	graphTried         bool
	graphDestroyed     bool // by Close (graph stays set for GraphMode)
	graphErr           error
	// eagerSteps counts the steps launched kernel by kernel.
	eagerSteps int
}

// tensors are device views of one model's parameter tensors (or of their
// gradients); the imp and imp2 ones are null for models without them.
type tensors struct {
	fc1W, fc1B, tagW, tagB, impW, impB buf
	i2W, i2B, i2oW, i2oB               buf
	// i2Wwa is the view of imp2.fc1.weight that starts at column D: the
	// weights of the WA part of Model 2's input.
	i2Wwa buf
}

// lossSum accumulates row-weighted step losses between two reads.
type lossSum struct {
	tag, imp, imp2 float64
	rows, steps    int
}

// New builds a GPU Trainer on the first GPU with FP32 GEMMs; it has the
// signature of model.Factory.
func New(c model.Config, st *model.State) (model.Trainer, error) {
	return NewTrainer(c, st, Options{})
}

// NewTrainer opens GPU o.Device, loads the kernels and cuBLAS, allocates
// the parameters, gradients, Adam moments and activations for c and
// uploads st (model.NewState(c) for a fresh model, a checkpoint to resume).
func NewTrainer(c model.Config, st *model.State, o Options) (tr *Trainer, err error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("gpu trainer: %w", err)
	}
	if err := st.Check(c); err != nil {
		return nil, fmt.Errorf("gpu trainer: %w", err)
	}
	if o.LossSlots <= 0 {
		o.LossSlots = 1024
	}
	t := &Trainer{c: c, opt: o, lay: newLayout(c), step: st.Step}
	t.p = float32(c.Dropout)
	t.keep = ops.KeepScale(t.p)
	t.hyper = adamHyper{lr: float32(c.LR), beta1: float32(c.Beta1), beta2: float32(c.Beta2), eps: float32(c.Eps)}
	if t.d, err = openDevice(o); err != nil {
		return nil, fmt.Errorf("gpu trainer: %w", err)
	}
	defer func() {
		if err != nil {
			t.Close()
		}
	}()
	if err = t.alloc(); err != nil {
		return nil, fmt.Errorf("gpu trainer for %s: %w", c.Kind, err)
	}
	if err = t.upload(st); err != nil {
		return nil, fmt.Errorf("gpu trainer for %s: %w", c.Kind, err)
	}
	return t, nil
}

// Device describes the GPU the trainer runs on, the cuBLAS it opened and
// how it gathers batches.
func (t *Trainer) Device() string { return t.d.describe() }

// alloc allocates every device buffer and makes the tensor views.
func (t *Trainer) alloc() error {
	c, B := t.c, t.c.Batch
	type req struct {
		dst *buf
		n   int
	}
	reqs := []req{
		{&t.params, t.lay.total}, {&t.grads, t.lay.total}, {&t.m, t.lay.total}, {&t.v, t.lay.total},
		{&t.x, B * c.D}, {&t.y, B * c.T}, {&t.imp, B * c.T},
		{&t.h, B * c.H}, {&t.dh, B * c.H}, {&t.ztag, B * c.T}, {&t.dztag, B * c.T},
		{&t.loss, 3 * t.opt.LossSlots},
		{&t.state, stateLen}, {&t.pw, 2}, {&t.scratch, 3},
	}
	if c.Kind.HasImportanceHead() {
		reqs = append(reqs, req{&t.zimp, B * c.T}, req{&t.dzimp, B * c.T})
	}
	if c.Kind.HasImportanceMLP() {
		reqs = append(reqs, req{&t.wa, B * c.E}, req{&t.xn, B * c.D},
			req{&t.h2, B * c.H2}, req{&t.dh2, B * c.H2}, req{&t.z2, B * c.T}, req{&t.dz2, B * c.T})
	}
	// Buffers start zeroed: the alignment gaps of the flat buffers then
	// stay zero through every Adam update (zero gradient, zero moments).
	for _, r := range reqs {
		b, err := t.d.alloc(max(r.n, 1))
		if err != nil {
			return err
		}
		*r.dst = b
	}
	var err error
	if t.w, err = t.views(t.params); err != nil {
		return err
	}
	t.g, err = t.views(t.grads)
	return err
}

func (t *Trainer) views(flat buf) (tensors, error) {
	var v tensors
	var firstErr error
	view := func(name string, skip int) buf {
		for i, s := range t.lay.specs {
			if s.Name == name {
				b, err := flat.slice(t.lay.offsets[i]+skip, t.lay.sizes[i]-skip)
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("view of %s: %w", name, err)
				}
				return b
			}
		}
		return null
	}
	v.fc1W, v.fc1B = view("fc1.weight", 0), view("fc1.bias", 0)
	v.tagW, v.tagB = view("tag.weight", 0), view("tag.bias", 0)
	if t.c.Kind.HasImportanceHead() {
		v.impW, v.impB = view("imp.weight", 0), view("imp.bias", 0)
	}
	if t.c.Kind.HasImportanceMLP() {
		v.i2W, v.i2B = view("imp2.fc1.weight", 0), view("imp2.fc1.bias", 0)
		v.i2oW, v.i2oB = view("imp2.out.weight", 0), view("imp2.out.bias", 0)
		v.i2Wwa = view("imp2.fc1.weight", t.c.D)
	}
	return v, firstErr
}

func (t *Trainer) upload(st *model.State) error {
	for _, u := range []struct {
		what string
		p    *model.Params
		dst  buf
	}{{"parameters", st.Params, t.params}, {"Adam first moment", st.M, t.m}, {"Adam second moment", st.V, t.v}} {
		flat, err := t.lay.flatten(u.p)
		if err != nil {
			return fmt.Errorf("%s: %w", u.what, err)
		}
		if err := t.d.upload(u.dst, flat); err != nil {
			return fmt.Errorf("upload %s: %w", u.what, err)
		}
	}
	return nil
}

// seq queues device work and keeps the first error, so a step reads as the
// list of its launches.
type seq struct {
	t   *Trainer
	err error
}

func (s *seq) do(what string, err error) {
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("%s: %w", what, err)
	}
}

// gemm is the row-major cuBLAS SGEMM (see cuda.BLAS.Sgemm).
func (s *seq) gemm(what string, ta, tb bool, M, N, K int, alpha float32, A buf, lda int, B buf, ldb int, beta float32, C buf, ldc int) {
	if s.err == nil {
		s.do(what, s.t.d.gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
	}
}

// linear queues Y[n,out] = X[n,in]·Wᵀ (W [out, in], row stride ldw) with
// beta = 0 or accumulates into Y with beta = 1.
func (s *seq) linear(what string, n, out, in int, X buf, ldx int, W buf, ldw int, beta float32, Y buf) {
	s.gemm(what, false, true, n, out, in, 1, X, ldx, W, ldw, beta, Y, out)
}

func (s *seq) dense(what string, Y, bias buf, rows, cols int, relu bool, key uint64, p float32) {
	if s.err == nil {
		s.do(what, s.t.d.denseForward(Y, bias, rows, cols, relu, key, p))
	}
}

func (s *seq) denseBack(what string, dA, dY, Y, db buf, rows, cols int, relu bool, keep float32) {
	if s.err == nil {
		s.do(what, s.t.d.denseBackward(dA, dY, Y, db, rows, cols, relu, keep))
	}
}

// dropoutKey is the key of layer's dropout masks in the step with counter
// step (model.Trainer's contract).
func (t *Trainer) dropoutKey(step int64, layer int) uint64 {
	return ops.StreamKey(uint64(t.c.Seed), ops.DropoutStream(uint64(step), layer))
}

// queueStep queues forward, losses, backward and Adam for the n rows in
// t.x, t.y, t.imp (and t.wa for Model 2), writing the three losses to
// loss[3·slot : 3·slot+3], and advances the step counter.
//
// With dev the step is the one a CUDA graph replays: the dropout keys and
// Adam's bias corrections come from device memory (t.state, t.pw), the
// losses go to t.scratch and then to the slot t.state names, and the
// device advances its step counter; the host's t.step is left alone.
func (t *Trainer) queueStep(n, slot int, dev bool) error {
	c := t.c
	s := &seq{t: t}
	lossAt := func(i int) buf {
		b, err := t.loss.slice(3*slot+i, 1)
		if dev {
			b, err = t.scratch.slice(i, 1)
		}
		s.do("loss slot", err)
		return b
	}
	epilogue := func(what string, Y, bias buf, cols, layer int) {
		if !dev {
			s.dense(what, Y, bias, n, cols, true, t.dropoutKey(t.step, layer), t.p)
		} else if s.err == nil {
			s.do(what, t.d.denseForwardDev(Y, bias, n, cols, true, uint64(c.Seed), t.state, layer, t.p))
		}
	}
	mask := null
	if c.ImpLossMask == model.MaskTrue {
		mask = t.y
	}
	nT := n * c.T
	w, g := t.w, t.g

	// Trunk: h = dropout(ReLU(x·W1ᵀ + b1)).
	s.linear("fc1 forward", n, c.H, c.D, t.x, c.D, w.fc1W, c.D, 0, t.h)
	epilogue("fc1 epilogue", t.h, w.fc1B, c.H, 0)
	// Tag head: BCE with logits, its gradient in place of the loss pass.
	s.linear("tag forward", n, c.T, c.H, t.h, c.H, w.tagW, c.H, 0, t.ztag)
	s.dense("tag bias", t.ztag, w.tagB, n, c.T, false, 0, 0)
	if s.err == nil {
		s.do("tag loss", t.d.bce(t.dztag, null, lossAt(0), t.ztag, t.y, nT))
	}
	if c.Kind.HasImportanceHead() {
		s.linear("imp forward", n, c.T, c.H, t.h, c.H, w.impW, c.H, 0, t.zimp)
		s.dense("imp bias", t.zimp, w.impB, n, c.T, false, 0, 0)
		if s.err == nil {
			s.do("imp loss", t.d.sigmoidMSE(t.dzimp, null, lossAt(1), t.zimp, t.imp, mask, nT))
		}
	}
	if c.Kind.HasImportanceMLP() {
		// imp2 input = concat(L2norm(x), wa): the GEMM is split over the
		// two column blocks of imp2.fc1.weight, so no concatenation is
		// materialised.
		if s.err == nil {
			s.do("L2-normalise features", t.d.l2normRows(t.xn, c.D, t.x, n, c.D))
		}
		DE := c.D + c.E
		s.linear("imp2.fc1 forward (features)", n, c.H2, c.D, t.xn, c.D, w.i2W, DE, 0, t.h2)
		s.linear("imp2.fc1 forward (WA)", n, c.H2, c.E, t.wa, c.E, w.i2Wwa, DE, 1, t.h2)
		epilogue("imp2.fc1 epilogue", t.h2, w.i2B, c.H2, 1)
		s.linear("imp2.out forward", n, c.T, c.H2, t.h2, c.H2, w.i2oW, c.H2, 0, t.z2)
		s.dense("imp2.out bias", t.z2, w.i2oB, n, c.T, false, 0, 0)
		if s.err == nil {
			s.do("imp2 loss", t.d.sigmoidMSE(t.dz2, null, lossAt(2), t.z2, t.imp, mask, nT))
		}
		// Backward of the importance MLP (its input is data: no dx).
		s.denseBack("imp2.out bias grad", null, t.dz2, null, g.i2oB, n, c.T, false, 1)
		s.gemm("imp2.out weight grad", true, false, c.T, c.H2, n, 1, t.dz2, c.T, t.h2, c.H2, 0, g.i2oW, c.H2)
		s.gemm("imp2 hidden grad", false, false, n, c.H2, c.T, 1, t.dz2, c.T, w.i2oW, c.H2, 0, t.dh2, c.H2)
		s.denseBack("imp2.fc1 epilogue grad", t.dh2, t.dh2, t.h2, g.i2B, n, c.H2, true, t.keep)
		s.gemm("imp2.fc1 weight grad (features)", true, false, c.H2, c.D, n, 1, t.dh2, c.H2, t.xn, c.D, 0, g.i2W, DE)
		s.gemm("imp2.fc1 weight grad (WA)", true, false, c.H2, c.E, n, 1, t.dh2, c.H2, t.wa, c.E, 0, g.i2Wwa, DE)
	}
	// Backward of the heads into dh, then through the trunk's epilogue.
	s.denseBack("tag bias grad", null, t.dztag, null, g.tagB, n, c.T, false, 1)
	s.gemm("tag weight grad", true, false, c.T, c.H, n, 1, t.dztag, c.T, t.h, c.H, 0, g.tagW, c.H)
	s.gemm("trunk grad from tag", false, false, n, c.H, c.T, 1, t.dztag, c.T, w.tagW, c.H, 0, t.dh, c.H)
	if c.Kind.HasImportanceHead() {
		s.denseBack("imp bias grad", null, t.dzimp, null, g.impB, n, c.T, false, 1)
		s.gemm("imp weight grad", true, false, c.T, c.H, n, 1, t.dzimp, c.T, t.h, c.H, 0, g.impW, c.H)
		s.gemm("trunk grad from imp", false, false, n, c.H, c.T, 1, t.dzimp, c.T, w.impW, c.H, 1, t.dh, c.H)
	}
	s.denseBack("fc1 epilogue grad", t.dh, t.dh, t.h, g.fc1B, n, c.H, true, t.keep)
	s.gemm("fc1 weight grad", true, false, c.H, c.D, n, 1, t.dh, c.H, t.x, c.D, 0, g.fc1W, c.D)
	// One Adam launch over every parameter.
	if dev {
		if s.err == nil {
			s.do("Adam powers", t.d.adamPowers(t.pw, t.hyper.beta1, t.hyper.beta2))
		}
		if s.err == nil {
			s.do("Adam", t.d.adamDev(t.params, t.grads, t.m, t.v, t.lay.total, t.hyper, t.pw))
		}
		if s.err == nil {
			s.do("step end", t.d.stepEnd(t.loss, t.scratch, t.state, true))
		}
		if s.err != nil {
			return fmt.Errorf("graph step of %s: %w", c.Kind, s.err)
		}
		return nil
	}
	bc1, bc2 := ops.AdamBiasCorrections(t.hyper.beta1, t.hyper.beta2, int(t.step+1))
	if s.err == nil {
		s.do("Adam", t.d.adam(t.params, t.grads, t.m, t.v, t.lay.total, t.hyper, bc1, bc2))
	}
	if s.err != nil {
		return fmt.Errorf("step %d of %s: %w", t.step, c.Kind, s.err)
	}
	t.step++
	t.eagerSteps++
	return nil
}

// checkRows validates a batch size.
func (t *Trainer) checkRows(n int) error {
	if n < 1 || n > t.c.Batch {
		return fmt.Errorf("gpu trainer: batch of %d rows, want 1..%d (Config.Batch)", n, t.c.Batch)
	}
	return nil
}

// Step trains on one batch from the host: it uploads the batch, queues the
// step, waits for it and returns its losses.
func (t *Trainer) Step(b *model.Batch) (model.Losses, error) {
	if err := t.usable(); err != nil {
		return model.Losses{}, err
	}
	c, n := t.c, b.N
	if err := t.checkRows(n); err != nil {
		return model.Losses{}, err
	}
	if len(b.X) < n*c.D || len(b.Y) < n*c.T || (c.Kind != model.Baseline && len(b.Imp) < n*c.T) {
		return model.Losses{}, fmt.Errorf("gpu step: batch of %d rows holds %d features, %d presences, %d importances; want %d, %d, %d",
			n, len(b.X), len(b.Y), len(b.Imp), n*c.D, n*c.T, n*c.T)
	}
	if c.Kind.HasImportanceMLP() && len(b.WA) < n*c.E {
		return model.Losses{}, fmt.Errorf("gpu step: model2 batch of %d rows holds %d WA values, want %d", n, len(b.WA), n*c.E)
	}
	if err := t.drain(); err != nil {
		return model.Losses{}, err
	}
	type upload struct {
		dst buf
		src []float32
	}
	up := []upload{{t.x, b.X[:n*c.D]}, {t.y, b.Y[:n*c.T]}}
	if c.Kind != model.Baseline {
		up = append(up, upload{t.imp, b.Imp[:n*c.T]})
	}
	if c.Kind.HasImportanceMLP() {
		up = append(up, upload{t.wa, b.WA[:n*c.E]})
	}
	for _, u := range up {
		if err := t.d.upload(u.dst, u.src); err != nil {
			return model.Losses{}, fmt.Errorf("gpu step: %w", err)
		}
	}
	// Losses of resident steps not yet read stay in t.sum for Sync.
	saved := t.sum
	t.sum = lossSum{}
	defer func() { t.sum = saved }()
	if err := t.queueStep(n, 0, false); err != nil {
		return model.Losses{}, err
	}
	t.pending = append(t.pending, n)
	if err := t.readLosses(); err != nil {
		return model.Losses{}, err
	}
	return t.takeLosses(), nil
}

// readLosses waits for the queued steps, reads their losses back and adds
// them, weighted by their rows, to t.sum.
func (t *Trainer) readLosses() error {
	k := len(t.pending)
	if k == 0 {
		return nil
	}
	if cap(t.hostLoss) < 3*k {
		t.hostLoss = make([]float32, 3*t.opt.LossSlots)
	}
	hl := t.hostLoss[:3*k]
	if err := t.d.download(hl, t.loss); err != nil {
		return fmt.Errorf("read back the losses of %d step(s): %w", k, err)
	}
	for i, n := range t.pending {
		w := float64(n)
		t.sum.tag += w * float64(hl[3*i])
		if t.c.Kind.HasImportanceHead() {
			t.sum.imp += w * float64(hl[3*i+1])
		}
		if t.c.Kind.HasImportanceMLP() {
			t.sum.imp2 += w * float64(hl[3*i+2])
		}
		t.sum.rows += n
		t.sum.steps++
	}
	t.pending = t.pending[:0]
	return nil
}

// takeLosses returns the row-weighted mean losses in t.sum and clears it.
func (t *Trainer) takeLosses() model.Losses {
	s := t.sum
	t.sum = lossSum{}
	if s.rows == 0 {
		return model.Losses{}
	}
	r := float64(s.rows)
	l := model.Losses{Tag: s.tag / r, Imp: s.imp / r, Imp2: s.imp2 / r}
	l.Total = l.Tag + l.Imp + l.Imp2
	return l
}

// Forward returns the tag probabilities and the importance head's output
// (n×T each) without dropout. For the Baseline the importance is the tag
// probability.
func (t *Trainer) Forward(x []float32, n int) (prob, imp []float32, err error) {
	if err := t.usable(); err != nil {
		return nil, nil, err
	}
	c := t.c
	if len(x) != n*c.D {
		return nil, nil, fmt.Errorf("gpu forward: %d feature values for %d rows of width %d", len(x), n, c.D)
	}
	if err := t.drain(); err != nil {
		return nil, nil, err
	}
	prob = make([]float32, n*c.T)
	imp = make([]float32, n*c.T)
	for lo := 0; lo < n; lo += c.Batch {
		m := min(c.Batch, n-lo)
		if err := t.d.upload(t.x, x[lo*c.D:(lo+m)*c.D]); err != nil {
			return nil, nil, fmt.Errorf("gpu forward: %w", err)
		}
		s := &seq{t: t}
		s.linear("fc1 forward", m, c.H, c.D, t.x, c.D, t.w.fc1W, c.D, 0, t.h)
		s.dense("fc1 epilogue", t.h, t.w.fc1B, m, c.H, true, 0, 0)
		s.linear("tag forward", m, c.T, c.H, t.h, c.H, t.w.tagW, c.H, 0, t.ztag)
		s.dense("tag bias", t.ztag, t.w.tagB, m, c.T, false, 0, 0)
		if s.err == nil {
			s.do("sigmoid", t.d.sigmoid(t.ztag, t.ztag, m*c.T))
		}
		if c.Kind.HasImportanceHead() {
			s.linear("imp forward", m, c.T, c.H, t.h, c.H, t.w.impW, c.H, 0, t.zimp)
			s.dense("imp bias", t.zimp, t.w.impB, m, c.T, false, 0, 0)
			if s.err == nil {
				s.do("sigmoid", t.d.sigmoid(t.zimp, t.zimp, m*c.T))
			}
		}
		if s.err != nil {
			return nil, nil, fmt.Errorf("gpu forward rows %d–%d: %w", lo, lo+m-1, s.err)
		}
		if err := t.d.download(prob[lo*c.T:(lo+m)*c.T], t.ztag); err != nil {
			return nil, nil, fmt.Errorf("gpu forward: %w", err)
		}
		dst := imp[lo*c.T : (lo+m)*c.T]
		if c.Kind.HasImportanceHead() {
			err = t.d.download(dst, t.zimp)
		} else {
			copy(dst, prob[lo*c.T:(lo+m)*c.T])
		}
		if err != nil {
			return nil, nil, fmt.Errorf("gpu forward: %w", err)
		}
	}
	return prob, imp, nil
}

// Importance2 returns Model 2's importance MLP output (n×T) for features x
// (n×D) and L2-normalised word-vector averages wa (n×E), without dropout.
func (t *Trainer) Importance2(x, wa []float32, n int) ([]float32, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	c := t.c
	if !c.Kind.HasImportanceMLP() {
		return nil, fmt.Errorf("gpu: %s has no importance MLP (only model2 does)", c.Kind)
	}
	if len(x) != n*c.D || len(wa) != n*c.E {
		return nil, fmt.Errorf("gpu importance2: %d feature and %d WA values for %d rows, want %d and %d", len(x), len(wa), n, n*c.D, n*c.E)
	}
	if err := t.drain(); err != nil {
		return nil, err
	}
	out := make([]float32, n*c.T)
	DE := c.D + c.E
	for lo := 0; lo < n; lo += c.Batch {
		m := min(c.Batch, n-lo)
		if err := t.d.upload(t.x, x[lo*c.D:(lo+m)*c.D]); err != nil {
			return nil, fmt.Errorf("gpu importance2: %w", err)
		}
		if err := t.d.upload(t.wa, wa[lo*c.E:(lo+m)*c.E]); err != nil {
			return nil, fmt.Errorf("gpu importance2: %w", err)
		}
		s := &seq{t: t}
		s.do("L2-normalise features", t.d.l2normRows(t.xn, c.D, t.x, m, c.D))
		s.linear("imp2.fc1 forward (features)", m, c.H2, c.D, t.xn, c.D, t.w.i2W, DE, 0, t.h2)
		s.linear("imp2.fc1 forward (WA)", m, c.H2, c.E, t.wa, c.E, t.w.i2Wwa, DE, 1, t.h2)
		s.dense("imp2.fc1 epilogue", t.h2, t.w.i2B, m, c.H2, true, 0, 0)
		s.linear("imp2.out forward", m, c.T, c.H2, t.h2, c.H2, t.w.i2oW, c.H2, 0, t.z2)
		s.dense("imp2.out bias", t.z2, t.w.i2oB, m, c.T, false, 0, 0)
		if s.err == nil {
			s.do("sigmoid", t.d.sigmoid(t.z2, t.z2, m*c.T))
		}
		if s.err != nil {
			return nil, fmt.Errorf("gpu importance2 rows %d–%d: %w", lo, lo+m-1, s.err)
		}
		if err := t.d.download(out[lo*c.T:(lo+m)*c.T], t.z2); err != nil {
			return nil, fmt.Errorf("gpu importance2: %w", err)
		}
	}
	return out, nil
}

// State copies the parameters, Adam moments and step counter to the host.
func (t *Trainer) State() (*model.State, error) {
	if err := t.usable(); err != nil {
		return nil, err
	}
	if err := t.drain(); err != nil {
		return nil, err
	}
	st := &model.State{Step: t.step}
	flat := make([]float32, t.lay.total)
	for _, d := range []struct {
		what string
		src  buf
		dst  **model.Params
	}{{"parameters", t.params, &st.Params}, {"Adam first moment", t.m, &st.M}, {"Adam second moment", t.v, &st.V}} {
		if err := t.d.download(flat, d.src); err != nil {
			return nil, fmt.Errorf("gpu state: read %s: %w", d.what, err)
		}
		*d.dst = t.lay.unflatten(flat)
	}
	return st, nil
}

// ErrClosed is returned by the methods of a closed Trainer.
var ErrClosed = errors.New("gpu trainer is closed")

func (t *Trainer) usable() error {
	if t.closed {
		return ErrClosed
	}
	return nil
}

// Bind binds the calling goroutine to the trainer's device (locking it to
// its OS thread), so that it may call the trainer's methods; pair it with
// Unbind in the same goroutine. The goroutine that created the trainer is
// bound already.
func (t *Trainer) Bind() error {
	if err := t.usable(); err != nil {
		return err
	}
	return t.d.bind()
}

// Unbind undoes the calling goroutine's last Bind.
func (t *Trainer) Unbind() error {
	if err := t.usable(); err != nil {
		return err
	}
	return t.d.unbind()
}

// Close frees the device memory, releases the device and unbinds the
// calling goroutine, which must be bound (normally the one that created the
// trainer; from another one Close returns an error wrapping ErrNotCurrent
// and releases nothing). Calling it again does nothing.
func (t *Trainer) Close() error {
	if t.closed {
		return nil
	}
	if t.d == nil {
		t.closed = true
		return nil
	}
	if t.graph != nil && !t.graphDestroyed {
		if err := t.graph.destroy(); errors.Is(err, ErrNotCurrent) {
			return fmt.Errorf("close gpu trainer: %w", err)
		}
		t.graphDestroyed = true
	}
	// The device frees every allocation with itself.
	err := t.d.close()
	if errors.Is(err, ErrNotCurrent) {
		return fmt.Errorf("close gpu trainer: %w", err)
	}
	t.closed = true
	if err != nil {
		return fmt.Errorf("close gpu trainer: %w", err)
	}
	return nil
}
