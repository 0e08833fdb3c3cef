/*
 * half.cu — the layout and precision changes around VGG16's 16-bit
 * convolutions (gpu.VGG16 at --precision bf16 or fp16): cuDNN runs the 13
 * convolutions and 5 pools on channels-last (NHWC) tensors of bfloat16 or
 * IEEE half; the network's input stays float32 NCHW (what tg_prep and the
 * uploads write) and fc6/fc7 stay float32 (cuBLAS SGEMM + tg_dense_forward).
 * Each kernel does one job; bf16 != 0 selects bfloat16, else fp16. The
 * conversions are tg_to16/tg_from16 of tagimp_math.h (RNE, integer only).
 * 16-bit values travel as unsigned short.
 *
 * tg_nchw_to_nhwc16: out[b, p, k] = k < C ? tg_to16(in[b, k, p]) : 0
 *   in:  float32 [n, C, HW] (NCHW, HW = H·W), out: 16-bit [n, HW, Cpad]
 *   (NHWC with the channels zero-padded to Cpad ≥ C: VGG16's 3 input
 *   channels go to 8, so that conv1_1 meets the tensor cores' channel
 *   multiple; its filter is padded with zero weights to match).
 *   Launch: grid-stride over n·HW pixels, block 256; one thread a pixel
 *   (reads C strided float32 — coalesced across the warp — writes Cpad).
 *
 * tg_nhwc16_to_nchw: out[b, k, p] = tg_from16(in[b, p, k])
 *   in: 16-bit [n, HW, C] (pool5's NHWC output), out: float32 [n, C, HW],
 *   so that fc6 reads the flatten order of PyTorch's C, H, W.
 *   Launch: grid-stride over the n·C·HW outputs, block 256 (coalesced
 *   writes; the reads stride by C, a small tensor: 25088 values an image).
 *
 * tg_bias_relu16: y[i] = tg_bias_relu16(y[i], bias[i mod C])   (in place)
 *   y: 16-bit NHWC [n·H·W, C], bias: 16-bit [C] (the channel is the
 *   innermost index). The epilogue of a layer whose fused
 *   cudnnConvolutionBiasActivationForward is not supported: plain
 *   cudnnConvolutionForward wrote the pre-activation, this adds the bias in
 *   float32 and applies ReLU. C even: each thread takes two neighbouring
 *   values (one 32-bit word, little-endian: the lower half first) of the
 *   same row. total = n·H·W·C.
 *   Launch: grid-stride over total/2 words, block 256; the channel of a
 *   thread's first value is computed once and advanced by the grid stride
 *   (mod C) instead of a 64-bit modulo per element.
 * CPU twins: ops.NCHWToNHWC16, ops.NHWC16ToNCHW, ops.BiasReLU16 (Go);
 * kernels/hostref's loops over the same header functions.
 */
#include "tagimp_math.h"

extern "C" __global__ void tg_nchw_to_nhwc16(unsigned short *out, const float *in, int n, int C, int Cpad,
                                             int HW, int bf16)
{
    const long long pixels = (long long)n * HW;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < pixels; i += stride) {
        const long long b = i / HW, p = i - b * HW;
        const float *src = in + b * C * HW + p;
        unsigned short *dst = out + i * Cpad;
        for (int k = 0; k < Cpad; k++)
            dst[k] = k < C ? tg_to16(src[(long long)k * HW], bf16) : (unsigned short)0;
    }
}

extern "C" __global__ void tg_nhwc16_to_nchw(float *out, const unsigned short *in, int n, int C, int HW, int bf16)
{
    const long long total = (long long)n * C * HW;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        const long long plane = i / HW, p = i - plane * HW; /* plane = b·C + k */
        const long long b = plane / C, k = plane - b * C;
        out[i] = tg_from16(in[(b * HW + p) * C + k], bf16);
    }
}

extern "C" __global__ void tg_bias_relu16(unsigned short *y, const unsigned short *bias, long long total, int C,
                                          int bf16)
{
    const long long words = total / 2;
    const long long stride = (long long)gridDim.x * blockDim.x;
    long long w = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (w >= words)
        return;
    int c = (int)((2 * w) % C);
    const int step = (int)((2 * stride) % C);
    unsigned int *y2 = (unsigned int *)y;
    for (; w < words; w += stride) {
        unsigned int v = y2[w];
        unsigned int lo = tg_bias_relu16((unsigned short)(v & 0xffffu), bias[c], bf16);
        unsigned int hi = tg_bias_relu16((unsigned short)(v >> 16), bias[c + 1], bf16);
        y2[w] = lo | (hi << 16);
        c += step;
        if (c >= C)
            c -= C;
    }
}
