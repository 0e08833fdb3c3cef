//go:build unix

package vgg16

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used so far;
// benchmarks report work per CPU-second, which a busy shared machine
// disturbs far less than wall-clock rates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
