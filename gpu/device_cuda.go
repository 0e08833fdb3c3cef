//go:build gpu && !emu

package gpu

import (
	"errors"
	"fmt"

	"tagimp/cuda"
	"tagimp/model/ops"
)

// cudaDevice runs the engine's operations on a GPU through package cuda:
// the kernels of kernels/*.cu and cuBLAS, all on the legacy default stream,
// so the synchronous copies of package cuda are ordered with the kernels
// and GEMMs without extra synchronisation.
type cudaDevice struct {
	ctx    *cuda.Context
	k      *cuda.Kernels
	blas   *cuda.BLAS
	allocs []cuda.Buffer // by buf.id; freed entries are null
	tf32   bool

	// During a capture, work goes to the capture stream cur, GEMMs through
	// capBLAS (a handle of its own, so a capture that cuBLAS refuses
	// cannot leave the main handle in its sticky error state); otherwise
	// cur is nil (the legacy default stream) and GEMMs use blas.
	cur, capStream *cuda.Stream
	capBLAS        *cuda.BLAS
	workspace      cuda.Buffer
}

// ErrNotCurrent is wrapped by the error of every device operation made from
// a goroutine that is not bound to the trainer's device: see Trainer.Bind
// and package cuda's Context.
var ErrNotCurrent = cuda.ErrNotCurrent

func (d *cudaDevice) bind() error   { return d.ctx.Bind() }
func (d *cudaDevice) unbind() error { return d.ctx.Unbind() }

// openDevice opens GPU o.Device with its kernels and a cuBLAS handle.
func openDevice(o Options) (_ device, err error) {
	ctx, err := cuda.Open(o.Device)
	if err != nil {
		return nil, err
	}
	d := &cudaDevice{ctx: ctx, tf32: o.TF32}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.k, err = ctx.LoadKernels(); err != nil {
		return nil, err
	}
	if d.blas, err = ctx.NewBLAS(nil, o.TF32); err != nil {
		return nil, err
	}
	return d, nil
}

// dev returns the cuda.Buffers of bufs (null for null), or an error for a
// view of a freed allocation.
func (d *cudaDevice) dev(bufs ...buf) ([]cuda.Buffer, error) {
	out := make([]cuda.Buffer, len(bufs))
	for i, b := range bufs {
		if b.isNull() {
			continue
		}
		if b.id() >= len(d.allocs) || d.allocs[b.id()].IsNull() {
			return nil, fmt.Errorf("device buffer %d used after it was freed", b.id())
		}
		v, err := d.allocs[b.id()].Slice32(b.off, b.n)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (d *cudaDevice) alloc(n int) (buf, error) {
	b, err := d.ctx.AllocF32(n)
	if err != nil {
		return null, err
	}
	if err := d.ctx.Fill32(b, 0, nil); err != nil {
		d.ctx.Free(&b)
		return null, err
	}
	d.allocs = append(d.allocs, b)
	return buf{ref: len(d.allocs), n: n}, nil
}

func (d *cudaDevice) free(b buf) error {
	if b.isNull() || b.id() >= len(d.allocs) {
		return nil
	}
	return d.ctx.Free(&d.allocs[b.id()])
}

func (d *cudaDevice) upload(dst buf, src []float32) error {
	v, err := d.dev(dst)
	if err != nil {
		return err
	}
	return d.ctx.Upload(v[0], src)
}

func (d *cudaDevice) uploadI32(dst buf, src []int32) error {
	v, err := d.dev(dst)
	if err != nil {
		return err
	}
	return d.ctx.UploadI32(v[0], src)
}

func (d *cudaDevice) download(dst []float32, src buf) error {
	v, err := d.dev(src)
	if err != nil {
		return err
	}
	return d.ctx.Download(dst, v[0])
}

func (d *cudaDevice) copy(dst, src buf) error {
	v, err := d.dev(dst, src)
	if err != nil {
		return err
	}
	return d.ctx.Copy(v[0], v[1], d.cur)
}

func (d *cudaDevice) sync() error { return d.ctx.Synchronize() }

func (d *cudaDevice) memFree() (int64, error) {
	free, _, err := d.ctx.MemInfo()
	return free, err
}

func (d *cudaDevice) gemm(ta, tb bool, M, N, K int, alpha float32, A buf, lda int, B buf, ldb int, beta float32, C buf, ldc int) error {
	v, err := d.dev(A, B, C)
	if err != nil {
		return err
	}
	b := d.blas
	if d.cur != nil {
		b = d.capBLAS
	}
	return b.Sgemm(ta, tb, M, N, K, alpha, v[0], lda, v[1], ldb, beta, v[2], ldc)
}

func act(relu bool) cuda.Act {
	if relu {
		return cuda.ActReLU
	}
	return cuda.ActNone
}

func (d *cudaDevice) denseForward(Y, bias buf, rows, cols int, relu bool, key uint64, p float32) error {
	v, err := d.dev(Y, bias)
	if err != nil {
		return err
	}
	return d.k.DenseForward(d.cur, v[0], v[1], rows, cols, act(relu), key, p)
}

func (d *cudaDevice) denseBackward(dA, dY, Y, db buf, rows, cols int, relu bool, keep float32) error {
	v, err := d.dev(dA, dY, Y, db)
	if err != nil {
		return err
	}
	return d.k.DenseBackward(d.cur, v[0], v[1], v[2], v[3], rows, cols, act(relu), keep)
}

func (d *cudaDevice) bce(grad, prob, loss, z, y buf, n int) error {
	v, err := d.dev(grad, prob, loss, z, y)
	if err != nil {
		return err
	}
	return d.k.BCEWithLogits(d.cur, v[0], v[1], v[2], v[3], v[4], n)
}

func (d *cudaDevice) sigmoidMSE(grad, prob, loss, z, t, mask buf, n int) error {
	v, err := d.dev(grad, prob, loss, z, t, mask)
	if err != nil {
		return err
	}
	return d.k.SigmoidMSE(d.cur, v[0], v[1], v[2], v[3], v[4], v[5], n)
}

func (d *cudaDevice) sigmoid(out, z buf, n int) error {
	v, err := d.dev(out, z)
	if err != nil {
		return err
	}
	return d.k.Sigmoid(d.cur, v[0], v[1], n)
}

func (d *cudaDevice) l2normRows(out buf, stride int, x buf, rows, dim int) error {
	v, err := d.dev(out, x)
	if err != nil {
		return err
	}
	return d.k.L2NormRows(d.cur, v[0], stride, v[1], rows, dim)
}

func (d *cudaDevice) weightedAverage(out buf, stride int, probs, vecs buf, rows, t, e int, theta float32) error {
	v, err := d.dev(out, probs, vecs)
	if err != nil {
		return err
	}
	return d.k.WeightedAverage(d.cur, v[0], stride, v[1], v[2], rows, t, e, theta)
}

func (d *cudaDevice) adam(p, g, m, v buf, n int, h adamHyper, bc1, bc2 float32) error {
	b, err := d.dev(p, g, m, v)
	if err != nil {
		return err
	}
	return d.k.Adam(d.cur, b[0], b[1], b[2], b[3], n,
		cuda.AdamHyper{LR: h.lr, Beta1: h.beta1, Beta2: h.beta2, Eps: h.eps}, bc1, bc2)
}

func (d *cudaDevice) gather(dst, src, rows buf, n, cols int) (bool, error) {
	v, err := d.dev(dst, src, rows)
	if err != nil {
		return true, err
	}
	return true, d.k.GatherRows(d.cur, v[0], v[1], v[2], n, cols)
}

func (d *cudaDevice) setState(state buf, step uint64, slot int) error {
	v, err := d.dev(state)
	if err != nil {
		return err
	}
	w := ops.StepState{Step: step, Slot: int32(slot)}.Words()
	return d.ctx.UploadU32(v[0], w[:])
}

func (d *cudaDevice) gatherDev(dst, src, rows, state buf, batch, cols int) (bool, error) {
	v, err := d.dev(dst, src, rows, state)
	if err != nil {
		return true, err
	}
	return true, d.k.GatherRowsDev(d.cur, v[0], v[1], v[2], v[3], batch, cols)
}

func (d *cudaDevice) denseForwardDev(Y, bias buf, rows, cols int, relu bool, seed uint64, state buf, layer int, p float32) error {
	v, err := d.dev(Y, bias, state)
	if err != nil {
		return err
	}
	return d.k.DenseForwardDev(d.cur, v[0], v[1], rows, cols, act(relu), seed, v[2], layer, p)
}

func (d *cudaDevice) stepEnd(slots, scratch, state buf, copyLoss bool) error {
	v, err := d.dev(slots, scratch, state)
	if err != nil {
		return err
	}
	return d.k.StepEnd(d.cur, v[0], v[1], stepLosses(copyLoss), v[2])
}

func (d *cudaDevice) adamPowers(pw buf, beta1, beta2 float32) error {
	v, err := d.dev(pw)
	if err != nil {
		return err
	}
	return d.k.AdamPowers(d.cur, v[0], beta1, beta2)
}

func (d *cudaDevice) adamDev(p, g, m, v buf, n int, h adamHyper, pw buf) error {
	b, err := d.dev(p, g, m, v, pw)
	if err != nil {
		return err
	}
	return d.k.AdamDev(d.cur, b[0], b[1], b[2], b[3], n,
		cuda.AdamHyper{LR: h.lr, Beta1: h.beta1, Beta2: h.beta2, Eps: h.eps}, b[4])
}

// captureWorkspace is the cuBLAS workspace of the capture handle, so that
// cuBLAS allocates nothing while a graph is captured.
const captureWorkspace = 32 << 20

func (d *cudaDevice) beginCapture() error {
	if d.capStream == nil {
		s, err := d.ctx.NewStream()
		if err != nil {
			return err
		}
		d.capStream = s
	}
	if d.capBLAS == nil {
		b, err := d.ctx.NewBLAS(d.capStream, d.tf32)
		if err != nil {
			return err
		}
		d.capBLAS = b
		if d.workspace, err = d.ctx.Alloc(captureWorkspace); err != nil {
			return err
		}
		if err := b.SetWorkspace(d.workspace); err != nil {
			return err
		}
	}
	// The capture stream does not wait for the legacy stream by itself.
	if err := d.ctx.Synchronize(); err != nil {
		return err
	}
	if err := d.capStream.BeginCapture(); err != nil {
		return err
	}
	d.cur = d.capStream
	return nil
}

func (d *cudaDevice) endCapture() (graph, error) {
	d.cur = nil
	g, err := d.capStream.EndCapture()
	if err != nil {
		return nil, err
	}
	return cudaGraph{g}, nil
}

func (d *cudaDevice) resetCapture() error {
	d.cur = nil
	if d.capBLAS == nil {
		return nil
	}
	err := d.capBLAS.Close()
	d.capBLAS = nil
	return errors.Join(err, d.ctx.Free(&d.workspace))
}

// cudaGraph replays on the legacy default stream, ordered with everything
// else the engine queues.
type cudaGraph struct{ g *cuda.Graph }

func (g cudaGraph) launch() error  { return g.g.Launch(nil) }
func (g cudaGraph) destroy() error { return g.g.Destroy() }

func (d *cudaDevice) describe() string {
	s := d.ctx.Info().String()
	if d.blas != nil {
		s += ", cuBLAS " + d.blas.Path()
	}
	return s
}

// close frees every allocation and releases the kernels, cuBLAS and the
// context.
func (d *cudaDevice) close() error {
	serr := d.ctx.Synchronize()
	if errors.Is(serr, cuda.ErrNotCurrent) {
		return serr // wrong goroutine: nothing released, Close can be retried
	}
	errs := []error{serr}
	for i := range d.allocs {
		errs = append(errs, d.ctx.Free(&d.allocs[i]))
	}
	d.allocs = nil
	errs = append(errs, d.ctx.Free(&d.workspace))
	if d.capBLAS != nil {
		errs = append(errs, d.capBLAS.Close())
	}
	if d.capStream != nil {
		errs = append(errs, d.capStream.Destroy())
	}
	if d.blas != nil {
		errs = append(errs, d.blas.Close())
	}
	if d.k != nil {
		errs = append(errs, d.k.Close())
	}
	errs = append(errs, d.ctx.Close())
	return errors.Join(errs...)
}

// emulated reports whether this build runs the device operations on the
// host (build tag emu).
const emulated = false
