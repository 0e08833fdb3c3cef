//go:build !cgo || noopenblas || noonednn

package vgg16

import "errors"

// ConvEngines lists the convolution engines this build has, the default
// first: "im2col" (im2col + SGEMM; this build has no oneDNN).
var ConvEngines = []string{"im2col"}

func newFastTrunk(*Net) (convTrunk, error) {
	return nil, errors.New("vgg16: this build has no oneDNN (built with -tags noopenblas or noonednn, or without cgo)")
}
