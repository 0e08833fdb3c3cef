//go:build !cgo || noopenblas

package cpu

import "tagimp/model/ops"

// adamKernel names the float32 Adam in use.
const adamKernel = "Go (ops.Adam)"

// adam32 applies ops.Adam to one chunk.
func adam32(p, g, m, v []float32, c ops.AdamConfig, bc1, bc2 float32) {
	ops.Adam(p, g, m, v, c, bc1, bc2)
}
