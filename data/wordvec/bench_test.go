package wordvec

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

// The benchmarks share one generated GoogleNews-shaped binary file (300-d,
// 1,200-byte vectors after a short word): TAGIMP_WORDVEC_BENCH_MB megabytes
// (default 256) in a temporary directory removed by TestMain.
var (
	benchOnce sync.Once
	benchDir  string
	benchPath string
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

func benchFile(b *testing.B) (string, int64) {
	benchOnce.Do(func() {
		mb := 256
		if s := os.Getenv("TAGIMP_WORDVEC_BENCH_MB"); s != "" {
			if mb, benchErr = strconv.Atoi(s); benchErr != nil {
				return
			}
		}
		if benchDir, benchErr = os.MkdirTemp("", "wordvec-bench"); benchErr != nil {
			return
		}
		benchPath = filepath.Join(benchDir, "vectors.bin")
		benchErr = writeBenchFile(benchPath, mb<<20)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	st, err := os.Stat(benchPath)
	if err != nil {
		b.Fatal(err)
	}
	return benchPath, st.Size()
}

// writeBenchFile writes about size bytes of records "w0000000" … with one
// fixed vector (its bytes do not matter to a reader that skips them).
func writeBenchFile(path string, size int) error {
	const dim = 300
	n := size / (4*dim + 10)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "%d %d\n", n, dim)
	v := make([]byte, 4*dim)
	for i := range v {
		v[i] = byte(i*7 + 3)
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "w%07d ", i)
		w.Write(v)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkBinarySkip reads the whole file looking for 116 words (the
// paper's vocabulary size), none of which is in it: every record is
// skipped. Compare its MB/s with BenchmarkRawRead.
func BenchmarkBinarySkip(b *testing.B) {
	path, size := benchFile(b)
	words := make([]string, 116)
	for i := range words {
		words[i] = fmt.Sprintf("Tag%03d", i)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab, err := Load(path, words, Options{Dim: 300})
		if err != nil {
			b.Fatal(err)
		}
		if !tab.Complete || len(tab.Missing) != len(words) {
			b.Fatalf("complete %v missing %d", tab.Complete, len(tab.Missing))
		}
	}
}

// BenchmarkBinaryFind is BenchmarkBinarySkip with 116 words spread over
// the file, so that their vectors are decoded.
func BenchmarkBinaryFind(b *testing.B) {
	path, size := benchFile(b)
	n := int(size / (4*300 + 10))
	words := make([]string, 116)
	for i := range words {
		words[i] = fmt.Sprintf("w%07d", (i*n)/len(words))
	}
	words[len(words)-1] = "absent" // forces the full pass
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tab, err := Load(path, words, Options{Dim: 300})
		if err != nil {
			b.Fatal(err)
		}
		if len(tab.Missing) != 1 {
			b.Fatalf("missing %v", tab.Missing)
		}
	}
}

// BenchmarkRawRead reads the same file through the same buffer size and
// does nothing with it: the speed of the disk (or page cache) here.
func BenchmarkRawRead(b *testing.B) {
	path, size := benchFile(b)
	b.SetBytes(size)
	b.ResetTimer()
	buf := make([]byte, bufSize)
	for i := 0; i < b.N; i++ {
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
