//go:build tools

// Package deps pins modules the project uses so that go mod tidy keeps them.
package main

import (
	_ "github.com/jdkato/prose/v2"
	_ "github.com/jinzhu/inflection"
	_ "github.com/nlpodyssey/gopickle/pytorch"
	_ "github.com/sbinet/npyio"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/urfave/cli/v2"
	_ "golang.org/x/image/draw"
	_ "gonum.org/v1/netlib/blas/netlib"
	_ "gonum.org/v1/plot"
	_ "gorgonia.org/gorgonia"
	_ "gorgonia.org/tensor"
)

func main() {}
