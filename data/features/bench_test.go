package features

import (
	"context"
	"fmt"
	"testing"
)

// wideExtractor returns fc7-sized rows cheaply, so that benchmarks measure
// the cache's own cost: ordering, writing, hashing.
type wideExtractor struct{}

func (wideExtractor) Dim() int { return 4096 }

func (wideExtractor) Extract(x []float32, n int) ([]float32, error) {
	out := make([]float32, n*4096)
	for i := range out {
		out[i] = float32(i%97) * 0.01
	}
	return out, nil
}

func memLoad(path string) ([]float32, error) { return make([]float32, 16), nil }

func benchCache(b *testing.B, n int) string {
	b.Helper()
	images := make([]Image, n)
	for i := range images {
		images[i] = Image{ID: int64(i + 1), File: fmt.Sprintf("%012d.jpg", i+1)}
	}
	out := b.TempDir()
	_, err := Build(context.Background(), Config{Out: out, ImagesDir: b.TempDir(), Images: images, Load: memLoad,
		Extractor: wideExtractor{}, Meta: testMeta, ShardSize: 1000, Batch: 16, Workers: 2})
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkBuildOverhead is the cache's cost per image beyond decoding and
// the network: 2,000 rows of 4,096 float32 (32 MB) written, hashed and
// recorded.
func BenchmarkBuildOverhead(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchCache(b, 2000)
	}
	b.ReportMetric(float64(2000*b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkLoad reads a 2,000-row fc7 cache (32 MB), checking hashes and
// finiteness.
func BenchmarkLoad(b *testing.B) {
	dir := benchCache(b, 2000)
	b.SetBytes(2000 * 4096 * 4)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}
