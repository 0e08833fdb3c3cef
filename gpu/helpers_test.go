//go:build gpu && !emu

package gpu

import (
	"math"
	"testing"

	"tagimp/cuda"
)

// These tests need a CUDA GPU: build them with `go test -c -tags gpu
// ./gpu/` and run the binary there (scripts/gpu-check.sh does both).

// dev is an open GPU with its kernels and a cuBLAS handle for one test.
type dev struct {
	t    *testing.T
	ctx  *cuda.Context
	k    *cuda.Kernels
	blas *cuda.BLAS
	bufs []*cuda.Buffer
}

// openDev opens GPU 0 for the calling test; everything is released when
// the test ends. The test's goroutine is locked to its OS thread meanwhile.
func openDev(t *testing.T, tf32 bool) *dev {
	t.Helper()
	ctx, err := cuda.Open(0)
	if err != nil {
		t.Fatalf("open GPU: %v", err)
	}
	d := &dev{t: t, ctx: ctx}
	t.Cleanup(func() {
		for _, b := range d.bufs {
			ctx.Free(b)
		}
		if d.blas != nil {
			d.blas.Close()
		}
		if d.k != nil {
			d.k.Close()
		}
		if err := ctx.Close(); err != nil {
			t.Errorf("close GPU: %v", err)
		}
	})
	if d.k, err = ctx.LoadKernels(); err != nil {
		t.Fatalf("load kernels: %v", err)
	}
	if d.blas, err = ctx.NewBLAS(nil, tf32); err != nil {
		t.Fatalf("open cuBLAS: %v", err)
	}
	return d
}

// buf uploads x to a new device buffer.
func (d *dev) buf(x []float32) cuda.Buffer {
	d.t.Helper()
	b, err := d.ctx.AllocF32(max(len(x), 1))
	if err != nil {
		d.t.Fatal(err)
	}
	d.bufs = append(d.bufs, &b)
	if err := d.ctx.Upload(b, x); err != nil {
		d.t.Fatal(err)
	}
	return b
}

// poisoned returns a new device buffer of n NaNs: an output the kernel
// must overwrite everywhere it promises to.
func (d *dev) poisoned(n int) cuda.Buffer {
	d.t.Helper()
	b, err := d.ctx.AllocF32(max(n, 1))
	if err != nil {
		d.t.Fatal(err)
	}
	d.bufs = append(d.bufs, &b)
	if err := d.ctx.Fill32(b, float32(math.NaN()), nil); err != nil {
		d.t.Fatal(err)
	}
	return b
}

// get waits for the device and downloads n values of b.
func (d *dev) get(b cuda.Buffer, n int) []float32 {
	d.t.Helper()
	if err := d.ctx.Synchronize(); err != nil {
		d.t.Fatal(err)
	}
	out := make([]float32, n)
	if err := d.ctx.Download(out, b); err != nil {
		d.t.Fatal(err)
	}
	return out
}

// gemmScale returns, for each element of C = op(A)·op(B), Σ_k |a||b|: the
// scale a rounding error of the sum is relative to.
func gemmScale(transA, transB bool, M, N, K int, A []float32, lda int, B []float32, ldb int) []float64 {
	s := make([]float64, M*N)
	for m := 0; m < M; m++ {
		for n := 0; n < N; n++ {
			var acc float64
			for k := 0; k < K; k++ {
				a, b := A[m*lda+k], B[k*ldb+n]
				if transA {
					a = A[k*lda+m]
				}
				if transB {
					b = B[n*ldb+k]
				}
				acc += math.Abs(float64(a) * float64(b))
			}
			s[m*N+n] = acc
		}
	}
	return s
}

// checkGemm fails when |got−want| > bound·Σ|a||b| anywhere (and for NaN).
func checkGemm(t *testing.T, what string, got, want []float32, scale []float64, bound float64) {
	t.Helper()
	worst, at := 0.0, 0
	for i := range want {
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			t.Errorf("%s: element %d is %v (poison left or overflow)", what, i, g)
			return
		}
		e := math.Abs(g-float64(want[i])) / math.Max(scale[i], 1e-30)
		if e > worst {
			worst, at = e, i
		}
	}
	if worst > bound {
		t.Errorf("%s: error %.3g·Σ|a||b| at %d (got %v, want %v), bound %.1g", what, worst, at, got[at], want[at], bound)
	}
}
