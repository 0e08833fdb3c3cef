/*
 * emu.h — just enough of CUDA to run the kernels (kernels/NAME.cu) on the CPU.
 *
 * Blocks run one after another; the threads of a block are POSIX threads, so
 * __syncthreads is a real barrier and a missing one shows up as a race in
 * the results. __shared__ becomes `static` (one copy, shared by the block's
 * threads, reused by the next block); dynamic shared memory is a buffer
 * filled with NaN bytes before each block. Warp shuffles go through a
 * per-warp buffer between two per-warp barriers, so all 32 lanes must take
 * part, as __shfl_down_sync(0xffffffff, …) requires. Nothing here models
 * timing, memory coalescing or the device's rounding (no FMA contraction:
 * results match the host twins where the kernels use tg_mul/tg_add).
 */
#ifndef TG_EMU_H
#define TG_EMU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

struct dim3 {
    unsigned x, y, z;
};

extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

struct alignas(16) float4 {
    float x, y, z, w;
};

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __launch_bounds__(...)

void __syncthreads(void);
float __shfl_down_sync(unsigned mask, float v, int offset);
int atomicAdd(int *p, int v);
void *tg_emu_dyn_smem(void);

#define TG_DYN_SMEM(type, name) type *name = (type *)tg_emu_dyn_smem()

#endif /* TG_EMU_H */
