//go:build unix

package nouns

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkNounsAllCPU reports captions per wall second and per CPU second
// (the latter does not depend on what else the machine runs).
func BenchmarkNounsAllCPU(b *testing.B) {
	caps := valCaptions(b)
	tg := testTagger(b)
	tg.NounsAll(caps, 0, nil) // warm the caches
	b.ResetTimer()
	start := cpuTime(b)
	for i := 0; i < b.N; i++ {
		tg.NounsAll(caps, 0, nil)
	}
	cpu := cpuTime(b) - start
	b.ReportMetric(float64(b.N*len(caps))/b.Elapsed().Seconds(), "captions/s")
	b.ReportMetric(float64(b.N*len(caps))/cpu.Seconds(), "captions/cpu-s")
}

// BenchmarkNounsAllCold is BenchmarkNounsAllCPU with empty caches, as in
// one tagimp-gpu vocab run on val2017 (the model load is not timed).
func BenchmarkNounsAllCold(b *testing.B) {
	caps := valCaptions(b)
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tg, err := NewTagger()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := cpuTime(b)
		tg.NounsAll(caps, 0, nil)
		cpu += cpuTime(b) - start
	}
	b.ReportMetric(float64(b.N*len(caps))/b.Elapsed().Seconds(), "captions/s")
	b.ReportMetric(float64(b.N*len(caps))/cpu.Seconds(), "captions/cpu-s")
}
