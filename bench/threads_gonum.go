//go:build !cgo || noopenblas

package bench

import (
	"fmt"
	"runtime"
)

// BLASThreads returns the parallelism of gonum's pure-Go BLAS, the BLAS of
// this build: it splits a product over GOMAXPROCS goroutines.
func BLASThreads() int { return runtime.GOMAXPROCS(0) }

// SetBLASThreads sets GOMAXPROCS, which bounds gonum's BLAS (and the
// engine's Adam) to n threads.
func SetBLASThreads(n int) error {
	if n < 1 {
		return fmt.Errorf("BLAS threads: %d, want at least 1", n)
	}
	runtime.GOMAXPROCS(n)
	return nil
}
