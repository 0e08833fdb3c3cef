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

#endif /* TAGIMP_MATH_H */
