//go:build !cgo || noopenblas

package cpu

// BLAS names the BLAS that gorgonia's tensor package uses in this build.
const BLAS = "gonum (pure Go)"
