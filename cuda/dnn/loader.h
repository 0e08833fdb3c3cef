/* loader.h — cuDNN opened with dlopen: the function table and the C wrappers
 * that package dnn calls (cgo cannot call C function pointers). */
#ifndef TG_CUDNN_LOADER_H
#define TG_CUDNN_LOADER_H

#include <stdint.h>

#include "cudnn_api.h"

/* tg_cudnn_preload dlopens one library with RTLD_GLOBAL so that a later
 * dlopen of its bare soname (cuDNN 9 loads its sub-libraries so) finds it.
 * 0 on success; else the dlerror() text in err. */
int tg_cudnn_preload(const char *path, char *err, size_t errlen);

/* tg_cudnn_open dlopens path and resolves every function of
 * TG_CUDNN_FUNCS. 0 on success; 1 when dlopen fails, 2 when a symbol is
 * missing (its name in err); the table is left as it was on failure. */
int tg_cudnn_open(const char *path, char *err, size_t errlen);

size_t tg_cudnnGetVersion(void);
const char *tg_cudnnGetErrorString(cudnnStatus_t s);
cudnnStatus_t tg_cudnnCreate(cudnnHandle_t *h);
cudnnStatus_t tg_cudnnDestroy(cudnnHandle_t h);
cudnnStatus_t tg_cudnnSetStream(cudnnHandle_t h, uintptr_t stream);
cudnnStatus_t tg_cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d);
cudnnStatus_t tg_cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, int format, int dtype,
                                            int n, int c, int h, int w);
cudnnStatus_t tg_cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d);
cudnnStatus_t tg_cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d);
cudnnStatus_t tg_cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, int dtype, int format,
                                            int k, int c, int h, int w);
cudnnStatus_t tg_cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d);
cudnnStatus_t tg_cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d);
cudnnStatus_t tg_cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h,
                                                 int pad_w, int u, int v, int dil_h, int dil_w,
                                                 int mode, int computeType);
cudnnStatus_t tg_cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, int mathType);
cudnnStatus_t tg_cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d);
cudnnStatus_t tg_cudnnGetConvolution2dForwardOutputDim(cudnnConvolutionDescriptor_t conv,
                                                       cudnnTensorDescriptor_t x,
                                                       cudnnFilterDescriptor_t w, int *n,
                                                       int *c, int *h, int *wd);
cudnnStatus_t tg_cudnnGetConvolutionForwardAlgorithmMaxCount(cudnnHandle_t h, int *count);
cudnnStatus_t tg_cudnnFindConvolutionForwardAlgorithmEx(
    cudnnHandle_t h, cudnnTensorDescriptor_t xd, uintptr_t x, cudnnFilterDescriptor_t wd,
    uintptr_t w, cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t yd, uintptr_t y,
    int requested, int *returned, cudnnConvolutionFwdAlgoPerf_t *perf, uintptr_t ws,
    size_t wsBytes);
cudnnStatus_t tg_cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t h,
                                                         cudnnTensorDescriptor_t xd,
                                                         cudnnFilterDescriptor_t wd,
                                                         cudnnConvolutionDescriptor_t conv,
                                                         cudnnTensorDescriptor_t yd, int algo,
                                                         size_t *bytes);
cudnnStatus_t tg_cudnnConvolutionForward(cudnnHandle_t h, float alpha,
                                         cudnnTensorDescriptor_t xd, uintptr_t x,
                                         cudnnFilterDescriptor_t wd, uintptr_t w,
                                         cudnnConvolutionDescriptor_t conv, int algo,
                                         uintptr_t ws, size_t wsBytes, float beta,
                                         cudnnTensorDescriptor_t yd, uintptr_t y);
cudnnStatus_t tg_cudnnConvolutionBiasActivationForward(
    cudnnHandle_t h, float alpha1, cudnnTensorDescriptor_t xd, uintptr_t x,
    cudnnFilterDescriptor_t wd, uintptr_t w, cudnnConvolutionDescriptor_t conv, int algo,
    uintptr_t ws, size_t wsBytes, float alpha2, cudnnTensorDescriptor_t zd, uintptr_t z,
    cudnnTensorDescriptor_t bd, uintptr_t bias, cudnnActivationDescriptor_t act,
    cudnnTensorDescriptor_t yd, uintptr_t y);
cudnnStatus_t tg_cudnnCreateActivationDescriptor(cudnnActivationDescriptor_t *d);
cudnnStatus_t tg_cudnnSetActivationDescriptor(cudnnActivationDescriptor_t d, int mode, int nan,
                                              double coef);
cudnnStatus_t tg_cudnnDestroyActivationDescriptor(cudnnActivationDescriptor_t d);
cudnnStatus_t tg_cudnnCreatePoolingDescriptor(cudnnPoolingDescriptor_t *d);
cudnnStatus_t tg_cudnnSetPooling2dDescriptor(cudnnPoolingDescriptor_t d, int mode, int nan,
                                             int wh, int ww, int ph, int pw, int sh, int sw);
cudnnStatus_t tg_cudnnDestroyPoolingDescriptor(cudnnPoolingDescriptor_t d);
cudnnStatus_t tg_cudnnPoolingForward(cudnnHandle_t h, cudnnPoolingDescriptor_t p, float alpha,
                                     cudnnTensorDescriptor_t xd, uintptr_t x, float beta,
                                     cudnnTensorDescriptor_t yd, uintptr_t y);

#endif /* TG_CUDNN_LOADER_H */
