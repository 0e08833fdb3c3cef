/*
 * tagimp_math.h — the per-element math shared by the CUDA kernels and their
 * host twins.
 *
 * Everything here is written in the C subset, as static inline functions
 * marked TG_HD. nvcc compiles them as __host__ __device__; a plain C compiler
 * (cgo, in kernels/hostref) compiles them for the CPU, so CI checks the same
 * source against the Go twins in model/ops without a GPU. A GPU run then only
 * has to confirm indexing, launch shapes, shared memory and synchronisation.
 */
#ifndef TAGIMP_MATH_H
#define TAGIMP_MATH_H

#include <stdint.h>
#ifdef __CUDACC__
#define TG_HD __host__ __device__
#else
#define TG_HD
#include <math.h>
#endif

/* ------------------------------------------------------------------------
 * Counter-based random numbers (dropout masks).
 *
 * A mask element is a pure function of (seed, stream, idx): no state, so the
 * GPU draws it inside the fused dense kernel and the CPU engine draws the
 * same bits, and a GPU training step can be compared with a CPU one exactly.
 *   key    = splitmix64(seed ^ splitmix64(stream))
 *   u32    = high 32 bits of splitmix64(key ^ (idx * 0xD1B54A32D192ED03))
 *   stream = step * 8 + layer      (layer 0: trunk fc1, 1: Model 2's imp2.fc1)
 *   idx    = row * width + col     (position in the [batch, width] activation)
 * ------------------------------------------------------------------------ */

/* splitmix64 finaliser (Steele, Lea, Flood 2014). */
TG_HD static inline uint64_t tg_splitmix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* tg_stream_key derives the key of one (seed, stream) pair; kernels receive
 * it precomputed so each element costs one splitmix64. */
TG_HD static inline uint64_t tg_stream_key(uint64_t seed, uint64_t stream)
{
    return tg_splitmix64(seed ^ tg_splitmix64(stream));
}

/* tg_rand_u32 returns 32 uniformly distributed bits for element idx. */
TG_HD static inline uint32_t tg_rand_u32(uint64_t key, uint64_t idx)
{
    return (uint32_t)(tg_splitmix64(key ^ (idx * 0xD1B54A32D192ED03ULL)) >> 32);
}

/* tg_dropout_scale is inverted dropout with drop probability p: the element
 * is dropped when the top 24 random bits, read as a fraction of 2^24, fall
 * below p, and kept with scale 1/(1-p) otherwise. Integer comparison, so the
 * host and the device agree bit for bit. */
TG_HD static inline float tg_dropout_scale(uint64_t key, uint64_t idx, float p)
{
    uint32_t r = tg_rand_u32(key, idx) >> 8;
    uint32_t cut = (uint32_t)(p * 16777216.0f);
    return r < cut ? 0.0f : 1.0f / (1.0f - p);
}

/* ------------------------------------------------------------------------
 * Weighted embedding average (Model 2, DESIGN §6).
 *   WA(b) = Σ_{t : p[b,t] ≥ θ} v[t] · p[b,t] / N(b),   N(b) = #{t : p[b,t] ≥ θ}
 *   out(b) = WA(b) / max(‖WA(b)‖₂, 1e-12)
 * N(b) = 0 gives the zero vector (and stays zero after normalisation). The
 * division by N does not change the normalised result; it is kept so that
 * the un-normalised WA is the paper's.
 * ------------------------------------------------------------------------ */

/* tg_wa_weight is the weight tag t contributes: p when p ≥ θ, else 0. */
TG_HD static inline float tg_wa_weight(float p, float theta)
{
    return p >= theta ? p : 0.0f;
}

/* tg_l2_inv returns 1 / max(sqrt(sumsq), 1e-12), the L2 normalisation factor
 * (as torch.nn.functional.normalize with eps = 1e-12). */
TG_HD static inline float tg_l2_inv(float sumsq)
{
    float n = sqrtf(sumsq);
    return 1.0f / (n > 1e-12f ? n : 1e-12f);
}

/* tg_wa_row computes out[0:E] for one row of probabilities p[0:T], vectors
 * v[T, E] row-major. Sums run over t in increasing order, then over e; this
 * is the order the Go twin uses. */
TG_HD static inline void tg_wa_row(float *out, const float *p, const float *v,
                                   int T, int E, float theta)
{
    int n = 0;
    for (int t = 0; t < T; t++)
        if (p[t] >= theta)
            n++;
    float ss = 0.0f;
    for (int e = 0; e < E; e++) {
        float acc = 0.0f;
        for (int t = 0; t < T; t++)
            acc += tg_wa_weight(p[t], theta) * v[(long)t * E + e];
        float wa = n > 0 ? acc / (float)n : 0.0f;
        out[e] = wa;
        ss += wa * wa;
    }
    float inv = tg_l2_inv(ss);
    for (int e = 0; e < E; e++)
        out[e] *= inv;
}

#endif /* TAGIMP_MATH_H */
