package dnn

/*
#include "loader.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
)

// DataType is cudnnDataType_t.
type DataType int

// The data types used.
const (
	Float    DataType = C.CUDNN_DATA_FLOAT
	Half     DataType = C.CUDNN_DATA_HALF
	BFloat16 DataType = C.CUDNN_DATA_BFLOAT16
)

// Format is cudnnTensorFormat_t.
type Format int

// The tensor layouts used.
const (
	NCHW Format = C.CUDNN_TENSOR_NCHW
	NHWC Format = C.CUDNN_TENSOR_NHWC
)

// MathType is cudnnMathType_t.
type MathType int

// Math types: FMAMath never uses tensor cores (pedantic FP32);
// DefaultMath lets FP32 convolutions use TF32 tensor cores (cuDNN's default,
// as PyTorch's allow_tf32 for cuDNN); TensorOpMath is for half and bfloat16.
const (
	DefaultMath  MathType = C.CUDNN_DEFAULT_MATH
	TensorOpMath MathType = C.CUDNN_TENSOR_OP_MATH
	FMAMath      MathType = C.CUDNN_FMA_MATH
)

// Algo is cudnnConvolutionFwdAlgo_t.
type Algo int

// AlgoCount is the number of forward algorithms cuDNN 8 and 9 define.
const AlgoCount = int(C.CUDNN_CONVOLUTION_FWD_ALGO_COUNT)

// ImplicitPrecompGEMM is the one algorithm cudnnConvolutionBiasActivationForward
// accepts with an identity activation (any algorithm works with ReLU).
const ImplicitPrecompGEMM Algo = C.CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM

var algoNames = [...]string{"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"}

func (a Algo) String() string {
	if a >= 0 && int(a) < len(algoNames) {
		return algoNames[a]
	}
	return fmt.Sprintf("algo(%d)", int(a))
}

// Status is a cuDNN status other than CUDNN_STATUS_SUCCESS.
type Status struct {
	Code int
	Op   string
	Msg  string // cudnnGetErrorString's text
}

func (s *Status) Error() string { return fmt.Sprintf("%s: cuDNN status %d (%s)", s.Op, s.Code, s.Msg) }

// IsAllocFailed reports whether err is a cuDNN status saying an allocation
// failed (cuDNN 9: host or device allocation; cuDNN 8: CUDNN_STATUS_ALLOC_FAILED).
func IsAllocFailed(err error) bool {
	var st *Status
	if !errors.As(err, &st) {
		return false
	}
	switch st.Code {
	case C.CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED, C.CUDNN_STATUS_INTERNAL_ERROR_DEVICE_ALLOCATION_FAILED:
		return true
	case 2: // cuDNN 8's CUDNN_STATUS_ALLOC_FAILED; 2 is no status in cuDNN 9
		return openLib != nil && openLib.Major() == 8
	}
	return false
}

// IsNotSupported reports whether err is a cuDNN status saying the call's
// configuration is not supported (cuDNN 9: CUDNN_STATUS_NOT_SUPPORTED, 3000,
// and its sub-codes 3001–3999 — _GRAPH_PATTERN, _SHAPE, _DATA_TYPE,
// _LAYOUT, … as cudnn_graph.h numbers them; cuDNN 8:
// CUDNN_STATUS_NOT_SUPPORTED, 9). VGG16's 16-bit layers use it to fall back
// from the fused convolution + bias + ReLU to a plain convolution and our
// own epilogue.
func IsNotSupported(err error) bool {
	var st *Status
	if !errors.As(err, &st) {
		return false
	}
	if st.Code/1000 == C.CUDNN_STATUS_NOT_SUPPORTED/1000 {
		return true
	}
	return st.Code == 9 && openLib != nil && openLib.Major() == 8 // 9 is no status in cuDNN 9
}

// IsBadParam reports whether err is a cuDNN status saying a parameter or
// descriptor is invalid for the call (cuDNN 9: CUDNN_STATUS_BAD_PARAM, 2000,
// and its sub-codes 2001–2999; cuDNN 8: 3).
func IsBadParam(err error) bool {
	var st *Status
	if !errors.As(err, &st) {
		return false
	}
	if st.Code/1000 == C.CUDNN_STATUS_BAD_PARAM/1000 {
		return true
	}
	return st.Code == 3 && openLib != nil && openLib.Major() == 8 // 3 is no status in cuDNN 9
}

// ErrNotOpen is returned by every call made before Open succeeded.
var ErrNotOpen = errors.New("cuDNN not loaded (call dnn.Open first)")

func check(op string, st C.cudnnStatus_t) error {
	if st == C.CUDNN_STATUS_SUCCESS {
		return nil
	}
	return &Status{Code: int(st), Op: op, Msg: C.GoString(C.tg_cudnnGetErrorString(st))}
}

func loaded() error {
	if openLib == nil {
		return ErrNotOpen
	}
	return nil
}

// Handle is a cuDNN handle. It belongs to the CUDA context current on the
// calling OS thread when it was made; use it from that context only.
type Handle struct {
	h C.cudnnHandle_t
}

// NewHandle creates a handle and binds it to stream (a CUstream; 0 for the
// default stream). Open must have succeeded.
func NewHandle(stream uintptr) (*Handle, error) {
	if err := loaded(); err != nil {
		return nil, err
	}
	var h Handle
	if err := check("cudnnCreate", C.tg_cudnnCreate(&h.h)); err != nil {
		if lib := openLib; len(lib.Missing) > 0 {
			return nil, fmt.Errorf("%w (not preloaded: %s)", err, strings.Join(lib.Missing, ", "))
		}
		return nil, err
	}
	if err := check("cudnnSetStream", C.tg_cudnnSetStream(h.h, C.uintptr_t(stream))); err != nil {
		C.tg_cudnnDestroy(h.h)
		return nil, err
	}
	return &h, nil
}

// Close destroys the handle.
func (h *Handle) Close() error {
	if h == nil || h.h == nil {
		return nil
	}
	err := check("cudnnDestroy", C.tg_cudnnDestroy(h.h))
	h.h = nil
	return err
}

// Tensor is a 4-d tensor descriptor.
type Tensor struct {
	d          C.cudnnTensorDescriptor_t
	N, C, H, W int
	Format     Format
	Type       DataType
}

// NewTensor describes an n×c×h×w tensor (dimensions always in NCHW order;
// format says how they lie in memory).
func NewTensor(format Format, dtype DataType, n, c, h, w int) (*Tensor, error) {
	if err := loaded(); err != nil {
		return nil, err
	}
	t := &Tensor{N: n, C: c, H: h, W: w, Format: format, Type: dtype}
	if err := check("cudnnCreateTensorDescriptor", C.tg_cudnnCreateTensorDescriptor(&t.d)); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("cudnnSetTensor4dDescriptor(%d×%d×%d×%d)", n, c, h, w)
	if err := check(op, C.tg_cudnnSetTensor4dDescriptor(t.d, C.int(format), C.int(dtype),
		C.int(n), C.int(c), C.int(h), C.int(w))); err != nil {
		C.tg_cudnnDestroyTensorDescriptor(t.d)
		return nil, err
	}
	return t, nil
}

// Close destroys the descriptor.
func (t *Tensor) Close() {
	if t != nil && t.d != nil {
		C.tg_cudnnDestroyTensorDescriptor(t.d)
		t.d = nil
	}
}

// Filter is a 4-d filter descriptor: k output channels, c input channels,
// h×w taps.
type Filter struct {
	d          C.cudnnFilterDescriptor_t
	K, C, H, W int
}

// NewFilter describes k×c×h×w weights laid out as format (NCHW is
// PyTorch's [out][in][kh][kw]; NHWC is [out][kh][kw][in]).
func NewFilter(dtype DataType, format Format, k, c, h, w int) (*Filter, error) {
	if err := loaded(); err != nil {
		return nil, err
	}
	f := &Filter{K: k, C: c, H: h, W: w}
	if err := check("cudnnCreateFilterDescriptor", C.tg_cudnnCreateFilterDescriptor(&f.d)); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("cudnnSetFilter4dDescriptor(%d×%d×%d×%d)", k, c, h, w)
	if err := check(op, C.tg_cudnnSetFilter4dDescriptor(f.d, C.int(dtype), C.int(format),
		C.int(k), C.int(c), C.int(h), C.int(w))); err != nil {
		C.tg_cudnnDestroyFilterDescriptor(f.d)
		return nil, err
	}
	return f, nil
}

// Close destroys the descriptor.
func (f *Filter) Close() {
	if f != nil && f.d != nil {
		C.tg_cudnnDestroyFilterDescriptor(f.d)
		f.d = nil
	}
}

// Conv is a 2-d convolution descriptor (cross-correlation, as PyTorch's
// Conv2d computes).
type Conv struct {
	d C.cudnnConvolutionDescriptor_t
}

// NewConv describes a cross-correlation with the given zero padding and
// stride, no dilation, accumulating in computeType, with the math type.
func NewConv(padH, padW, strideH, strideW int, computeType DataType, math MathType) (*Conv, error) {
	if err := loaded(); err != nil {
		return nil, err
	}
	c := &Conv{}
	if err := check("cudnnCreateConvolutionDescriptor", C.tg_cudnnCreateConvolutionDescriptor(&c.d)); err != nil {
		return nil, err
	}
	err := check("cudnnSetConvolution2dDescriptor", C.tg_cudnnSetConvolution2dDescriptor(c.d,
		C.int(padH), C.int(padW), C.int(strideH), C.int(strideW), 1, 1,
		C.CUDNN_CROSS_CORRELATION, C.int(computeType)))
	if err == nil {
		err = check("cudnnSetConvolutionMathType", C.tg_cudnnSetConvolutionMathType(c.d, C.int(math)))
	}
	if err != nil {
		C.tg_cudnnDestroyConvolutionDescriptor(c.d)
		return nil, err
	}
	return c, nil
}

// Close destroys the descriptor.
func (c *Conv) Close() {
	if c != nil && c.d != nil {
		C.tg_cudnnDestroyConvolutionDescriptor(c.d)
		c.d = nil
	}
}

// OutputDim is the n, c, h, w of the convolution of x by w.
func (c *Conv) OutputDim(x *Tensor, w *Filter) (n, ch, h, wd int, err error) {
	var cn, cc, chh, cw C.int
	err = check("cudnnGetConvolution2dForwardOutputDim",
		C.tg_cudnnGetConvolution2dForwardOutputDim(c.d, x.d, w.d, &cn, &cc, &chh, &cw))
	return int(cn), int(cc), int(chh), int(cw), err
}

// Perf is one measured algorithm (cudnnConvolutionFwdAlgoPerf_t).
type Perf struct {
	Algo Algo
	// Err is nil when the algorithm ran.
	Err error
	// Time is in milliseconds; Memory is the workspace it needs in bytes.
	Time          float32
	Memory        uint64
	Deterministic bool
	Math          MathType
}

// FindAlgorithms runs every forward algorithm on the given buffers (device
// addresses; y is overwritten) with a workspace of wsBytes at ws, and
// returns them fastest first, failed ones included with Err set.
func (h *Handle) FindAlgorithms(x *Tensor, xp uintptr, w *Filter, wp uintptr, conv *Conv,
	y *Tensor, yp uintptr, ws uintptr, wsBytes uint64) ([]Perf, error) {
	var perf [C.CUDNN_CONVOLUTION_FWD_ALGO_COUNT]C.cudnnConvolutionFwdAlgoPerf_t
	var n C.int
	if err := check("cudnnFindConvolutionForwardAlgorithmEx", C.tg_cudnnFindConvolutionForwardAlgorithmEx(
		h.h, x.d, C.uintptr_t(xp), w.d, C.uintptr_t(wp), conv.d, y.d, C.uintptr_t(yp),
		C.int(len(perf)), &n, &perf[0], C.uintptr_t(ws), C.size_t(wsBytes))); err != nil {
		return nil, err
	}
	if n < 0 || int(n) > len(perf) {
		return nil, fmt.Errorf("cudnnFindConvolutionForwardAlgorithmEx returned %d results for at most %d", int(n), len(perf))
	}
	out := make([]Perf, int(n))
	for i := range out {
		p := perf[i]
		out[i] = Perf{Algo: Algo(p.algo), Time: float32(p.time), Memory: uint64(p.memory),
			Deterministic: p.determinism == C.CUDNN_DETERMINISTIC, Math: MathType(p.mathType)}
		out[i].Err = check("algorithm "+Algo(p.algo).String(), p.status)
	}
	return out, nil
}

// WorkspaceSize is the workspace in bytes that algo needs for this
// convolution.
func (h *Handle) WorkspaceSize(x *Tensor, w *Filter, conv *Conv, y *Tensor, algo Algo) (uint64, error) {
	var n C.size_t
	err := check("cudnnGetConvolutionForwardWorkspaceSize "+algo.String(),
		C.tg_cudnnGetConvolutionForwardWorkspaceSize(h.h, x.d, w.d, conv.d, y.d, C.int(algo), &n))
	return uint64(n), err
}

// ConvForward computes y = alpha·conv(x, w) + beta·y.
//
// alpha and beta (here and in ConvBiasAct and Pool) reach cuDNN as
// pointers to float (loader.c): cuDNN's scaling parameters are float for
// FLOAT, HALF and BFLOAT16 tensors and double only for DOUBLE ones (the
// API reference's "Scaling Parameters"; public callers agree, e.g.
// PaddlePaddle's CudnnDataType<float16>::ScalingParamType = const float,
// CUDA.jl's cuDNN scalr), so the 16-bit layers of gpu.VGG16 pass them
// unchanged.
func (h *Handle) ConvForward(alpha float32, x *Tensor, xp uintptr, w *Filter, wp uintptr, conv *Conv,
	algo Algo, ws uintptr, wsBytes uint64, beta float32, y *Tensor, yp uintptr) error {
	return check("cudnnConvolutionForward "+algo.String(), C.tg_cudnnConvolutionForward(h.h, C.float(alpha),
		x.d, C.uintptr_t(xp), w.d, C.uintptr_t(wp), conv.d, C.int(algo), C.uintptr_t(ws), C.size_t(wsBytes),
		C.float(beta), y.d, C.uintptr_t(yp)))
}

// ConvBiasAct computes y = act(conv(x, w) + bias) in one call
// (cudnnConvolutionBiasActivationForward with alpha1 = 1, alpha2 = 0 and
// z = y). bias is a 1×K×1×1 tensor.
func (h *Handle) ConvBiasAct(x *Tensor, xp uintptr, w *Filter, wp uintptr, conv *Conv, algo Algo,
	ws uintptr, wsBytes uint64, bias *Tensor, bp uintptr, act *Activation, y *Tensor, yp uintptr) error {
	return check("cudnnConvolutionBiasActivationForward "+algo.String(), C.tg_cudnnConvolutionBiasActivationForward(
		h.h, 1, x.d, C.uintptr_t(xp), w.d, C.uintptr_t(wp), conv.d, C.int(algo), C.uintptr_t(ws), C.size_t(wsBytes),
		0, y.d, C.uintptr_t(yp), bias.d, C.uintptr_t(bp), act.d, y.d, C.uintptr_t(yp)))
}

// Activation is an activation descriptor.
type Activation struct {
	d C.cudnnActivationDescriptor_t
}

// NewReLU describes max(x, 0), NaN not propagated (as cuDNN requires for
// the fused call).
func NewReLU() (*Activation, error) {
	if err := loaded(); err != nil {
		return nil, err
	}
	a := &Activation{}
	if err := check("cudnnCreateActivationDescriptor", C.tg_cudnnCreateActivationDescriptor(&a.d)); err != nil {
		return nil, err
	}
	if err := check("cudnnSetActivationDescriptor", C.tg_cudnnSetActivationDescriptor(a.d,
		C.CUDNN_ACTIVATION_RELU, C.CUDNN_NOT_PROPAGATE_NAN, 0)); err != nil {
		C.tg_cudnnDestroyActivationDescriptor(a.d)
		return nil, err
	}
	return a, nil
}

// Close destroys the descriptor.
func (a *Activation) Close() {
	if a != nil && a.d != nil {
		C.tg_cudnnDestroyActivationDescriptor(a.d)
		a.d = nil
	}
}

// Pooling is a 2-d pooling descriptor.
type Pooling struct {
	d C.cudnnPoolingDescriptor_t
}

// NewMaxPool describes a deterministic max-pooling with a size×size window,
// no padding, the given stride (VGG16: 2, 2).
func NewMaxPool(size, stride int) (*Pooling, error) {
	if err := loaded(); err != nil {
		return nil, err
	}
	p := &Pooling{}
	if err := check("cudnnCreatePoolingDescriptor", C.tg_cudnnCreatePoolingDescriptor(&p.d)); err != nil {
		return nil, err
	}
	if err := check("cudnnSetPooling2dDescriptor", C.tg_cudnnSetPooling2dDescriptor(p.d,
		C.CUDNN_POOLING_MAX_DETERMINISTIC, C.CUDNN_NOT_PROPAGATE_NAN, C.int(size), C.int(size), 0, 0,
		C.int(stride), C.int(stride))); err != nil {
		C.tg_cudnnDestroyPoolingDescriptor(p.d)
		return nil, err
	}
	return p, nil
}

// Close destroys the descriptor.
func (p *Pooling) Close() {
	if p != nil && p.d != nil {
		C.tg_cudnnDestroyPoolingDescriptor(p.d)
		p.d = nil
	}
}

// Pool computes y = pool(x) (alpha 1, beta 0).
func (h *Handle) Pool(p *Pooling, x *Tensor, xp uintptr, y *Tensor, yp uintptr) error {
	return check("cudnnPoolingForward", C.tg_cudnnPoolingForward(h.h, p.d, 1, x.d, C.uintptr_t(xp), 0, y.d, C.uintptr_t(yp)))
}
