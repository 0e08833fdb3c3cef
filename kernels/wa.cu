/*
 * wa.cu — weighted embedding average of Model 2 (DESIGN §6).
 *
 *   N(b)   = #{t : p[b,t] ≥ θ}
 *   WA(b)  = Σ_{t : p[b,t] ≥ θ} v[t] · p[b,t] / N(b)        (zero when N(b) = 0)
 *   out(b) = WA(b) / max(‖WA(b)‖₂, 1e-12)
 *
 * Inputs:  probs [B, T] row-major (tag probabilities, or 0/1 ground truth in
 *          training), vecs [T, E] row-major (word vectors in vocab order).
 * Output:  out [B, E], with row stride out_stride (so the result can land in
 *          the last E columns of Model 2's [B, D+E] input directly).
 * Launch:  grid = B blocks, block = 128 threads (a multiple of 32, ≤ 1024),
 *          dynamic shared memory = T floats (the row's weights).
 * Each thread owns columns e = threadIdx.x, +blockDim.x, … and sums over t in
 * increasing order, as the host reference tg_wa_row does; only the final
 * ‖WA‖² is reduced across the block (warp shuffles, then one warp).
 * CPU twins: tg_wa_row in tagimp_math.h (C) and ops.WeightedAverage (Go).
 */
#include "tagimp_math.h"
#include "tg_device.cuh"

extern "C" __global__ void tg_weighted_average(float *out, int out_stride,
                                               const float *probs, const float *vecs,
                                               int T, int E, float theta)
{
    extern __shared__ float w[];       /* T weights of this row */
    __shared__ float scratch[32];
    __shared__ int count;
    const int b = blockIdx.x;
    const float *p = probs + (long)b * T;
    if (threadIdx.x == 0)
        count = 0;
    __syncthreads();
    int mine = 0;
    for (int t = threadIdx.x; t < T; t += blockDim.x) {
        float pt = p[t];
        w[t] = tg_wa_weight(pt, theta);
        mine += pt >= theta;
    }
    if (mine)
        atomicAdd(&count, mine);
    __syncthreads();
    const int n = count;
    float ss = 0.0f;
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        float acc = 0.0f;
        for (int t = 0; t < T; t++)
            acc += w[t] * vecs[(long)t * E + e];
        float wa = n > 0 ? acc / (float)n : 0.0f;
        out[(long)b * out_stride + e] = wa;
        ss += wa * wa;
    }
    const float inv = tg_l2_inv(tg_block_sum(ss, scratch));
    for (int e = threadIdx.x; e < E; e += blockDim.x)
        out[(long)b * out_stride + e] *= inv;
}
