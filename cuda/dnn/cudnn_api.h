/*
 * cudnn_api.h — the part of the cuDNN C API that tagimp uses, declared here so
 * that no cudnn.h is needed at build time (Debian's CUDA toolkit has none) and
 * libcudnn is opened at run time (dlopen).
 *
 * Sources: NVIDIA's cuDNN API reference (cudnn_graph, cudnn_ops, cudnn_cnn) and
 * public code that calls it. The enum values and signatures are the cuDNN 8 and
 * 9 ones (the legacy convolution API, deprecated but present in cuDNN 9).
 *
 * Two modes:
 *   - default (cgo, the fake test library): the handle and descriptor types are
 *     opaque pointers, every enum type is int, and the constants below are
 *     defined as enumerators of our own;
 *   - TG_REAL_CUDNN defined, after #include <cudnn.h> (gpu-check's
 *     cudnn_abi.c): nothing is defined; the lists only serve to compare ours
 *     with the real header — every function is redeclared with our parameter
 *     list (the compiler rejects a different one) and every constant is
 *     compared with the header's.
 *
 * Every function and constant is listed once, in TG_CUDNN_FUNCS and
 * TG_CUDNN_CONSTS; adding one there adds it to the loader, the fake library
 * and the ABI check.
 */
#ifndef TG_CUDNN_API_H
#define TG_CUDNN_API_H

#include <stddef.h>

#ifndef TG_REAL_CUDNN
typedef int cudnnStatus_t;
typedef void *cudnnHandle_t;
typedef void *cudaStream_t;
typedef void *cudnnTensorDescriptor_t;
typedef void *cudnnFilterDescriptor_t;
typedef void *cudnnConvolutionDescriptor_t;
typedef void *cudnnActivationDescriptor_t;
typedef void *cudnnPoolingDescriptor_t;
typedef int cudnnDataType_t;
typedef int cudnnTensorFormat_t;
typedef int cudnnConvolutionMode_t;
typedef int cudnnConvolutionFwdAlgo_t;
typedef int cudnnMathType_t;
typedef int cudnnDeterminism_t;
typedef int cudnnActivationMode_t;
typedef int cudnnNanPropagation_t;
typedef int cudnnPoolingMode_t;

#endif

/* Our layout of cudnnConvolutionFwdAlgoPerf_t (cudnn_cnn.h), 48 bytes on
 * LP64; defined in both modes so that the ABI check compares it with the
 * header's field by field. */
struct tg_cudnn_fwd_perf {
    int algo;
    int status;
    float time;
    size_t memory;
    int determinism;
    int mathType;
    int reserved[3];
};
#ifndef TG_REAL_CUDNN
typedef struct tg_cudnn_fwd_perf cudnnConvolutionFwdAlgoPerf_t;
#endif

/* X(name, value): every constant used. */
#define TG_CUDNN_CONSTS(X)                               \
    X(CUDNN_STATUS_SUCCESS, 0)                           \
    X(CUDNN_STATUS_BAD_PARAM, 2000)                      \
    X(CUDNN_STATUS_NOT_SUPPORTED, 3000)                  \
    X(CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED, 4003) \
    X(CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED, 4004) \
    X(CUDNN_DATA_FLOAT, 0)                               \
    X(CUDNN_DATA_HALF, 2)                                \
    X(CUDNN_DATA_BFLOAT16, 9)                            \
    X(CUDNN_TENSOR_NCHW, 0)                              \
    X(CUDNN_TENSOR_NHWC, 1)                              \
    X(CUDNN_CONVOLUTION, 0)                              \
    X(CUDNN_CROSS_CORRELATION, 1)                        \
    X(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, 0)       \
    X(CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM, 1) \
    X(CUDNN_CONVOLUTION_FWD_ALGO_GEMM, 2)                \
    X(CUDNN_CONVOLUTION_FWD_ALGO_DIRECT, 3)              \
    X(CUDNN_CONVOLUTION_FWD_ALGO_FFT, 4)                 \
    X(CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING, 5)          \
    X(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD, 6)            \
    X(CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED, 7)   \
    X(CUDNN_CONVOLUTION_FWD_ALGO_COUNT, 8)               \
    X(CUDNN_DEFAULT_MATH, 0)                             \
    X(CUDNN_TENSOR_OP_MATH, 1)                           \
    X(CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION, 2)          \
    X(CUDNN_FMA_MATH, 3)                                 \
    X(CUDNN_NON_DETERMINISTIC, 0)                        \
    X(CUDNN_DETERMINISTIC, 1)                            \
    X(CUDNN_ACTIVATION_RELU, 1)                          \
    X(CUDNN_ACTIVATION_IDENTITY, 5)                      \
    X(CUDNN_NOT_PROPAGATE_NAN, 0)                        \
    X(CUDNN_PROPAGATE_NAN, 1)                            \
    X(CUDNN_POOLING_MAX, 0)                              \
    X(CUDNN_POOLING_MAX_DETERMINISTIC, 3)

/* X(return type, name, parameter list): every function used, with the
 * parameter types of the API reference (top-level const dropped, which C
 * ignores when comparing declarations). */
#define TG_CUDNN_FUNCS(X)                                                                              \
    X(size_t, cudnnGetVersion, (void))                                                                 \
    X(const char *, cudnnGetErrorString, (cudnnStatus_t status))                                       \
    X(cudnnStatus_t, cudnnCreate, (cudnnHandle_t * handle))                                            \
    X(cudnnStatus_t, cudnnDestroy, (cudnnHandle_t handle))                                             \
    X(cudnnStatus_t, cudnnSetStream, (cudnnHandle_t handle, cudaStream_t streamId))                    \
    X(cudnnStatus_t, cudnnCreateTensorDescriptor, (cudnnTensorDescriptor_t * tensorDesc))              \
    X(cudnnStatus_t, cudnnSetTensor4dDescriptor,                                                       \
      (cudnnTensorDescriptor_t tensorDesc, cudnnTensorFormat_t format, cudnnDataType_t dataType,       \
       int n, int c, int h, int w))                                                                    \
    X(cudnnStatus_t, cudnnDestroyTensorDescriptor, (cudnnTensorDescriptor_t tensorDesc))               \
    X(cudnnStatus_t, cudnnCreateFilterDescriptor, (cudnnFilterDescriptor_t * filterDesc))              \
    X(cudnnStatus_t, cudnnSetFilter4dDescriptor,                                                       \
      (cudnnFilterDescriptor_t filterDesc, cudnnDataType_t dataType, cudnnTensorFormat_t format,       \
       int k, int c, int h, int w))                                                                    \
    X(cudnnStatus_t, cudnnDestroyFilterDescriptor, (cudnnFilterDescriptor_t filterDesc))               \
    X(cudnnStatus_t, cudnnCreateConvolutionDescriptor, (cudnnConvolutionDescriptor_t * convDesc))      \
    X(cudnnStatus_t, cudnnSetConvolution2dDescriptor,                                                  \
      (cudnnConvolutionDescriptor_t convDesc, int pad_h, int pad_w, int u, int v, int dilation_h,      \
       int dilation_w, cudnnConvolutionMode_t mode, cudnnDataType_t computeType))                      \
    X(cudnnStatus_t, cudnnSetConvolutionMathType,                                                      \
      (cudnnConvolutionDescriptor_t convDesc, cudnnMathType_t mathType))                               \
    X(cudnnStatus_t, cudnnDestroyConvolutionDescriptor, (cudnnConvolutionDescriptor_t convDesc))       \
    X(cudnnStatus_t, cudnnGetConvolution2dForwardOutputDim,                                            \
      (cudnnConvolutionDescriptor_t convDesc, cudnnTensorDescriptor_t inputTensorDesc,                 \
       cudnnFilterDescriptor_t filterDesc, int *n, int *c, int *h, int *w))                            \
    X(cudnnStatus_t, cudnnGetConvolutionForwardAlgorithmMaxCount, (cudnnHandle_t handle, int *count))  \
    X(cudnnStatus_t, cudnnFindConvolutionForwardAlgorithmEx,                                           \
      (cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc, const void *x,                             \
       cudnnFilterDescriptor_t wDesc, const void *w, cudnnConvolutionDescriptor_t convDesc,            \
       cudnnTensorDescriptor_t yDesc, void *y, int requestedAlgoCount, int *returnedAlgoCount,         \
       cudnnConvolutionFwdAlgoPerf_t *perfResults, void *workSpace, size_t workSpaceSizeInBytes))      \
    X(cudnnStatus_t, cudnnGetConvolutionForwardWorkspaceSize,                                          \
      (cudnnHandle_t handle, cudnnTensorDescriptor_t xDesc, cudnnFilterDescriptor_t wDesc,             \
       cudnnConvolutionDescriptor_t convDesc, cudnnTensorDescriptor_t yDesc,                           \
       cudnnConvolutionFwdAlgo_t algo, size_t *sizeInBytes))                                           \
    X(cudnnStatus_t, cudnnConvolutionForward,                                                          \
      (cudnnHandle_t handle, const void *alpha, cudnnTensorDescriptor_t xDesc, const void *x,          \
       cudnnFilterDescriptor_t wDesc, const void *w, cudnnConvolutionDescriptor_t convDesc,            \
       cudnnConvolutionFwdAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes,                   \
       const void *beta, cudnnTensorDescriptor_t yDesc, void *y))                                      \
    X(cudnnStatus_t, cudnnConvolutionBiasActivationForward,                                            \
      (cudnnHandle_t handle, const void *alpha1, cudnnTensorDescriptor_t xDesc, const void *x,         \
       cudnnFilterDescriptor_t wDesc, const void *w, cudnnConvolutionDescriptor_t convDesc,            \
       cudnnConvolutionFwdAlgo_t algo, void *workSpace, size_t workSpaceSizeInBytes,                   \
       const void *alpha2, cudnnTensorDescriptor_t zDesc, const void *z,                               \
       cudnnTensorDescriptor_t biasDesc, const void *bias,                                             \
       cudnnActivationDescriptor_t activationDesc, cudnnTensorDescriptor_t yDesc, void *y))            \
    X(cudnnStatus_t, cudnnCreateActivationDescriptor, (cudnnActivationDescriptor_t * activationDesc))  \
    X(cudnnStatus_t, cudnnSetActivationDescriptor,                                                     \
      (cudnnActivationDescriptor_t activationDesc, cudnnActivationMode_t mode,                         \
       cudnnNanPropagation_t reluNanOpt, double coef))                                                 \
    X(cudnnStatus_t, cudnnDestroyActivationDescriptor, (cudnnActivationDescriptor_t activationDesc))   \
    X(cudnnStatus_t, cudnnCreatePoolingDescriptor, (cudnnPoolingDescriptor_t * poolingDesc))           \
    X(cudnnStatus_t, cudnnSetPooling2dDescriptor,                                                      \
      (cudnnPoolingDescriptor_t poolingDesc, cudnnPoolingMode_t mode,                                  \
       cudnnNanPropagation_t maxpoolingNanOpt, int windowHeight, int windowWidth,                      \
       int verticalPadding, int horizontalPadding, int verticalStride, int horizontalStride))          \
    X(cudnnStatus_t, cudnnDestroyPoolingDescriptor, (cudnnPoolingDescriptor_t poolingDesc))            \
    X(cudnnStatus_t, cudnnPoolingForward,                                                              \
      (cudnnHandle_t handle, cudnnPoolingDescriptor_t poolingDesc, const void *alpha,                  \
       cudnnTensorDescriptor_t xDesc, const void *x, const void *beta, cudnnTensorDescriptor_t yDesc,  \
       void *y))

#ifndef TG_REAL_CUDNN
#define TG_CUDNN_ENUM(name, value) name = value,
enum { TG_CUDNN_CONSTS(TG_CUDNN_ENUM) };
#undef TG_CUDNN_ENUM
#endif

/* tg_cudnn_fn_NAME: the type of a pointer to each function. */
#define TG_CUDNN_FNTYPE(ret, name, params) typedef ret(*tg_cudnn_fn_##name) params;
TG_CUDNN_FUNCS(TG_CUDNN_FNTYPE)
#undef TG_CUDNN_FNTYPE

#endif /* TG_CUDNN_API_H */
