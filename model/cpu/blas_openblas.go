//go:build cgo && !noopenblas

package cpu

// #cgo LDFLAGS: -lopenblas
import "C"

import (
	"gonum.org/v1/netlib/blas/netlib"
	"gorgonia.org/tensor"
)

// BLAS names the BLAS that gorgonia's tensor package uses in this build.
const BLAS = "openblas (cgo, gonum.org/v1/netlib)"

func init() { tensor.Use(netlib.Implementation{}) }
