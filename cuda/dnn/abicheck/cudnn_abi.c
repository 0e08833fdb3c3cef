/*
 * cudnn_abi.c — compares cuda/dnn/cudnn_api.h (our declarations of the cuDNN
 * API) with the real cudnn.h of the machine it is compiled on. Run by
 * scripts/cudnn-abi.sh on a GPU machine before any cuDNN test:
 *
 *   cc -I<cudnn include> -I<CUDA include> -I<folder of cudnn_api.h> cudnn_abi.c -o cudnn_abi
 *
 * Compiling checks every function: each is redeclared with our parameter
 * list, and a different one (order, count, pointer or const-ness, integer
 * vs floating type) is a "conflicting types" error. Running prints every
 * constant we use, the header's value beside ours, and the sizes and field
 * offsets that the calls depend on; the exit status is 1 on any mismatch.
 */
#include <cudnn.h>
#include <stddef.h>
#include <stdio.h>

#define TG_REAL_CUDNN
#include "cudnn_api.h"

/* Every function must be declared by the header itself: sizeof(&name) before
 * our redeclaration is an "undeclared" error for a function the header lacks
 * (e.g. one removed in a later cuDNN); then each is redeclared with our
 * parameters. */
#define TG_DECLARED(ret, name, params) +(int)(sizeof(&name) > 0)
static const int tg_declared = 0 TG_CUDNN_FUNCS(TG_DECLARED);
#undef TG_DECLARED

#define TG_REDECL(ret, name, params) ret name params;
TG_CUDNN_FUNCS(TG_REDECL)
#undef TG_REDECL

static int bad;

static void cmp(const char *what, long header, long ours)
{
    int ok = header == ours;
    printf("%-52s header %8ld  ours %8ld  %s\n", what, header, ours, ok ? "ok" : "MISMATCH");
    bad += !ok;
}

int main(void)
{
    printf("%d functions declared by cudnn.h with our parameter lists\n", tg_declared);
    printf("cudnn.h: cuDNN %d.%d.%d (CUDNN_VERSION %d)\n", CUDNN_MAJOR, CUDNN_MINOR, CUDNN_PATCHLEVEL,
           CUDNN_VERSION);
#define TG_CMP(name, value) cmp(#name, (long)(name), (long)(value));
    TG_CUDNN_CONSTS(TG_CMP)
#undef TG_CMP
    /* Enums are passed as int, handles and descriptors as pointers. */
    cmp("sizeof(cudnnStatus_t)", sizeof(cudnnStatus_t), sizeof(int));
    cmp("sizeof(cudnnDataType_t)", sizeof(cudnnDataType_t), sizeof(int));
    cmp("sizeof(cudnnTensorFormat_t)", sizeof(cudnnTensorFormat_t), sizeof(int));
    cmp("sizeof(cudnnConvolutionMode_t)", sizeof(cudnnConvolutionMode_t), sizeof(int));
    cmp("sizeof(cudnnConvolutionFwdAlgo_t)", sizeof(cudnnConvolutionFwdAlgo_t), sizeof(int));
    cmp("sizeof(cudnnMathType_t)", sizeof(cudnnMathType_t), sizeof(int));
    cmp("sizeof(cudnnDeterminism_t)", sizeof(cudnnDeterminism_t), sizeof(int));
    cmp("sizeof(cudnnActivationMode_t)", sizeof(cudnnActivationMode_t), sizeof(int));
    cmp("sizeof(cudnnNanPropagation_t)", sizeof(cudnnNanPropagation_t), sizeof(int));
    cmp("sizeof(cudnnPoolingMode_t)", sizeof(cudnnPoolingMode_t), sizeof(int));
    cmp("sizeof(cudnnHandle_t)", sizeof(cudnnHandle_t), sizeof(void *));
    cmp("sizeof(cudnnTensorDescriptor_t)", sizeof(cudnnTensorDescriptor_t), sizeof(void *));
    cmp("sizeof(cudnnFilterDescriptor_t)", sizeof(cudnnFilterDescriptor_t), sizeof(void *));
    cmp("sizeof(cudnnConvolutionDescriptor_t)", sizeof(cudnnConvolutionDescriptor_t), sizeof(void *));
    cmp("sizeof(cudnnActivationDescriptor_t)", sizeof(cudnnActivationDescriptor_t), sizeof(void *));
    cmp("sizeof(cudnnPoolingDescriptor_t)", sizeof(cudnnPoolingDescriptor_t), sizeof(void *));
    cmp("sizeof(cudaStream_t)", sizeof(cudaStream_t), sizeof(void *));
    cmp("sizeof(cudnnConvolutionFwdAlgoPerf_t)", sizeof(cudnnConvolutionFwdAlgoPerf_t), sizeof(struct tg_cudnn_fwd_perf));
#define TG_OFF(field)                                                                 \
    cmp("offsetof(cudnnConvolutionFwdAlgoPerf_t, " #field ")",                        \
        offsetof(cudnnConvolutionFwdAlgoPerf_t, field), offsetof(struct tg_cudnn_fwd_perf, field)); \
    cmp("sizeof(cudnnConvolutionFwdAlgoPerf_t." #field ")",                           \
        sizeof(((cudnnConvolutionFwdAlgoPerf_t *)0)->field), sizeof(((struct tg_cudnn_fwd_perf *)0)->field));
    TG_OFF(algo)
    TG_OFF(status)
    TG_OFF(time)
    TG_OFF(memory)
    TG_OFF(determinism)
    TG_OFF(mathType)
    TG_OFF(reserved)
#undef TG_OFF
    if (bad) {
        printf("cudnn-abi: %d MISMATCHES between cuda/dnn/cudnn_api.h and cudnn.h\n", bad);
        return 1;
    }
    printf("cudnn-abi: ok (every constant, size and offset used matches; every function redeclared without conflict)\n");
    return 0;
}
