// Package dnn opens cuDNN at run time and wraps the few legacy-API calls
// that VGG16's forward pass needs: tensor, filter, convolution, activation
// and pooling descriptors, the measured choice of a convolution algorithm
// (cudnnFindConvolutionForwardAlgorithmEx) with its workspace size, the
// fused convolution + bias + ReLU (cudnnConvolutionBiasActivationForward),
// the plain convolution and max-pooling.
//
// No cudnn.h is needed to build it: cudnn_api.h declares the functions and
// constants used, taken from NVIDIA's API reference, and loader.c resolves
// them with dlopen/dlsym. Because those declarations cannot be checked
// without the real header, scripts/gpu-check/cudnn_abi.c compiles
// cudnn_api.h against the cudnn.h of the GPU machine (every function
// redeclared with our parameter list, every constant and struct layout
// compared) before any cuDNN test runs there.
//
// The package imports nothing of gorgonia.org/cu and needs no build tag:
// device memory and streams are plain addresses (uintptr) handed in by
// package cuda, so the loader and the error paths are tested on any machine
// (against a fake library built in the test). Where the library is searched
// and how to override it: see Open.
package dnn
