//go:build gpu

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"tagimp/cuda/dnn"
)

// openDNN loads cuDNN for the tests, after the ABI check: scripts/gpu-check.sh
// compiles cuda/dnn/abicheck/cudnn_abi.c against the machine's cudnn.h first
// and sets TAGIMP_CUDNN_ABI to "ok" or "failed"; a failed check stops every
// cuDNN test (a wrong enum or argument order would give garbage, not an
// error).
func openDNN(t *testing.T) *dnn.Handle {
	t.Helper()
	switch os.Getenv("TAGIMP_CUDNN_ABI") {
	case "failed":
		t.Fatal("the cuDNN ABI check (scripts/cudnn-abi.sh) found mismatches with cudnn.h: fix cuda/dnn/cudnn_api.h first")
	case "ok":
	default:
		t.Log("TAGIMP_CUDNN_ABI unset: the declarations were not checked against cudnn.h in this run (scripts/cudnn-abi.sh does)")
	}
	lib, err := dnn.Open()
	if err != nil {
		t.Skip(err)
	}
	t.Log(lib, "preloaded", lib.Preloaded, "missing", lib.Missing)
	h, err := dnn.NewHandle(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// vggConvShapes are the 13 convolutions of VGG16: input channels, output
// channels, height (= width) of the input.
var vggConvShapes = [][3]int{
	{3, 64, 224}, {64, 64, 224}, {64, 128, 112}, {128, 128, 112},
	{128, 256, 56}, {256, 256, 56}, {256, 256, 56},
	{256, 512, 28}, {512, 512, 28}, {512, 512, 28},
	{512, 512, 14}, {512, 512, 14}, {512, 512, 14},
}

// TestCuDNNConvVGGShapes runs cuDNN's fused convolution + bias + ReLU at
// every VGG16 layer shape (batch 2, random inputs) with the algorithm
// FindAlgorithms measures fastest, in FP32 (FMA math: no tensor cores) and
// TF32 (default math), then a 2×2 max-pool, and compares 2048 sampled
// outputs with a float64 reference. Bounds, relative to Σ|w·x| + |b| of each
// output: 1e-5 for FP32 (a different summation order of 27–4608 products),
// 4e-3 for TF32 (10-bit mantissas: ≈ 2⁻¹¹ per input rounding, twice).
func TestCuDNNConvVGGShapes(t *testing.T) {
	bind(t)
	h := openDNN(t)
	r := rand.New(rand.NewPCG(9, 10))
	const n = 2
	ws, err := tctx.Alloc(512 << 20)
	must(t, err)
	defer tctx.Free(&ws)
	relu, err := dnn.NewReLU()
	must(t, err)
	defer relu.Close()
	pool, err := dnn.NewMaxPool(2, 2)
	must(t, err)
	defer pool.Close()
	for li, sh := range vggConvShapes {
		cin, cout, s := sh[0], sh[1], sh[2]
		x := randVec(r, n*cin*s*s, 1)
		w := randVec(r, cout*cin*9, math.Sqrt(2/float64(cin*9)))
		b := randVec(r, cout, 0.1)
		dx, dw, db := dev(t, x), dev(t, w), dev(t, b)
		dy := poisoned(t, n*cout*s*s)
		dp := poisoned(t, n*cout*s*s/4)
		xd, err := dnn.NewTensor(dnn.NCHW, dnn.Float, n, cin, s, s)
		must(t, err)
		yd, err := dnn.NewTensor(dnn.NCHW, dnn.Float, n, cout, s, s)
		must(t, err)
		pd, err := dnn.NewTensor(dnn.NCHW, dnn.Float, n, cout, s/2, s/2)
		must(t, err)
		bd, err := dnn.NewTensor(dnn.NCHW, dnn.Float, 1, cout, 1, 1)
		must(t, err)
		wd, err := dnn.NewFilter(dnn.Float, dnn.NCHW, cout, cin, 3, 3)
		must(t, err)
		for _, mode := range []struct {
			name string
			math dnn.MathType
			tol  float64
		}{{"fp32", dnn.FMAMath, 1e-5}, {"tf32", dnn.DefaultMath, 4e-3}} {
			name := fmt.Sprintf("conv%d %dx%dx%d->%d %s", li+1, cin, s, s, cout, mode.name)
			conv, err := dnn.NewConv(1, 1, 1, 1, dnn.Float, mode.math)
			must(t, err)
			on, oc, oh, ow, err := conv.OutputDim(xd, wd)
			if err != nil || on != n || oc != cout || oh != s || ow != s {
				t.Fatalf("%s: output %d×%d×%d×%d (%v)", name, on, oc, oh, ow, err)
			}
			perf, err := h.FindAlgorithms(xd, uintptr(dx.Ptr()), wd, uintptr(dw.Ptr()), conv, yd, uintptr(dy.Ptr()), uintptr(ws.Ptr()), uint64(ws.Bytes()))
			must(t, err)
			algo := dnn.Algo(-1)
			for _, p := range perf {
				if p.Err == nil {
					algo = p.Algo
					break
				}
			}
			if algo < 0 {
				t.Fatalf("%s: no algorithm ran: %+v", name, perf)
			}
			need, err := h.WorkspaceSize(xd, wd, conv, yd, algo)
			must(t, err)
			if need > uint64(ws.Bytes()) {
				t.Fatalf("%s: %v needs %d bytes of workspace", name, algo, need)
			}
			must(t, tctx.Fill32(dy, float32(math.NaN()), nil))
			must(t, h.ConvBiasAct(xd, uintptr(dx.Ptr()), wd, uintptr(dw.Ptr()), conv, algo, uintptr(ws.Ptr()), need,
				bd, uintptr(db.Ptr()), relu, yd, uintptr(dy.Ptr())))
			must(t, h.Pool(pool, yd, uintptr(dy.Ptr()), pd, uintptr(dp.Ptr())))
			y := host(t, dy, n*cout*s*s)
			p := host(t, dp, n*cout*s*s/4)
			worst := 0.0
			for k := 0; k < 2048; k++ {
				img, co, oy, ox := r.IntN(n), r.IntN(cout), r.IntN(s), r.IntN(s)
				ref, mag := float64(b[co]), math.Abs(float64(b[co]))
				for ci := 0; ci < cin; ci++ {
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							iy, ix := oy+ky-1, ox+kx-1
							if iy < 0 || iy >= s || ix < 0 || ix >= s {
								continue
							}
							v := float64(w[((co*cin+ci)*3+ky)*3+kx]) * float64(x[((img*cin+ci)*s+iy)*s+ix])
							ref += v
							mag += math.Abs(v)
						}
					}
				}
				ref = math.Max(ref, 0)
				got := float64(y[((img*cout+co)*s+oy)*s+ox])
				e := math.Abs(got-ref) / mag
				if !(e <= mode.tol) {
					t.Fatalf("%s (%v): y[%d,%d,%d,%d] = %v, reference %v (error %.2g of Σ|w·x|, bound %.0g)",
						name, algo, img, co, oy, ox, got, ref, e, mode.tol)
				}
				worst = math.Max(worst, e)
			}
			for k := 0; k < 2048; k++ {
				img, co, py, px := r.IntN(n), r.IntN(cout), r.IntN(s/2), r.IntN(s/2)
				m := float32(math.Inf(-1))
				for dy := 0; dy < 2; dy++ {
					for dx := 0; dx < 2; dx++ {
						m = max(m, y[((img*cout+co)*s+2*py+dy)*s+2*px+dx])
					}
				}
				if got := p[((img*cout+co)*s/2+py)*s/2+px]; got != m {
					t.Fatalf("%s: pool[%d,%d,%d,%d] = %v, max of its window %v", name, img, co, py, px, got, m)
				}
			}
			t.Logf("%s: %v (%.3f ms measured by cuDNN, workspace %d B), worst error %.2g of Σ|w·x|", name, algo, perf[0].Time, need, worst)
			conv.Close()
		}
		for _, d := range []interface{ Close() }{xd, yd, pd, bd, wd} {
			d.Close()
		}
	}
}
