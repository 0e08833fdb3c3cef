//go:build gpu

package gpu

import (
	"fmt"

	"tagimp/model/ops"
)

// buf is a range of float32 elements in one allocation of a device. The
// zero buf is null: it passes NULL where a kernel allows it.
type buf struct {
	ref    int // allocation index + 1; 0 for null
	off, n int
}

// null is the null buf.
var null = buf{}

// isNull reports whether b is the null buf.
func (b buf) isNull() bool { return b.ref == 0 }

// id is b's allocation index (b must not be null).
func (b buf) id() int { return b.ref - 1 }

// slice returns elements [off, off+n) of b.
func (b buf) slice(off, n int) (buf, error) {
	if b.ref == 0 || off < 0 || n < 0 || off+n > b.n {
		return null, fmt.Errorf("device buffer view [%d, %d) out of range: buffer holds %d float32", off, off+n, b.n)
	}
	return buf{ref: b.ref, off: b.off + off, n: n}, nil
}

// adamHyper holds Adam's constant hyper-parameters.
type adamHyper struct{ lr, beta1, beta2, eps float32 }

// device is what the engine needs from a GPU: memory, copies, cuBLAS's
// SGEMM and the kernels of kernels/*.cu. The CUDA implementation is
// device_cuda.go; with the extra build tag emu, device_emu.go runs the same
// operations on the host through the CPU twins of model/ops, so the
// engine's sequence of operations (shapes, strides, views, loss slots, the
// resident split) is tested without a GPU:
//
//	go test -tags gpu,emu ./gpu/
//
// All work is queued in order on one stream; upload and download wait for
// the work queued before them.
type device interface {
	// alloc returns n zeroed float32 elements.
	alloc(n int) (buf, error)
	free(b buf) error
	upload(dst buf, src []float32) error
	// uploadI32 stores int32 values (row indices for gather).
	uploadI32(dst buf, src []int32) error
	download(dst []float32, src buf) error
	copy(dst, src buf) error
	sync() error
	// memFree is the free device memory in bytes.
	memFree() (int64, error)

	// gemm is the row-major SGEMM C[M,N] = α·op(A)·op(B) + β·C (see
	// cuda.BLAS.Sgemm).
	gemm(ta, tb bool, M, N, K int, alpha float32, A buf, lda int, B buf, ldb int, beta float32, C buf, ldc int) error
	// denseForward is tg_dense_forward in place on Y [rows, cols]; relu
	// selects ReLU + dropout (key, p), else bias only.
	denseForward(Y, bias buf, rows, cols int, relu bool, key uint64, p float32) error
	// denseBackward is tg_dense_backward: dA (may be dY or null) and the
	// bias gradient db (may be null).
	denseBackward(dA, dY, Y, db buf, rows, cols int, relu bool, keep float32) error
	// bce is tg_bce_logits; grad, prob, loss may be null.
	bce(grad, prob, loss, z, y buf, n int) error
	// sigmoidMSE is tg_sigmoid_mse; mask may be null.
	sigmoidMSE(grad, prob, loss, z, t, mask buf, n int) error
	// sigmoid is tg_sigmoid_fwd; out may be z.
	sigmoid(out, z buf, n int) error
	// l2normRows is tg_l2norm_rows.
	l2normRows(out buf, stride int, x buf, rows, d int) error
	// weightedAverage is tg_weighted_average.
	weightedAverage(out buf, stride int, probs, vecs buf, rows, t, e int, theta float32) error
	// adam is tg_adam over n elements.
	adam(p, g, m, v buf, n int, h adamHyper, bc1, bc2 float32) error
	// gather copies dst[i,:] = src[rows[i],:] for n rows of cols floats
	// (tg_gather_rows); rows holds int32 stored by uploadI32. ok is false
	// when the device has no gather kernel (the engine then copies row by
	// row); both devices have one now, so it is always true.
	gather(dst, src, rows buf, n, cols int) (ok bool, err error)

	// CUDA-graph mode. The values that change from step to step live in
	// device memory: state (stateLen floats) holds the step counter and the
	// step's slot in the queued chunk, pw Adam's {β1^t, β2^t}. A captured
	// step reads them, advances them (stepEnd, adamPowers) and can be
	// replayed without new arguments.
	setState(state buf, step uint64, slot int) error
	// gatherDev is tg_gather_rows_dev: gather with the rows of the
	// state's slot, rows[slot·batch:].
	gatherDev(dst, src, rows, state buf, batch, cols int) (ok bool, err error)
	// denseForwardDev is tg_dense_forward_dev: denseForward with the
	// dropout key of (seed, the state's step, layer).
	denseForwardDev(Y, bias buf, rows, cols int, relu bool, seed uint64, state buf, layer int, p float32) error
	// stepEnd is tg_step_end: it copies scratch[0:3] to slots[3·slot:]
	// when copyLoss, then advances slot and step.
	stepEnd(slots, scratch, state buf, copyLoss bool) error
	adamPowers(pw buf, beta1, beta2 float32) error
	adamDev(p, g, m, v buf, n int, h adamHyper, pw buf) error
	// beginCapture records the operations that follow into a graph
	// instead of running them, until endCapture.
	beginCapture() error
	endCapture() (graph, error)
	// resetCapture drops what a failed capture may have left broken (the
	// capture's cuBLAS handle), so that the next capture starts afresh.
	resetCapture() error

	// bind makes the device current for the calling goroutine (locking it
	// to its OS thread) until unbind; every other operation fails with an
	// error wrapping ErrNotCurrent on a goroutine that is not bound.
	// openDevice binds the goroutine that opens the device, and close
	// unbinds it.
	bind() error
	unbind() error

	// describe says what the device is, for logs.
	describe() string
	close() error
}

// stateLen is the size in float32 of the graph-mode state buffer, a
// tg_step_state (ops.StepState): uint64 step, int32 slot, padding.
const stateLen = ops.StepStateWords

// stepLossCount is the number of losses a step writes to its slot (tag,
// importance, Model 2's importance), as tg_step_end's nloss.
const stepLossCount = 3

// stepLosses is tg_step_end's nloss: stepLossCount when the step's losses
// are copied to its slot, else 0.
func stepLosses(copyLoss bool) int {
	if copyLoss {
		return stepLossCount
	}
	return 0
}

// graph is a captured training step.
type graph interface {
	// launch queues one replay.
	launch() error
	destroy() error
}
