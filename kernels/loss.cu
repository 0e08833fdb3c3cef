/*
 * loss.cu — the two losses, value and gradient in one pass, and σ for
 * prediction (formulas in tagimp_math.h).
 *
 * tg_bce_logits:  tag head, z, y [n] (n = B·T, y ∈ {0,1}):
 *                   loss[0] = (1/n) Σ_i max(z,0) − z·y + log1p(e^{−|z|})
 *                   grad[i] = (σ(z_i) − y_i) / n
 *                   prob[i] = σ(z_i)
 *                 grad, prob and loss may each be NULL; y may be NULL when
 *                 grad and loss are (prediction: σ only).
 * tg_sigmoid_mse: importance heads, z, t [n], optional mask [n] (0/1, the
 *                 ground-truth tags: --imp-loss-mask true):
 *                   s = σ(z), d = s − t, w = mask ? mask_i : 1, cnt = Σ w
 *                   loss[0] = Σ w·d² / max(cnt, 1)
 *                   grad[i] = w · 2d·s(1−s) / max(cnt, 1)
 *                   prob[i] = s
 *                 mask NULL averages over all n elements. grad, prob, loss may be NULL.
 *   Launch (both): grid = 1, block = 1024 (a multiple of 32), no dynamic
 *   shared memory. One block keeps the whole reduction, and the mask count
 *   the gradient needs, inside one launch, deterministically; a batch of
 *   32 × ~1000 tags is ~32 elements per thread. Thread i takes elements
 *   i, i+1024, …; partial sums meet in tg_block_sum.
 *
 * tg_sigmoid_fwd: out[i] = σ(z[i]); grid-stride, block 256, any grid. out may be z.
 * CPU twins: tg_bce_logits_loss/grad, tg_sigmoid, tg_sigmoid_mse_grad (C);
 * ops.BCEWithLogits, ops.SigmoidMSE, ops.Sigmoid (Go).
 */
#include "tagimp_math.h"
#include "tg_device.cuh"

extern "C" __global__ void tg_bce_logits(float *grad, float *prob, float *loss,
                                         const float *z, const float *y, int n)
{
    __shared__ float scratch[32];
    const float inv = 1.0f / (float)(n > 0 ? n : 1);
    float acc = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float zi = z[i];
        if (prob)
            prob[i] = tg_sigmoid(zi);
        if (grad)
            grad[i] = tg_bce_logits_grad(zi, y[i]) * inv;
        if (loss)
            acc += tg_bce_logits_loss(zi, y[i]);
    }
    if (loss) {
        float s = tg_block_sum(acc, scratch);
        if (threadIdx.x == 0)
            loss[0] = s * inv;
    }
}

extern "C" __global__ void tg_sigmoid_mse(float *grad, float *prob, float *loss,
                                          const float *z, const float *t, const float *mask, int n)
{
    __shared__ float scratch[32];
    float cnt = (float)n;
    if (mask) {
        float c = 0.0f;
        for (int i = threadIdx.x; i < n; i += blockDim.x)
            c += mask[i];
        cnt = tg_block_sum(c, scratch);
    }
    const float inv = 1.0f / (cnt > 1.0f ? cnt : 1.0f);
    float acc = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        float s = tg_sigmoid(z[i]);
        float w = mask ? mask[i] : 1.0f;
        if (prob)
            prob[i] = s;
        if (grad)
            grad[i] = w * tg_sigmoid_mse_grad(s, t[i]) * inv;
        if (loss) {
            float d = s - t[i];
            acc += w * d * d;
        }
    }
    if (loss) {
        float s = tg_block_sum(acc, scratch);
        if (threadIdx.x == 0)
            loss[0] = s * inv;
    }
}

extern "C" __global__ void tg_sigmoid_fwd(float *out, const float *z, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
        out[i] = tg_sigmoid(z[i]);
}
