//go:build cgo && !noopenblas

package bench

// #cgo LDFLAGS: -lopenblas
// int openblas_get_num_threads(void);
// void openblas_set_num_threads(int);
import "C"

import "fmt"

// BLASThreads returns the number of threads OpenBLAS uses in this process
// (OPENBLAS_NUM_THREADS when set at start, else one per core).
func BLASThreads() int { return int(C.openblas_get_num_threads()) }

// SetBLASThreads makes OpenBLAS use n threads in this process from now on.
func SetBLASThreads(n int) error {
	if n < 1 {
		return fmt.Errorf("BLAS threads: %d, want at least 1", n)
	}
	old := BLASThreads()
	C.openblas_set_num_threads(C.int(n))
	if got := BLASThreads(); got != n {
		C.openblas_set_num_threads(C.int(old))
		return fmt.Errorf("BLAS threads: asked OpenBLAS for %d, it would use %d (its build caps the count); keeping %d", n, got, old)
	}
	return nil
}
