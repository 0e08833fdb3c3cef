//go:build gpu && emu

package gpu

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"tagimp/model/ops"
)

// ErrNotCurrent is wrapped by the error of every device operation made from
// a goroutine that is not bound to the trainer's device (see
// Trainer.Bind). The emulator models CUDA's rule that a context is current
// per OS thread, so that CI catches a call from the wrong goroutine.
var ErrNotCurrent = errors.New("the (emulated) CUDA context is not current on the calling goroutine's OS thread")

// emuThreads models the driver's per-thread context stacks: for each OS
// thread (by thread id) the contexts pushed on it, the current one last.
// A context is a GPU's primary context, named by the GPU's ordinal: two
// trainers on the same GPU share it, as they do through package cuda. A
// thread appears here only while a goroutine locked to it is bound, as with
// cuCtxPushCurrent/cuCtxPopCurrent in package cuda.
var emuThreads = struct {
	sync.Mutex
	stacks map[int][]int
}{stacks: map[int][]int{}}

// bind locks the calling goroutine to its thread and pushes d there.
func (d *emuDevice) bind() error {
	if d.closed {
		return errors.New("bind: the emulated device is closed")
	}
	runtime.LockOSThread()
	emuThreads.Lock()
	defer emuThreads.Unlock()
	tid := syscall.Gettid()
	emuThreads.stacks[tid] = append(emuThreads.stacks[tid], d.ordinal)
	return nil
}

// unbind pops d from the calling thread and unlocks it.
func (d *emuDevice) unbind() error {
	if err := d.check("unbind"); err != nil {
		return err
	}
	emuThreads.Lock()
	tid := syscall.Gettid()
	st := emuThreads.stacks[tid]
	if len(st) == 1 {
		delete(emuThreads.stacks, tid)
	} else {
		emuThreads.stacks[tid] = st[:len(st)-1]
	}
	emuThreads.Unlock()
	runtime.UnlockOSThread()
	return nil
}

// check returns an error wrapping ErrNotCurrent unless d is the current
// device of the calling thread, as package cuda does before every call.
func (d *emuDevice) check(what string) error {
	if d.closed {
		return fmt.Errorf("%s: the emulated device is closed", what)
	}
	emuThreads.Lock()
	st := emuThreads.stacks[syscall.Gettid()]
	emuThreads.Unlock()
	if len(st) == 0 || st[len(st)-1] != d.ordinal {
		return fmt.Errorf("%s on the emulated GPU: %w: call the trainer from the goroutine that created it, or call Trainer.Bind in this goroutine first and Unbind when done", what, ErrNotCurrent)
	}
	return nil
}

// emuDevice runs the engine's device operations on the host with the CPU
// twins of model/ops (build tag emu, tests only): no GPU, no CUDA, but the
// engine's whole sequence of operations — GEMM shapes, leading dimensions,
// tensor views, loss slots, the resident split and its gather — runs and
// is checked against the CPU engine. Every operand is the exact slice of
// its view, so a stride that reaches outside a view panics.
type emuDevice struct {
	mem [][]float32 // by buf.id; nil once freed
	// capture, when not nil, collects operations instead of running them
	// (beginCapture … endCapture); a graph replays them in order.
	capture *emuGraph
	closed  bool
	// ordinal names the GPU whose primary context the device uses.
	ordinal int
}

// run runs op now, or records it while capturing, after checking that d
// is current on the calling thread.
func (d *emuDevice) run(what string, op func()) error {
	if err := d.check(what); err != nil {
		return err
	}
	if d.capture != nil {
		d.capture.ops = append(d.capture.ops, op)
		return nil
	}
	op()
	return nil
}

// openDevice opens an emulated device bound to the calling goroutine, as
// cuda.Open binds the goroutine that opens a context.
func openDevice(o Options) (device, error) {
	d := &emuDevice{ordinal: o.Device}
	if err := d.bind(); err != nil {
		return nil, err
	}
	return d, nil
}

// s returns the slice of b (nil for null).
func (d *emuDevice) s(b buf) []float32 {
	if b.isNull() {
		return nil
	}
	m := d.mem[b.id()]
	if m == nil {
		panic(fmt.Sprintf("emu: buffer %d used after it was freed", b.id()))
	}
	return m[b.off : b.off+b.n : b.off+b.n]
}

// errCaptureUnsupported is what the driver answers a synchronous call
// (allocation, free, upload, download, synchronise) made while a stream
// capture is open in the thread-local mode package cuda uses; the capture
// is invalidated too.
var errCaptureUnsupported = errors.New("CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (operation not permitted when stream is capturing)")

// syncCall checks that d is current and no capture is open, as the driver
// does for calls that synchronise or allocate; a call made during a
// capture fails and invalidates the capture, as on a GPU.
func (d *emuDevice) syncCall(what string) error {
	if err := d.check(what); err != nil {
		return err
	}
	if d.capture != nil {
		d.capture.invalid = what
		return fmt.Errorf("%s during graph capture: %w", what, errCaptureUnsupported)
	}
	return nil
}

func (d *emuDevice) alloc(n int) (buf, error) {
	if err := d.syncCall("allocate device memory"); err != nil {
		return null, err
	}
	d.mem = append(d.mem, make([]float32, n))
	return buf{ref: len(d.mem), n: n}, nil
}

func (d *emuDevice) free(b buf) error {
	if err := d.syncCall("free device memory"); err != nil {
		return err
	}
	if !b.isNull() {
		d.mem[b.id()] = nil
	}
	return nil
}

func (d *emuDevice) upload(dst buf, src []float32) error {
	if err := d.syncCall("copy host→device"); err != nil {
		return err
	}
	if len(src) > dst.n {
		return fmt.Errorf("upload %d float32 into a device buffer of %d", len(src), dst.n)
	}
	copy(d.s(dst), src)
	return nil
}

func (d *emuDevice) uploadI32(dst buf, src []int32) error {
	if err := d.syncCall("copy host→device"); err != nil {
		return err
	}
	if len(src) > dst.n {
		return fmt.Errorf("upload %d int32 into a device buffer of %d", len(src), dst.n)
	}
	s := d.s(dst)
	for i, v := range src {
		s[i] = math.Float32frombits(uint32(v))
	}
	return nil
}

func (d *emuDevice) download(dst []float32, src buf) error {
	if err := d.syncCall("copy device→host"); err != nil {
		return err
	}
	if len(dst) > src.n {
		return fmt.Errorf("download %d float32 from a device buffer of %d", len(dst), src.n)
	}
	copy(dst, d.s(src))
	return nil
}

func (d *emuDevice) copy(dst, src buf) error {
	return d.run("copy device→device", func() {
		copy(d.s(dst), d.s(src))
	})
}

func (d *emuDevice) sync() error { return d.syncCall("synchronize") }

func (d *emuDevice) memFree() (int64, error) {
	if err := d.check("memory info"); err != nil {
		return 0, err
	}
	return 8 << 30, nil
}

func (d *emuDevice) gemm(ta, tb bool, M, N, K int, alpha float32, A buf, lda int, B buf, ldb int, beta float32, C buf, ldc int) error {
	return d.run("cublasSgemm", func() {
		ops.Sgemm(ta, tb, M, N, K, alpha, d.s(A), lda, d.s(B), ldb, beta, d.s(C), ldc)
	})
}

func (d *emuDevice) denseForward(Y, bias buf, rows, cols int, relu bool, key uint64, p float32) error {
	return d.run("launch tg_dense_forward", func() {
		y, b := d.s(Y), d.s(bias)
		a := ops.ActNone
		if relu {
			a = ops.ActReLU
		}
		for i := range y[:rows*cols] {
			var bi float32
			if b != nil {
				bi = b[i%cols]
			}
			y[i] = ops.DenseAct(y[i], bi, a, key, uint64(i), p)
		}
	})
}

func (d *emuDevice) denseBackward(dA, dY, Y, db buf, rows, cols int, relu bool, keep float32) error {
	return d.run("launch tg_dense_backward", func() {
		a := ops.ActNone
		if relu {
			a = ops.ActReLU
		}
		ops.DenseBackward(d.s(dA), d.s(dY), d.s(Y), d.s(db), rows, cols, a, keep)
	})
}

func (d *emuDevice) bce(grad, prob, loss, z, y buf, n int) error {
	return d.run("launch tg_bce_logits", func() {
		g, p := d.s(grad), d.s(prob)
		if g != nil {
			g = g[:n]
		}
		if p != nil {
			p = p[:n]
		}
		l := ops.BCEWithLogits(g, p, d.s(z)[:n], d.s(y)[:n])
		if l2 := d.s(loss); l2 != nil {
			l2[0] = l
		}
	})
}

func (d *emuDevice) sigmoidMSE(grad, prob, loss, z, t, mask buf, n int) error {
	return d.run("launch tg_sigmoid_mse", func() {
		g, p, m := d.s(grad), d.s(prob), d.s(mask)
		if g != nil {
			g = g[:n]
		}
		if p != nil {
			p = p[:n]
		}
		if m != nil {
			m = m[:n]
		}
		l := ops.SigmoidMSE(g, p, d.s(z)[:n], d.s(t)[:n], m)
		if l2 := d.s(loss); l2 != nil {
			l2[0] = l
		}
	})
}

func (d *emuDevice) sigmoid(out, z buf, n int) error {
	return d.run("launch tg_sigmoid_fwd", func() {
		o, zz := d.s(out), d.s(z)
		for i := 0; i < n; i++ {
			o[i] = ops.Sigmoid(zz[i])
		}
	})
}

func (d *emuDevice) l2normRows(out buf, stride int, x buf, rows, dim int) error {
	return d.run("launch tg_l2norm_rows", func() {
		ops.L2NormalizeRows(d.s(out), stride, d.s(x), rows, dim)
	})
}

func (d *emuDevice) weightedAverage(out buf, stride int, probs, vecs buf, rows, t, e int, theta float32) error {
	return d.run("launch tg_weighted_average", func() {
		o, p, v := d.s(out), d.s(probs), d.s(vecs)
		for r := 0; r < rows; r++ {
			ops.WeightedAverage(o[r*stride:r*stride+e], p[r*t:(r+1)*t], v, 1, t, e, theta)
		}
	})
}

func (d *emuDevice) adam(p, g, m, v buf, n int, h adamHyper, bc1, bc2 float32) error {
	return d.run("launch tg_adam", func() {
		ops.Adam(d.s(p)[:n], d.s(g)[:n], d.s(m)[:n], d.s(v)[:n],
			ops.AdamConfig{LR: h.lr, Beta1: h.beta1, Beta2: h.beta2, Eps: h.eps}, bc1, bc2)
	})
}

// i32 views b's words as int32 (row indices stored by uploadI32).
func (d *emuDevice) i32(b buf) []int32 {
	s := d.s(b)
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*int32)(unsafe.Pointer(&s[0])), len(s))
}

// stepState reads the tg_step_state (ops.StepState) in state.
func (d *emuDevice) stepState(state buf) ops.StepState {
	s := d.s(state)
	w := make([]uint32, len(s))
	for i, v := range s {
		w[i] = math.Float32bits(v)
	}
	st, err := ops.StepStateFromWords(w)
	if err != nil {
		panic("emu: " + err.Error())
	}
	return st
}

func (d *emuDevice) gather(dst, src, rows buf, n, cols int) (bool, error) {
	return true, d.run("launch tg_gather_rows", func() {
		ops.GatherRows(d.s(dst), d.s(src), d.i32(rows)[:n], cols)
	})
}

func (d *emuDevice) setState(state buf, step uint64, slot int) error {
	if err := d.syncCall("copy host→device"); err != nil {
		return err
	}
	w := ops.StepState{Step: step, Slot: int32(slot)}.Words()
	s := d.s(state)
	if len(s) < len(w) {
		return fmt.Errorf("step state: device buffer of %d float32, want %d", len(s), len(w))
	}
	for i, v := range w {
		s[i] = math.Float32frombits(v)
	}
	return nil
}

func (d *emuDevice) gatherDev(dst, src, rows, state buf, batch, cols int) (bool, error) {
	return true, d.run("launch tg_gather_rows_dev", func() {
		ops.GatherRowsStep(d.s(dst), d.s(src), d.i32(rows), d.stepState(state), batch, cols)
	})
}

func (d *emuDevice) denseForwardDev(Y, bias buf, rows, cols int, relu bool, seed uint64, state buf, layer int, p float32) error {
	return d.run("launch tg_dense_forward_dev", func() {
		a := ops.ActNone
		if relu {
			a = ops.ActReLU
		}
		ops.DenseForwardStep(d.s(Y), d.s(bias), rows, cols, a, seed, d.stepState(state), layer, p)
	})
}

func (d *emuDevice) stepEnd(slots, scratch, state buf, copyLoss bool) error {
	return d.run("launch tg_step_end", func() {
		st := d.stepState(state)
		ops.StepEnd(d.s(slots), d.s(scratch), stepLosses(copyLoss), &st)
		if err := d.setState(state, st.Step, int(st.Slot)); err != nil {
			panic("emu: " + err.Error())
		}
	})
}

func (d *emuDevice) adamPowers(pw buf, beta1, beta2 float32) error {
	return d.run("launch tg_adam_powers", func() {
		w := d.s(pw)
		p := [2]float32{w[0], w[1]}
		ops.AdamPowers(&p, beta1, beta2)
		w[0], w[1] = p[0], p[1]
	})
}

func (d *emuDevice) adamDev(p, g, m, v buf, n int, h adamHyper, pw buf) error {
	return d.run("launch tg_adam_dev", func() {
		w := d.s(pw)
		ops.Adam(d.s(p)[:n], d.s(g)[:n], d.s(m)[:n], d.s(v)[:n],
			ops.AdamConfig{LR: h.lr, Beta1: h.beta1, Beta2: h.beta2, Eps: h.eps}, 1-w[0], 1-w[1])
	})
}

func (d *emuDevice) beginCapture() error {
	if err := d.check("begin graph capture"); err != nil {
		return err
	}
	if d.capture != nil {
		return fmt.Errorf("begin graph capture: a capture is already open (CUDA_ERROR_ILLEGAL_STATE)")
	}
	d.capture = &emuGraph{d: d}
	return nil
}

func (d *emuDevice) endCapture() (graph, error) {
	if err := d.check("end graph capture"); err != nil {
		return nil, err
	}
	g := d.capture
	d.capture = nil
	if g == nil {
		return nil, fmt.Errorf("end graph capture: no capture open (CUDA_ERROR_ILLEGAL_STATE)")
	}
	if g.invalid != "" {
		return nil, fmt.Errorf("end graph capture: CUDA_ERROR_STREAM_CAPTURE_INVALIDATED (%s was called during the capture)", g.invalid)
	}
	return g, nil
}

func (d *emuDevice) resetCapture() error {
	if err := d.check("reset graph capture"); err != nil {
		return err
	}
	d.capture = nil
	return nil
}

// emuGraph is a recorded list of operations. invalid names the first
// call that broke the capture (empty when none did).
type emuGraph struct {
	d       *emuDevice
	ops     []func()
	invalid string
}

func (g *emuGraph) launch() error {
	if err := g.d.check("launch CUDA graph"); err != nil {
		return err
	}
	if g.d.capture != nil {
		// Launching a graph into an open capture is legal on a GPU (it
		// becomes a child graph); the engine never does it.
		return errors.New("launch CUDA graph: a capture is open on the emulated device (the engine never nests graphs)")
	}
	for _, op := range g.ops {
		op()
	}
	return nil
}

func (g *emuGraph) destroy() error { return g.d.check("destroy CUDA graph") }

func (d *emuDevice) describe() string { return "emulated GPU (host, model/ops twins)" }

// close frees everything and unbinds the calling goroutine, which must be
// bound (normally the one that opened the device), as cuda.Context.Close.
func (d *emuDevice) close() error {
	if d.closed {
		return nil
	}
	if err := d.check("close"); err != nil {
		return err
	}
	if d.capture != nil {
		return errors.New("close: a graph capture is open (end it first)")
	}
	err := d.unbind()
	d.mem, d.closed = nil, true
	return err
}

// emulated reports whether this build runs the device operations on the
// host (build tag emu).
const emulated = true
