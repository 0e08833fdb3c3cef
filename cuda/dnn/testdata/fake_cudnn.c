/* fake_cudnn.c — a stand-in for libcudnn built by the tests: it exports
 * every function of TG_CUDNN_FUNCS with the declared signature and writes
 * one line per call (name and arguments) to the file named by
 * FAKE_CUDNN_LOG, so that a test can check what package dnn passed and in
 * which order. cudnnGetVersion returns FAKE_CUDNN_VERSION (default 90100);
 * FAKE_CUDNN_FAIL names one function that returns status 2000 (BAD_PARAM). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cudnn_api.h"

static int next_id = 1;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#include <stdarg.h>
static void logf_(const char *fmt, ...)
{
    const char *p = getenv("FAKE_CUDNN_LOG");
    if (!p)
        return;
    FILE *f = fopen(p, "a");
    if (!f)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}

static int fail(const char *name)
{
    const char *p = getenv("FAKE_CUDNN_FAIL");
    return p && strcmp(p, name) == 0 ? 2000 : 0;
}

static void *new_obj(void)
{
    return (void *)(long)(0x1000 * next_id++);
}

#define ID(p) ((long)(p) / 0x1000)

size_t cudnnGetVersion(void)
{
    const char *v = getenv("FAKE_CUDNN_VERSION");
    return v && *v ? (size_t)atol(v) : 90100;
}
const char *cudnnGetErrorString(cudnnStatus_t s) { return s == 2000 ? "CUDNN_STATUS_BAD_PARAM" : "fake status"; }
cudnnStatus_t cudnnCreate(cudnnHandle_t *h) { *h = new_obj(); logf_("cudnnCreate -> %ld", ID(*h)); return fail("cudnnCreate"); }
cudnnStatus_t cudnnDestroy(cudnnHandle_t h) { logf_("cudnnDestroy %ld", ID(h)); return 0; }
cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s) { logf_("cudnnSetStream %ld %#lx", ID(h), (long)s); return fail("cudnnSetStream"); }

#define CREATE_DESTROY(T, what)                                            \
    cudnnStatus_t cudnnCreate##what(T *d) { *d = new_obj(); logf_("cudnnCreate" #what " -> %ld", ID(*d)); return 0; } \
    cudnnStatus_t cudnnDestroy##what(T d) { logf_("cudnnDestroy" #what " %ld", ID(d)); return 0; }
CREATE_DESTROY(cudnnTensorDescriptor_t, TensorDescriptor)
CREATE_DESTROY(cudnnFilterDescriptor_t, FilterDescriptor)
CREATE_DESTROY(cudnnConvolutionDescriptor_t, ConvolutionDescriptor)
CREATE_DESTROY(cudnnActivationDescriptor_t, ActivationDescriptor)
CREATE_DESTROY(cudnnPoolingDescriptor_t, PoolingDescriptor)

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t format,
                                         cudnnDataType_t dataType, int n, int c, int h, int w)
{
    logf_("cudnnSetTensor4dDescriptor %ld format=%d type=%d n=%d c=%d h=%d w=%d", ID(d), format, dataType, n, c, h, w);
    return fail("cudnnSetTensor4dDescriptor");
}
cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t dataType,
                                         cudnnTensorFormat_t format, int k, int c, int h, int w)
{
    logf_("cudnnSetFilter4dDescriptor %ld type=%d format=%d k=%d c=%d h=%d w=%d", ID(d), dataType, format, k, c, h, w);
    return 0;
}
cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w,
                                              int u, int v, int dh, int dw,
                                              cudnnConvolutionMode_t mode, cudnnDataType_t ct)
{
    logf_("cudnnSetConvolution2dDescriptor %ld pad=%d,%d stride=%d,%d dilation=%d,%d mode=%d compute=%d",
          ID(d), pad_h, pad_w, u, v, dh, dw, mode, ct);
    return 0;
}
cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m)
{
    logf_("cudnnSetConvolutionMathType %ld math=%d", ID(d), m);
    return 0;
}
cudnnStatus_t cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t conv,
                                                    cudnnTensorDescriptor_t x,
                                                    cudnnFilterDescriptor_t w, int *n, int *c,
                                                    int *h, int *wd)
{
    logf_("cudnnGetConvolution2dForwardOutputDim %ld %ld %ld", ID(conv), ID(x), ID(w));
    *n = 2, *c = 64, *h = 224, *wd = 225;
    return 0;
}
cudnnStatus_t cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t h, int *count)
{
    *count = 8;
    return 0;
}
cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(
    cudnnHandle_t h, cudnnTensorDescriptor_t xd, const void *x, cudnnFilterDescriptor_t wd,
    const void *w, cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t yd, void *y,
    int requested, int *returned, cudnnConvolutionFwdAlgoPerf_t *perf, void *ws, size_t wsBytes)
{
    logf_("cudnnFindConvolutionForwardAlgorithmEx %ld x=%ld:%#lx w=%ld:%#lx conv=%ld y=%ld:%#lx requested=%d ws=%#lx:%zu",
          ID(h), ID(xd), (long)x, ID(wd), (long)w, ID(conv), ID(yd), (long)y, requested, (long)ws, wsBytes);
    /* two results: WINOGRAD fastest, then FFT failed */
    memset(perf, 0, 2 * sizeof *perf);
    perf[0].algo = CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD;
    perf[0].time = 0.5f;
    perf[0].memory = 12345;
    perf[0].determinism = CUDNN_DETERMINISTIC;
    perf[0].mathType = CUDNN_TENSOR_OP_MATH;
    perf[1].algo = CUDNN_CONVOLUTION_FWD_ALGO_FFT;
    perf[1].status = 3000;
    perf[1].time = -1;
    *returned = 2;
    return 0;
}
cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h, cudnnTensorDescriptor_t xd,
                                                      cudnnFilterDescriptor_t wd,
                                                      cudnnConvolutionDescriptor_t conv,
                                                      cudnnTensorDescriptor_t yd,
                                                      cudnnConvolutionFwdAlgo_t algo, size_t *n)
{
    logf_("cudnnGetConvolutionForwardWorkspaceSize %ld %ld %ld %ld %ld algo=%d", ID(h), ID(xd), ID(wd), ID(conv), ID(yd), algo);
    *n = (size_t)1 << 33;
    return 0;
}
cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd,
                                      const void *x, cudnnFilterDescriptor_t wd, const void *w,
                                      cudnnConvolutionDescriptor_t conv, cudnnConvolutionFwdAlgo_t algo,
                                      void *ws, size_t wsBytes, const void *beta,
                                      cudnnTensorDescriptor_t yd, void *y)
{
    logf_("cudnnConvolutionForward %ld alpha=%g x=%ld:%#lx w=%ld:%#lx conv=%ld algo=%d ws=%#lx:%zu beta=%g y=%ld:%#lx",
          ID(h), *(const float *)alpha, ID(xd), (long)x, ID(wd), (long)w, ID(conv), algo, (long)ws,
          wsBytes, *(const float *)beta, ID(yd), (long)y);
    return 0;
}
cudnnStatus_t cudnnConvolutionBiasActivationForward(
    cudnnHandle_t h, const void *alpha1, cudnnTensorDescriptor_t xd, const void *x,
    cudnnFilterDescriptor_t wd, const void *w, cudnnConvolutionDescriptor_t conv,
    cudnnConvolutionFwdAlgo_t algo, void *ws, size_t wsBytes, const void *alpha2,
    cudnnTensorDescriptor_t zd, const void *z, cudnnTensorDescriptor_t bd, const void *bias,
    cudnnActivationDescriptor_t act, cudnnTensorDescriptor_t yd, void *y)
{
    logf_("cudnnConvolutionBiasActivationForward %ld alpha1=%g x=%ld:%#lx w=%ld:%#lx conv=%ld algo=%d ws=%#lx:%zu alpha2=%g z=%ld:%#lx bias=%ld:%#lx act=%ld y=%ld:%#lx",
          ID(h), *(const float *)alpha1, ID(xd), (long)x, ID(wd), (long)w, ID(conv), algo, (long)ws,
          wsBytes, *(const float *)alpha2, ID(zd), (long)z, ID(bd), (long)bias, ID(act), ID(yd), (long)y);
    return 0;
}
cudnnStatus_t cudnnSetActivationDescriptor(cudnnActivationDescriptor_t d, cudnnActivationMode_t mode,
                                           cudnnNanPropagation_t nan, double coef)
{
    logf_("cudnnSetActivationDescriptor %ld mode=%d nan=%d coef=%g", ID(d), mode, nan, coef);
    return 0;
}
cudnnStatus_t cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t d, cudnnPoolingMode_t mode,
                                          cudnnNanPropagation_t nan, int wh, int ww, int ph,
                                          int pw, int sh, int sw)
{
    logf_("cudnnSetPooling2dDescriptor %ld mode=%d nan=%d window=%d,%d pad=%d,%d stride=%d,%d", ID(d), mode, nan, wh, ww, ph, pw, sh, sw);
    return 0;
}
cudnnStatus_t cudnnPoolingForward(cudnnHandle_t h, cudnnPoolingDescriptor_t p, const void *alpha,
                                  cudnnTensorDescriptor_t xd, const void *x, const void *beta,
                                  cudnnTensorDescriptor_t yd, void *y)
{
    logf_("cudnnPoolingForward %ld pool=%ld alpha=%g x=%ld:%#lx beta=%g y=%ld:%#lx", ID(h), ID(p),
          *(const float *)alpha, ID(xd), (long)x, *(const float *)beta, ID(yd), (long)y);
    return 0;
}

/* Declared with our header's prototypes: a definition above that differs
 * from TG_CUDNN_FUNCS fails to compile here. */
#define TG_CUDNN_REDECL(ret, name, params) ret name params;
TG_CUDNN_FUNCS(TG_CUDNN_REDECL)
