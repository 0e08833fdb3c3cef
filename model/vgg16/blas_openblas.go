//go:build cgo && !noopenblas

package vgg16

/*
#cgo LDFLAGS: -lopenblas
// Declared here rather than through cblas.h, whose location differs between
// distributions; the enums are plain ints in the C ABI.
void cblas_sgemm(int order, int transA, int transB, int m, int n, int k,
                 float alpha, const float *a, int lda, const float *b, int ldb,
                 float beta, float *c, int ldc);
*/
import "C"

import "unsafe"

// BLAS names the SGEMM implementation this build uses.
const BLAS = "openblas"

const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// sgemm computes C = A·op(B) + beta·C for row-major A (m×k), op(B) (k×n;
// B is n×k when transB) and C (m×n).
func sgemm(transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	tb := cblasNoTrans
	if transB {
		tb = cblasTrans
	}
	C.cblas_sgemm(cblasRowMajor, cblasNoTrans, C.int(tb), C.int(m), C.int(n), C.int(k),
		1, (*C.float)(unsafe.Pointer(&a[0])), C.int(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.int(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.int(ldc))
}
