/*
 * step.cu — the plumbing of a training step on the device: the batch gather
 * from a training split kept in device memory, and the variants a captured
 * CUDA graph needs, which read the per-step values from a tg_step_state in
 * device memory (tagimp_math.h: step counter, slot of the step in the
 * queued chunk) instead of taking them as arguments, and advance it.
 *
 * tg_gather_rows:       dst[i, c] = src[rows[i], c]          i < n, c < cols
 *                       rows: int32 row indices into src [·, cols]; dst [n, cols].
 * tg_gather_rows_dev:   the same with the rows of the current slot:
 *                       dst[i, c] = src[rows[st->slot·batch + i], c]   i < batch
 *   Launch (both): grid = (min(ceil(cols/256), 32), n), block = 256, n ≤ 65535;
 *   blockIdx.y is the row, the blocks of a grid row and their threads stride
 *   over the columns (tg_gather_row, tg_device.cuh).
 *
 * tg_dense_forward_dev: tg_dense_forward (dense.cu) with the dropout key of
 *                       the step in st: key = tg_step_key(seed, st, layer)
 *                       = tg_stream_key(seed, tg_dropout_stream(st->step, layer)),
 *                       so the masks are those of tg_dense_forward and of
 *                       ops.DropoutScale at that step, bit for bit.
 *   Launch: grid-stride over rows·cols, block = 256, grid = min(ceil(n/256), 8·SMs).
 *
 * tg_step_end:          slots[nloss·st->slot + i] = scratch[i]   (i < nloss; nloss = 0: no copy)
 *                       then st->slot += 1, st->step += 1.
 *   The last kernel of a captured step: the step's losses go to its slot of
 *   the chunk's loss buffer, and the next replay sees the next step.
 *   Launch: grid = 1, block = 1.
 *
 * CPU twins: ops.GatherRows, ops.GatherRowsStep, ops.DenseForwardStep,
 * ops.StepEnd (model/ops/step.go).
 */
#include "tagimp_math.h"
#include "tg_device.cuh"

extern "C" __global__ void tg_gather_rows(float *dst, const float *src, const int *rows, int cols)
{
    tg_gather_row(dst, src, rows, cols);
}

extern "C" __global__ void tg_gather_rows_dev(float *dst, const float *src, const int *rows,
                                              const struct tg_step_state *st, int batch, int cols)
{
    tg_gather_row(dst, src, rows + (long long)st->slot * batch, cols);
}

extern "C" __global__ void tg_dense_forward_dev(float *Y, const float *bias, int rows, int cols,
                                                int act, unsigned long long seed,
                                                const struct tg_step_state *st, int layer, float p)
{
    tg_dense_forward_loop(Y, bias, rows, cols, act, tg_step_key(seed, st, layer), p);
}

extern "C" __global__ void tg_step_end(float *slots, const float *scratch, int nloss,
                                       struct tg_step_state *st)
{
    if (threadIdx.x != 0 || blockIdx.x != 0)
        return;
    for (int i = 0; i < nloss; i++)
        slots[(long long)nloss * st->slot + i] = scratch[i];
    st->slot += 1;
    st->step += 1;
}
