//go:build gpu && emu

package gpu

import (
	"fmt"
	"math"
	"unsafe"

	"tagimp/model/ops"
)

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
}

// run runs op now, or records it while capturing.
func (d *emuDevice) run(op func()) error {
	if d.capture != nil {
		d.capture.ops = append(d.capture.ops, op)
		return nil
	}
	op()
	return nil
}

func openDevice(o Options) (device, error) { return &emuDevice{}, nil }

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

func (d *emuDevice) alloc(n int) (buf, error) {
	d.mem = append(d.mem, make([]float32, n))
	return buf{ref: len(d.mem), n: n}, nil
}

func (d *emuDevice) free(b buf) error {
	if !b.isNull() {
		d.mem[b.id()] = nil
	}
	return nil
}

func (d *emuDevice) upload(dst buf, src []float32) error {
	if len(src) > dst.n {
		return fmt.Errorf("upload %d float32 into a device buffer of %d", len(src), dst.n)
	}
	copy(d.s(dst), src)
	return nil
}

func (d *emuDevice) uploadI32(dst buf, src []int32) error {
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
	if len(dst) > src.n {
		return fmt.Errorf("download %d float32 from a device buffer of %d", len(dst), src.n)
	}
	copy(dst, d.s(src))
	return nil
}

func (d *emuDevice) copy(dst, src buf) error {
	return d.run(func() {
		copy(d.s(dst), d.s(src))
	})
}

func (d *emuDevice) sync() error             { return nil }
func (d *emuDevice) memFree() (int64, error) { return 8 << 30, nil }

func (d *emuDevice) gemm(ta, tb bool, M, N, K int, alpha float32, A buf, lda int, B buf, ldb int, beta float32, C buf, ldc int) error {
	return d.run(func() {
		ops.Sgemm(ta, tb, M, N, K, alpha, d.s(A), lda, d.s(B), ldb, beta, d.s(C), ldc)
	})
}

func (d *emuDevice) denseForward(Y, bias buf, rows, cols int, relu bool, key uint64, p float32) error {
	return d.run(func() {
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
	return d.run(func() {
		a := ops.ActNone
		if relu {
			a = ops.ActReLU
		}
		ops.DenseBackward(d.s(dA), d.s(dY), d.s(Y), d.s(db), rows, cols, a, keep)
	})
}

func (d *emuDevice) bce(grad, prob, loss, z, y buf, n int) error {
	return d.run(func() {
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
	return d.run(func() {
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
	return d.run(func() {
		o, zz := d.s(out), d.s(z)
		for i := 0; i < n; i++ {
			o[i] = ops.Sigmoid(zz[i])
		}
	})
}

func (d *emuDevice) l2normRows(out buf, stride int, x buf, rows, dim int) error {
	return d.run(func() {
		ops.L2NormalizeRows(d.s(out), stride, d.s(x), rows, dim)
	})
}

func (d *emuDevice) weightedAverage(out buf, stride int, probs, vecs buf, rows, t, e int, theta float32) error {
	return d.run(func() {
		o, p, v := d.s(out), d.s(probs), d.s(vecs)
		for r := 0; r < rows; r++ {
			ops.WeightedAverage(o[r*stride:r*stride+e], p[r*t:(r+1)*t], v, 1, t, e, theta)
		}
	})
}

func (d *emuDevice) adam(p, g, m, v buf, n int, h adamHyper, bc1, bc2 float32) error {
	return d.run(func() {
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
	return true, d.run(func() {
		ops.GatherRows(d.s(dst), d.s(src), d.i32(rows)[:n], cols)
	})
}

func (d *emuDevice) setState(state buf, step uint64, slot int) error {
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
	return true, d.run(func() {
		ops.GatherRowsStep(d.s(dst), d.s(src), d.i32(rows), d.stepState(state), batch, cols)
	})
}

func (d *emuDevice) denseForwardDev(Y, bias buf, rows, cols int, relu bool, seed uint64, state buf, layer int, p float32) error {
	return d.run(func() {
		a := ops.ActNone
		if relu {
			a = ops.ActReLU
		}
		ops.DenseForwardStep(d.s(Y), d.s(bias), rows, cols, a, seed, d.stepState(state), layer, p)
	})
}

func (d *emuDevice) stepEnd(slots, scratch, state buf, copyLoss bool) error {
	return d.run(func() {
		st := d.stepState(state)
		ops.StepEnd(d.s(slots), d.s(scratch), stepLosses(copyLoss), &st)
		if err := d.setState(state, st.Step, int(st.Slot)); err != nil {
			panic("emu: " + err.Error())
		}
	})
}

func (d *emuDevice) adamPowers(pw buf, beta1, beta2 float32) error {
	return d.run(func() {
		w := d.s(pw)
		p := [2]float32{w[0], w[1]}
		ops.AdamPowers(&p, beta1, beta2)
		w[0], w[1] = p[0], p[1]
	})
}

func (d *emuDevice) adamDev(p, g, m, v buf, n int, h adamHyper, pw buf) error {
	return d.run(func() {
		w := d.s(pw)
		ops.Adam(d.s(p)[:n], d.s(g)[:n], d.s(m)[:n], d.s(v)[:n],
			ops.AdamConfig{LR: h.lr, Beta1: h.beta1, Beta2: h.beta2, Eps: h.eps}, 1-w[0], 1-w[1])
	})
}

func (d *emuDevice) beginCapture() error {
	if d.capture != nil {
		return fmt.Errorf("emu: capture already running")
	}
	d.capture = &emuGraph{}
	return nil
}

func (d *emuDevice) endCapture() (graph, error) {
	g := d.capture
	d.capture = nil
	if g == nil {
		return nil, fmt.Errorf("emu: no capture running")
	}
	return g, nil
}

func (d *emuDevice) resetCapture() error { d.capture = nil; return nil }

// emuGraph is a recorded list of operations.
type emuGraph struct{ ops []func() }

func (g *emuGraph) launch() error {
	for _, op := range g.ops {
		op()
	}
	return nil
}

func (g *emuGraph) destroy() error { return nil }

func (d *emuDevice) describe() string { return "emulated GPU (host, model/ops twins)" }
func (d *emuDevice) close() error     { d.mem = nil; return nil }

// emulated reports whether this build runs the device operations on the
// host (build tag emu).
const emulated = true
