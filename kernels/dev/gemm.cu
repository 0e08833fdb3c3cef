/*
 * dev/gemm.cu — our own tiled SGEMMs, benchmark-only (as llm.c's dev/cuda):
 * not in the production fatbin. The engine does every GEMM through cuBLAS;
 * these versions are built into build/kernels/tagimp_dev.fatbin, validated
 * against ops.Sgemm and timed against cuBLAS FP32/TF32 at the batch-32
 * shapes by cuda's TestOwnSgemm* and BenchmarkGemm (scripts/gpu-check.sh
 * run does both). A version that beats cuBLAS there would move to
 * kernels/ and into the engine.
 *
 * tg_sgemm:        C = α·op(A)·op(B) + β·C                     (row-major)
 *                  op(A) is [M, K]: A[m*lda + k] (transA = 0) or A[k*lda + m] (transA = 1)
 *                  op(B) is [K, N]: B[k*ldb + n] (transB = 0) or B[n*ldb + k] (transB = 1)
 *                  C is [M, N] with row stride ldc; β = 0 never reads C (NaN-safe).
 *                  For a Linear layer y = x·Wᵀ (W [out, in]):
 *                    forward  Y[B,out]  = X[B,in]·Wᵀ     transA=0 transB=1
 *                    dX       dX[B,in]  = dY[B,out]·W    transA=0 transB=0
 *                    dW       dW[out,in]= dYᵀ·X          transA=1 transB=0
 * tg_sgemm_dense:  Y[M, N] = act(X[M, K]·W[N, K]ᵀ + bias[N])   (tg_dense_act,
 *                  dropout element idx = m*N + n, key = tg_stream_key(seed, stream))
 *
 * Launch (both): grid = (ceil(N/64), ceil(M/64)), block = 256, no dynamic
 * shared memory. Each block computes a 64×64 tile of C, stepping K by 16
 * through shared memory; thread (tx = tid%16, ty = tid/16) owns the 4×4
 * elements (ty + 16i, tx + 16j), so stores are coalesced along n.
 * tg_sgemm_splitk + tg_splitk_reduce (v2, at the end of this file): the same
 * tile over a slice of K per blockIdx.z, so a batch-32 product, which has
 * only ⌈N/64⌉ tiles, still fills every SM; the reduction applies the dense
 * epilogue.
 * This is the plain version (v1): no double buffering, no vector loads, no
 * tensor cores. cuBLAS (TF32 or FP32) is the production path.
 * CPU twins: ops.Sgemm and ops.DenseForward (model/ops).
 */
#include "tagimp_math.h"

#define TG_GEMM_BM 64
#define TG_GEMM_BN 64
#define TG_GEMM_BK 16

/* tg_sgemm_tile accumulates the block's 64×64 tile of op(A)·op(B) over
 * k in [kb, ke) into acc (thread's 4×4 elements, see above). */
__device__ static inline void tg_sgemm_tile(int transA, int transB, int M, int N, int kb, int ke,
                                            const float *A, int lda, const float *B, int ldb,
                                            float acc[4][4])
{
    __shared__ float As[TG_GEMM_BK][TG_GEMM_BM];
    __shared__ float Bs[TG_GEMM_BK][TG_GEMM_BN];
    const int tid = threadIdx.x;
    const int m0 = blockIdx.y * TG_GEMM_BM, n0 = blockIdx.x * TG_GEMM_BN;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            acc[i][j] = 0.0f;
    for (int k0 = kb; k0 < ke; k0 += TG_GEMM_BK) {
        for (int l = 0; l < 4; l++) {
            int idx = tid + 256 * l, mm, kk, nn, kb;
            if (transA) { mm = idx % TG_GEMM_BM; kk = idx / TG_GEMM_BM; }
            else        { kk = idx % TG_GEMM_BK; mm = idx / TG_GEMM_BK; }
            int gm = m0 + mm, gk = k0 + kk;
            float a = 0.0f;
            if (gm < M && gk < ke)
                a = transA ? A[(long)gk * lda + gm] : A[(long)gm * lda + gk];
            As[kk][mm] = a;
            if (transB) { kb = idx % TG_GEMM_BK; nn = idx / TG_GEMM_BK; }
            else        { nn = idx % TG_GEMM_BN; kb = idx / TG_GEMM_BN; }
            int gn = n0 + nn;
            gk = k0 + kb;
            float b = 0.0f;
            if (gn < N && gk < ke)
                b = transB ? B[(long)gn * ldb + gk] : B[(long)gk * ldb + gn];
            Bs[kb][nn] = b;
        }
        __syncthreads();
        const int tx = tid % 16, ty = tid / 16;
#pragma unroll
        for (int k = 0; k < TG_GEMM_BK; k++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) {
                a[i] = As[k][ty + 16 * i];
                b[i] = Bs[k][tx + 16 * i];
            }
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
}

extern "C" __global__ void __launch_bounds__(256)
tg_sgemm(int transA, int transB, int M, int N, int K, float alpha,
         const float *A, int lda, const float *B, int ldb,
         float beta, float *C, int ldc)
{
    float acc[4][4];
    tg_sgemm_tile(transA, transB, M, N, 0, K, A, lda, B, ldb, acc);
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int m0 = blockIdx.y * TG_GEMM_BM, n0 = blockIdx.x * TG_GEMM_BN;
    for (int i = 0; i < 4; i++) {
        int m = m0 + ty + 16 * i;
        if (m >= M)
            continue;
        for (int j = 0; j < 4; j++) {
            int n = n0 + tx + 16 * j;
            if (n >= N)
                continue;
            float c = alpha * acc[i][j];
            if (beta != 0.0f)
                c += beta * C[(long)m * ldc + n];
            C[(long)m * ldc + n] = c;
        }
    }
}

extern "C" __global__ void __launch_bounds__(256)
tg_sgemm_dense(int M, int N, int K, const float *X, const float *W,
               const float *bias, float *Y, int act, unsigned long long key, float p)
{
    float acc[4][4];
    tg_sgemm_tile(0, 1, M, N, 0, K, X, K, W, K, acc);
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int m0 = blockIdx.y * TG_GEMM_BM, n0 = blockIdx.x * TG_GEMM_BN;
    for (int i = 0; i < 4; i++) {
        int m = m0 + ty + 16 * i;
        if (m >= M)
            continue;
        for (int j = 0; j < 4; j++) {
            int n = n0 + tx + 16 * j;
            if (n >= N)
                continue;
            long idx = (long)m * N + n;
            Y[idx] = tg_dense_act(acc[i][j], bias ? bias[n] : 0.0f, act, key, (uint64_t)idx, p);
        }
    }
}

/* tg_sgemm_splitk (v2: fills the GPU when M is a batch of 32): blockIdx.z
 * computes the partial product over k in [z·kchunk, min(K, (z+1)·kchunk))
 * into ws[z, M, N] (kchunk a multiple of 16). Launch: grid (⌈N/64⌉,
 * ⌈M/64⌉, splits), block 256; ws holds splits·M·N floats.
 * tg_splitk_reduce then sums the partials in z order (deterministic) and
 * applies α, β and the dense epilogue:
 *   C[m,n] = act(α·Σ_z ws[z,m,n] + β·C[m,n] + bias[n])   (idx m·N+n for dropout)
 * bias NULL and act = TG_ACT_NONE leave the plain GEMM; β = 0 never reads C.
 * Launch: grid-stride over M·N, block 256.
 * Twin: ops.Sgemm, then ops.DenseForward. */
extern "C" __global__ void __launch_bounds__(256)
tg_sgemm_splitk(int transA, int transB, int M, int N, int K, int kchunk,
                const float *A, int lda, const float *B, int ldb, float *ws)
{
    float acc[4][4];
    const int kb = blockIdx.z * kchunk;
    const int ke = kb + kchunk < K ? kb + kchunk : K;
    tg_sgemm_tile(transA, transB, M, N, kb, ke, A, lda, B, ldb, acc);
    float *part = ws + (long)blockIdx.z * M * N;
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int m0 = blockIdx.y * TG_GEMM_BM, n0 = blockIdx.x * TG_GEMM_BN;
    for (int i = 0; i < 4; i++) {
        int m = m0 + ty + 16 * i;
        if (m >= M)
            continue;
        for (int j = 0; j < 4; j++) {
            int n = n0 + tx + 16 * j;
            if (n < N)
                part[(long)m * N + n] = acc[i][j];
        }
    }
}

extern "C" __global__ void tg_splitk_reduce(float *C, int ldc, const float *ws, int splits,
                                            int M, int N, float alpha, float beta,
                                            const float *bias, int act,
                                            unsigned long long key, float p)
{
    const long mn = (long)M * N;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < mn; i += (long)gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int z = 0; z < splits; z++)
            s += ws[z * mn + i];
        const int m = (int)(i / N), n = (int)(i % N);
        float c = alpha * s;
        if (beta != 0.0f)
            c += beta * C[(long)m * ldc + n];
        if (bias || act != TG_ACT_NONE)
            c = tg_dense_act(c, bias ? bias[n] : 0.0f, act, key, (uint64_t)i, p);
        C[(long)m * ldc + n] = c;
    }
}
