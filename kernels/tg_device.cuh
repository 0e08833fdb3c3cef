/*
 * tg_device.cuh — device-only helpers shared by the kernels (reductions).
 * Every kernels/*.cu is compiled in one unit, so shared helpers live here once.
 */
#ifndef TG_DEVICE_CUH
#define TG_DEVICE_CUH

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

#endif /* TG_DEVICE_CUH */
