//go:build !gpu

package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestGPUInPlainBuild: asking for the GPU in the CPU build says how to get one.
func TestGPUInPlainBuild(t *testing.T) {
	set := flag.NewFlagSet("t", flag.ContinueOnError)
	set.String("device", "gpu", "")
	_, err := resolveDevice(cli.NewContext(newApp(), set, nil))
	if err == nil || !strings.Contains(err.Error(), "make kernels && make build") {
		t.Fatalf("err = %v", err)
	}
}
