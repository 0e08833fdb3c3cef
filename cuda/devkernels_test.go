//go:build gpu

package cuda

// Benchmark-only kernels (kernels/dev/*.cu, as llm.c's dev/cuda): our own
// tiled SGEMM (v1), the same GEMM with the dense epilogue fused, and the
// split-K SGEMM (v2). They are not in the production fatbin or the
// package's API; they are built into cuda/tagimp_dev.fatbin by `make
// kernels`, embedded only in the test binary, validated here against
// ops.Sgemm (TestOwnSgemm*) and timed against cuBLAS FP32 and TF32 at the
// batch-32 shapes of a training step (BenchmarkGemm). A version that beat
// cuBLAS would move to kernels/ and into the engine.

import (
	_ "embed"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"tagimp/model/ops"
)

// If the test build stops here, run `make kernels` (it builds both fatbins).
//
//go:embed tagimp_dev.fatbin
var devFatbin string

// DevFatbinEnv names a dev fatbin file to load instead of the embedded one
// (kernels built with the local nvcc, as FatbinEnv for the production one).
const devFatbinEnv = "TAGIMP_DEV_FATBIN"

// devKernels are the kernels of kernels/dev behind typed launchers (the
// argument lists are checked against the .cu declarations by
// kernels/hostref's TestLaunchSignatures, as for Kernels).
type devKernels struct {
	mod *Module
	sms int

	sgemm, sgemmDense         *Function
	sgemmSplitK, splitKReduce *Function
}

// loadDevKernels loads the dev fatbin into c.
func loadDevKernels(c *Context) (*devKernels, error) {
	img, what := devFatbin, "embedded cuda/tagimp_dev.fatbin"
	if p := os.Getenv(devFatbinEnv); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("read %s=%s: %w", devFatbinEnv, p, err)
		}
		img, what = string(b), p
	}
	if err := checkFatbin(img, what); err != nil {
		return nil, err
	}
	mod, err := c.LoadFatbin(img, "dev kernels ("+what+")")
	if err != nil {
		return nil, err
	}
	k := &devKernels{mod: mod, sms: max(c.info.SMs, 1)}
	for _, f := range []struct {
		dst  **Function
		name string
	}{
		{&k.sgemm, "tg_sgemm"}, {&k.sgemmDense, "tg_sgemm_dense"},
		{&k.sgemmSplitK, "tg_sgemm_splitk"}, {&k.splitKReduce, "tg_splitk_reduce"},
	} {
		if *f.dst, err = mod.Function(f.name); err != nil {
			mod.Unload()
			return nil, err
		}
	}
	return k, nil
}

// Sgemm is tg_sgemm, row-major: C[M,N] = α·op(A)·op(B) + β·C, op(A) [M,K]
// is A (lda ≥ K) or, with transA, Aᵀ of A [K,M] (lda ≥ M); op(B) likewise.
// β = 0 never reads C. Launch: grid (⌈N/64⌉, ⌈M/64⌉), block 256.
func (k *devKernels) Sgemm(s *Stream, transA, transB bool, M, N, K int, alpha float32,
	A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer, ldc int) error {
	if M <= 0 || N <= 0 {
		return nil
	}
	return k.sgemm.Launch(Dim3{X: ceilDiv(N, 64), Y: ceilDiv(M, 64)}, Dim3{X: 256}, 0, s,
		I32(b2i(transA)), I32(b2i(transB)), I32(M), I32(N), I32(K), F32(alpha),
		Ptr(A), I32(lda), Ptr(B), I32(ldb), F32(beta), Ptr(C), I32(ldc))
}

// SgemmDense is tg_sgemm_dense: Y[M,N] = act(X[M,K]·W[N,K]ᵀ + bias[N])
// with the dropout mask of element m·N+n under key.
func (k *devKernels) SgemmDense(s *Stream, M, N, K int, X, W, bias, Y Buffer, act Act, key uint64, p float32) error {
	if M <= 0 || N <= 0 {
		return nil
	}
	return k.sgemmDense.Launch(Dim3{X: ceilDiv(N, 64), Y: ceilDiv(M, 64)}, Dim3{X: 256}, 0, s,
		I32(M), I32(N), I32(K), Ptr(X), Ptr(W), Ptr(bias), Ptr(Y), I32(int(act)), U64(key), F32(p))
}

// epilogue is the dense epilogue SgemmSplitK applies: act(c + Bias[n])
// with the dropout mask of element m·N+n under Key; zero: plain GEMM.
type epilogue struct {
	Bias Buffer
	Act  Act
	Key  uint64
	P    float32
}

// SplitsFor picks the K slices for an M×N×K product: enough 64×64 tiles to
// give every SM two blocks, each slice at least 256 deep, at most 32.
func (k *devKernels) SplitsFor(M, N, K int) int {
	tiles := ceilDiv(M, 64) * ceilDiv(N, 64)
	s := ceilDiv(2*k.sms, tiles)
	return max(1, min(s, K/256, 32))
}

// SgemmSplitK is tg_sgemm_splitk + tg_splitk_reduce: Sgemm's contract plus
// the epilogue, K cut into `splits` slices summed in a fixed order through
// ws (splits·M·N floats). Launch: grid (⌈N/64⌉, ⌈M/64⌉, splits), block
// 256; then grid-stride, block 256.
func (k *devKernels) SgemmSplitK(s *Stream, transA, transB bool, M, N, K int, alpha float32,
	A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer, ldc int,
	splits int, ws Buffer, ep epilogue) error {
	if M <= 0 || N <= 0 {
		return nil
	}
	if splits < 1 || splits > 65535 {
		return fmt.Errorf("split-K GEMM: %d splits, want 1..65535", splits)
	}
	if need := int64(splits) * int64(M) * int64(N) * 4; ws.bytes < need {
		return fmt.Errorf("split-K GEMM %d×%d×%d with %d splits: workspace of %d bytes, want %d", M, N, K, splits, ws.bytes, need)
	}
	kchunk := ceilDiv(ceilDiv(max(K, 1), splits), 16) * 16
	if err := k.sgemmSplitK.Launch(Dim3{X: ceilDiv(N, 64), Y: ceilDiv(M, 64), Z: splits}, Dim3{X: 256}, 0, s,
		I32(b2i(transA)), I32(b2i(transB)), I32(M), I32(N), I32(K), I32(kchunk),
		Ptr(A), I32(lda), Ptr(B), I32(ldb), Ptr(ws)); err != nil {
		return err
	}
	grid := Dim3{X: max(1, min(ceilDiv(M*N, 256), 8*k.sms))}
	return k.splitKReduce.Launch(grid, Dim3{X: 256}, 0, s,
		Ptr(C), I32(ldc), Ptr(ws), I32(splits), I32(M), I32(N), F32(alpha), F32(beta),
		Ptr(ep.Bias), I32(int(ep.Act)), U64(ep.Key), F32(ep.P))
}

func TestOwnSgemm(t *testing.T) {
	bind(t)
	runGemm(t, "tg_sgemm", func(c gemmCase, A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer) error {
		return tdk.Sgemm(nil, c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, beta, C, c.N)
	}, 0)
}

func TestOwnSgemmSplitK(t *testing.T) {
	bind(t)
	runGemm(t, "tg_sgemm_splitk", func(c gemmCase, A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer) error {
		splits := max(2, tdk.SplitsFor(c.M, c.N, c.K))
		ws, err := tctx.AllocF32(splits * c.M * c.N)
		if err != nil {
			return err
		}
		defer tctx.Free(&ws)
		if err := tctx.Fill32(ws, float32(math.NaN()), nil); err != nil {
			return err
		}
		if err := tdk.SgemmSplitK(nil, c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, beta, C, c.N, splits, ws, epilogue{}); err != nil {
			return err
		}
		return tctx.Synchronize()
	}, 0)
	// With the dense epilogue, as a Linear layer's forward.
	r := rand.New(rand.NewPCG(12, uint64(os.Getpid())))
	const M, N, K = 32, 1000, 4096
	X, W, bias := randVec(r, M*K, 1), randVec(r, N*K, 0.02), randVec(r, N, 0.1)
	splits := tdk.SplitsFor(M, N, K)
	ws := poisoned(t, splits*M*N)
	Y := poisoned(t, M*N)
	key := ops.StreamKey(77, ops.DropoutStream(5, 0))
	must(t, tdk.SgemmSplitK(nil, false, true, M, N, K, 1, dev(t, X), K, dev(t, W), K, 0, Y, N, splits, ws,
		epilogue{Bias: dev(t, bias), Act: ActReLU, Key: key, P: 0.5}))
	want := make([]float32, M*N)
	ops.Sgemm(false, true, M, N, K, 1, X, K, W, K, 0, want, N)
	ops.DenseForward(want, bias, M, N, ops.ActReLU, 77, ops.DropoutStream(5, 0), 0.5)
	within(t, fmt.Sprintf("split-K dense (%d splits)", splits), host(t, Y, M*N), want,
		denseGemmBound(false, true, M, N, K, X, K, W, K, bias, 0.5, want, 0))
}

func TestOwnSgemmDense(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(3, uint64(os.Getpid())))
	for _, c := range []struct {
		M, N, K int
		act     Act
		p       float32
		bias    bool
	}{{33, 515, 300, ActNone, 0, true}, {33, 515, 300, ActReLU, 0.5, true}, {17, 129, 64, ActReLU, 0, true}, {5, 70, 33, ActNone, 0, false}} {
		X, W := randVec(r, c.M*c.K, 1), randVec(r, c.N*c.K, 0.05)
		var bias []float32
		var bd Buffer
		if c.bias {
			bias = randVec(r, c.N, 0.1)
			bd = dev(t, bias)
		}
		seed, stream := r.Uint64(), ops.DropoutStream(9, 0)
		Y := poisoned(t, c.M*c.N)
		must(t, tdk.SgemmDense(nil, c.M, c.N, c.K, dev(t, X), dev(t, W), bd, Y, c.act, ops.StreamKey(seed, stream), c.p))
		want := make([]float32, c.M*c.N)
		ops.Sgemm(false, true, c.M, c.N, c.K, 1, X, c.K, W, c.K, 0, want, c.N)
		ops.DenseForward(want, bias, c.M, c.N, int(c.act), seed, stream, c.p)
		within(t, fmt.Sprintf("tg_sgemm_dense %+v", c), host(t, Y, c.M*c.N), want,
			denseGemmBound(false, true, c.M, c.N, c.K, X, c.K, W, c.K, bias, c.p, want, 0))
	}
}

// BenchmarkGemm times our SGEMMs (v1, v2 split-K) against cuBLAS FP32 and
// TF32 on the shapes of one training step at batch 32 (D = H = 4096), after
// checking each result against ops.Sgemm. scripts/gpu-check.sh run calls
// it as cuda.test -test.run '^$' -test.bench Gemm -test.benchtime 200x.
func BenchmarkGemm(b *testing.B) {
	bind(b)
	blasFP32, err := tctx.NewBLAS(nil, false)
	if err != nil {
		b.Fatal(err)
	}
	defer blasFP32.Close()
	blasTF32, err := tctx.NewBLAS(nil, true)
	if err != nil {
		b.Fatal(err)
	}
	defer blasTF32.Close()
	r := rand.New(rand.NewPCG(8, 8))
	for _, c := range []struct {
		name    string
		ta, tb  bool
		M, N, K int
	}{
		{"fwd_32x4096x4096", false, true, 32, 4096, 4096},
		{"dX_32x4096x4096", false, false, 32, 4096, 4096},
		{"dW_4096x4096x32", true, false, 4096, 4096, 32},
		{"head_32x116x4096", false, true, 32, 116, 4096},
	} {
		lda, ldb := c.K, c.N
		if c.ta {
			lda = c.M
		}
		if c.tb {
			ldb = c.K
		}
		hA, hB := randVec(r, c.M*c.K, 1), randVec(r, c.K*c.N, 1)
		A, B := dev(b, hA), dev(b, hB)
		C := poisoned(b, c.M*c.N)
		splits := tdk.SplitsFor(c.M, c.N, c.K)
		ws := poisoned(b, splits*c.M*c.N)
		want := make([]float32, c.M*c.N)
		ops.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1, hA, lda, hB, ldb, 0, want, c.N)
		boundFP32 := gemmBound(c.ta, c.tb, c.M, c.N, c.K, 1, hA, lda, hB, ldb, 0, nil, want, 0)
		boundTF32 := gemmBound(c.ta, c.tb, c.M, c.N, c.K, 1, hA, lda, hB, ldb, 0, nil, want, tf32Unit)
		for _, impl := range []struct {
			name string
			tf32 bool
			run  func() error
		}{
			{"own", false, func() error { return tdk.Sgemm(nil, c.ta, c.tb, c.M, c.N, c.K, 1, A, lda, B, ldb, 0, C, c.N) }},
			{"own_splitk", false, func() error {
				return tdk.SgemmSplitK(nil, c.ta, c.tb, c.M, c.N, c.K, 1, A, lda, B, ldb, 0, C, c.N, splits, ws, epilogue{})
			}},
			{"cublas_fp32", false, func() error { return blasFP32.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1, A, lda, B, ldb, 0, C, c.N) }},
			{"cublas_tf32", true, func() error { return blasTF32.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1, A, lda, B, ldb, 0, C, c.N) }},
		} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				bind(b)
				must(b, impl.run())
				got := host(b, C, c.M*c.N)
				bound := boundFP32
				if impl.tf32 {
					bound = boundTF32
				}
				if i, ok := firstOutside(got, want, bound); !ok {
					b.Fatalf("%s %s: element %d is %v, ops.Sgemm %v: outside the bound", c.name, impl.name, i, got[i], want[i])
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := impl.run(); err != nil {
						b.Fatal(err)
					}
				}
				must(b, tctx.Synchronize())
				b.ReportMetric(2*float64(c.M)*float64(c.N)*float64(c.K)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
