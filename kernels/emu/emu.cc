// emu.cc — the CPU runtime of emu.h and the extern "C" launchers that Go
// calls (one per kernel: grid and block shape, dynamic shared memory, then
// the kernel's own arguments).
#include "emu.h"

#include <pthread.h>
#include <string.h>

#include <functional>
#include <vector>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace {

struct Block {
    pthread_barrier_t bar;
    pthread_barrier_t warp_bar[32];
    float shfl[32][32];
    std::vector<unsigned char> dyn;
    int nwarps;
};

Block *g_block; // the block running now (blocks run one at a time)

struct ThreadArg {
    dim3 tid, bid;
    const std::function<void()> *body;
};

void *thread_main(void *p)
{
    ThreadArg *a = (ThreadArg *)p;
    threadIdx = a->tid;
    blockIdx = a->bid;
    (*a->body)();
    return nullptr;
}

int linear_tid()
{
    return threadIdx.x + threadIdx.y * blockDim.x + threadIdx.z * blockDim.x * blockDim.y;
}

// launch runs body as the kernel: every block in turn, each with one POSIX
// thread per CUDA thread. Returns 0, or -1 if a thread could not start.
int launch(dim3 grid, dim3 block, size_t smem, const std::function<void()> &body)
{
    gridDim = grid;
    blockDim = block;
    const int nt = block.x * block.y * block.z;
    if (nt <= 0 || nt > 1024)
        return -1;
    Block b;
    b.nwarps = (nt + 31) / 32;
    pthread_barrier_init(&b.bar, nullptr, nt);
    for (int w = 0; w < b.nwarps; w++) {
        int n = nt - 32 * w < 32 ? nt - 32 * w : 32;
        pthread_barrier_init(&b.warp_bar[w], nullptr, n);
    }
    g_block = &b;
    std::vector<pthread_t> th(nt);
    std::vector<ThreadArg> args(nt);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 << 10);
    int rc = 0;
    for (unsigned bz = 0; bz < grid.z && rc == 0; bz++)
        for (unsigned by = 0; by < grid.y && rc == 0; by++)
            for (unsigned bx = 0; bx < grid.x && rc == 0; bx++) {
                b.dyn.assign(smem, 0xFF); // NaN until written
                int started = 0;
                for (unsigned z = 0; z < block.z; z++)
                    for (unsigned y = 0; y < block.y; y++)
                        for (unsigned x = 0; x < block.x; x++) {
                            int i = x + y * block.x + z * block.x * block.y;
                            args[i] = ThreadArg{dim3{x, y, z}, dim3{bx, by, bz}, &body};
                            if (pthread_create(&th[i], &attr, thread_main, &args[i]) != 0) {
                                rc = -1;
                                break;
                            }
                            started++;
                        }
                if (rc != 0) {
                    // A block that cannot start all its threads would wait
                    // forever at its first barrier: give up (the process
                    // is out of threads; the Go side reports it).
                    for (int i = 0; i < started; i++)
                        pthread_detach(th[i]);
                    return -1;
                }
                for (int i = 0; i < nt; i++)
                    pthread_join(th[i], nullptr);
            }
    pthread_attr_destroy(&attr);
    pthread_barrier_destroy(&b.bar);
    for (int w = 0; w < b.nwarps; w++)
        pthread_barrier_destroy(&b.warp_bar[w]);
    g_block = nullptr;
    return rc;
}

} // namespace

void __syncthreads(void)
{
    pthread_barrier_wait(&g_block->bar);
}

float __shfl_down_sync(unsigned, float v, int offset)
{
    const int t = linear_tid(), lane = t & 31, warp = t >> 5;
    g_block->shfl[warp][lane] = v;
    pthread_barrier_wait(&g_block->warp_bar[warp]);
    float r = lane + offset < 32 ? g_block->shfl[warp][lane + offset] : v;
    pthread_barrier_wait(&g_block->warp_bar[warp]);
    return r;
}

int atomicAdd(int *p, int v)
{
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
}

void *tg_emu_dyn_smem(void)
{
    return g_block->dyn.data();
}

// The kernels, compiled as they are for nvcc (CMake's unity build does the
// same: one unit, each header once). The src_*.h files are symbolic links
// to kernels/*: the go command tracks changes only to files in the
// package's own directory, so the links make an edited kernel rebuild this
// package (TestSourcesLinked checks that every kernel source has one).
#include "src_adam.cu.h"
#include "src_dense.cu.h"
#include "src_gemm.cu.h"
#include "src_half.cu.h"
#include "src_loss.cu.h"
#include "src_prep.cu.h"
#include "src_step.cu.h"
#include "src_wa.cu.h"

#define SHAPE int gx, int gy, int gz, int bx, int by, int smem
#define LAUNCH(call) return launch(dim3{(unsigned)gx, (unsigned)gy, (unsigned)gz}, dim3{(unsigned)bx, (unsigned)by, 1}, smem, [&] { call; })

extern "C" {

int emu_tg_sgemm(SHAPE, int transA, int transB, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    LAUNCH(tg_sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc));
}

int emu_tg_sgemm_dense(SHAPE, int M, int N, int K, const float *X, const float *W,
                       const float *bias, float *Y, int act, unsigned long long key, float p)
{
    LAUNCH(tg_sgemm_dense(M, N, K, X, W, bias, Y, act, key, p));
}

int emu_tg_sgemm_splitk(SHAPE, int transA, int transB, int M, int N, int K, int kchunk,
                        const float *A, int lda, const float *B, int ldb, float *ws)
{
    LAUNCH(tg_sgemm_splitk(transA, transB, M, N, K, kchunk, A, lda, B, ldb, ws));
}

int emu_tg_splitk_reduce(SHAPE, float *C, int ldc, const float *ws, int splits, int M, int N,
                         float alpha, float beta, const float *bias, int act,
                         unsigned long long key, float p)
{
    LAUNCH(tg_splitk_reduce(C, ldc, ws, splits, M, N, alpha, beta, bias, act, key, p));
}

int emu_tg_dense_forward(SHAPE, float *Y, const float *bias, int rows, int cols, int act,
                         unsigned long long key, float p)
{
    LAUNCH(tg_dense_forward(Y, bias, rows, cols, act, key, p));
}

int emu_tg_dense_backward(SHAPE, float *dA, const float *dY, const float *Y, float *db,
                          int rows, int cols, int act, float keep)
{
    LAUNCH(tg_dense_backward(dA, dY, Y, db, rows, cols, act, keep));
}

int emu_tg_bce_logits(SHAPE, float *grad, float *prob, float *loss, const float *z,
                      const float *y, int n)
{
    LAUNCH(tg_bce_logits(grad, prob, loss, z, y, n));
}

int emu_tg_sigmoid_mse(SHAPE, float *grad, float *prob, float *loss, const float *z,
                       const float *t, const float *mask, int n)
{
    LAUNCH(tg_sigmoid_mse(grad, prob, loss, z, t, mask, n));
}

int emu_tg_sigmoid_fwd(SHAPE, float *out, const float *z, int n)
{
    LAUNCH(tg_sigmoid_fwd(out, z, n));
}

int emu_tg_weighted_average(SHAPE, float *out, int out_stride, const float *probs,
                            const float *vecs, int T, int E, float theta)
{
    LAUNCH(tg_weighted_average(out, out_stride, probs, vecs, T, E, theta));
}

int emu_tg_l2norm_rows(SHAPE, float *out, int out_stride, const float *x, int D)
{
    LAUNCH(tg_l2norm_rows(out, out_stride, x, D));
}

int emu_tg_model2_input(SHAPE, float *out, const float *fc7, const float *probs,
                        const float *vecs, int D, int T, int E, float theta)
{
    LAUNCH(tg_model2_input(out, fc7, probs, vecs, D, T, E, theta));
}

int emu_tg_adam(SHAPE, float *param, const float *grad, float *m, float *v, long long n,
                float lr, float beta1, float beta2, float eps, float wd, float bc1, float bc2)
{
    LAUNCH(tg_adam(param, grad, m, v, n, lr, beta1, beta2, eps, wd, bc1, bc2));
}

int emu_tg_adam_dev(SHAPE, float *param, const float *grad, float *m, float *v, long long n,
                    float lr, float beta1, float beta2, float eps, float wd, const float *pw)
{
    LAUNCH(tg_adam_dev(param, grad, m, v, n, lr, beta1, beta2, eps, wd, pw));
}

int emu_tg_adam_powers(SHAPE, float *pw, float beta1, float beta2)
{
    LAUNCH(tg_adam_powers(pw, beta1, beta2));
}

int emu_tg_gather_rows(SHAPE, float *dst, const float *src, const int *rows, int cols)
{
    LAUNCH(tg_gather_rows(dst, src, rows, cols));
}

int emu_tg_gather_rows_dev(SHAPE, float *dst, const float *src, const int *rows,
                           const struct tg_step_state *st, int batch, int cols)
{
    LAUNCH(tg_gather_rows_dev(dst, src, rows, st, batch, cols));
}

int emu_tg_dense_forward_dev(SHAPE, float *Y, const float *bias, int rows, int cols, int act,
                             unsigned long long seed, const struct tg_step_state *st, int layer,
                             float p)
{
    LAUNCH(tg_dense_forward_dev(Y, bias, rows, cols, act, seed, st, layer, p));
}

int emu_tg_step_end(SHAPE, float *slots, const float *scratch, int nloss, struct tg_step_state *st)
{
    LAUNCH(tg_step_end(slots, scratch, nloss, st));
}

int emu_tg_prep(SHAPE, float *out, const unsigned char *pix, const struct tg_prep_src *src, int S,
                int caffe, float m0, float m1, float m2, float s0, float s1, float s2)
{
    LAUNCH(tg_prep(out, pix, src, S, caffe, m0, m1, m2, s0, s1, s2));
}

int emu_tg_nchw_to_nhwc16(SHAPE, unsigned short *out, const float *in, int n, int C, int Cpad, int HW,
                          int bf16)
{
    LAUNCH(tg_nchw_to_nhwc16(out, in, n, C, Cpad, HW, bf16));
}

int emu_tg_nhwc16_to_nchw(SHAPE, float *out, const unsigned short *in, int n, int C, int HW, int bf16)
{
    LAUNCH(tg_nhwc16_to_nchw(out, in, n, C, HW, bf16));
}

int emu_tg_bias_relu16(SHAPE, unsigned short *y, const unsigned short *bias, long long total, int C,
                       int bf16)
{
    LAUNCH(tg_bias_relu16(y, bias, total, C, bf16));
}

} // extern "C"
