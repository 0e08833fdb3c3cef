// Package hostref compiles the kernels' shared math header
// (kernels/tagimp_math.h) for the CPU through cgo and exposes it to Go, so
// that tests without a GPU can check the Go twins in model/ops against the
// very source the CUDA kernels are built from.
//
// It holds no logic of its own beyond loops over the header's per-element
// functions in the order the kernels use (the dense layer's bias-gradient
// sums, for instance, follow tg_dense_backward's eight partial sums). Its
// tests compare each twin with the header on random and edge-case inputs
// (bit-identical for the RNG, the dense epilogues and Adam; within stated
// ulp bounds where Go's exp/log1p differ from glibc's expf/log1pf), and
// check without a GPU that every launch in cuda/kernels.go passes the
// arguments its kernel declares. Data flows in from the tests only.
//
// src_tagimp_math.h.h is a symbolic link to ../tagimp_math.h: the go command
// rebuilds a cgo package only when files in its own directory change, and
// the link makes an edit of the header one of them.
package hostref
