package vgg16

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// naiveConv is the textbook 3×3, padding-1 convolution with bias and ReLU.
func naiveConv(in, w, b []float32, cin, cout, h, wd int) []float32 {
	out := make([]float32, cout*h*wd)
	for o := 0; o < cout; o++ {
		for y := 0; y < h; y++ {
			for x := 0; x < wd; x++ {
				s := float64(b[o])
				for c := 0; c < cin; c++ {
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							iy, ix := y+ky-1, x+kx-1
							if iy < 0 || iy >= h || ix < 0 || ix >= wd {
								continue
							}
							s += float64(in[(c*h+iy)*wd+ix]) * float64(w[((o*cin+c)*3+ky)*3+kx])
						}
					}
				}
				out[(o*h+y)*wd+x] = float32(math.Max(s, 0))
			}
		}
	}
	return out
}

func naivePool(in []float32, c, h, w int) []float32 {
	out := make([]float32, c*(h/2)*(w/2))
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h/2; y++ {
			for x := 0; x < w/2; x++ {
				m := float32(math.Inf(-1))
				for dy := 0; dy < 2; dy++ {
					for dx := 0; dx < 2; dx++ {
						m = max(m, in[(ch*h+2*y+dy)*w+2*x+dx])
					}
				}
				out[(ch*(h/2)+y)*(w/2)+x] = m
			}
		}
	}
	return out
}

func naiveLinear(x, w, b []float32, n, in, out int, doReLU bool) []float32 {
	y := make([]float32, n*out)
	for r := 0; r < n; r++ {
		for o := 0; o < out; o++ {
			s := float64(b[o])
			for i := 0; i < in; i++ {
				s += float64(x[r*in+i]) * float64(w[o*in+i])
			}
			if doReLU {
				s = math.Max(s, 0)
			}
			y[r*out+o] = float32(s)
		}
	}
	return y
}

func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol*(1+math.Abs(float64(want[i]))) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s[%d] = %v, want %v", what, i, got[i], want[i])
		}
	}
}

func TestConvMatchesNaive(t *testing.T) {
	cases := []struct{ cin, cout, h, w, chunkCols, workers int }{
		{1, 1, 1, 1, 4096, 1},
		{3, 4, 5, 5, 4096, 1},
		{2, 3, 4, 7, 4096, 2},
		{5, 2, 8, 3, 4096, 1},
		{8, 16, 6, 6, 4096, 2},
		{3, 5, 9, 7, 14, 1}, // bands of 2 rows, the last one short
		{4, 6, 7, 5, 1, 2},  // one row per band
		{130, 3, 23, 30, 64, 3},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range cases {
		in := randSlice(r, tc.cin*tc.h*tc.w)
		w := randSlice(r, tc.cout*tc.cin*9)
		for i := range w {
			w[i] /= float32(math.Sqrt(float64(tc.cin * 9))) // outputs O(1), as in a real net
		}
		b := randSlice(r, tc.cout)
		out := randSlice(r, tc.cout*tc.h*tc.w) // garbage: conv must overwrite all
		cols := randSlice(r, tc.cin*9*tc.w*convRows(tc.h, tc.w, tc.chunkCols))
		var tm Timing
		conv3x3(out, in, w, b, cols, tc.cin, tc.cout, tc.h, tc.w, tc.chunkCols, tc.workers, &tm)
		assertClose(t, "conv", out, naiveConv(in, w, b, tc.cin, tc.cout, tc.h, tc.w), 1e-5)
		if tm.Im2col <= 0 || tm.ConvGEMM <= 0 {
			t.Fatalf("timing not recorded: %+v", tm)
		}
	}
}

func TestPoolMatchesNaive(t *testing.T) {
	cases := []struct{ c, h, w int }{{1, 2, 2}, {3, 4, 6}, {2, 5, 7}, {4, 8, 8}}
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range cases {
		in := randSlice(r, tc.c*tc.h*tc.w)
		out := make([]float32, tc.c*(tc.h/2)*(tc.w/2))
		maxPool2(out, in, tc.c, tc.h, tc.w)
		assertClose(t, "pool", out, naivePool(in, tc.c, tc.h, tc.w), 0)
	}
}

func TestLinearMatchesNaive(t *testing.T) {
	cases := []struct {
		n, in, out int
		relu       bool
	}{{1, 1, 1, false}, {1, 7, 5, true}, {4, 33, 9, true}, {16, 64, 17, false}}
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range cases {
		x := randSlice(r, tc.n*tc.in)
		w := randSlice(r, tc.out*tc.in)
		b := randSlice(r, tc.out)
		y := make([]float32, tc.n*tc.out)
		linear(y, x, w, b, tc.n, tc.in, tc.out, tc.relu)
		assertClose(t, "linear", y, naiveLinear(x, w, b, tc.n, tc.in, tc.out, tc.relu), 1e-5)
	}
}

func TestIm2colRowsParallel(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range []struct{ c, h, w, y0, y1, workers int }{
		{3, 40, 40, 0, 40, 2}, {7, 50, 30, 10, 45, 3}, {64, 16, 16, 3, 4, 8},
	} {
		in := randSlice(r, tc.c*tc.h*tc.w)
		want := make([]float32, tc.c*9*(tc.y1-tc.y0)*tc.w)
		got := randSlice(r, len(want))
		im2colRows(want, in, tc.c, tc.h, tc.w, tc.y0, tc.y1)
		im2colRowsParallel(got, in, tc.c, tc.h, tc.w, tc.y0, tc.y1, tc.workers)
		assertClose(t, "im2col", got, want, 0)
	}
}
