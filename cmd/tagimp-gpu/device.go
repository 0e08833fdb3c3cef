package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// deviceFlag is the --device flag every command that computes shares.
func deviceFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:  "device",
		Value: "auto",
		Usage: "where to compute: auto (the GPU when this binary was built for it and one is present, else the CPU), cpu or gpu",
	}
}

// gpuProbe says why no GPU can be used (nil when one can): gpuAvailable,
// replaced by tests that drive the GPU wiring with a stand-in network.
var gpuProbe = gpuAvailable

// resolveDevice turns --device into "cpu" or "gpu".
func resolveDevice(c *cli.Context) (string, error) {
	switch d := c.String("device"); d {
	case "cpu":
		return "cpu", nil
	case "gpu":
		if err := gpuProbe(); err != nil {
			return "", err
		}
		return "gpu", nil
	case "auto", "":
		if gpuProbe() == nil {
			return "gpu", nil
		}
		return "cpu", nil
	default:
		return "", fmt.Errorf("--device %q: want auto, cpu or gpu", d)
	}
}
