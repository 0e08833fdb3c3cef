/*
 * adam.cu — one Adam step over every parameter in a single launch
 * (torch.optim.Adam, L2 weight decay; the update is tg_adam_update):
 *   g ← g + wd·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + ε),  bc1 = 1−β1^t, bc2 = 1−β2^t
 *
 * param, grad, m, v: [n] flat buffers (all parameters of a model back to
 * back, in one allocation; m and v start at 0).
 * tg_adam:        bc1, bc2 passed as floats by the host (ops.AdamBiasCorrections).
 * tg_adam_dev:    bc1 = 1 − pw[0], bc2 = 1 − pw[1] read from device memory, so a
 *                 captured CUDA graph replays correct steps without new arguments.
 * tg_adam_powers: pw[0] ← pw[0]·β1, pw[1] ← pw[1]·β2 (one thread). Start pw at
 *                 {1, 1}; launch it before tg_adam_dev in every step (step t sees
 *                 β^t). Twin: ops.AdamPowers.
 * Launch: tg_adam/tg_adam_dev grid-stride (float4 when the buffers are
 *         16-byte aligned), block = 256, grid = min(ceil(n/256), 8·#SMs);
 *         tg_adam_powers grid = 1, block = 1.
 * tg_mul/tg_add keep the device's rounding the host's: the update matches
 * ops.Adam bit for bit.
 */
#include "tagimp_math.h"

/* tg_adam_body updates elements [0, n): four at a time through float4 when
 * all four buffers are 16-byte aligned (a whole cuMemAlloc'd buffer is),
 * then the tail one by one. Element-wise, so the result is the same bits
 * either way. */
__device__ static inline void tg_adam_body(float *param, const float *grad, float *m, float *v,
                                           long long n, float lr, float beta1, float beta2,
                                           float eps, float wd, float bc1, float bc2)
{
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long tid = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    long long n4 = 0;
    if ((((uintptr_t)param | (uintptr_t)grad | (uintptr_t)m | (uintptr_t)v) & 15) == 0) {
        n4 = n / 4;
        for (long long i = tid; i < n4; i += stride) {
            float4 p = ((float4 *)param)[i], g = ((const float4 *)grad)[i];
            float4 mi = ((float4 *)m)[i], vi = ((float4 *)v)[i];
            tg_adam_update(&p.x, &mi.x, &vi.x, g.x, lr, beta1, beta2, eps, wd, bc1, bc2);
            tg_adam_update(&p.y, &mi.y, &vi.y, g.y, lr, beta1, beta2, eps, wd, bc1, bc2);
            tg_adam_update(&p.z, &mi.z, &vi.z, g.z, lr, beta1, beta2, eps, wd, bc1, bc2);
            tg_adam_update(&p.w, &mi.w, &vi.w, g.w, lr, beta1, beta2, eps, wd, bc1, bc2);
            ((float4 *)param)[i] = p;
            ((float4 *)m)[i] = mi;
            ((float4 *)v)[i] = vi;
        }
    }
    for (long long i = n4 * 4 + tid; i < n; i += stride) {
        float p = param[i], mi = m[i], vi = v[i];
        tg_adam_update(&p, &mi, &vi, grad[i], lr, beta1, beta2, eps, wd, bc1, bc2);
        param[i] = p;
        m[i] = mi;
        v[i] = vi;
    }
}

extern "C" __global__ void tg_adam(float *param, const float *grad, float *m, float *v,
                                   long long n, float lr, float beta1, float beta2,
                                   float eps, float wd, float bc1, float bc2)
{
    tg_adam_body(param, grad, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2);
}

extern "C" __global__ void tg_adam_dev(float *param, const float *grad, float *m, float *v,
                                       long long n, float lr, float beta1, float beta2,
                                       float eps, float wd, const float *pw)
{
    tg_adam_body(param, grad, m, v, n, lr, beta1, beta2, eps, wd, 1.0f - pw[0], 1.0f - pw[1]);
}

extern "C" __global__ void tg_adam_powers(float *pw, float beta1, float beta2)
{
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        pw[0] = tg_mul(pw[0], beta1);
        pw[1] = tg_mul(pw[1], beta2);
    }
}
