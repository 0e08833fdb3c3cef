package hostref

/*
#cgo CFLAGS: -I${SRCDIR}/.. -O2 -std=c99
#cgo LDFLAGS: -lm
#include <stddef.h>
#include "tagimp_math.h"

static size_t tg_step_state_size(void) { return sizeof(struct tg_step_state); }
static size_t tg_step_state_slot_offset(void) { return offsetof(struct tg_step_state, slot); }
static size_t tg_prep_src_size(void) { return sizeof(struct tg_prep_src); }
static size_t tg_prep_src_offset(int field)
{
	switch (field) {
	case 0: return offsetof(struct tg_prep_src, off);
	case 1: return offsetof(struct tg_prep_src, cb_off);
	case 2: return offsetof(struct tg_prep_src, sub_x);
	case 3: return offsetof(struct tg_prep_src, ox);
	case 4: return offsetof(struct tg_prep_src, alpha_weighted);
	}
	return (size_t)-1;
}

// tg_step_key_words reads a tg_step_state from memory laid out by Go.
static uint64_t tg_step_key_words(uint64_t seed, const void *st, int layer)
{
	return tg_step_key(seed, (const struct tg_step_state *)st, layer);
}

static int32_t tg_step_state_slot(const void *st)
{
	return ((const struct tg_step_state *)st)->slot;
}

static void tg_wa_batch(float *out, const float *p, const float *v, int B, int T, int E, float theta)
{
	for (int b = 0; b < B; b++)
		tg_wa_row(out + (long)b * E, p + (long)b * T, v, T, E, theta);
}

static void tg_dense_forward_host(float *y, const float *bias, int rows, int cols, int act, uint64_t key, float p)
{
	for (long i = 0; i < (long)rows * cols; i++)
		y[i] = tg_dense_act(y[i], bias ? bias[i % cols] : 0.0f, act, key, (uint64_t)i, p);
}

// Same order as tg_dense_backward: eight partial sums over rows r ≡ j mod 8.
static void tg_dense_backward_host(float *dA, const float *dY, const float *Y, float *db,
                                   int rows, int cols, int act, float keep)
{
	for (int c = 0; c < cols; c++) {
		float part[8] = {0};
		for (int r = 0; r < rows; r++) {
			long i = (long)r * cols + c;
			float g = dY[i];
			if (act == TG_ACT_RELU)
				g = tg_dense_act_grad(g, Y[i], keep);
			if (dA)
				dA[i] = g;
			part[r % 8] += g;
		}
		if (db) {
			float t = part[0];
			for (int j = 1; j < 8; j++)
				t += part[j];
			db[c] = t;
		}
	}
}

static float tg_bce_host(float *grad, float *prob, const float *z, const float *y, int n)
{
	float inv = 1.0f / (float)(n > 0 ? n : 1);
	double sum = 0;
	for (int i = 0; i < n; i++) {
		if (prob)
			prob[i] = tg_sigmoid(z[i]);
		if (grad)
			grad[i] = tg_bce_logits_grad(z[i], y[i]) * inv;
		sum += tg_bce_logits_loss(z[i], y[i]);
	}
	return (float)sum * inv;
}

static float tg_mse_host(float *grad, float *prob, const float *z, const float *t, const float *mask, int n)
{
	float cnt = (float)n;
	if (mask) {
		double c = 0;
		for (int i = 0; i < n; i++)
			c += mask[i];
		cnt = (float)c;
	}
	float inv = 1.0f / (cnt > 1.0f ? cnt : 1.0f);
	double sum = 0;
	for (int i = 0; i < n; i++) {
		float s = tg_sigmoid(z[i]);
		float w = mask ? mask[i] : 1.0f;
		if (prob)
			prob[i] = s;
		if (grad)
			grad[i] = w * tg_sigmoid_mse_grad(s, t[i]) * inv;
		double d = (double)(s - t[i]);
		sum += (double)w * d * d;
	}
	return (float)sum * inv;
}

static void tg_adam_host(float *p, const float *g, float *m, float *v, long n, float lr,
                         float b1, float b2, float eps, float wd, float bc1, float bc2)
{
	for (long i = 0; i < n; i++)
		tg_adam_update(&p[i], &m[i], &v[i], g[i], lr, b1, b2, eps, wd, bc1, bc2);
}

static void tg_model2_input_host(float *out, const float *fc7, const float *p, const float *v,
                                 int B, int D, int T, int E, float theta)
{
	for (int b = 0; b < B; b++) {
		float *row = out + (long)b * (D + E);
		const float *x = fc7 + (long)b * D;
		float ss = 0.0f;
		for (int d = 0; d < D; d++)
			ss += x[d] * x[d];
		float inv = tg_l2_inv(ss);
		for (int d = 0; d < D; d++)
			row[d] = x[d] * inv;
		tg_wa_row(row + D, p + (long)b * T, v, T, E, theta);
	}
}
static void tg_to16_host(uint16_t *out, const float *in, long n, int bf16)
{
	for (long i = 0; i < n; i++)
		out[i] = tg_to16(in[i], bf16);
}

static void tg_from16_host(float *out, const uint16_t *in, long n, int bf16)
{
	for (long i = 0; i < n; i++)
		out[i] = tg_from16(in[i], bf16);
}

static void tg_bias_relu16_host(uint16_t *y, const uint16_t *b, long n, int bf16)
{
	for (long i = 0; i < n; i++)
		y[i] = tg_bias_relu16(y[i], b[i], bf16);
}
*/
import "C"

import "unsafe"

// StreamKey calls tg_stream_key.
func StreamKey(seed, stream uint64) uint64 {
	return uint64(C.tg_stream_key(C.uint64_t(seed), C.uint64_t(stream)))
}

// DropoutStream calls tg_dropout_stream.
func DropoutStream(step uint64, layer int) uint64 {
	return uint64(C.tg_dropout_stream(C.uint64_t(step), C.int(layer)))
}

// StepStateLayout returns sizeof(struct tg_step_state) and the byte offset
// of its slot field, as the C compiler lays it out.
func StepStateLayout() (size, slotOffset int) {
	return int(C.tg_step_state_size()), int(C.tg_step_state_slot_offset())
}

// PrepSrcLayout returns sizeof(struct tg_prep_src) and the byte offsets of
// its fields off, cb_off, sub_x, ox and alpha_weighted, as the C compiler
// lays them out (imageprep.RawDesc must match).
func PrepSrcLayout() (size int, offsets [5]int) {
	for i := range offsets {
		offsets[i] = int(C.tg_prep_src_offset(C.int(i)))
	}
	return int(C.tg_prep_src_size()), offsets
}

// StepKey calls tg_step_key on a tg_step_state given as 32-bit words (at
// least four, as ops.StepState.Words writes them) and returns the key and
// the slot the C side read.
func StepKey(seed uint64, words []uint32, layer int) (key uint64, slot int32) {
	if len(words) < 4 {
		return 0, 0
	}
	p := unsafe.Pointer(&words[0])
	return uint64(C.tg_step_key_words(C.uint64_t(seed), p, C.int(layer))), int32(C.tg_step_state_slot(p))
}

// RandU32 calls tg_rand_u32.
func RandU32(key, idx uint64) uint32 {
	return uint32(C.tg_rand_u32(C.uint64_t(key), C.uint64_t(idx)))
}

// DropoutScale calls tg_dropout_scale with the key of (seed, stream).
func DropoutScale(seed, stream, idx uint64, p float32) float32 {
	return float32(C.tg_dropout_scale(C.tg_stream_key(C.uint64_t(seed), C.uint64_t(stream)), C.uint64_t(idx), C.float(p)))
}

// WeightedAverage runs tg_wa_row over a batch: probs [batch, tags], vecs
// [tags, dim], dst [batch, dim].
func WeightedAverage(dst, probs, vecs []float32, batch, tags, dim int, theta float32) {
	if batch == 0 || dim == 0 {
		return
	}
	pp := (*C.float)(unsafe.Pointer(nil))
	vp := (*C.float)(unsafe.Pointer(nil))
	if len(probs) > 0 {
		pp = (*C.float)(unsafe.Pointer(&probs[0]))
	}
	if len(vecs) > 0 {
		vp = (*C.float)(unsafe.Pointer(&vecs[0]))
	}
	C.tg_wa_batch((*C.float)(unsafe.Pointer(&dst[0])), pp, vp, C.int(batch), C.int(tags), C.int(dim), C.float(theta))
}

func f32p(x []float32) *C.float {
	if len(x) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&x[0]))
}

// DenseAct calls tg_dense_act.
func DenseAct(a, bias float32, act int, key, idx uint64, p float32) float32 {
	return float32(C.tg_dense_act(C.float(a), C.float(bias), C.int(act), C.uint64_t(key), C.uint64_t(idx), C.float(p)))
}

// DenseForward runs tg_dense_act over y [rows, cols] in place (bias may be
// nil), with the key of (seed, stream).
func DenseForward(y, bias []float32, rows, cols, act int, seed, stream uint64, p float32) {
	C.tg_dense_forward_host(f32p(y), f32p(bias), C.int(rows), C.int(cols), C.int(act),
		C.tg_stream_key(C.uint64_t(seed), C.uint64_t(stream)), C.float(p))
}

// DenseBackward runs tg_dense_act_grad and the bias-gradient sums in the
// kernel's order; dA, y and db may be nil as in the kernel.
func DenseBackward(dA, dY, y, db []float32, rows, cols, act int, keep float32) {
	C.tg_dense_backward_host(f32p(dA), f32p(dY), f32p(y), f32p(db), C.int(rows), C.int(cols), C.int(act), C.float(keep))
}

// Sigmoid calls tg_sigmoid.
func Sigmoid(z float32) float32 { return float32(C.tg_sigmoid(C.float(z))) }

// BCELogitsLoss calls tg_bce_logits_loss.
func BCELogitsLoss(z, y float32) float32 {
	return float32(C.tg_bce_logits_loss(C.float(z), C.float(y)))
}

// BCEWithLogits runs tg_bce_logits_grad/loss over z, y; grad and prob may
// be nil. The loss is summed in double.
func BCEWithLogits(grad, prob, z, y []float32) float32 {
	return float32(C.tg_bce_host(f32p(grad), f32p(prob), f32p(z), f32p(y), C.int(len(z))))
}

// SigmoidMSE runs tg_sigmoid and tg_sigmoid_mse_grad over z, t with an
// optional mask; grad and prob may be nil. The loss is summed in double.
func SigmoidMSE(grad, prob, z, t, mask []float32) float32 {
	return float32(C.tg_mse_host(f32p(grad), f32p(prob), f32p(z), f32p(t), f32p(mask), C.int(len(z))))
}

// Adam runs tg_adam_update over every element.
func Adam(param, grad, m, v []float32, lr, beta1, beta2, eps, wd, bc1, bc2 float32) {
	C.tg_adam_host(f32p(param), f32p(grad), f32p(m), f32p(v), C.long(len(param)), C.float(lr),
		C.float(beta1), C.float(beta2), C.float(eps), C.float(wd), C.float(bc1), C.float(bc2))
}

// L2Inv calls tg_l2_inv.
func L2Inv(sumsq float32) float32 { return float32(C.tg_l2_inv(C.float(sumsq))) }

// Model2Input builds Model 2's input [batch, d+e] with tg_l2_inv and
// tg_wa_row (the host version of tg_model2_input).
func Model2Input(dst, fc7, probs, vecs []float32, batch, d, tags, e int, theta float32) {
	C.tg_model2_input_host(f32p(dst), f32p(fc7), f32p(probs), f32p(vecs), C.int(batch), C.int(d), C.int(tags), C.int(e), C.float(theta))
}

func b2c(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func u16p(x []uint16) *C.uint16_t {
	if len(x) == 0 {
		return nil
	}
	return (*C.uint16_t)(unsafe.Pointer(&x[0]))
}

// To16 runs tg_to16 (float32 → bfloat16 when bf16, else IEEE half; RNE)
// over src into dst (len(dst) ≥ len(src)).
func To16(dst []uint16, src []float32, bf16 bool) {
	C.tg_to16_host(u16p(dst), f32p(src), C.long(len(src)), b2c(bf16))
}

// From16 runs tg_from16 over src into dst (len(dst) ≥ len(src)).
func From16(dst []float32, src []uint16, bf16 bool) {
	C.tg_from16_host(f32p(dst), u16p(src), C.long(len(src)), b2c(bf16))
}

// BiasReLU16 runs tg_bias_relu16 element by element, in place:
// y[i] = ReLU(y[i] + b[i]) rounded to 16 bits (len(b) ≥ len(y)).
func BiasReLU16(y, b []uint16, bf16 bool) {
	C.tg_bias_relu16_host(u16p(y), u16p(b), C.long(len(y)), b2c(bf16))
}
