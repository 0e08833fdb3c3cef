/*
 * kernels.cu — the gpu engine's own kernels, until kernels/ has them: the
 * batch gather from a training split kept on the device, and the variants
 * a captured CUDA graph needs, which read the per-step values (step
 * counter, loss slot) from device memory instead of taking them as
 * arguments. The per-element math is tagimp_math.h's, so the dropout masks
 * are those of tg_dense_forward and of ops.DropoutScale, bit for bit.
 *
 * state (device memory): unsigned long long step at byte 0, int slot at
 * byte 8 — the step counter (as model.Trainer's contract counts it) and the
 * position of the current step in the queued chunk.
 *
 * tgb_gather_rows:      dst[i, c] = src[rows[i], c]                 i < n (= gridDim.y)
 * tgb_gather_rows_dev:  the same with rows + (*slot)·batch
 *   Launch: grid = (min(ceil(cols/256), 32), n), block = 256.
 * tgb_dense_forward_dev: tg_dense_forward with key = tg_stream_key(seed,
 *                        (*step << 3) | layer)
 *   Launch: grid-stride, block = 256, grid = min(ceil(rows·cols/256), 8·SMs).
 * tgb_step_end:         slots[3·slot + i] = scratch[i] (i < 3, when copy),
 *                        then slot += 1, step += 1.   Launch: grid = 1, block = 1.
 *
 * Built to PTX for compute_80 (the driver JITs it for sm_80 and newer):
 *   nvcc -ptx -arch=compute_80 -O3 -I../kernels -o kernels.ptx kernels.cu
 * (go generate ./gpu/). CPU twins: device_emu.go.
 */
#include "tagimp_math.h"

struct tgb_state {
    unsigned long long step;
    int slot;
};

extern "C" __global__ void tgb_gather_rows(float *dst, const float *src, const int *rows, int cols)
{
    const float *s = src + (long long)rows[blockIdx.y] * cols;
    float *d = dst + (long long)blockIdx.y * cols;
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x)
        d[c] = s[c];
}

extern "C" __global__ void tgb_gather_rows_dev(float *dst, const float *src, const int *rows,
                                               const struct tgb_state *st, int batch, int cols)
{
    const int *r = rows + (long long)st->slot * batch;
    const float *s = src + (long long)r[blockIdx.y] * cols;
    float *d = dst + (long long)blockIdx.y * cols;
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += gridDim.x * blockDim.x)
        d[c] = s[c];
}

extern "C" __global__ void tgb_dense_forward_dev(float *Y, const float *bias, int rows, int cols,
                                                 int act, unsigned long long seed,
                                                 const struct tgb_state *st, int layer, float p)
{
    const uint64_t key = tg_stream_key(seed, (st->step << 3) | (uint64_t)(layer & 7));
    const long n = (long)rows * cols;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        int c = (int)(i % cols);
        Y[i] = tg_dense_act(Y[i], bias ? bias[c] : 0.0f, act, key, (uint64_t)i, p);
    }
}

extern "C" __global__ void tgb_step_end(float *slots, const float *scratch, struct tgb_state *st, int copy)
{
    if (threadIdx.x != 0 || blockIdx.x != 0)
        return;
    if (copy)
        for (int i = 0; i < 3; i++)
            slots[3 * st->slot + i] = scratch[i];
    st->slot += 1;
    st->step += 1;
}
