/*
 * prep.cu — decoded images to VGG16 input on the device: data/imageprep's
 * resize (x/image/draw's antialiased BiLinear, whole image to S×S or shorter
 * side to S·256/224 and a centre crop of S×S), 8-bit rounding, channel
 * order and normalisation in one kernel, so that only the decoded 8-bit
 * planes cross PCIe. The math, bit for bit the CPU path's, is
 * tg_prep_pixel and tg_prep_norm in tagimp_math.h.
 *
 * tg_prep: out[b, k, y, x] = tg_prep_norm(rgb[ch(k)], caffe, mean[k], std[k])
 *          rgb = tg_prep_pixel(pix, &src[b], x, y); ch(k) = k, or 2−k with caffe
 *   pix:  the batch's decoded planes (bytes), src: tg_prep_src [batch]
 *   out:  float32 [batch, 3, S, S] (CHW per image)
 *   Launch: grid = (⌈S/128⌉, S, batch), block = 128; one thread an output
 *   pixel (all three channels); S ≤ 65535, batch ≤ 65535.
 * CPU twins: imageprep.Config.FromRaw (Go), tg_prep_host (kernels/hostref).
 */
#include "tagimp_math.h"

extern "C" __global__ void tg_prep(float *out, const unsigned char *pix, const struct tg_prep_src *src,
                                   int S, int caffe, float m0, float m1, float m2, float s0, float s1,
                                   float s2)
{
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y, b = blockIdx.z;
    if (x >= S)
        return;
    unsigned char rgb[3];
    tg_prep_pixel(pix, &src[b], x, y, rgb);
    const long plane = (long)S * S;
    float *o = out + (long)b * 3 * plane + (long)y * S + x;
    o[0] = tg_prep_norm(rgb[caffe ? 2 : 0], caffe, m0, s0);
    o[plane] = tg_prep_norm(rgb[1], caffe, m1, s1);
    o[2 * plane] = tg_prep_norm(rgb[caffe ? 0 : 2], caffe, m2, s2);
}
