/*
 * dense.cu — the fused epilogues of a Linear layer around a GEMM (cuBLAS or
 * tg_sgemm) that wrote A = X·Wᵀ.
 *
 * tg_dense_forward:   Y[r, c] = act(Y[r, c] + bias[c])               (in place)
 *                     act = TG_ACT_NONE (0): identity (output layers)
 *                     act = TG_ACT_RELU (1): ReLU, then inverted dropout with
 *                       factor tg_dropout_scale(key, r*cols + c, p); p = 0 → none
 *                     key = tg_stream_key(seed, DropoutStream(step, layer)),
 *                     so the mask is ops.DropoutScale's, bit for bit.
 *                     bias may be NULL (no bias). The loop is
 *                     tg_dense_forward_loop (tg_device.cuh), shared with
 *                     tg_dense_forward_dev (step.cu).
 *   Launch: grid-stride over rows*cols; block = 256, grid = min(ceil(n/256), 8·SMs).
 *
 * tg_dense_backward:  dA[r, c] = act ? tg_dense_act_grad(dY, Y, keep) : dY[r, c]
 *                     db[c]    = Σ_r dA[r, c]          (rows summed in a fixed order)
 *                     keep = tg_keep_scale(p) of the forward pass. dA may be dY
 *                     (in place) or NULL (only db); db may be NULL; Y is read
 *                     only when act = TG_ACT_RELU.
 *   Launch: grid = ceil(cols/32), block = (32, 8), no dynamic shared memory.
 *   threadIdx.x is the column inside a strip of 32 (coalesced), threadIdx.y
 *   takes rows y, y+8, …; the 8 partial sums are added in y order.
 * CPU twins: tg_dense_act / tg_dense_act_grad (C), ops.DenseForward and
 * ops.DenseBackward (Go).
 */
#include "tagimp_math.h"
#include "tg_device.cuh"

extern "C" __global__ void tg_dense_forward(float *Y, const float *bias, int rows, int cols,
                                            int act, unsigned long long key, float p)
{
    tg_dense_forward_loop(Y, bias, rows, cols, act, key, p);
}

extern "C" __global__ void tg_dense_backward(float *dA, const float *dY, const float *Y,
                                             float *db, int rows, int cols, int act, float keep)
{
    __shared__ float part[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (c < cols) {
        for (int r = threadIdx.y; r < rows; r += 8) {
            long i = (long)r * cols + c;
            float g = dY[i];
            if (act == TG_ACT_RELU)
                g = tg_dense_act_grad(g, Y[i], keep);
            if (dA)
                dA[i] = g;
            s += g;
        }
    }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols && db) {
        float t = part[0][threadIdx.x];
        for (int y = 1; y < 8; y++)
            t += part[y][threadIdx.x];
        db[c] = t;
    }
}
