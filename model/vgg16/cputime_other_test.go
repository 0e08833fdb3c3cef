//go:build !unix

package vgg16

import "time"

// cpuTime is not measured on this system; benchmarks then omit the
// per-CPU-second rate.
func cpuTime() time.Duration { return 0 }
