package wordvec

import (
	"fmt"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// evict drops the benchmark file from the page cache (posix_fadvise
// DONTNEED), so that the next read comes from the disk.
func evict(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Skipf("cannot evict %s from the page cache: %v", path, err)
	}
}

// BenchmarkBinarySkipCold is BenchmarkBinarySkip with the file evicted
// from the page cache before every read: the reader against the disk.
func BenchmarkBinarySkipCold(b *testing.B) {
	path, size := benchFile(b)
	words := make([]string, 116)
	for i := range words {
		words[i] = fmt.Sprintf("Tag%03d", i)
	}
	b.SetBytes(size)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evict(b, path)
		b.StartTimer()
		if _, err := Load(path, words, Options{Dim: 300}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawReadCold is BenchmarkRawRead from the disk: the disk's speed.
func BenchmarkRawReadCold(b *testing.B) {
	path, size := benchFile(b)
	b.SetBytes(size)
	buf := make([]byte, bufSize)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		evict(b, path)
		b.StartTimer()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
