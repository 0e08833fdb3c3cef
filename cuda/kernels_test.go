//go:build gpu

package cuda

// These tests run only on a machine with an NVIDIA GPU (gorgonia.org/cu's
// init exits the test binary without one). Build them on a development
// machine with `go test -tags gpu -c -o cuda.test ./cuda/` after
// `make kernels`, copy cuda.test over and run `./cuda.test -test.v`
// (add -test.bench . for the GEMM comparison).
//
// Every kernel is compared with its CPU twin in model/ops on fresh random
// inputs; every output buffer is filled with NaN before the kernel runs, so
// an element the kernel fails to write shows up. Bounds: bit-identical
// where the twin rounds as the kernel does (dense epilogues, Adam);
// 1e-5 relative for FP32 math with a different summation order or expf;
// 1e-3 relative (of Σ|a||b|) for TF32 GEMMs.

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"tagimp/model/ops"
)

var (
	tctx *Context
	tk   *Kernels
)

func TestMain(m *testing.M) {
	var err error
	tctx, err = Open(0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cuda tests:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, tctx.Info())
	if tk, err = tctx.LoadKernels(); err != nil {
		fmt.Fprintln(os.Stderr, "cuda tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	tk.Close()
	tctx.Close()
	os.Exit(code)
}

// bind binds the calling test's goroutine to the context that TestMain
// opened, until the test ends: go test runs every test, subtest and
// benchmark on a goroutine of its own, where the context is not current.
func bind(t testing.TB) {
	t.Helper()
	if err := tctx.Bind(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tctx.Unbind(); err != nil {
			t.Error(err)
		}
	})
}

// TestContextThreads checks the package's threading rule: a goroutine that
// is not bound gets ErrNotCurrent from every kind of entry point, works once
// bound, and fails again after Unbind.
func TestContextThreads(t *testing.T) {
	calls := func() []error {
		b, err := tctx.AllocF32(4)
		errs := []error{err}
		if err == nil {
			errs = append(errs, tctx.Upload(b, []float32{1, 2, 3, 4}), tk.Sigmoid(nil, b, b, 4),
				tctx.Synchronize(), tctx.Free(&b))
		}
		_, err = tctx.NewStream()
		return append(errs, err)
	}
	run := func(bound bool) []error {
		ch := make(chan []error)
		go func() {
			if bound {
				if err := tctx.Bind(); err != nil {
					ch <- []error{err}
					return
				}
				defer tctx.Unbind()
			}
			ch <- calls()
		}()
		return <-ch
	}
	for _, err := range run(false) {
		if !errors.Is(err, ErrNotCurrent) {
			t.Errorf("unbound goroutine: got %v, want ErrNotCurrent", err)
		}
	}
	for _, err := range run(true) {
		if err != nil {
			t.Errorf("bound goroutine: %v", err)
		}
	}
	// This goroutine is bound once (bind above): a second Unbind fails.
	if err := tctx.Unbind(); err != nil {
		t.Fatal(err)
	}
	err := tctx.Unbind()
	if berr := tctx.Bind(); berr != nil { // restore the binding bind's cleanup undoes
		t.Fatal(berr)
	}
	if !errors.Is(err, ErrNotCurrent) {
		t.Errorf("Unbind without Bind: got %v, want ErrNotCurrent", err)
	}
}

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// dev uploads x to a new device buffer.
func dev(t testing.TB, x []float32) Buffer {
	t.Helper()
	b, err := tctx.AllocF32(max(len(x), 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tctx.Free(&b) })
	if err := tctx.Upload(b, x); err != nil {
		t.Fatal(err)
	}
	return b
}

// poisoned allocates n float32 filled with NaN.
func poisoned(t testing.TB, n int) Buffer {
	t.Helper()
	b, err := tctx.AllocF32(max(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tctx.Free(&b) })
	if err := tctx.Fill32(b, float32(math.NaN()), nil); err != nil {
		t.Fatal(err)
	}
	return b
}

func host(t testing.TB, b Buffer, n int) []float32 {
	t.Helper()
	if err := tctx.Synchronize(); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, n)
	if err := tctx.Download(x, b); err != nil {
		t.Fatal(err)
	}
	return x
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s element %d: GPU %v, CPU twin %v (want identical bits)", what, i, got[i], want[i])
		}
	}
}

// near checks |got − want| ≤ rel·scale_i + abs for every element, where
// scale is |want| or the given per-element scales.
func near(t *testing.T, what string, got, want, scale []float32, rel, abs float64) {
	t.Helper()
	for i := range want {
		s := math.Abs(float64(want[i]))
		if scale != nil {
			s = float64(scale[i])
		}
		if d := math.Abs(float64(got[i] - want[i])); !(d <= rel*s+abs) {
			t.Fatalf("%s element %d: GPU %v, CPU %v (|Δ| %.3g > %.3g)", what, i, got[i], want[i], d, rel*s+abs)
		}
	}
}

func TestDenseForwardBackward(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(1, uint64(os.Getpid())))
	for _, c := range []struct {
		rows, cols int
		act        Act
		p          float32
	}{{32, 4096, ActReLU, 0.5}, {37, 300, ActReLU, 0}, {32, 117, ActNone, 0}, {1, 1, ActReLU, 0.5}} {
		n := c.rows * c.cols
		a, bias, dY := randVec(r, n, 1), randVec(r, c.cols, 0.1), randVec(r, n, 1)
		seed, stream := r.Uint64(), ops.DropoutStream(uint64(r.IntN(1e6)), 0)
		key := ops.StreamKey(seed, stream)
		Y := dev(t, a)
		must(t, tk.DenseForward(nil, Y, dev(t, bias), c.rows, c.cols, c.act, key, c.p))
		want := append([]float32(nil), a...)
		ops.DenseForward(want, bias, c.rows, c.cols, int(c.act), seed, stream, c.p)
		sameBits(t, fmt.Sprintf("forward %+v", c), host(t, Y, n), want)

		dA, db := poisoned(t, n), poisoned(t, c.cols)
		keep := ops.KeepScale(c.p)
		must(t, tk.DenseBackward(nil, dA, dev(t, dY), Y, db, c.rows, c.cols, c.act, keep))
		wA, wb := make([]float32, n), make([]float32, c.cols)
		ops.DenseBackward(wA, dY, want, wb, c.rows, c.cols, int(c.act), keep)
		sameBits(t, fmt.Sprintf("backward dA %+v", c), host(t, dA, n), wA)
		sameBits(t, fmt.Sprintf("backward db %+v", c), host(t, db, c.cols), wb)
	}
}

// gemmScale is Σ_k |op(A)[m,k]|·|op(B)[k,n]| per element, the natural
// scale of a GEMM's rounding error.
func gemmScale(ta, tb bool, M, N, K int, A []float32, lda int, B []float32, ldb int) []float32 {
	absA, absB := make([]float32, len(A)), make([]float32, len(B))
	for i, v := range A {
		absA[i] = float32(math.Abs(float64(v)))
	}
	for i, v := range B {
		absB[i] = float32(math.Abs(float64(v)))
	}
	s := make([]float32, M*N)
	ops.Sgemm(ta, tb, M, N, K, 1, absA, lda, absB, ldb, 0, s, N)
	return s
}

type gemmCase struct {
	ta, tb  bool
	M, N, K int
}

var gemmCases = []gemmCase{
	{false, true, 32, 4096, 512}, // forward  Y = X·Wᵀ
	{false, false, 32, 300, 700}, // dX = dY·W
	{true, false, 300, 257, 32},  // dW = dYᵀ·X
	{true, true, 65, 63, 17},
	{false, false, 1, 1, 1},
}

// runGemm checks C = 1.5·op(A)·op(B) + β·C for β = 0 (C poisoned) and
// β = 0.5 against ops.Sgemm, within rel·(1.5·Σ|a||b| + |β·c|).
func runGemm(t *testing.T, name string, gemm func(c gemmCase, A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer) error, rel float64) {
	r := rand.New(rand.NewPCG(2, uint64(os.Getpid())))
	for _, c := range gemmCases {
		lda, ldb := c.K, c.N
		if c.ta {
			lda = c.M
		}
		if c.tb {
			ldb = c.K
		}
		A, B, C0 := randVec(r, c.M*c.K, 1), randVec(r, c.K*c.N, 1), randVec(r, c.M*c.N, 1)
		for _, beta := range []float32{0, 0.5} {
			var Cd Buffer
			if beta == 0 {
				Cd = poisoned(t, c.M*c.N)
			} else {
				Cd = dev(t, C0)
			}
			if err := gemm(c, dev(t, A), lda, dev(t, B), ldb, beta, Cd); err != nil {
				t.Fatal(err)
			}
			want := append([]float32(nil), C0...)
			ops.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, beta, want, c.N)
			scale := gemmScale(c.ta, c.tb, c.M, c.N, c.K, A, lda, B, ldb)
			for i := range scale {
				scale[i] = 1.5*scale[i] + float32(math.Abs(float64(beta*C0[i])))
			}
			near(t, fmt.Sprintf("%s %+v β=%v", name, c, beta), host(t, Cd, c.M*c.N), want, scale, rel, 0)
		}
	}
}

func TestOwnSgemm(t *testing.T) {
	bind(t)
	runGemm(t, "tg_sgemm", func(c gemmCase, A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer) error {
		return tk.Sgemm(nil, c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, beta, C, c.N)
	}, 1e-5)
}

func TestOwnSgemmSplitK(t *testing.T) {
	bind(t)
	runGemm(t, "tg_sgemm_splitk", func(c gemmCase, A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer) error {
		splits := max(2, tk.SplitsFor(c.M, c.N, c.K))
		ws, err := tctx.AllocF32(splits * c.M * c.N)
		if err != nil {
			return err
		}
		defer tctx.Free(&ws)
		if err := tctx.Fill32(ws, float32(math.NaN()), nil); err != nil {
			return err
		}
		if err := tk.SgemmSplitK(nil, c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, beta, C, c.N, splits, ws, Epilogue{}); err != nil {
			return err
		}
		return tctx.Synchronize()
	}, 1e-5)
	// With the dense epilogue, as a Linear layer's forward.
	r := rand.New(rand.NewPCG(12, uint64(os.Getpid())))
	const M, N, K = 32, 1000, 4096
	X, W, bias := randVec(r, M*K, 1), randVec(r, N*K, 0.02), randVec(r, N, 0.1)
	splits := tk.SplitsFor(M, N, K)
	ws := poisoned(t, splits*M*N)
	Y := poisoned(t, M*N)
	key := ops.StreamKey(77, ops.DropoutStream(5, 0))
	must(t, tk.SgemmSplitK(nil, false, true, M, N, K, 1, dev(t, X), K, dev(t, W), K, 0, Y, N, splits, ws,
		Epilogue{Bias: dev(t, bias), Act: ActReLU, Key: key, P: 0.5}))
	want := make([]float32, M*N)
	ops.Sgemm(false, true, M, N, K, 1, X, K, W, K, 0, want, N)
	ops.DenseForward(want, bias, M, N, ops.ActReLU, 77, ops.DropoutStream(5, 0), 0.5)
	scale := gemmScale(false, true, M, N, K, X, K, W, K)
	for i := range scale {
		scale[i] *= 2
	}
	near(t, fmt.Sprintf("split-K dense (%d splits)", splits), host(t, Y, M*N), want, scale, 1e-5, 0)
}

func TestCuBLAS(t *testing.T) {
	bind(t)
	for _, tf32 := range []bool{false, true} {
		b, err := tctx.NewBLAS(nil, tf32)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("cuBLAS %d from %s, TF32 %v", b.Version(), b.Path(), tf32)
		rel := 1e-5
		if tf32 {
			rel = 1e-3
		}
		runGemm(t, fmt.Sprintf("cuBLAS tf32=%v", tf32), func(c gemmCase, A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer) error {
			return b.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, beta, C, c.N)
		}, rel)
		b.Close()
	}
}

func TestSgemmDense(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(3, uint64(os.Getpid())))
	const M, N, K = 33, 515, 300
	X, W, bias := randVec(r, M*K, 1), randVec(r, N*K, 0.05), randVec(r, N, 0.1)
	seed, stream := r.Uint64(), ops.DropoutStream(9, 0)
	for _, act := range []Act{ActNone, ActReLU} {
		Y := poisoned(t, M*N)
		must(t, tk.SgemmDense(nil, M, N, K, dev(t, X), dev(t, W), dev(t, bias), Y, act, ops.StreamKey(seed, stream), 0.5))
		want := make([]float32, M*N)
		ops.Sgemm(false, true, M, N, K, 1, X, K, W, K, 0, want, N)
		ops.DenseForward(want, bias, M, N, int(act), seed, stream, 0.5)
		scale := gemmScale(false, true, M, N, K, X, K, W, K)
		for i := range scale {
			scale[i] *= 2 // the kept elements carry 1/(1-p)
		}
		near(t, fmt.Sprintf("tg_sgemm_dense act=%d", act), host(t, Y, M*N), want, scale, 1e-5, 0)
	}
}

func TestLosses(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(4, uint64(os.Getpid())))
	for _, n := range []int{1, 1000, 32 * 1000, 32*1000 + 17} {
		z, y, imp, mask := randVec(r, n, 4), make([]float32, n), make([]float32, n), make([]float32, n)
		copy(z, []float32{0, 1e4, -1e4, 88, -88, 30, -30})
		for i := range y {
			y[i] = float32(r.IntN(2))
			imp[i] = r.Float32()
			mask[i] = y[i]
		}
		zd, yd := dev(t, z), dev(t, y)
		grad, prob, loss := poisoned(t, n), poisoned(t, n), poisoned(t, 1)
		must(t, tk.BCEWithLogits(nil, grad, prob, loss, zd, yd, n))
		wg, wp := make([]float32, n), make([]float32, n)
		wl := ops.BCEWithLogits(wg, wp, z, y)
		// σ near 1 is quantised at 2^-24: GPU expf and the twin's exp may
		// round it a step apart, which σ − y near 0 turns into a large
		// relative error; so the gradients also get 8·2^-24/n absolute.
		gabs := 8.0 / (1 << 24) / float64(n)
		near(t, "BCE grad", host(t, grad, n), wg, nil, 1e-5, gabs)
		near(t, "BCE prob", host(t, prob, n), wp, nil, 1e-5, 1e-30)
		near(t, "BCE loss", host(t, loss, 1), []float32{wl}, nil, 1e-5, 0)
		for _, m := range [][]float32{nil, mask} {
			var md Buffer
			if m != nil {
				md = dev(t, m)
			}
			grad, prob, loss := poisoned(t, n), poisoned(t, n), poisoned(t, 1)
			must(t, tk.SigmoidMSE(nil, grad, prob, loss, zd, dev(t, imp), md, n))
			wl := ops.SigmoidMSE(wg, wp, z, imp, m)
			cnt := float64(n)
			if m != nil {
				cnt = 0
				for _, v := range m {
					cnt += float64(v)
				}
			}
			mabs := 8.0 / (1 << 24) / math.Max(cnt, 1)
			near(t, fmt.Sprintf("MSE grad mask=%v", m != nil), host(t, grad, n), wg, nil, 1e-5, mabs)
			near(t, "MSE prob", host(t, prob, n), wp, nil, 1e-5, 1e-30)
			near(t, "MSE loss", host(t, loss, 1), []float32{wl}, nil, 1e-5, 0)
		}
		out := poisoned(t, n)
		must(t, tk.Sigmoid(nil, out, zd, n))
		near(t, "sigmoid", host(t, out, n), wp, nil, 1e-5, 1e-30)
	}
}

func TestModel2Input(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(5, uint64(os.Getpid())))
	const B, D, T, E = 32, 4096, 1000, 300
	fc7, vecs := randVec(r, B*D, 2), randVec(r, T*E, 1)
	probs := make([]float32, B*T)
	for i := range probs {
		probs[i] = r.Float32() * r.Float32()
	}
	for i := 0; i < T; i++ { // row 0: nothing above θ → zero WA
		probs[i] *= 0.3
	}
	for i := 0; i < D; i++ { // row 1: zero features
		fc7[D+i] = 0
	}
	out := poisoned(t, B*(D+E))
	must(t, tk.Model2Input(nil, out, dev(t, fc7), dev(t, probs), dev(t, vecs), B, D, T, E, 0.5))
	want := make([]float32, B*(D+E))
	ops.Model2Input(want, fc7, probs, vecs, B, D, T, E, 0.5)
	near(t, "tg_model2_input", host(t, out, B*(D+E)), want, nil, 0, 2e-6)

	wa := poisoned(t, B*E)
	must(t, tk.WeightedAverage(nil, wa, E, dev(t, probs), dev(t, vecs), B, T, E, 0.5))
	wwa := make([]float32, B*E)
	ops.WeightedAverage(wwa, probs, vecs, B, T, E, 0.5)
	near(t, "tg_weighted_average", host(t, wa, B*E), wwa, nil, 0, 2e-6)

	ln := poisoned(t, B*D)
	must(t, tk.L2NormRows(nil, ln, D, dev(t, fc7), B, D))
	wln := make([]float32, B*D)
	ops.L2NormalizeRows(wln, D, fc7, B, D)
	near(t, "tg_l2norm_rows", host(t, ln, B*D), wln, nil, 0, 2e-6)
}

func TestAdam(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(6, uint64(os.Getpid())))
	const n = 1<<20 + 3
	h := AdamHyper{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-4}
	cfg := ops.AdamConfig{LR: h.LR, Beta1: h.Beta1, Beta2: h.Beta2, Eps: h.Eps, WeightDecay: h.WeightDecay}
	p := randVec(r, n, 0.05)
	zero := make([]float32, n)
	P, P2 := dev(t, p), dev(t, p)
	M, V, M2, V2 := dev(t, zero), dev(t, zero), dev(t, zero), dev(t, zero)
	pw := dev(t, []float32{1, 1})
	wp, wm, wv := append([]float32(nil), p...), make([]float32, n), make([]float32, n)
	hostPw := [2]float32{1, 1}
	for step := 1; step <= 3; step++ {
		g := randVec(r, n, 0.01)
		G := dev(t, g)
		bc1, bc2 := ops.AdamBiasCorrections(h.Beta1, h.Beta2, step)
		must(t, tk.Adam(nil, P, G, M, V, n, h, bc1, bc2))
		must(t, tk.AdamPowers(nil, pw, h.Beta1, h.Beta2))
		must(t, tk.AdamDev(nil, P2, G, M2, V2, n, h, pw))
		ops.Adam(wp, g, wm, wv, cfg, bc1, bc2)
		sameBits(t, fmt.Sprintf("tg_adam step %d param", step), host(t, P, n), wp)
		sameBits(t, fmt.Sprintf("tg_adam step %d m", step), host(t, M, n), wm)
		sameBits(t, fmt.Sprintf("tg_adam step %d v", step), host(t, V, n), wv)
		ops.AdamPowers(&hostPw, h.Beta1, h.Beta2)
		sameBits(t, "tg_adam_powers", host(t, pw, 2), hostPw[:])
	}
	// Buffers not 16-byte aligned take the scalar path: views one element in.
	{
		q := randVec(r, n, 0.05)
		g := randVec(r, n, 0.01)
		Q, G, Mq, Vq := dev(t, q), dev(t, g), dev(t, zero), dev(t, zero)
		view := func(b Buffer) Buffer {
			v, err := b.Slice32(1, n-1)
			must(t, err)
			return v
		}
		bc1, bc2 := ops.AdamBiasCorrections(h.Beta1, h.Beta2, 1)
		must(t, tk.Adam(nil, view(Q), view(G), view(Mq), view(Vq), n-1, h, bc1, bc2))
		wq := append([]float32(nil), q...)
		ops.Adam(wq[1:], g[1:], make([]float32, n-1), make([]float32, n-1), cfg, bc1, bc2)
		sameBits(t, "tg_adam unaligned param", host(t, Q, n), wq)
	}
	// tg_adam_dev with the device powers: compare with the twin fed the same corrections.
	wp2, wm2, wv2 := append([]float32(nil), p...), make([]float32, n), make([]float32, n)
	r2 := rand.New(rand.NewPCG(6, uint64(os.Getpid())))
	randVec(r2, n, 0.05)
	pw2 := [2]float32{1, 1}
	for step := 1; step <= 3; step++ {
		g := randVec(r2, n, 0.01)
		ops.AdamPowers(&pw2, h.Beta1, h.Beta2)
		ops.Adam(wp2, g, wm2, wv2, cfg, 1-pw2[0], 1-pw2[1])
	}
	sameBits(t, "tg_adam_dev param", host(t, P2, n), wp2)
}

// TestStepKernels checks the kernels of kernels/step.cu against their
// twins: both gathers (rows repeated and out of order, widths around the
// block size and past 32 blocks a row, a poisoned row after the batch that
// must stay NaN), then three graph-mode steps of tg_dense_forward_dev and
// tg_step_end from a step counter just below 2^32: each step's mask is the
// twin's at that step, the losses land in the step's slot and the state
// advances. Element-wise copies and the dense epilogue: identical bits.
func TestStepKernels(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(9, uint64(os.Getpid())))
	const N = 50
	rows := []int32{49, 0, 7, 7, 3, 48, 1, 2}
	idx, err := tctx.Alloc(int64(4 * len(rows)))
	must(t, err)
	defer tctx.Free(&idx)
	must(t, tctx.UploadI32(idx, rows))
	for _, cols := range []int{1, 116, 255, 256, 300, 4096, 9000} {
		src := randVec(r, N*cols, 1)
		dst := poisoned(t, (len(rows)+1)*cols)
		must(t, tk.GatherRows(nil, dst, dev(t, src), idx, len(rows), cols))
		want := make([]float32, (len(rows)+1)*cols)
		for i := range want {
			want[i] = float32(math.NaN())
		}
		ops.GatherRows(want, src, rows, cols)
		sameBits(t, fmt.Sprintf("tg_gather_rows cols %d", cols), host(t, dst, len(want)), want)

		const batch = 4
		for slot := int32(0); slot < 2; slot++ {
			st := ops.StepState{Step: 7, Slot: slot}
			state, err := tctx.Alloc(StepStateBytes)
			must(t, err)
			w := st.Words()
			must(t, tctx.UploadU32(state, w[:]))
			dst := poisoned(t, (batch+1)*cols)
			must(t, tk.GatherRowsDev(nil, dst, dev(t, src), idx, state, batch, cols))
			want := want[:(batch+1)*cols]
			for i := range want {
				want[i] = float32(math.NaN())
			}
			ops.GatherRowsStep(want, src, rows, st, batch, cols)
			sameBits(t, fmt.Sprintf("tg_gather_rows_dev cols %d slot %d", cols, slot), host(t, dst, len(want)), want)
			tctx.Free(&state)
		}
	}

	for _, c := range []struct {
		rows, cols int
		act        Act
		layer      int
		p          float32
	}{{32, 4096, ActReLU, 0, 0.5}, {32, 4096, ActReLU, 1, 0.5}, {3, 300, ActNone, 0, 0}} {
		n := c.rows * c.cols
		bias := randVec(r, c.cols, 0.1)
		seed := r.Uint64()
		st := ops.StepState{Step: 1<<32 - 2}
		state, err := tctx.Alloc(StepStateBytes)
		must(t, err)
		w := st.Words()
		must(t, tctx.UploadU32(state, w[:]))
		const nloss = 3
		slots := poisoned(t, 3*nloss+1)
		wslots := make([]float32, 3*nloss+1)
		for i := range wslots {
			wslots[i] = float32(math.NaN())
		}
		for s := 0; s < 3; s++ {
			a, scratch := randVec(r, n, 1), randVec(r, nloss, 1)
			Y := dev(t, a)
			must(t, tk.DenseForwardDev(nil, Y, dev(t, bias), c.rows, c.cols, c.act, seed, state, c.layer, c.p))
			ops.DenseForwardStep(a, bias, c.rows, c.cols, int(c.act), seed, st, c.layer, c.p)
			sameBits(t, fmt.Sprintf("tg_dense_forward_dev %+v step %d", c, st.Step), host(t, Y, n), a)
			must(t, tk.StepEnd(nil, slots, dev(t, scratch), nloss, state))
			ops.StepEnd(wslots, scratch, nloss, &st)
			sameBits(t, "tg_step_end slots", host(t, slots, len(wslots)), wslots)
			must(t, tctx.Synchronize())
			must(t, tctx.DownloadU32(w[:], state))
			if got, err := ops.StepStateFromWords(w[:]); err != nil || got != st {
				t.Fatalf("tg_step_end: device state %+v, twin %+v (%v)", got, st, err)
			}
		}
		tctx.Free(&state)
	}
}

// TestGraph captures a forward epilogue and an Adam step on a stream,
// replays the graph twice and compares with the twins run twice.
func TestGraph(t *testing.T) {
	bind(t)
	s, err := tctx.NewStream()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Destroy()
	r := rand.New(rand.NewPCG(7, uint64(os.Getpid())))
	const n = 4096
	h := AdamHyper{LR: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	p, g := randVec(r, n, 1), randVec(r, n, 1)
	P, G, M, V := dev(t, p), dev(t, g), dev(t, make([]float32, n)), dev(t, make([]float32, n))
	pw := dev(t, []float32{1, 1})
	must(t, s.BeginCapture())
	must(t, tk.DenseForward(s, G, Buffer{}, 1, n, ActReLU, 12345, 0))
	must(t, tk.AdamPowers(s, pw, h.Beta1, h.Beta2))
	must(t, tk.AdamDev(s, P, G, M, V, n, h, pw))
	gr, err := s.EndCapture()
	if err != nil {
		t.Fatal(err)
	}
	defer gr.Destroy()
	for i := 0; i < 2; i++ {
		must(t, gr.Launch(s))
	}
	must(t, s.Synchronize())
	wm, wv := make([]float32, n), make([]float32, n)
	pws := [2]float32{1, 1}
	cfg := ops.AdamConfig{LR: h.LR, Beta1: h.Beta1, Beta2: h.Beta2, Eps: h.Eps}
	for i := 0; i < 2; i++ {
		ops.DenseForward(g, nil, 1, n, ops.ActReLU, 0, 0, 0)
		ops.AdamPowers(&pws, h.Beta1, h.Beta2)
		ops.Adam(p, g, wm, wv, cfg, 1-pws[0], 1-pws[1])
	}
	sameBits(t, "graph replay param", host(t, P, n), p)
}

// TestStepGraph captures one graph-mode step (gather of the state's slot,
// dense forward with the state's step, step end) and replays it three
// times without new arguments: each replay must gather the next slot's
// rows, draw the next step's mask and fill the next loss slot, as the twins
// run three times.
func TestStepGraph(t *testing.T) {
	bind(t)
	s, err := tctx.NewStream()
	must(t, err)
	defer s.Destroy()
	r := rand.New(rand.NewPCG(10, uint64(os.Getpid())))
	const N, batch, cols, steps, nloss = 40, 8, 300, 3, 3
	const seed, layer, p = 1234, 0, 0.5
	src, bias, scratch := randVec(r, N*cols, 1), randVec(r, cols, 0.1), randVec(r, nloss, 1)
	rows := make([]int32, steps*batch)
	for i := range rows {
		rows[i] = int32(r.IntN(N))
	}
	idx, err := tctx.Alloc(int64(4 * len(rows)))
	must(t, err)
	defer tctx.Free(&idx)
	must(t, tctx.UploadI32(idx, rows))
	state, err := tctx.Alloc(StepStateBytes)
	must(t, err)
	defer tctx.Free(&state)
	st := ops.StepState{Step: 100}
	w := st.Words()
	must(t, tctx.UploadU32(state, w[:]))
	S, B, SC := dev(t, src), dev(t, bias), dev(t, scratch)
	X, slots := poisoned(t, batch*cols), poisoned(t, steps*nloss)
	must(t, tctx.Synchronize())

	must(t, s.BeginCapture())
	must(t, tk.GatherRowsDev(s, X, S, idx, state, batch, cols))
	must(t, tk.DenseForwardDev(s, X, B, batch, cols, ActReLU, seed, state, layer, p))
	must(t, tk.StepEnd(s, slots, SC, nloss, state))
	gr, err := s.EndCapture()
	must(t, err)
	defer gr.Destroy()

	x := make([]float32, batch*cols)
	wslots := make([]float32, steps*nloss)
	for i := 0; i < steps; i++ {
		must(t, gr.Launch(s))
		must(t, s.Synchronize())
		ops.GatherRowsStep(x, src, rows, st, batch, cols)
		ops.DenseForwardStep(x, bias, batch, cols, ops.ActReLU, seed, st, layer, p)
		ops.StepEnd(wslots, scratch, nloss, &st)
		sameBits(t, fmt.Sprintf("replay %d activations", i), host(t, X, batch*cols), x)
	}
	sameBits(t, "replayed loss slots", host(t, slots, steps*nloss), wslots)
	must(t, tctx.DownloadU32(w[:], state))
	if got, err := ops.StepStateFromWords(w[:]); err != nil || got != st {
		t.Fatalf("state after %d replays: %+v, want %+v (%v)", steps, got, st, err)
	}
}

// BenchmarkGemm compares our tiled SGEMM (v1, and v2 split-K) with cuBLAS
// (FP32 and TF32) on the shapes of one training step at batch 32
// (D = H = 4096). Run: cuda.test -test.run '^$' -test.bench Gemm
// -test.benchtime 200x.
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
	} {
		lda, ldb := c.K, c.N
		if c.ta {
			lda = c.M
		}
		if c.tb {
			ldb = c.K
		}
		A, B := dev(b, randVec(r, c.M*c.K, 1)), dev(b, randVec(r, c.K*c.N, 1))
		C := poisoned(b, c.M*c.N)
		splits := tk.SplitsFor(c.M, c.N, c.K)
		ws := poisoned(b, splits*c.M*c.N)
		for _, impl := range []struct {
			name string
			run  func() error
		}{
			{"own", func() error { return tk.Sgemm(nil, c.ta, c.tb, c.M, c.N, c.K, 1, A, lda, B, ldb, 0, C, c.N) }},
			{"own_splitk", func() error {
				return tk.SgemmSplitK(nil, c.ta, c.tb, c.M, c.N, c.K, 1, A, lda, B, ldb, 0, C, c.N, splits, ws, Epilogue{})
			}},
			{"cublas_fp32", func() error { return blasFP32.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1, A, lda, B, ldb, 0, C, c.N) }},
			{"cublas_tf32", func() error { return blasTF32.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1, A, lda, B, ldb, 0, C, c.N) }},
		} {
			b.Run(c.name+"/"+impl.name, func(b *testing.B) {
				bind(b)
				must(b, impl.run())
				must(b, tctx.Synchronize())
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
