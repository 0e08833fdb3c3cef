// Package cpu is the CPU engine of the three models: a model.Trainer built
// on gorgonia.org/gorgonia graphs (forward and symbolic backward) over
// gorgonia.org/tensor, with its own in-place Adam and dropout masks fed in
// as input tensors drawn from model/ops (so a step is reproducible and the
// GPU engine can draw the very same masks). It is the reference every GPU
// result is checked against, and what machines without a GPU train with.
//
// Parameters come in as a model.State (named float32 tensors, Linear
// weights [out, in]) and go out the same way; inside, weights are kept
// transposed ([in, out]) so every product is a plain x·W for the BLAS, and
// biases as [1, out] rows for broadcasting. The graphs have a fixed batch
// size (Config.Batch); a smaller batch is padded with zero-weight rows, so
// its losses and gradients are exactly those of its real rows. Between
// runs the graphs' tape machines keep their intermediate buffers (the
// weight gradients among them) instead of reallocating them every step as
// gorgonia's Reset would; see rewind.go.
//
// Matrix products go to OpenBLAS through gonum.org/v1/netlib when the
// package is built with cgo (libopenblas-dev), and Adam runs as a small C
// loop with AVX/SSE that is bit-identical to ops.Adam (the twin of the GPU
// kernel) and five times faster; with the build tag noopenblas, or without
// cgo, gorgonia's pure-Go BLAS and ops.Adam are used instead (several times
// slower). BLAS names the BLAS in use.
package cpu
