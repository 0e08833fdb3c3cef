//go:build !gpu

package main

import "errors"

// gpuAvailable reports why this binary cannot use a GPU: it was built
// without the gpu tag.
func gpuAvailable() error {
	return errors.New("this tagimp-gpu was built without GPU support: on a machine with the CUDA toolkit run `make kernels && make build` (go build -tags gpu) and use bin/tagimp-gpu")
}
