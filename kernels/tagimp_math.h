/*
 * tagimp_math.h — the per-element math shared by the CUDA kernels and their
 * host twins.
 *
 * Everything here is written in the C subset, as static inline functions
 * marked TG_HD. nvcc compiles them as __host__ __device__; a plain C compiler
 * (cgo, in kernels/hostref) compiles them for the CPU, so CI checks the same
 * source against the Go twins in model/ops without a GPU. A GPU run then only
 * has to confirm indexing, launch shapes, shared memory and synchronisation.
 */
#ifndef TAGIMP_MATH_H
#define TAGIMP_MATH_H

#include <stdint.h>
#ifdef __CUDACC__
#define TG_HD __host__ __device__
#else
#define TG_HD
#include <math.h>
#endif

/* ------------------------------------------------------------------------
 * Counter-based random numbers (dropout masks).
 *
 * A mask element is a pure function of (seed, stream, idx): no state, so the
 * GPU draws it inside the fused dense kernel and the CPU engine draws the
 * same bits, and a GPU training step can be compared with a CPU one exactly.
 *   key    = splitmix64(seed ^ splitmix64(stream))
 *   u32    = high 32 bits of splitmix64(key ^ (idx * 0xD1B54A32D192ED03))
 *   stream = step * 8 + layer      (layer 0: trunk fc1, 1: Model 2's imp2.fc1)
 *   idx    = row * width + col     (position in the [batch, width] activation)
 * ------------------------------------------------------------------------ */

/* splitmix64 finaliser (Steele, Lea, Flood 2014). */
TG_HD static inline uint64_t tg_splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* tg_stream_key derives the key of one (seed, stream) pair; kernels receive
 * it precomputed so each element costs one splitmix64. */
TG_HD static inline uint64_t tg_stream_key(uint64_t seed, uint64_t stream)
{
    return tg_splitmix64(seed ^ tg_splitmix64(stream));
}

/* tg_dropout_stream is the stream id of dropout layer `layer` (0: trunk
 * fc1, 1: Model 2's imp2.fc1; at most 7) at training step `step`. */
TG_HD static inline uint64_t tg_dropout_stream(uint64_t step, int layer)
{
    return (step << 3) | (uint64_t)(layer & 7);
}

/* tg_rand_u32 returns 32 uniformly distributed bits for element idx. */
TG_HD static inline uint32_t tg_rand_u32(uint64_t key, uint64_t idx)
{
    return (uint32_t)(tg_splitmix64(key ^ (idx * 0xD1B54A32D192ED03ULL)) >> 32);
}

/* tg_dropout_scale is inverted dropout with drop probability p: the element
 * is dropped when the top 24 random bits, read as a fraction of 2^24, fall
 * below p, and kept with scale 1/(1-p) otherwise. Integer comparison, so the
 * host and the device agree bit for bit. */
TG_HD static inline float tg_dropout_scale(uint64_t key, uint64_t idx, float p)
{
    uint32_t r = tg_rand_u32(key, idx) >> 8;
    uint32_t cut = (uint32_t)(p * 16777216.0f);
    return r < cut ? 0.0f : 1.0f / (1.0f - p);
}

/* ------------------------------------------------------------------------
 * Weighted embedding average (Model 2, DESIGN §6).
 *   WA(b) = Σ_{t : p[b,t] ≥ θ} v[t] · p[b,t] / N(b),   N(b) = #{t : p[b,t] ≥ θ}
 *   out(b) = WA(b) / max(‖WA(b)‖₂, 1e-12)
 * N(b) = 0 gives the zero vector (and stays zero after normalisation). The
 * division by N does not change the normalised result; it is kept so that
 * the un-normalised WA is the paper's.
 * ------------------------------------------------------------------------ */

/* tg_wa_weight is the weight tag t contributes: p when p ≥ θ, else 0. */
TG_HD static inline float tg_wa_weight(float p, float theta)
{
    return p >= theta ? p : 0.0f;
}

/* tg_l2_inv returns 1 / max(sqrt(sumsq), 1e-12), the L2 normalisation factor
 * (as torch.nn.functional.normalize with eps = 1e-12). */
TG_HD static inline float tg_l2_inv(float sumsq)
{
    float n = sqrtf(sumsq);
    return 1.0f / (n > 1e-12f ? n : 1e-12f);
}

/* tg_wa_row computes out[0:E] for one row of probabilities p[0:T], vectors
 * v[T, E] row-major. Sums run over t in increasing order, then over e; this
 * is the order the Go twin uses. */
TG_HD static inline void tg_wa_row(float *out, const float *p, const float *v,
                                   int T, int E, float theta)
{
    int n = 0;
    for (int t = 0; t < T; t++)
        if (p[t] >= theta)
            n++;
    float ss = 0.0f;
    for (int e = 0; e < E; e++) {
        float acc = 0.0f;
        for (int t = 0; t < T; t++)
            acc += tg_wa_weight(p[t], theta) * v[(long)t * E + e];
        float wa = n > 0 ? acc / (float)n : 0.0f;
        out[e] = wa;
        ss += wa * wa;
    }
    float inv = tg_l2_inv(ss);
    for (int e = 0; e < E; e++)
        out[e] *= inv;
}

/* ------------------------------------------------------------------------
 * Rounding control. nvcc contracts a*b+c into one fused multiply-add, which
 * the host compiler (and Go on amd64) does not; the kernels use tg_mul and
 * tg_add where the result should match the CPU twin bit for bit (the dense
 * epilogues and Adam). Division and sqrtf are IEEE-rounded on both sides
 * (nvcc's default -prec-div=true -prec-sqrt=true; never --use_fast_math).
 * Decision: tg_mul/tg_add only where bit-equality with the twin is the
 * point (element-wise math whose result feeds a bit-for-bit check: the
 * dense epilogues and their gradient, dropout, Adam). Sums of products (the
 * WA sums in tg_wa_row/tg_wa_block, squared norms, loss means, GEMMs) keep
 * nvcc's FMA contraction: their reduction trees differ from the twins'
 * anyway, so equal bits are out of reach, and FMA is faster and rounds
 * less. Those are checked against derived bounds (cuda/bounds_test.go).
 * ------------------------------------------------------------------------ */
#ifdef __CUDA_ARCH__
#define tg_mul(a, b) __fmul_rn((a), (b))
#define tg_add(a, b) __fadd_rn((a), (b))
#else
#define tg_mul(a, b) ((float)((a) * (b)))
#define tg_add(a, b) ((float)((a) + (b)))
#endif

/* ------------------------------------------------------------------------
 * Dense layer epilogues (kernels/dense.cu, kernels/gemm.cu).
 *   forward:  y = act(a + b),  act(x) = ReLU(x) · dropout(key, idx, p)  or  x
 *   backward: da = dy · keep  where y > 0 (else 0),  keep = 1/(1-p) (1 if p = 0)
 * A kept element of a dropout layer is scaled by exactly 1/(1-p) and a
 * dropped one is 0, so y > 0 already says "ReLU passed and the mask kept it":
 * the backward pass needs neither the mask nor the pre-activation.
 * ------------------------------------------------------------------------ */

#define TG_ACT_NONE 0 /* y = a + b (output layers) */
#define TG_ACT_RELU 1 /* y = ReLU(a + b) · dropout (p = 0: no dropout) */

/* tg_dense_act applies bias and activation to one element; key is
 * tg_stream_key(seed, stream) and idx = row * cols + col. */
TG_HD static inline float tg_dense_act(float a, float bias, int act,
                                       uint64_t key, uint64_t idx, float p)
{
    float x = tg_add(a, bias);
    if (act == TG_ACT_NONE)
        return x;
    if (!(x > 0.0f))
        return 0.0f;
    return p > 0.0f ? tg_mul(x, tg_dropout_scale(key, idx, p)) : x;
}

/* tg_keep_scale is the factor a kept element carries: 1/(1-p), 1 when p = 0. */
TG_HD static inline float tg_keep_scale(float p)
{
    return p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
}

/* tg_dense_act_grad is the gradient through tg_dense_act with act = RELU,
 * from the layer's output y (see above). */
TG_HD static inline float tg_dense_act_grad(float dy, float y, float keep)
{
    return y > 0.0f ? tg_mul(dy, keep) : 0.0f;
}

/* ------------------------------------------------------------------------
 * 16-bit floats (kernels/half.cu): VGG16's bf16 and fp16 precisions keep
 * activations and weights as IEEE binary16 ("fp16": 1 sign, 5 exponent, 10
 * mantissa bits; unit roundoff 2^-11) or bfloat16 ("bf16": float32's upper
 * 16 bits, 8 exponent, 7 mantissa bits; unit roundoff 2^-8), stored as
 * uint16_t. Conversions from float32 round to nearest, ties to even (RNE),
 * done with integer operations only, so that the device, the host emulator
 * and the Go twins (ops.F32ToBF16, ops.F32ToF16) give the same bits; no
 * cuda_fp16.h/cuda_bf16.h intrinsics, whose NaN payloads and host fallbacks
 * differ between CUDA versions.
 *   bf16: u + 0x7FFF + ((u >> 16) & 1), upper 16 bits (a carry into the
 *         exponent is the correct rounding, up to ±Inf); NaN → sign|0x7FC0|
 *         the payload's top bits (always quiet, never Inf).
 *   fp16: |x| ≥ 65520 (halfway above the largest finite 65504) → ±Inf;
 *         normal range (|x| ≥ 2^-14): exponent rebiased by 127−15 = 112,
 *         mantissa rounded at bit 13; subnormal range: the 24-bit
 *         significand shifted right by 126 − e, rounded at the shifted-out
 *         bits; |x| ≤ 2^-25 → ±0 (2^-25 itself ties to even 0); NaN → quiet
 *         NaN keeping the sign and the payload's top 10 bits.
 * Back to float32 is exact: bf16 << 16; fp16 by fields (subnormals
 * normalised).
 * ------------------------------------------------------------------------ */
#ifdef __CUDA_ARCH__
#define tg_f2u(f) __float_as_uint(f)
#define tg_u2f(u) __uint_as_float(u)
#else
TG_HD static inline uint32_t tg_f2u(float f)
{
    union {
        float f;
        uint32_t u;
    } v;
    v.f = f;
    return v.u;
}
TG_HD static inline float tg_u2f(uint32_t u)
{
    union {
        float f;
        uint32_t u;
    } v;
    v.u = u;
    return v.f;
}
#endif

TG_HD static inline uint16_t tg_f32_to_bf16(float f)
{
    uint32_t u = tg_f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN */
        return (uint16_t)((u >> 16) | 0x0040u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

TG_HD static inline float tg_bf16_to_f32(uint16_t h)
{
    return tg_u2f((uint32_t)h << 16);
}

TG_HD static inline uint16_t tg_f32_to_f16(float f)
{
    uint32_t u = tg_f2u(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* ≥ 65520, or Inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a >= 0x38800000u) { /* normal: ≥ 2^-14 */
        a += 0xfffu + ((a >> 13) & 1u);
        return (uint16_t)(sign | ((a - 0x38000000u) >> 13));
    }
    if (a <= 0x33000000u) /* ≤ 2^-25 */
        return sign;
    uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14 … 24 */
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rem > half || (rem == half && (r & 1u)))
        r++;
    return (uint16_t)(sign | r);
}

TG_HD static inline float tg_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1f)
        return tg_u2f(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        if (m == 0)
            return tg_u2f(sign);
        e = 113;
        while (!(m & 0x400u)) {
            m <<= 1;
            e--;
        }
        return tg_u2f(sign | (e << 23) | ((m & 0x3ffu) << 13));
    }
    return tg_u2f(sign | ((e + 112u) << 23) | (m << 13));
}

/* tg_to16 and tg_from16 pick the format: bf16 != 0 for bfloat16, else fp16. */
TG_HD static inline uint16_t tg_to16(float f, int bf16)
{
    return bf16 ? tg_f32_to_bf16(f) : tg_f32_to_f16(f);
}

TG_HD static inline float tg_from16(uint16_t h, int bf16)
{
    return bf16 ? tg_bf16_to_f32(h) : tg_f16_to_f32(h);
}

/* tg_bias_relu16 is the epilogue of an unfused 16-bit convolution: the
 * 16-bit pre-activation y and the 16-bit bias b widened to float32, added
 * in float32 (tg_add: one rounding), ReLU (NaN → 0, as cuDNN's
 * CUDNN_NOT_PROPAGATE_NAN and tg_dense_act), rounded back to 16 bits. */
TG_HD static inline uint16_t tg_bias_relu16(uint16_t y, uint16_t b, int bf16)
{
    float x = tg_add(tg_from16(y, bf16), tg_from16(b, bf16));
    return tg_to16(x > 0.0f ? x : 0.0f, bf16);
}

/* ------------------------------------------------------------------------
 * Losses (kernels/loss.cu). z is a logit, y a 0/1 target, t an importance.
 *   σ(z)        = 1/(1+e^{-z}) for z ≥ 0,  e^{z}/(1+e^{z}) otherwise (no overflow)
 *   BCE(z, y)   = max(z, 0) − z·y + log1p(e^{−|z|})        (stable for |z| ≫ 1)
 *   ∂BCE/∂z     = σ(z) − y
 *   MSE(z, t)   = (σ(z) − t)²
 *   ∂MSE/∂z     = 2 (σ(z) − t) σ(z) (1 − σ(z))
 * The kernels average over the elements (or over the mask's ones) and scale
 * the gradients by the same 1/count.
 * ------------------------------------------------------------------------ */

TG_HD static inline float tg_sigmoid(float z)
{
    if (z >= 0.0f)
        return 1.0f / (1.0f + expf(-z));
    float e = expf(z);
    return e / (1.0f + e);
}

TG_HD static inline float tg_bce_logits_loss(float z, float y)
{
    return fmaxf(z, 0.0f) - z * y + log1pf(expf(-fabsf(z)));
}

TG_HD static inline float tg_bce_logits_grad(float z, float y)
{
    return tg_sigmoid(z) - y;
}

/* tg_sigmoid_mse_grad takes s = σ(z) and the target t. */
TG_HD static inline float tg_sigmoid_mse_grad(float s, float t)
{
    return 2.0f * (s - t) * s * (1.0f - s);
}

/* ------------------------------------------------------------------------
 * Adam (kernels/adam.cu), PyTorch's torch.optim.Adam (weight_decay as L2):
 *   g ← g + wd·p
 *   m ← β1·m + (1−β1)·g          v ← β2·v + (1−β2)·g²
 *   p ← p − (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + ε),   bc1 = 1−β1^t, bc2 = 1−β2^t
 * Written with tg_mul/tg_add so that the device rounds as the host does.
 * ------------------------------------------------------------------------ */
TG_HD static inline void tg_adam_update(float *p, float *m, float *v, float g,
                                        float lr, float beta1, float beta2,
                                        float eps, float wd, float bc1, float bc2)
{
    if (wd != 0.0f)
        g = tg_add(g, tg_mul(wd, *p));
    float mm = tg_add(tg_mul(beta1, *m), tg_mul(1.0f - beta1, g));
    float vv = tg_add(tg_mul(beta2, *v), tg_mul(1.0f - beta2, tg_mul(g, g)));
    float denom = tg_add(sqrtf(vv) / sqrtf(bc2), eps);
    *m = mm;
    *v = vv;
    *p = tg_add(*p, -tg_mul(lr / bc1, mm / denom));
}

/* ------------------------------------------------------------------------
 * Step state of a training step replayed as a CUDA graph (kernels/step.cu).
 * A graph replays with the arguments it was captured with, so the values
 * that change from step to step live in device memory, in one
 * tg_step_state that the step's kernels read and tg_step_end advances:
 *   step  training step counter (as model.Trainer counts it)  bytes 0..7
 *   slot  the step's position in the queued chunk of steps    bytes 8..11
 *   pad   0                                                   bytes 12..15
 * Little-endian, 16 bytes; ops.StepState is the Go twin of the layout.
 * ------------------------------------------------------------------------ */
struct tg_step_state {
    uint64_t step;
    int32_t slot;
    int32_t pad;
};

/* tg_step_key is the dropout key of layer `layer` at the step st holds:
 * tg_stream_key(seed, tg_dropout_stream(step, layer)). */
TG_HD static inline uint64_t tg_step_key(uint64_t seed, const struct tg_step_state *st, int layer)
{
    return tg_stream_key(seed, tg_dropout_stream(st->step, layer));
}

/* ------------------------------------------------------------------------
 * Image preprocessing (kernels/prep.cu): data/imageprep's decoded image →
 * network input, bit for bit. The resize is golang.org/x/image/draw's
 * BiLinear kernel scaler as imageprep calls it (xdraw.BiLinear.Scale, Src):
 *   per axis, output coordinate d of D over a source of S:
 *     scale = S/D; half = 1, argscale = 1, or half = scale, argscale = 1/scale
 *       when shrinking (the tent widened: antialiased);
 *     center = (d + 0.5)·scale − 0.5; taps lo = max(⌊center − half⌋, 0) ..
 *       hi = min(⌈center + half⌉, S) (exclusive);
 *     weight(c) = 1 − |(center − c)·argscale| when below 1, else none;
 *     inv = 1/Σ weight, invFFFF = inv/65535;
 *   horizontal pass, per source row y: h = Σ_c v(c, y)·w(c) · invFFFF_x on
 *     16-bit values v (8-bit · 0x101; YCbCr converted by color.YCbCr.RGBA's
 *     integer formula), alpha likewise (or 1 for Gray and the YCbCr fast
 *     paths);
 *   vertical pass: V = Σ_y h(y)·w(y); V = min(V, A); out8 = ftou(V·inv_y) >> 8
 *     with ftou(f) = clamp(int32(65535·f + 0.5), 0, 65535);
 * every product and sum rounded separately in float64, as Go computes them
 * (tg_dmul/tg_dadd: no fused multiply-add on the device). With CenterCrop
 * the scaler's D is the resized size (rw, rh) and output (x, y) is (x+ox,
 * y+oy) of it. Then imageprep's normalisation in float32, plane k of the
 * CHW output from channel k (torchvision: (v/255 − mean[k])/std[k]) or
 * channel 2−k (caffe, BGR: v − mean[k]).
 * ------------------------------------------------------------------------ */
#ifdef __CUDA_ARCH__
#define tg_dmul(a, b) __dmul_rn((a), (b))
#define tg_dadd(a, b) __dadd_rn((a), (b))
#else
#define tg_dmul(a, b) ((double)((a) * (b)))
#define tg_dadd(a, b) ((double)((a) + (b)))
#endif

/* Pixel layouts of tg_prep_src.kind. */
#define TG_PREP_RGBA 0  /* 4 bytes a pixel, R G B A (imageprep's *image.RGBA) */
#define TG_PREP_GRAY 1  /* 1 byte a pixel (*image.Gray) */
#define TG_PREP_YCBCR 2 /* Y plane, then Cb and Cr planes subsampled by sub_x, sub_y */
#define TG_PREP_RGB 3   /* 3 bytes a pixel, R G B, opaque: the RGBA path with alpha 255
                         * (alpha_weighted 1), bit for bit, a quarter fewer bytes */

/* tg_prep_src describes one decoded image in the batch's byte buffer: 16
 * int64 (128 bytes, little-endian), mirrored by imageprep.RawDesc.
 *   off, cb_off, cr_off: byte offsets of the first (RGBA, Gray, Y), Cb and
 *     Cr planes; stride, cstride: their row strides in bytes;
 *   w, h: source size; sub_x, sub_y: chroma subsampling (1,1 4:4:4; 2,1
 *     4:2:2; 2,2 4:2:0; 1,2 4:4:0; 4,1 4:1:1; 4,2 4:1:0), chroma of (x, y)
 *     at (x/sub_x, y/sub_y);
 *   rw, rh: the size the scaler resizes to; ox, oy: the crop's offset in it;
 *   alpha_weighted: 1 when alpha goes through the passes (RGBA, and YCbCr
 *     4:1:1 / 4:1:0, which xdraw takes through its generic path), 0 when the
 *     horizontal pass sets it to 1 (Gray, the other YCbCr ratios);
 *   span8: 0, or the image's extent in eighths of a source sample, x in the
 *     low 32 bits and y in the high 32: a JPEG decoded at DCT scale k/8 of
 *     W×H holds it in ceil(W·k/8) samples, the last only partly image, so
 *     span8 = W·k | H·k << 32 makes the scaler map W·k/8 (not w) samples
 *     onto rw, as imageprep's fused CPU path does. */
struct tg_prep_src {
    int64_t off, kind, w, h, stride, cb_off, cr_off, cstride;
    int64_t sub_x, sub_y, rw, rh, ox, oy, alpha_weighted, span8;
};

/* One axis of the scaler at one output coordinate. */
struct tg_prep_axis {
    double center, argscale, inv, inv_ffff;
    int lo, hi;
};

/* tg_prep_weight is the tap weight of source coordinate c (0: no tap). */
TG_HD static inline double tg_prep_weight(const struct tg_prep_axis *a, int c)
{
    double t = tg_dmul(a->center - (double)c, a->argscale);
    if (t < 0)
        t = -t;
    return t < 1.0 ? 1.0 - t : 0.0;
}

/* tg_prep_axis_init sets up output coordinate d of dsize over ssize
 * samples, of which span (≤ ssize; ssize for a whole decode) are image. */
TG_HD static inline void tg_prep_axis_init(struct tg_prep_axis *a, int d, int dsize, int ssize, double span)
{
    double scale = span / (double)dsize, half = 1.0, total = 0.0;
    a->argscale = 1.0;
    if (scale > 1) {
        half = scale;
        a->argscale = 1.0 / scale;
    }
    a->center = tg_dadd(tg_dmul(tg_dadd((double)d, 0.5), scale), -0.5);
    a->lo = (int)floor(a->center - half);
    if (a->lo < 0)
        a->lo = 0;
    a->hi = (int)ceil(a->center + half);
    if (a->hi > ssize) {
        a->hi = ssize;
        if (a->hi < a->lo)
            a->hi = a->lo;
    }
    for (int c = a->lo; c < a->hi; c++)
        total = tg_dadd(total, tg_prep_weight(a, c));
    total = 1.0 / total;
    a->inv = total;
    a->inv_ffff = total / 65535.0;
}

/* tg_prep_clamp16 clamps a converted YCbCr channel to [0, 0xffff]. */
TG_HD static inline int32_t tg_prep_clamp16(int32_t v)
{
    return v < 0 ? 0 : (v > 0xffff ? 0xffff : v);
}

/* tg_prep_fetch reads source pixel (x, y) as 16-bit R, G, B, A. */
TG_HD static inline void tg_prep_fetch(const unsigned char *pix, const struct tg_prep_src *s, int x, int y,
                                       uint32_t v[4])
{
    if (s->kind == TG_PREP_RGBA) {
        const unsigned char *p = pix + s->off + (int64_t)y * s->stride + 4 * (int64_t)x;
        v[0] = p[0] * 0x101u;
        v[1] = p[1] * 0x101u;
        v[2] = p[2] * 0x101u;
        v[3] = p[3] * 0x101u;
    } else if (s->kind == TG_PREP_RGB) {
        const unsigned char *p = pix + s->off + (int64_t)y * s->stride + 3 * (int64_t)x;
        v[0] = p[0] * 0x101u;
        v[1] = p[1] * 0x101u;
        v[2] = p[2] * 0x101u;
        v[3] = 0xffff;
    } else if (s->kind == TG_PREP_GRAY) {
        uint32_t g = pix[s->off + (int64_t)y * s->stride + x] * 0x101u;
        v[0] = v[1] = v[2] = g;
        v[3] = 0xffff;
    } else {
        int64_t ci = (int64_t)(y / s->sub_y) * s->cstride + x / s->sub_x;
        int32_t yy1 = (int32_t)pix[s->off + (int64_t)y * s->stride + x] * 0x10101;
        int32_t cb1 = (int32_t)pix[s->cb_off + ci] - 128;
        int32_t cr1 = (int32_t)pix[s->cr_off + ci] - 128;
        v[0] = (uint32_t)tg_prep_clamp16((yy1 + 91881 * cr1) >> 8);
        v[1] = (uint32_t)tg_prep_clamp16((yy1 - 22554 * cb1 - 46802 * cr1) >> 8);
        v[2] = (uint32_t)tg_prep_clamp16((yy1 + 116130 * cb1) >> 8);
        v[3] = 0xffff;
    }
}

/* tg_prep_ftou8 is x/image/draw's ftou(f) >> 8. */
TG_HD static inline unsigned char tg_prep_ftou8(double f)
{
    int32_t i = (int32_t)tg_dadd(tg_dmul(65535.0, f), 0.5);
    if (i > 0xffff)
        i = 0xffff;
    if (i < 0)
        i = 0;
    return (unsigned char)(i >> 8);
}

/* tg_prep_pixel computes the resized 8-bit R, G, B of output pixel (x, y). */
TG_HD static inline void tg_prep_pixel(const unsigned char *pix, const struct tg_prep_src *s, int x, int y,
                                       unsigned char rgb[3])
{
    struct tg_prep_axis ax, ay;
    int64_t sx8 = s->span8 & 0xffffffff, sy8 = s->span8 >> 32;
    tg_prep_axis_init(&ax, x + (int)s->ox, (int)s->rw, (int)s->w, sx8 ? (double)sx8 * 0.125 : (double)s->w);
    tg_prep_axis_init(&ay, y + (int)s->oy, (int)s->rh, (int)s->h, sy8 ? (double)sy8 * 0.125 : (double)s->h);
    double acc[4] = {0, 0, 0, 0};
    for (int sy = ay.lo; sy < ay.hi; sy++) {
        double wy = tg_prep_weight(&ay, sy);
        if (wy == 0.0)
            continue;
        double hs[4] = {0, 0, 0, 0};
        for (int sx = ax.lo; sx < ax.hi; sx++) {
            double wx = tg_prep_weight(&ax, sx);
            if (wx == 0.0)
                continue;
            uint32_t v[4];
            tg_prep_fetch(pix, s, sx, sy, v);
            for (int k = 0; k < 4; k++)
                hs[k] = tg_dadd(hs[k], tg_dmul((double)v[k], wx));
        }
        for (int k = 0; k < 3; k++)
            acc[k] = tg_dadd(acc[k], tg_dmul(tg_dmul(hs[k], ax.inv_ffff), wy));
        acc[3] = tg_dadd(acc[3], s->alpha_weighted ? tg_dmul(tg_dmul(hs[3], ax.inv_ffff), wy) : wy);
    }
    for (int k = 0; k < 3; k++) {
        double c = acc[k] > acc[3] ? acc[3] : acc[k];
        rgb[k] = tg_prep_ftou8(tg_dmul(c, ay.inv));
    }
}

/* tg_prep_norm is imageprep's normalisation of one 8-bit value. */
TG_HD static inline float tg_prep_norm(unsigned char v, int caffe, float mean, float std)
{
    float f = (float)v;
    return caffe ? f - mean : (f / 255.0f - mean) / std;
}

#endif /* TAGIMP_MATH_H */
