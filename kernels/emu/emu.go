package emu

/*
#cgo CXXFLAGS: -std=c++14 -O2 -Wno-unknown-pragmas -I${SRCDIR}/..
#cgo LDFLAGS: -lpthread
#include <stdint.h>

#define SHAPE int gx, int gy, int gz, int bx, int by, int smem
int emu_tg_sgemm(SHAPE, int transA, int transB, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
int emu_tg_sgemm_dense(SHAPE, int M, int N, int K, const float *X, const float *W,
                       const float *bias, float *Y, int act, unsigned long long key, float p);
int emu_tg_sgemm_splitk(SHAPE, int transA, int transB, int M, int N, int K, int kchunk,
                        const float *A, int lda, const float *B, int ldb, float *ws);
int emu_tg_splitk_reduce(SHAPE, float *C, int ldc, const float *ws, int splits, int M, int N,
                         float alpha, float beta, const float *bias, int act,
                         unsigned long long key, float p);
int emu_tg_dense_forward(SHAPE, float *Y, const float *bias, int rows, int cols, int act,
                         unsigned long long key, float p);
int emu_tg_dense_backward(SHAPE, float *dA, const float *dY, const float *Y, float *db,
                          int rows, int cols, int act, float keep);
int emu_tg_bce_logits(SHAPE, float *grad, float *prob, float *loss, const float *z,
                      const float *y, int n);
int emu_tg_sigmoid_mse(SHAPE, float *grad, float *prob, float *loss, const float *z,
                       const float *t, const float *mask, int n);
int emu_tg_sigmoid_fwd(SHAPE, float *out, const float *z, int n);
int emu_tg_weighted_average(SHAPE, float *out, int out_stride, const float *probs,
                            const float *vecs, int T, int E, float theta);
int emu_tg_l2norm_rows(SHAPE, float *out, int out_stride, const float *x, int D);
int emu_tg_model2_input(SHAPE, float *out, const float *fc7, const float *probs,
                        const float *vecs, int D, int T, int E, float theta);
int emu_tg_adam(SHAPE, float *param, const float *grad, float *m, float *v, long long n,
                float lr, float beta1, float beta2, float eps, float wd, float bc1, float bc2);
int emu_tg_adam_dev(SHAPE, float *param, const float *grad, float *m, float *v, long long n,
                    float lr, float beta1, float beta2, float eps, float wd, const float *pw);
int emu_tg_adam_powers(SHAPE, float *pw, float beta1, float beta2);
int emu_tg_gather_rows(SHAPE, float *dst, const float *src, const int *rows, int cols);
int emu_tg_gather_rows_dev(SHAPE, float *dst, const float *src, const int *rows,
                           const void *st, int batch, int cols);
int emu_tg_dense_forward_dev(SHAPE, float *Y, const float *bias, int rows, int cols, int act,
                             unsigned long long seed, const void *st, int layer, float p);
int emu_tg_step_end(SHAPE, float *slots, const float *scratch, int nloss, void *st);
int emu_tg_prep(SHAPE, float *out, const unsigned char *pix, const void *src, int S, int caffe,
                float m0, float m1, float m2, float s0, float s1, float s2);
int emu_tg_nchw_to_nhwc16(SHAPE, unsigned short *out, const float *in, int n, int C, int Cpad, int HW,
                          int bf16);
int emu_tg_nhwc16_to_nchw(SHAPE, float *out, const unsigned short *in, int n, int C, int HW, int bf16);
int emu_tg_bias_relu16(SHAPE, unsigned short *y, const unsigned short *bias, long long total, int C,
                       int bf16);
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"tagimp/data/imageprep"
	"tagimp/model/ops"
)

// ErrThreads says the emulator could not start a block's threads.
var ErrThreads = errors.New("emulator could not start the threads of a block (out of threads or memory?)")

// Kernels launches the kernels on the CPU with package cuda's launch
// shapes. SMs stands for the device's multiprocessor count, which sizes the
// grids of grid-stride kernels (8·SMs blocks at most); a small value makes
// every thread loop, as on a real GPU with large inputs.
type Kernels struct {
	SMs int
}

// shape is a launch configuration (gz = 0 counts as 1).
type shape struct{ gx, gy, bx, by, smem, gz int }

func (s shape) c() (C.int, C.int, C.int, C.int, C.int, C.int) {
	return C.int(s.gx), C.int(s.gy), C.int(max(s.gz, 1)), C.int(s.bx), C.int(s.by), C.int(s.smem)
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// gridStride is cuda.Kernels.gridFor with block 256.
func (k Kernels) gridStride(n int) shape {
	return shape{gx: max(1, min(ceilDiv(n, 256), 8*max(k.SMs, 1))), gy: 1, bx: 256, by: 1}
}

func p32(x []float32) *C.float {
	if len(x) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&x[0]))
}

func b2i(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func check(name string, rc C.int) error {
	if rc != 0 {
		return fmt.Errorf("%s: %w", name, ErrThreads)
	}
	return nil
}

// Sgemm runs tg_sgemm: grid (⌈N/64⌉, ⌈M/64⌉), block 256.
func (k Kernels) Sgemm(transA, transB bool, M, N, K int, alpha float32, A []float32, lda int,
	B []float32, ldb int, beta float32, Cm []float32, ldc int) error {
	gx, gy, gz, bx, by, sm := shape{ceilDiv(N, 64), ceilDiv(M, 64), 256, 1, 0, 1}.c()
	return check("tg_sgemm", C.emu_tg_sgemm(gx, gy, gz, bx, by, sm, b2i(transA), b2i(transB), C.int(M), C.int(N), C.int(K),
		C.float(alpha), p32(A), C.int(lda), p32(B), C.int(ldb), C.float(beta), p32(Cm), C.int(ldc)))
}

// SgemmSplitK runs tg_sgemm_splitk (grid (⌈N/64⌉, ⌈M/64⌉, splits), block
// 256) then tg_splitk_reduce (grid-stride, block 256) with package cuda's
// kchunk; the epilogue is bias (nil: none), act, key, p.
func (k Kernels) SgemmSplitK(transA, transB bool, M, N, K int, alpha float32, A []float32, lda int,
	B []float32, ldb int, beta float32, Cm []float32, ldc int, splits int,
	bias []float32, act int, key uint64, p float32) error {
	ws := make([]float32, splits*M*N)
	for i := range ws {
		ws[i] = float32(math.NaN())
	}
	kchunk := ceilDiv(ceilDiv(max(K, 1), splits), 16) * 16
	gx, gy, gz, bx, by, sm := shape{ceilDiv(N, 64), ceilDiv(M, 64), 256, 1, 0, splits}.c()
	if err := check("tg_sgemm_splitk", C.emu_tg_sgemm_splitk(gx, gy, gz, bx, by, sm, b2i(transA), b2i(transB),
		C.int(M), C.int(N), C.int(K), C.int(kchunk), p32(A), C.int(lda), p32(B), C.int(ldb), p32(ws))); err != nil {
		return err
	}
	gx, gy, gz, bx, by, sm = k.gridStride(M * N).c()
	return check("tg_splitk_reduce", C.emu_tg_splitk_reduce(gx, gy, gz, bx, by, sm, p32(Cm), C.int(ldc), p32(ws),
		C.int(splits), C.int(M), C.int(N), C.float(alpha), C.float(beta), p32(bias), C.int(act), C.ulonglong(key), C.float(p)))
}

// SgemmDense runs tg_sgemm_dense: grid (⌈N/64⌉, ⌈M/64⌉), block 256.
func (k Kernels) SgemmDense(M, N, K int, X, W, bias, Y []float32, act int, key uint64, p float32) error {
	gx, gy, gz, bx, by, sm := shape{ceilDiv(N, 64), ceilDiv(M, 64), 256, 1, 0, 1}.c()
	return check("tg_sgemm_dense", C.emu_tg_sgemm_dense(gx, gy, gz, bx, by, sm, C.int(M), C.int(N), C.int(K),
		p32(X), p32(W), p32(bias), p32(Y), C.int(act), C.ulonglong(key), C.float(p)))
}

// DenseForward runs tg_dense_forward: grid-stride, block 256.
func (k Kernels) DenseForward(Y, bias []float32, rows, cols, act int, key uint64, p float32) error {
	gx, gy, gz, bx, by, sm := k.gridStride(rows * cols).c()
	return check("tg_dense_forward", C.emu_tg_dense_forward(gx, gy, gz, bx, by, sm, p32(Y), p32(bias),
		C.int(rows), C.int(cols), C.int(act), C.ulonglong(key), C.float(p)))
}

// DenseBackward runs tg_dense_backward: grid ⌈cols/32⌉, block (32, 8).
func (k Kernels) DenseBackward(dA, dY, Y, db []float32, rows, cols, act int, keep float32) error {
	gx, gy, gz, bx, by, sm := shape{ceilDiv(cols, 32), 1, 32, 8, 0, 1}.c()
	return check("tg_dense_backward", C.emu_tg_dense_backward(gx, gy, gz, bx, by, sm, p32(dA), p32(dY), p32(Y), p32(db),
		C.int(rows), C.int(cols), C.int(act), C.float(keep)))
}

// BCEWithLogits runs tg_bce_logits: grid 1, block 1024; loss is one float
// (or nil).
func (k Kernels) BCEWithLogits(grad, prob, loss, z, y []float32) error {
	gx, gy, gz, bx, by, sm := shape{1, 1, 1024, 1, 0, 1}.c()
	return check("tg_bce_logits", C.emu_tg_bce_logits(gx, gy, gz, bx, by, sm, p32(grad), p32(prob), p32(loss),
		p32(z), p32(y), C.int(len(z))))
}

// SigmoidMSE runs tg_sigmoid_mse: grid 1, block 1024.
func (k Kernels) SigmoidMSE(grad, prob, loss, z, t, mask []float32) error {
	gx, gy, gz, bx, by, sm := shape{1, 1, 1024, 1, 0, 1}.c()
	return check("tg_sigmoid_mse", C.emu_tg_sigmoid_mse(gx, gy, gz, bx, by, sm, p32(grad), p32(prob), p32(loss),
		p32(z), p32(t), p32(mask), C.int(len(z))))
}

// Sigmoid runs tg_sigmoid_fwd: grid-stride, block 256.
func (k Kernels) Sigmoid(out, z []float32) error {
	gx, gy, gz, bx, by, sm := k.gridStride(len(z)).c()
	return check("tg_sigmoid_fwd", C.emu_tg_sigmoid_fwd(gx, gy, gz, bx, by, sm, p32(out), p32(z), C.int(len(z))))
}

// WeightedAverage runs tg_weighted_average: grid B, block 128, T floats of
// dynamic shared memory.
func (k Kernels) WeightedAverage(out []float32, outStride int, probs, vecs []float32, B, T, E int, theta float32) error {
	gx, gy, gz, bx, by, sm := shape{B, 1, 128, 1, 4 * T, 1}.c()
	return check("tg_weighted_average", C.emu_tg_weighted_average(gx, gy, gz, bx, by, sm, p32(out), C.int(outStride),
		p32(probs), p32(vecs), C.int(T), C.int(E), C.float(theta)))
}

// L2NormRows runs tg_l2norm_rows: grid B, block 256.
func (k Kernels) L2NormRows(out []float32, outStride int, x []float32, B, D int) error {
	gx, gy, gz, bx, by, sm := shape{B, 1, 256, 1, 0, 1}.c()
	return check("tg_l2norm_rows", C.emu_tg_l2norm_rows(gx, gy, gz, bx, by, sm, p32(out), C.int(outStride), p32(x), C.int(D)))
}

// Model2Input runs tg_model2_input: grid B, block 256, T floats of dynamic
// shared memory.
func (k Kernels) Model2Input(out, fc7, probs, vecs []float32, B, D, T, E int, theta float32) error {
	gx, gy, gz, bx, by, sm := shape{B, 1, 256, 1, 4 * T, 1}.c()
	return check("tg_model2_input", C.emu_tg_model2_input(gx, gy, gz, bx, by, sm, p32(out), p32(fc7), p32(probs), p32(vecs),
		C.int(D), C.int(T), C.int(E), C.float(theta)))
}

// Adam runs tg_adam: grid-stride, block 256.
func (k Kernels) Adam(param, grad, m, v []float32, lr, beta1, beta2, eps, wd, bc1, bc2 float32) error {
	gx, gy, gz, bx, by, sm := k.gridStride(len(param)).c()
	return check("tg_adam", C.emu_tg_adam(gx, gy, gz, bx, by, sm, p32(param), p32(grad), p32(m), p32(v), C.longlong(len(param)),
		C.float(lr), C.float(beta1), C.float(beta2), C.float(eps), C.float(wd), C.float(bc1), C.float(bc2)))
}

// AdamDev runs tg_adam_dev (bias corrections from pw): grid-stride, block 256.
func (k Kernels) AdamDev(param, grad, m, v []float32, lr, beta1, beta2, eps, wd float32, pw []float32) error {
	gx, gy, gz, bx, by, sm := k.gridStride(len(param)).c()
	return check("tg_adam_dev", C.emu_tg_adam_dev(gx, gy, gz, bx, by, sm, p32(param), p32(grad), p32(m), p32(v), C.longlong(len(param)),
		C.float(lr), C.float(beta1), C.float(beta2), C.float(eps), C.float(wd), p32(pw)))
}

// AdamPowers runs tg_adam_powers: grid 1, block 1.
func (k Kernels) AdamPowers(pw []float32, beta1, beta2 float32) error {
	gx, gy, gz, bx, by, sm := shape{1, 1, 1, 1, 0, 1}.c()
	return check("tg_adam_powers", C.emu_tg_adam_powers(gx, gy, gz, bx, by, sm, p32(pw), C.float(beta1), C.float(beta2)))
}

func pI32(x []int32) *C.int {
	if len(x) == 0 {
		return nil
	}
	return (*C.int)(unsafe.Pointer(&x[0]))
}

// stepState checks that st holds a whole tg_step_state.
func stepState(name string, st []uint32) (unsafe.Pointer, error) {
	if len(st) < ops.StepStateWords {
		return nil, fmt.Errorf("%s: step state of %d words, want %d", name, len(st), ops.StepStateWords)
	}
	return unsafe.Pointer(&st[0]), nil
}

// gatherShape is the launch shape of the gather kernels.
func gatherShape(n, cols int) shape {
	return shape{gx: min(ceilDiv(cols, 256), 32), gy: n, bx: 256, by: 1}
}

// GatherRows runs tg_gather_rows: grid (min(⌈cols/256⌉, 32), len(rows)),
// block 256.
func (k Kernels) GatherRows(dst, src []float32, rows []int32, cols int) error {
	gx, gy, gz, bx, by, sm := gatherShape(len(rows), cols).c()
	return check("tg_gather_rows", C.emu_tg_gather_rows(gx, gy, gz, bx, by, sm, p32(dst), p32(src), pI32(rows), C.int(cols)))
}

// GatherRowsDev runs tg_gather_rows_dev with the step state st (words as
// ops.StepState.Words): grid (min(⌈cols/256⌉, 32), batch), block 256.
func (k Kernels) GatherRowsDev(dst, src []float32, rows []int32, st []uint32, batch, cols int) error {
	sp, err := stepState("tg_gather_rows_dev", st)
	if err != nil {
		return err
	}
	gx, gy, gz, bx, by, sm := gatherShape(batch, cols).c()
	return check("tg_gather_rows_dev", C.emu_tg_gather_rows_dev(gx, gy, gz, bx, by, sm, p32(dst), p32(src), pI32(rows),
		sp, C.int(batch), C.int(cols)))
}

// DenseForwardDev runs tg_dense_forward_dev with the step state st:
// grid-stride, block 256.
func (k Kernels) DenseForwardDev(Y, bias []float32, rows, cols, act int, seed uint64, st []uint32, layer int, p float32) error {
	sp, err := stepState("tg_dense_forward_dev", st)
	if err != nil {
		return err
	}
	gx, gy, gz, bx, by, sm := k.gridStride(rows * cols).c()
	return check("tg_dense_forward_dev", C.emu_tg_dense_forward_dev(gx, gy, gz, bx, by, sm, p32(Y), p32(bias),
		C.int(rows), C.int(cols), C.int(act), C.ulonglong(seed), sp, C.int(layer), C.float(p)))
}

// StepEnd runs tg_step_end on the step state st: grid 1, block 1.
func (k Kernels) StepEnd(slots, scratch []float32, nloss int, st []uint32) error {
	sp, err := stepState("tg_step_end", st)
	if err != nil {
		return err
	}
	gx, gy, gz, bx, by, sm := shape{1, 1, 1, 1, 0, 1}.c()
	return check("tg_step_end", C.emu_tg_step_end(gx, gy, gz, bx, by, sm, p32(slots), p32(scratch), C.int(nloss), sp))
}

// Prep runs tg_prep on a batch: pix holds the planes, descs one
// imageprep.RawDesc per image (offsets into pix), out [batch, 3, S, S].
// Launch: grid (⌈S/128⌉, S, batch), block 128, as package cuda launches it.
func (k Kernels) Prep(out []float32, pix []byte, descs []imageprep.RawDesc, S int, caffe bool, mean, std [3]float32) error {
	if len(descs) == 0 {
		return nil
	}
	if len(out) != len(descs)*3*S*S || len(pix) == 0 {
		return fmt.Errorf("tg_prep: out holds %d values for %d images of 3×%d×%d, pix %d bytes", len(out), len(descs), S, S, len(pix))
	}
	gx, gy, gz, bx, by, sm := shape{ceilDiv(S, 128), S, 128, 1, 0, len(descs)}.c()
	return check("tg_prep", C.emu_tg_prep(gx, gy, gz, bx, by, sm, p32(out), (*C.uchar)(unsafe.Pointer(&pix[0])),
		unsafe.Pointer(&descs[0]), C.int(S), b2i(caffe), C.float(mean[0]), C.float(mean[1]), C.float(mean[2]),
		C.float(std[0]), C.float(std[1]), C.float(std[2])))
}

func p16(x []uint16) *C.ushort {
	if len(x) == 0 {
		return nil
	}
	return (*C.ushort)(unsafe.Pointer(&x[0]))
}

// NCHWToNHWC16 runs tg_nchw_to_nhwc16: in float32 [n, c, hw] to out 16-bit
// [n, hw, cpad] (bfloat16 when bf16, else IEEE half; channels ≥ c zero).
// Launch: grid-stride over n·hw pixels, block 256.
func (k Kernels) NCHWToNHWC16(out []uint16, in []float32, n, c, cpad, hw int, bf16 bool) error {
	if len(in) != n*c*hw || len(out) != n*hw*cpad || cpad < c {
		return fmt.Errorf("tg_nchw_to_nhwc16: %d inputs, %d outputs for n %d, c %d (padded %d), hw %d", len(in), len(out), n, c, cpad, hw)
	}
	gx, gy, gz, bx, by, sm := k.gridStride(n * hw).c()
	return check("tg_nchw_to_nhwc16", C.emu_tg_nchw_to_nhwc16(gx, gy, gz, bx, by, sm, p16(out), p32(in),
		C.int(n), C.int(c), C.int(cpad), C.int(hw), b2i(bf16)))
}

// NHWC16ToNCHW runs tg_nhwc16_to_nchw: in 16-bit [n, hw, c] to out float32
// [n, c, hw]. Launch: grid-stride over the n·c·hw outputs, block 256.
func (k Kernels) NHWC16ToNCHW(out []float32, in []uint16, n, c, hw int, bf16 bool) error {
	if len(in) != n*c*hw || len(out) != n*c*hw {
		return fmt.Errorf("tg_nhwc16_to_nchw: %d inputs, %d outputs for n %d, c %d, hw %d", len(in), len(out), n, c, hw)
	}
	gx, gy, gz, bx, by, sm := k.gridStride(n * c * hw).c()
	return check("tg_nhwc16_to_nchw", C.emu_tg_nhwc16_to_nchw(gx, gy, gz, bx, by, sm, p32(out), p16(in),
		C.int(n), C.int(c), C.int(hw), b2i(bf16)))
}

// BiasReLU16 runs tg_bias_relu16 in place on y, a 16-bit NHWC tensor of c
// channels (c even), with the 16-bit bias [c]. Launch: grid-stride over
// len(y)/2 words, block 256.
func (k Kernels) BiasReLU16(y, bias []uint16, c int, bf16 bool) error {
	if c <= 0 || c%2 != 0 || len(y)%c != 0 || len(bias) != c {
		return fmt.Errorf("tg_bias_relu16: %d values, %d biases for %d channels (want an even count dividing the values)", len(y), len(bias), c)
	}
	gx, gy, gz, bx, by, sm := k.gridStride(len(y) / 2).c()
	return check("tg_bias_relu16", C.emu_tg_bias_relu16(gx, gy, gz, bx, by, sm, p16(y), p16(bias),
		C.longlong(len(y)), C.int(c), b2i(bf16)))
}
