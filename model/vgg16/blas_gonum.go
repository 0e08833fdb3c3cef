//go:build !cgo || noopenblas

package vgg16

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// BLAS names the SGEMM implementation this build uses.
const BLAS = "gonum (pure Go)"

// sgemm computes C = A·op(B) + beta·C for row-major A (m×k), op(B) (k×n;
// B is n×k when transB) and C (m×n).
func sgemm(transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	tb := blas.NoTrans
	if transB {
		tb = blas.Trans
	}
	gonum.Implementation{}.Sgemm(blas.NoTrans, tb, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
}
