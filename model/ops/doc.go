// Package ops holds the pure-Go twins of the per-element math that the CUDA
// kernels compute (kernels/tagimp_math.h): the counter-based RNG that draws
// dropout masks, the weighted embedding average of Model 2, and (added with
// the GPU engine) the fused losses and the Adam update.
//
// The CPU engine uses these functions directly, so the CPU and the GPU draw
// the same dropout masks and a GPU training step can be compared with a CPU
// one. kernels/hostref compiles the C header on the host and its tests check
// that these twins agree with it.
package ops
