// Package emu runs the CUDA kernels of kernels/*.cu on the CPU, so that
// their indexing, launch shapes, shared memory use and synchronisation are
// exercised without a GPU.
//
// emu.cc compiles the very kernel sources nvcc compiles, with emu.h
// standing in for CUDA: blocks run one after another, each CUDA thread is a
// POSIX thread, __syncthreads is a barrier, warp shuffles exchange through
// a per-warp buffer, dynamic shared memory starts as NaN. Kernels launches
// each kernel with the launch shape package cuda uses (the rules are
// repeated here, see cuda/kernels.go), taking and returning host slices.
// The tests compare the results with the CPU twins in model/ops.
//
// What it cannot show: timing, coalescing, bank conflicts, register
// pressure (see `make ptxas`), FMA contraction and the device's expf, and
// races that only a real warp schedule exposes. A GPU run still has to
// confirm those (the gpu-tagged tests in package cuda).
package emu
