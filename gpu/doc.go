//go:build gpu

// Package gpu is the GPU engine of the three models: a model.Trainer whose
// forward pass, losses, backward pass and Adam update run on an NVIDIA GPU
// through package cuda (context, stream, device memory, the embedded kernels
// of kernels/*.cu and cuBLAS opened at run time). It is built only with the
// gpu build tag.
//
// Parameters come in as a model.State (named float32 tensors in the order of
// model.Specs, Linear weights [out, in]) and live on the device in four flat
// buffers — parameters, gradients and Adam's two moments, each tensor at the
// same offset in all four — so that one launch updates every parameter.
// Activations are preallocated for the batch size of model.Config, so a step
// allocates nothing. Every product is a cuBLAS SGEMM (FP32 by default, TF32
// on request) followed by one of our fused epilogues (bias, ReLU, the dropout
// mask drawn from the counter-based RNG of model/ops, the losses with their
// gradients); the dropout masks are those of the CPU engine, bit for bit, so
// a GPU step can be compared with a model/cpu step. A training split can be
// kept on the device (SetTrainingSet, StepRows, Sync): then the row indices
// of up to Options.LossSlots steps cross the bus in one copy, the batch is
// gathered on the device, and every full batch replays one captured CUDA
// graph of the whole step (gather, forward, losses, backward, Adam), whose
// per-step values — step counter for the dropout keys, Adam's bias
// corrections, the loss slot — live in device memory; the host waits for
// the device only between chunks.
//
// The engine talks to the GPU through a small device interface
// (backend.go): device_cuda.go implements it with package cuda, and with the
// extra build tag emu device_emu.go implements it on the host with the CPU
// twins of model/ops, so that the engine's sequence of operations (GEMM
// shapes and strides, tensor views, loss slots, the resident split) is
// tested against the CPU engine on any machine: go test -tags gpu,emu
// ./gpu/. Every kernel comes from kernels/ through cuda.Kernels, the batch
// gather and the graph-mode variants that read the step from device memory
// (kernels/step.cu) included.
//
// A CUDA context is current per OS thread: the goroutine that creates a
// Trainer is bound to its device; another goroutine calls Trainer.Bind
// (and Unbind) or gets an error wrapping ErrNotCurrent. The emulator
// models the same rule, and the rules of stream capture (no allocation,
// copy, free or synchronisation while a capture is open), so CI catches a
// call from the wrong goroutine or a capture the driver would refuse.
//
// Results go out the same way they came in: State copies the parameters,
// the moments and the step counter back into a model.State, which
// model.SaveCheckpoint writes in the format the CPU engine reads, so a
// model trained with --device gpu predicts with --device cpu and back.
package gpu
