/*
 * wa.cu — Model 2's input (DESIGN §6): the weighted embedding average, the
 * L2 normalisation of fc7 rows, and both concatenated.
 *
 *   N(b)   = #{t : p[b,t] ≥ θ}
 *   WA(b)  = Σ_{t : p[b,t] ≥ θ} v[t] · p[b,t] / N(b)        (zero when N(b) = 0)
 *   wa(b)  = WA(b) / max(‖WA(b)‖₂, 1e-12)
 *   f(b)   = fc7(b) / max(‖fc7(b)‖₂, 1e-12)
 *
 * tg_weighted_average: out[b, 0:E] = wa(b), row stride out_stride (so it can
 *          land in the last E columns of Model 2's input directly).
 *          probs [B, T] (tag probabilities, or 0/1 ground truth in training),
 *          vecs [T, E] (word vectors in vocab order).
 *          Launch: grid = B, block = 128 (multiple of 32, ≤ 1024),
 *          dynamic shared memory = T floats.
 * tg_l2norm_rows: out[b, 0:D] = x[b] / max(‖x[b]‖₂, 1e-12), row stride
 *          out_stride; x [B, D]; out may be x (with out_stride = D).
 *          Launch: grid = B, block = 256, no dynamic shared memory.
 * tg_model2_input: out [B, D+E] = concat(f(b), wa(b)) in one launch;
 *          fc7 [B, D], probs [B, T], vecs [T, E].
 *          Launch: grid = B, block = 256, dynamic shared memory = T floats.
 * Each thread owns columns e = threadIdx.x, +blockDim.x, … and sums over t in
 * increasing order, as the host reference tg_wa_row does; only the squared
 * norms are reduced across the block (warp shuffles, then one warp).
 * CPU twins: tg_wa_row (C); ops.WeightedAverage, ops.L2NormalizeRows,
 * ops.Model2Input (Go).
 */
#include "tagimp_math.h"
#include "tg_device.cuh"

extern "C" __global__ void tg_weighted_average(float *out, int out_stride,
                                               const float *probs, const float *vecs,
                                               int T, int E, float theta)
{
    TG_DYN_SMEM(float, w);             /* T weights of this row */
    __shared__ float scratch[32];
    __shared__ int count;
    const int b = blockIdx.x;
    tg_wa_block(out + (long)b * out_stride, probs + (long)b * T, vecs, T, E, theta,
                w, scratch, &count);
}

extern "C" __global__ void tg_l2norm_rows(float *out, int out_stride, const float *x, int D)
{
    __shared__ float scratch[32];
    const int b = blockIdx.x;
    tg_l2norm_block(out + (long)b * out_stride, x + (long)b * D, D, scratch);
}

extern "C" __global__ void tg_model2_input(float *out, const float *fc7, const float *probs,
                                           const float *vecs, int D, int T, int E, float theta)
{
    TG_DYN_SMEM(float, w);             /* T weights of this row */
    __shared__ float scratch[32];
    __shared__ int count;
    const int b = blockIdx.x;
    float *row = out + (long)b * (D + E);
    tg_l2norm_block(row, fc7 + (long)b * D, D, scratch);
    tg_wa_block(row + D, probs + (long)b * T, vecs, T, E, theta, w, scratch, &count);
}
