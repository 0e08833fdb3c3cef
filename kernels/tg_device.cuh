/*
 * tg_device.cuh — device-only helpers shared by the kernels (reductions,
 * the WA and L2 row loops, the dense epilogue loop, the row gather).
 * Every kernel source (kernels/NAME.cu) is compiled in one unit, so shared
 * helpers live here once.
 */
#ifndef TG_DEVICE_CUH
#define TG_DEVICE_CUH

#include "tagimp_math.h"

/* TG_DYN_SMEM declares the block's dynamic shared memory as name[] of type.
 * A macro so that kernels/emu (the CPU emulator of these kernels) can give
 * it its own definition. */
#ifndef TG_DYN_SMEM
#define TG_DYN_SMEM(type, name) extern __shared__ type name[]
#endif

/* tg_block_sum returns the sum of v over the whole block to every thread.
 * blockDim.x must be a multiple of 32 and at most 1024; scratch holds 32
 * floats of shared memory. Contains __syncthreads: call from all threads. */
__device__ static inline float tg_block_sum(float v, float *scratch)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    int nwarps = (blockDim.x + 31) >> 5;
    v = (threadIdx.x < nwarps) ? scratch[threadIdx.x] : 0.0f;
    if (warp == 0)
        for (int o = 16; o > 0; o >>= 1)
            v += __shfl_down_sync(0xffffffffu, v, o);
    if (threadIdx.x == 0)
        scratch[0] = v;
    __syncthreads();
    float r = scratch[0];
    __syncthreads();
    return r;
}

/* tg_wa_block writes the L2-normalised weighted average of one row (see
 * wa.cu) to out[0:E]: p is the row's T probabilities, vecs [T, E], w shared
 * memory for T floats, scratch 32 floats of shared memory, count one shared
 * int. Each thread owns columns e = threadIdx.x, +blockDim.x, … and sums over
 * t in increasing order, as tg_wa_row does. Call from all threads. */
__device__ static inline void tg_wa_block(float *out, const float *p, const float *vecs,
                                          int T, int E, float theta,
                                          float *w, float *scratch, int *count)
{
    if (threadIdx.x == 0)
        *count = 0;
    __syncthreads();
    int mine = 0;
    for (int t = threadIdx.x; t < T; t += blockDim.x) {
        float pt = p[t];
        w[t] = tg_wa_weight(pt, theta);
        mine += pt >= theta;
    }
    if (mine)
        atomicAdd(count, mine);
    __syncthreads();
    const int n = *count;
    float ss = 0.0f;
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        float acc = 0.0f;
        for (int t = 0; t < T; t++)
            acc += w[t] * vecs[(long)t * E + e];
        float wa = n > 0 ? acc / (float)n : 0.0f;
        out[e] = wa;
        ss += wa * wa;
    }
    const float inv = tg_l2_inv(tg_block_sum(ss, scratch));
    for (int e = threadIdx.x; e < E; e += blockDim.x)
        out[e] *= inv;
}

/* tg_l2norm_block writes x[0:D] / max(‖x‖₂, 1e-12) to out[0:D] (out may be
 * x). Call from all threads; scratch is 32 floats of shared memory. */
__device__ static inline void tg_l2norm_block(float *out, const float *x, int D, float *scratch)
{
    float ss = 0.0f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float v = x[d];
        ss += v * v;
    }
    const float inv = tg_l2_inv(tg_block_sum(ss, scratch));
    for (int d = threadIdx.x; d < D; d += blockDim.x)
        out[d] = x[d] * inv;
}

/* tg_dense_forward_loop is the body of tg_dense_forward and
 * tg_dense_forward_dev: Y[i] = tg_dense_act(Y[i], bias[i mod cols], act,
 * key, i, p) over i < rows·cols, grid-stride. bias may be NULL. */
__device__ static inline void tg_dense_forward_loop(float *Y, const float *bias, int rows, int cols,
                                                    int act, uint64_t key, float p)
{
    const long n = (long)rows * cols;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        int c = (int)(i % cols);
        Y[i] = tg_dense_act(Y[i], bias ? bias[c] : 0.0f, act, key, (uint64_t)i, p);
    }
}

/* tg_gather_row copies row rows[blockIdx.y] of src [·, cols] to row
 * blockIdx.y of dst [gridDim.y, cols]: the blocks of one grid row and
 * their threads stride over the columns (coalesced). */
__device__ static inline void tg_gather_row(float *dst, const float *src, const int *rows, int cols)
{
    const float *s = src + (long long)rows[blockIdx.y] * cols;
    float *d = dst + (long long)blockIdx.y * cols;
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x)
        d[c] = s[c];
}

#endif /* TG_DEVICE_CUH */
