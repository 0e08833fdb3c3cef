package model

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// EngineConfig returns c with Batch cut to rows (at least 1). Engines size
// their buffers from Config.Batch, and a batch larger than the data it is
// given is never filled: training with --batch 100000 on 600 rows takes
// the same steps as --batch 600 and needs only 600 rows of buffers. The
// run's metadata keeps the Batch the user asked for.
func EngineConfig(c Config, rows int) Config {
	c.Batch = max(1, min(c.Batch, rows))
	return c
}

// BatchBytes estimates the host memory an engine of c needs for one batch
// of c.Batch rows: the batch itself and, per layer, the activations,
// dropout masks and gradients the CPU engine keeps (with a factor of two
// for gorgonia's intermediate copies). It is an upper estimate, used only
// to refuse batches that cannot fit (CheckBatchMemory); the parameters and
// the optimizer state do not grow with the batch and are not counted.
func (c Config) BatchBytes() int64 {
	perRow := int64(2*c.D + 8*c.H + 12*c.T)
	if c.Kind == Model2 {
		perRow += int64(2*(c.D+c.E) + 8*c.H2 + 6*c.T)
	}
	return 2 * 4 * int64(c.Batch) * perRow
}

// CheckBatchMemory refuses c when the buffers of one batch (BatchBytes)
// exceed the memory available to this process (AvailableMemory), with a
// one-line error that names both and the fix. It does nothing where the
// available memory cannot be read.
func CheckBatchMemory(c Config) error {
	avail, ok := AvailableMemory()
	if !ok {
		return nil
	}
	if need := c.BatchBytes(); need > avail {
		return fmt.Errorf("%s: a batch of %d rows needs about %s of memory for its buffers (%d→%d→%d), only %s is available; use a smaller --batch (paper: 32)",
			c.Kind, c.Batch, humanBytes(need), c.D, c.H, c.T, humanBytes(avail))
	}
	return nil
}

// AvailableMemory returns the memory this process can still allocate: the
// kernel's MemAvailable, or less when a cgroup (v2 or v1) limits the
// process. ok is false where neither can be read (not Linux).
func AvailableMemory() (bytes int64, ok bool) {
	if v, found := memAvailable("/proc/meminfo"); found {
		bytes, ok = v, true
	}
	if lim, found := cgroupRoom(); found && (!ok || lim < bytes) {
		bytes, ok = lim, true
	}
	return bytes, ok
}

// memAvailable reads MemAvailable (kB) from a meminfo file.
func memAvailable(path string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, found := strings.CutPrefix(sc.Text(), "MemAvailable:")
		if !found {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}

// cgroupRoom returns the cgroup's memory limit minus its usage.
func cgroupRoom() (int64, bool) {
	for _, p := range [][2]string{
		{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
		{"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"},
	} {
		lim, ok1 := readInt(p[0])
		use, ok2 := readInt(p[1])
		// cgroup v1 reports "no limit" as a huge number.
		if ok1 && ok2 && lim > 0 && lim < 1<<60 {
			return max(0, lim-use), true
		}
	}
	return 0, false
}

func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// humanBytes formats n as "3.8 GB", "120 MB".
func humanBytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%d kB", n/1000)
	}
}
