// loader.c — see loader.h.
#include "loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#define TG_CUDNN_FIELD(ret, name, params) tg_cudnn_fn_##name name;
static struct {
    TG_CUDNN_FUNCS(TG_CUDNN_FIELD)
} fn;
#undef TG_CUDNN_FIELD

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (errlen == 0)
        return;
    snprintf(err, errlen, "%s", msg ? msg : "unknown error");
}

int tg_cudnn_preload(const char *path, char *err, size_t errlen)
{
    if (!dlopen(path, RTLD_NOW | RTLD_GLOBAL)) {
        set_err(err, errlen, dlerror());
        return 1;
    }
    return 0;
}

int tg_cudnn_open(const char *path, char *err, size_t errlen)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        set_err(err, errlen, dlerror());
        return 1;
    }
#define TG_CUDNN_SYM(ret, name, params) tg_cudnn_fn_##name p_##name = (tg_cudnn_fn_##name)dlsym(h, #name); \
    if (!p_##name) {                                                                               \
        snprintf(err, errlen, "symbol %s missing", #name);                                         \
        dlclose(h);                                                                                \
        return 2;                                                                                  \
    }
    TG_CUDNN_FUNCS(TG_CUDNN_SYM)
#undef TG_CUDNN_SYM
#define TG_CUDNN_SET(ret, name, params) fn.name = p_##name;
    TG_CUDNN_FUNCS(TG_CUDNN_SET)
#undef TG_CUDNN_SET
    return 0;
}

size_t tg_cudnnGetVersion(void) { return fn.cudnnGetVersion(); }
const char *tg_cudnnGetErrorString(cudnnStatus_t s) { return fn.cudnnGetErrorString(s); }
cudnnStatus_t tg_cudnnCreate(cudnnHandle_t *h) { return fn.cudnnCreate(h); }
cudnnStatus_t tg_cudnnDestroy(cudnnHandle_t h) { return fn.cudnnDestroy(h); }
cudnnStatus_t tg_cudnnSetStream(cudnnHandle_t h, uintptr_t stream)
{
    return fn.cudnnSetStream(h, (cudaStream_t)stream);
}
cudnnStatus_t tg_cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d)
{
    return fn.cudnnCreateTensorDescriptor(d);
}
cudnnStatus_t tg_cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, int format, int dtype,
                                            int n, int c, int h, int w)
{
    return fn.cudnnSetTensor4dDescriptor(d, format, dtype, n, c, h, w);
}
cudnnStatus_t tg_cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d)
{
    return fn.cudnnDestroyTensorDescriptor(d);
}
cudnnStatus_t tg_cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d)
{
    return fn.cudnnCreateFilterDescriptor(d);
}
cudnnStatus_t tg_cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, int dtype, int format,
                                            int k, int c, int h, int w)
{
    return fn.cudnnSetFilter4dDescriptor(d, dtype, format, k, c, h, w);
}
cudnnStatus_t tg_cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d)
{
    return fn.cudnnDestroyFilterDescriptor(d);
}
cudnnStatus_t tg_cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d)
{
    return fn.cudnnCreateConvolutionDescriptor(d);
}
cudnnStatus_t tg_cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h,
                                                 int pad_w, int u, int v, int dil_h, int dil_w,
                                                 int mode, int computeType)
{
    return fn.cudnnSetConvolution2dDescriptor(d, pad_h, pad_w, u, v, dil_h, dil_w, mode,
                                              computeType);
}
cudnnStatus_t tg_cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, int mathType)
{
    return fn.cudnnSetConvolutionMathType(d, mathType);
}
cudnnStatus_t tg_cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d)
{
    return fn.cudnnDestroyConvolutionDescriptor(d);
}
cudnnStatus_t tg_cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t conv,
                                                       cudnnTensorDescriptor_t x,
                                                       cudnnFilterDescriptor_t w, int *n,
                                                       int *c, int *h, int *wd)
{
    return fn.cudnnGetConvolution2dForwardOutputDim(conv, x, w, n, c, h, wd);
}
cudnnStatus_t tg_cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t h, int *count)
{
    return fn.cudnnGetConvolutionForwardAlgorithmMaxCount(h, count);
}
cudnnStatus_t tg_cudnnFindConvolutionForwardAlgorithmEx(
    cudnnHandle_t h, cudnnTensorDescriptor_t xd, uintptr_t x, cudnnFilterDescriptor_t wd,
    uintptr_t w, cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t yd, uintptr_t y,
    int requested, int *returned, cudnnConvolutionFwdAlgoPerf_t *perf, uintptr_t ws,
    size_t wsBytes)
{
    return fn.cudnnFindConvolutionForwardAlgorithmEx(h, xd, (const void *)x, wd, (const void *)w,
                                                     conv, yd, (void *)y, requested, returned,
                                                     perf, (void *)ws, wsBytes);
}
cudnnStatus_t tg_cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h,
                                                         cudnnTensorDescriptor_t xd,
                                                         cudnnFilterDescriptor_t wd,
                                                         cudnnConvolutionDescriptor_t conv,
                                                         cudnnTensorDescriptor_t yd, int algo,
                                                         size_t *bytes)
{
    return fn.cudnnGetConvolutionForwardWorkspaceSize(h, xd, wd, conv, yd, algo, bytes);
}
cudnnStatus_t tg_cudnnConvolutionForward(cudnnHandle_t h, float alpha,
                                         cudnnTensorDescriptor_t xd, uintptr_t x,
                                         cudnnFilterDescriptor_t wd, uintptr_t w,
                                         cudnnConvolutionDescriptor_t conv, int algo,
                                         uintptr_t ws, size_t wsBytes, float beta,
                                         cudnnTensorDescriptor_t yd, uintptr_t y)
{
    return fn.cudnnConvolutionForward(h, &alpha, xd, (const void *)x, wd, (const void *)w, conv,
                                      algo, (void *)ws, wsBytes, &beta, yd, (void *)y);
}
cudnnStatus_t tg_cudnnConvolutionBiasActivationForward(
    cudnnHandle_t h, float alpha1, cudnnTensorDescriptor_t xd, uintptr_t x,
    cudnnFilterDescriptor_t wd, uintptr_t w, cudnnConvolutionDescriptor_t conv, int algo,
    uintptr_t ws, size_t wsBytes, float alpha2, cudnnTensorDescriptor_t zd, uintptr_t z,
    cudnnTensorDescriptor_t bd, uintptr_t bias, cudnnActivationDescriptor_t act,
    cudnnTensorDescriptor_t yd, uintptr_t y)
{
    return fn.cudnnConvolutionBiasActivationForward(
        h, &alpha1, xd, (const void *)x, wd, (const void *)w, conv, algo, (void *)ws, wsBytes,
        &alpha2, zd, (const void *)z, bd, (const void *)bias, act, yd, (void *)y);
}
cudnnStatus_t tg_cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t *d)
{
    return fn.cudnnCreateActivationDescriptor(d);
}
cudnnStatus_t tg_cudnnSetActivationDescriptor(cudnnActivationDescriptor_t d, int mode, int nan,
                                              double coef)
{
    return fn.cudnnSetActivationDescriptor(d, mode, nan, coef);
}
cudnnStatus_t tg_cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t d)
{
    return fn.cudnnDestroyActivationDescriptor(d);
}
cudnnStatus_t tg_cudnnCreatePoolingDescriptor(cudnnPoolingDescriptor_t *d)
{
    return fn.cudnnCreatePoolingDescriptor(d);
}
cudnnStatus_t tg_cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t d, int mode, int nan,
                                             int wh, int ww, int ph, int pw, int sh, int sw)
{
    return fn.cudnnSetPooling2dDescriptor(d, mode, nan, wh, ww, ph, pw, sh, sw);
}
cudnnStatus_t tg_cudnnDestroyPoolingDescriptor(cudnnPoolingDescriptor_t d)
{
    return fn.cudnnDestroyPoolingDescriptor(d);
}
cudnnStatus_t tg_cudnnPoolingForward(cudnnHandle_t h, cudnnPoolingDescriptor_t p, float alpha,
                                     cudnnTensorDescriptor_t xd, uintptr_t x, float beta,
                                     cudnnTensorDescriptor_t yd, uintptr_t y)
{
    return fn.cudnnPoolingForward(h, p, &alpha, xd, (const void *)x, &beta, yd, (void *)y);
}
