//go:build gpu

// Package cuda is the thin layer between the GPU engine (package gpu) and
// the NVIDIA driver: it opens a device and its primary context, allocates
// and copies device memory, creates streams, events and CUDA graphs, loads
// the kernels of kernels/*.cu from the fatbin embedded in the binary, and
// opens cuBLAS at run time (libcublas.so.13, .12 or .11, found by package
// findlib) for the big GEMMs.
//
// Everything goes through gorgonia.org/cu (driver API) except cuBLAS, which
// is opened with dlopen so the binary runs against whichever CUDA major
// version the machine has, and stream capture, which cu v0.9.6 lacks. Every
// call is checked; errors say what is missing: no GPU, no driver, which
// library was not found and where it was looked for, how many bytes an
// allocation asked for and how many were free.
//
// Data comes from the host as []float32 (or raw bytes) and goes back the
// same way; kernels.go lists every kernel with its argument order and
// launch shape as typed Go methods, so a mismatch is a compile error.
//
// Without a GPU, the kernels are checked three ways: kernels/hostref tests
// the per-element math (tagimp_math.h) against the Go twins in model/ops and
// that every launch here passes the arguments its kernel declares;
// kernels/emu runs the kernels themselves on the CPU (threads, barriers,
// shared memory) against the twins; `make ptxas` reports registers and
// spills. The gpu-tagged tests here run each kernel on the device against
// the twins.
//
// Build: every file carries the `gpu` build tag (never `cuda`: gorgonia
// uses that tag for its own backend). gorgonia.org/cu's init() exits the
// process when cuInit fails, so nothing built without the gpu tag may import
// this package. The fatbin is cuda/tagimp.fatbin, written by `make kernels`.
//
// Threading: a CUDA context is current per OS thread. Open binds the calling
// goroutine (locks it to its OS thread and pushes the device's primary
// context there); another goroutine calls (*Context).Bind first and Unbind
// when done. Every entry point checks with cuCtxGetCurrent that the context
// is current on the calling thread and otherwise returns an error wrapping
// ErrNotCurrent that says so, rather than failing with
// CUDA_ERROR_INVALID_CONTEXT. go test runs each test on its own goroutine:
// a context opened in TestMain is bound in each test (see kernels_test.go).
//
// Libraries opened at run time are searched by package findlib (plain Go,
// no build tag): TAGIMP_CUBLAS_PATH, TAGIMP_CUDA_LIBS, the loader's path,
// the CUDA toolkit, the sys.path of the Python with PyTorch (CUDA 13 wheels:
// nvidia/cu13/lib; CUDA 12: nvidia/cublas/lib) and, last, what a PyTorch
// matmul maps; the error lists every place tried.
package cuda
