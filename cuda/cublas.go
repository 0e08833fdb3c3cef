//go:build gpu

package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

// The few cuBLAS entry points used, declared here so that no cuBLAS header
// or library is needed at build time. Handles and streams are pointers;
// enums are ints (cublasOperation_t: N = 0, T = 1; cublasMath_t: DEFAULT 0,
// TF32_TENSOR_OP 3).
typedef int (*tg_cublasCreate_t)(void **);
typedef int (*tg_cublasDestroy_t)(void *);
typedef int (*tg_cublasSetStream_t)(void *, void *);
typedef int (*tg_cublasSetMathMode_t)(void *, int);
typedef int (*tg_cublasGetVersion_t)(void *, int *);
typedef int (*tg_cublasSetWorkspace_t)(void *, void *, size_t);
typedef int (*tg_cublasSgemm_t)(void *, int, int, int, int, int, const float *,
                                const float *, int, const float *, int,
                                const float *, float *, int);
typedef const char *(*tg_cublasGetStatusString_t)(int);

static void *tg_lib;
static tg_cublasCreate_t tg_create;
static tg_cublasDestroy_t tg_destroy;
static tg_cublasSetStream_t tg_set_stream;
static tg_cublasSetMathMode_t tg_set_math_mode;
static tg_cublasGetVersion_t tg_get_version;
static tg_cublasSetWorkspace_t tg_set_workspace;
static tg_cublasSgemm_t tg_sgemm_fn;
static tg_cublasGetStatusString_t tg_status_string;

// tg_cublas_open tries one path; 0 on success, else dlerror() in *err.
static int tg_cublas_open(const char *path, const char *lt, const char **err)
{
	if (lt)
		dlopen(lt, RTLD_NOW | RTLD_GLOBAL); // libcublasLt beside it, if any
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		*err = dlerror();
		return 1;
	}
	tg_create = (tg_cublasCreate_t)dlsym(h, "cublasCreate_v2");
	tg_destroy = (tg_cublasDestroy_t)dlsym(h, "cublasDestroy_v2");
	tg_set_stream = (tg_cublasSetStream_t)dlsym(h, "cublasSetStream_v2");
	tg_set_math_mode = (tg_cublasSetMathMode_t)dlsym(h, "cublasSetMathMode");
	tg_sgemm_fn = (tg_cublasSgemm_t)dlsym(h, "cublasSgemm_v2");
	tg_get_version = (tg_cublasGetVersion_t)dlsym(h, "cublasGetVersion_v2");
	tg_set_workspace = (tg_cublasSetWorkspace_t)dlsym(h, "cublasSetWorkspace_v2");
	tg_status_string = (tg_cublasGetStatusString_t)dlsym(h, "cublasGetStatusString");
	if (!tg_create || !tg_destroy || !tg_set_stream || !tg_set_math_mode || !tg_sgemm_fn) {
		*err = "a required symbol (cublasCreate_v2, cublasDestroy_v2, cublasSetStream_v2, cublasSetMathMode, cublasSgemm_v2) is missing";
		dlclose(h);
		return 2;
	}
	tg_lib = h;
	return 0;
}

static int tg_cublas_create(void **h) { return tg_create(h); }
static int tg_cublas_destroy(void *h) { return tg_destroy(h); }
static int tg_cublas_set_stream(void *h, void *s) { return tg_set_stream(h, s); }
static int tg_cublas_set_math_mode(void *h, int m) { return tg_set_math_mode(h, m); }
static int tg_cublas_version(void *h, int *v) { return tg_get_version ? tg_get_version(h, v) : -1; }
static int tg_cublas_has_workspace(void) { return tg_set_workspace != 0; }
static int tg_cublas_set_workspace(void *h, uintptr_t p, size_t n) { return tg_set_workspace(h, (void *)p, n); }
static const char *tg_cublas_status(int s) { return tg_status_string ? tg_status_string(s) : 0; }
static int tg_cublas_sgemm(void *h, int ta, int tb, int m, int n, int k, float alpha,
                           uintptr_t A, int lda, uintptr_t B, int ldb, float beta,
                           uintptr_t C, int ldc)
{
	return tg_sgemm_fn(h, ta, tb, m, n, k, &alpha, (const float *)A, lda,
	                   (const float *)B, ldb, &beta, (float *)C, ldc);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"

	"tagimp/cuda/findlib"
)

var (
	cublasOnce  sync.Once
	cublasFound findlib.Found
	cublasErr   error
)

// openCuBLAS loads the library once per process, searching it with
// findlib.Find(findlib.CuBLAS, …): TAGIMP_CUBLAS_PATH alone if set, else
// the folders of TAGIMP_CUDA_LIBS, the dynamic loader's search, the CUDA
// toolkit and system folders, the sys.path of the Python interpreters (with
// PyTorch first: nvidia/cu*/lib, nvidia/cublas/lib) and last what a PyTorch
// matmul maps. libcublasLt beside a candidate is loaded first (the wheels'
// libcublas finds it only that way).
func openCuBLAS() (findlib.Found, error) {
	cublasOnce.Do(func() {
		cublasFound, cublasErr = findlib.Find(findlib.CuBLAS, func(p string) error {
			cp := C.CString(p)
			defer C.free(unsafe.Pointer(cp))
			var clt *C.char
			if strings.Contains(p, "/") {
				lt := filepath.Join(filepath.Dir(p), strings.Replace(filepath.Base(p), "libcublas.", "libcublasLt.", 1))
				if _, err := os.Stat(lt); err == nil {
					clt = C.CString(lt)
					defer C.free(unsafe.Pointer(clt))
				}
			}
			var cerr *C.char
			if C.tg_cublas_open(cp, clt, &cerr) != 0 {
				if cerr != nil {
					return errors.New(C.GoString(cerr))
				}
				return errors.New("dlopen failed")
			}
			return nil
		})
	})
	return cublasFound, cublasErr
}

// CuBLASPath returns the cuBLAS library this process opens (searching it
// on the first call) and where the search found it.
func CuBLASPath() (findlib.Found, error) { return openCuBLAS() }

// BLAS is a cuBLAS handle bound to one stream. cuBLAS errors are sticky (a
// failed handle may fail every later call), so the first error is kept and
// returned by every later call.
type BLAS struct {
	c       *Context
	h       unsafe.Pointer
	path    string
	version int
	err     error
}

// cublasStatusNames are cublasStatus_t's names, for libraries without
// cublasGetStatusString.
var cublasStatusNames = map[int]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH",
	11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

func cublasStatus(what string, st C.int) error {
	if st == 0 {
		return nil
	}
	if s := C.tg_cublas_status(st); s != nil {
		return fmt.Errorf("%s: cuBLAS status %d (%s)", what, int(st), C.GoString(s))
	}
	if n, ok := cublasStatusNames[int(st)]; ok {
		return fmt.Errorf("%s: cuBLAS status %d (%s)", what, int(st), n)
	}
	return fmt.Errorf("%s: cuBLAS status %d", what, int(st))
}

// NewBLAS opens cuBLAS (see openCuBLAS for where it looks), creates a
// handle in this context and binds it to stream s (nil: default stream).
// With tf32 the GEMMs may use TF32 tensor cores (≈1e-3 relative error);
// without, they are FP32.
func (c *Context) NewBLAS(s *Stream, tf32 bool) (*BLAS, error) {
	if err := c.check("create a cuBLAS handle"); err != nil {
		return nil, err
	}
	found, err := openCuBLAS()
	if err != nil {
		return nil, err
	}
	path := found.Path
	b := &BLAS{c: c, path: path}
	if err := cublasStatus("cublasCreate_v2 ("+path+")", C.tg_cublas_create(&b.h)); err != nil {
		return nil, err
	}
	var v C.int
	if C.tg_cublas_version(b.h, &v) == 0 {
		b.version = int(v)
	}
	if err := b.SetStream(s); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.SetTF32(tf32); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// Path is the library file that was opened.
func (b *BLAS) Path() string { return b.path }

// Version is cuBLAS's version number (e.g. 120304), 0 if unknown.
func (b *BLAS) Version() int { return b.version }

// SetStream binds later calls to stream s (nil: default stream).
func (b *BLAS) SetStream(s *Stream) error {
	if b.err != nil {
		return b.err
	}
	if err := b.c.check("cublasSetStream"); err != nil {
		return err
	}
	b.err = cublasStatus("cublasSetStream_v2", C.tg_cublas_set_stream(b.h, unsafe.Pointer(s.handle())))
	return b.err
}

// SetTF32 selects TF32 tensor-op math (true) or FP32 (false: cuBLAS's
// default math, which since cuBLAS 11 never uses TF32 unless asked).
func (b *BLAS) SetTF32(on bool) error {
	if b.err != nil {
		return b.err
	}
	if err := b.c.check("cublasSetMathMode"); err != nil {
		return err
	}
	mode := C.int(0) // CUBLAS_DEFAULT_MATH
	if on {
		mode = 3 // CUBLAS_TF32_TENSOR_OP_MATH
	}
	b.err = cublasStatus("cublasSetMathMode", C.tg_cublas_set_math_mode(b.h, mode))
	return b.err
}

// SetWorkspace gives cuBLAS a workspace of its own (so that it allocates
// nothing during CUDA graph capture). A library without
// cublasSetWorkspace_v2 (cuBLAS 11.0–11.3) makes this a no-op.
func (b *BLAS) SetWorkspace(ws Buffer) error {
	if b.err != nil {
		return b.err
	}
	if err := b.c.check("cublasSetWorkspace"); err != nil {
		return err
	}
	if C.tg_cublas_has_workspace() == 0 {
		return nil
	}
	b.err = cublasStatus("cublasSetWorkspace_v2", C.tg_cublas_set_workspace(b.h, C.uintptr_t(ws.ptr), C.size_t(ws.bytes)))
	return b.err
}

// Sgemm computes, row-major like the rest of tagimp, Cmat[M,N] =
// α·op(A)·op(B) + β·Cmat with op(A) [M,K] (A, or Aᵀ of A [K,M] with transA)
// and op(B) [K,N] likewise; lda, ldb, ldc are row strides. It is cuBLAS's
// column-major Cᵀ = op(B)ᵀ·op(A)ᵀ. Same contract as ops.Sgemm. A Linear
// layer's forward is Sgemm(false, true, B, out, in, 1, X, in, W, in, 0, Y, out).
func (b *BLAS) Sgemm(transA, transB bool, M, N, K int, alpha float32, A Buffer, lda int,
	B Buffer, ldb int, beta float32, Cmat Buffer, ldc int) error {
	if b.err != nil {
		return fmt.Errorf("cuBLAS handle unusable after an earlier error: %w", b.err)
	}
	if err := b.c.check("cublasSgemm"); err != nil {
		return err
	}
	if M <= 0 || N <= 0 {
		return nil
	}
	st := C.tg_cublas_sgemm(b.h, C.int(b2i(transB)), C.int(b2i(transA)), C.int(N), C.int(M), C.int(K),
		C.float(alpha), C.uintptr_t(B.ptr), C.int(ldb), C.uintptr_t(A.ptr), C.int(lda),
		C.float(beta), C.uintptr_t(Cmat.ptr), C.int(ldc))
	if err := cublasStatus(fmt.Sprintf("cublasSgemm_v2 M=%d N=%d K=%d", M, N, K), st); err != nil {
		b.err = err
		return err
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Close destroys the handle.
func (b *BLAS) Close() error {
	if b == nil || b.h == nil {
		return nil
	}
	if err := b.c.check("cublasDestroy"); err != nil {
		return err
	}
	err := cublasStatus("cublasDestroy_v2", C.tg_cublas_destroy(b.h))
	b.h = nil
	return err
}
