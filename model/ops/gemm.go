package ops

// Sgemm is the reference of the kernels' tiled SGEMM (tg_sgemm) and of
// cuBLAS as the cuda package calls it, row-major:
//
//	C[M,N] = α·op(A)·op(B) + β·C
//
// op(A) [M,K] is A[m·lda+k], or A[k·lda+m] with transA; op(B) [K,N] is
// B[k·ldb+n], or B[n·ldb+k] with transB; ldc is C's row stride. β = 0 does
// not read C. Products are summed in float64 in k order, so the result is
// the most accurate float32 of the sum, not the device's rounding: compare
// with a bound of a few K·ε·Σ|a||b|.
func Sgemm(transA, transB bool, M, N, K int, alpha float32, A []float32, lda int,
	B []float32, ldb int, beta float32, C []float32, ldc int) {
	for m := 0; m < M; m++ {
		for n := 0; n < N; n++ {
			var acc float64
			for k := 0; k < K; k++ {
				var a, b float32
				if transA {
					a = A[k*lda+m]
				} else {
					a = A[m*lda+k]
				}
				if transB {
					b = B[n*ldb+k]
				} else {
					b = B[k*ldb+n]
				}
				acc += float64(a) * float64(b)
			}
			v := float64(alpha) * acc
			if beta != 0 {
				v += float64(beta) * float64(C[m*ldc+n])
			}
			C[m*ldc+n] = float32(v)
		}
	}
}
