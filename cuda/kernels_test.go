//go:build gpu

package cuda

// The kernel-vs-twin suite: every kernel of kernels/*.cu (and of
// kernels/dev, devkernels_test.go) against its CPU twin in model/ops, on
// fresh random inputs, with every output buffer filled with NaN before the
// kernel runs so that an element the kernel fails to write shows up. The
// bounds and their derivations are in bounds_test.go. (The engine-vs-CPU
// suite is package gpu's.)
//
// These tests need an NVIDIA GPU (gorgonia.org/cu's init exits the test
// binary without one). Build them on a development machine with `go test
// -tags gpu -c -o cuda.test ./cuda/` after `make kernels`, copy cuda.test
// over and run `./cuda.test -test.v`; scripts/gpu-check.sh does both, one
// process per test. TAGIMP_FATBIN (and TAGIMP_DEV_FATBIN) load kernels
// built elsewhere instead of the embedded ones.

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
	tdk  *devKernels
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
	if tdk, err = loadDevKernels(tctx); err != nil {
		fmt.Fprintln(os.Stderr, "cuda tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	tdk.mod.Unload()
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
		st, err := tctx.NewStream()
		if err == nil {
			err = st.Destroy()
		}
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

func TestDenseForwardBackward(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(1, uint64(os.Getpid())))
	for _, c := range []struct {
		rows, cols int
		act        Act
		p          float32
		bias       bool
		inPlace    bool // backward writes dA over dY
		noDA, noDB bool
	}{
		{32, 4096, ActReLU, 0.5, true, false, false, false},
		{7, 1001, ActReLU, 0.5, true, true, false, false},
		{3, 300, ActReLU, 0.3, false, false, false, true},
		{37, 300, ActReLU, 0, true, false, false, false},
		{32, 117, ActNone, 0, true, false, true, false},
		{1, 1, ActReLU, 0.5, true, false, false, false},
	} {
		n := c.rows * c.cols
		a, dY := randVec(r, n, 1), randVec(r, n, 1)
		var bias []float32
		var bd Buffer
		if c.bias {
			bias = randVec(r, c.cols, 0.1)
			bd = dev(t, bias)
		}
		seed, stream := r.Uint64(), ops.DropoutStream(uint64(r.IntN(1e6)), 0)
		key := ops.StreamKey(seed, stream)
		Y := dev(t, a)
		must(t, tk.DenseForward(nil, Y, bd, c.rows, c.cols, c.act, key, c.p))
		want := append([]float32(nil), a...)
		ops.DenseForward(want, bias, c.rows, c.cols, int(c.act), seed, stream, c.p)
		sameBits(t, fmt.Sprintf("forward %+v", c), host(t, Y, n), want)
		if c.p > 0 && n > 100 {
			dropped := 0
			for i, w := range want {
				pre := a[i]
				if bias != nil {
					pre += bias[i%c.cols]
				}
				if pre > 0 && w == 0 {
					dropped++
				}
			}
			if dropped == 0 {
				t.Errorf("forward %+v: dropout p=%v dropped nothing", c, c.p)
			}
		}

		keep := ops.KeepScale(c.p)
		dYd := dev(t, dY)
		var dA, db Buffer
		switch {
		case c.inPlace:
			dA = dYd
		case !c.noDA:
			dA = poisoned(t, n)
		}
		if !c.noDB {
			db = poisoned(t, c.cols)
		}
		must(t, tk.DenseBackward(nil, dA, dYd, Y, db, c.rows, c.cols, c.act, keep))
		wA, wb := make([]float32, n), make([]float32, c.cols)
		ops.DenseBackward(wA, dY, want, wb, c.rows, c.cols, int(c.act), keep)
		if !c.noDA {
			sameBits(t, fmt.Sprintf("backward dA %+v", c), host(t, dA, n), wA)
		}
		if !c.noDB {
			sameBits(t, fmt.Sprintf("backward db %+v", c), host(t, db, c.cols), wb)
		}
	}
}

type gemmCase struct {
	ta, tb  bool
	M, N, K int
}

var gemmCases = []gemmCase{
	{false, true, 32, 4096, 512}, // forward  Y = X·Wᵀ
	{false, true, 32, 116, 4096}, // tag head at the paper's shapes
	{false, false, 32, 300, 700}, // dX = dY·W
	{true, false, 300, 257, 32},  // dW = dYᵀ·X
	{true, true, 65, 63, 17},
	{false, true, 33, 129, 33},
	{false, false, 1, 1, 1},
}

// runGemm checks C = 1.5·op(A)·op(B) + β·C for β = 0 (C poisoned) and
// β = 0.5 against ops.Sgemm within gemmBound (tf: tf32Unit for TF32, else
// 0).
func runGemm(t *testing.T, name string, gemm func(c gemmCase, A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer) error, tf float64) {
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
			var c0 []float32
			if beta == 0 {
				Cd = poisoned(t, c.M*c.N)
			} else {
				Cd, c0 = dev(t, C0), C0
			}
			if err := gemm(c, dev(t, A), lda, dev(t, B), ldb, beta, Cd); err != nil {
				t.Fatal(err)
			}
			want := append([]float32(nil), C0...)
			ops.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, beta, want, c.N)
			within(t, fmt.Sprintf("%s %+v β=%v", name, c, beta), host(t, Cd, c.M*c.N), want,
				gemmBound(c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, beta, c0, want, tf))
		}
	}
}

func TestCuBLAS(t *testing.T) {
	bind(t)
	found, err := CuBLASPath()
	if err != nil {
		t.Fatal(err)
	}
	for _, tf32 := range []bool{false, true} {
		b, err := tctx.NewBLAS(nil, tf32)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("cuBLAS %d from %v, TF32 %v", b.Version(), found, tf32)
		tf := 0.0
		if tf32 {
			tf = tf32Unit
		}
		runGemm(t, fmt.Sprintf("cuBLAS tf32=%v", tf32), func(c gemmCase, A Buffer, lda int, B Buffer, ldb int, beta float32, C Buffer) error {
			return b.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, beta, C, c.N)
		}, tf)
		must(t, b.Close())
	}
}

func TestLosses(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(4, uint64(os.Getpid())))
	for _, c := range []struct {
		n      int
		zscale float64
	}{{1, 4}, {1000, 4}, {32 * 116, 3}, {5000, 60}, {32 * 1000, 4}, {32*1000 + 17, 4}} {
		n := c.n
		z, y, imp, mask := randVec(r, n, c.zscale), make([]float32, n), make([]float32, n), make([]float32, n)
		copy(z, []float32{0, 1e4, -1e4, 88, -88, 30, -30})
		for i := range y {
			y[i] = float32(r.IntN(2))
			imp[i] = y[i] * float32(1+r.IntN(5)) / 5
			if y[i] == 0 && r.IntN(4) == 0 {
				imp[i] = r.Float32()
			}
			mask[i] = y[i]
		}
		// Logits where σ(z) is the importance target: the MSE gradient's
		// cancellation, where the expf ulp terms dominate.
		for i := 7; i < min(n, 40); i++ {
			if v := float64(imp[i]); v > 0 && v < 1 {
				z[i] = float32(math.Log(v / (1 - v)))
			}
		}
		name := fmt.Sprintf("n=%d", n)
		zd, yd := dev(t, z), dev(t, y)
		grad, prob, loss := poisoned(t, n), poisoned(t, n), poisoned(t, 1)
		must(t, tk.BCEWithLogits(nil, grad, prob, loss, zd, yd, n))
		wg, wp := make([]float32, n), make([]float32, n)
		wl := ops.BCEWithLogits(wg, wp, z, y)
		bp, bg, bl := bceBounds(z, y, wp, wg)
		bl += eps * math.Abs(float64(wl))
		within(t, "BCE prob "+name, host(t, prob, n), wp, bp)
		within(t, "BCE grad "+name, host(t, grad, n), wg, bg)
		within(t, "BCE loss "+name, host(t, loss, 1), []float32{wl}, []float64{bl})
		lonly := poisoned(t, 1) // grad and prob null: loss only
		must(t, tk.BCEWithLogits(nil, Buffer{}, Buffer{}, lonly, zd, yd, n))
		within(t, "BCE loss only "+name, host(t, lonly, 1), []float32{wl}, []float64{bl})

		for _, m := range [][]float32{nil, mask} {
			var md Buffer
			if m != nil {
				md = dev(t, m)
			}
			what := fmt.Sprintf("MSE mask=%v %s", m != nil, name)
			grad, prob, loss := poisoned(t, n), poisoned(t, n), poisoned(t, 1)
			must(t, tk.SigmoidMSE(nil, grad, prob, loss, zd, dev(t, imp), md, n))
			wl := ops.SigmoidMSE(wg, wp, z, imp, m)
			mg, ml := mseBounds(imp, m, wp, wg)
			within(t, what+" prob", host(t, prob, n), wp, bp)
			within(t, what+" grad", host(t, grad, n), wg, mg)
			within(t, what+" loss", host(t, loss, 1), []float32{wl}, []float64{ml + eps*math.Abs(float64(wl))})
		}
		out := poisoned(t, n)
		must(t, tk.Sigmoid(nil, out, zd, n))
		within(t, "sigmoid "+name, host(t, out, n), wp, bp)
		must(t, tk.Sigmoid(nil, zd, zd, n)) // in place
		within(t, "sigmoid in place "+name, host(t, zd, n), wp, bp)
	}
}

// TestModel2Input checks the WA, the L2-normalised rows and the fused
// Model 2 input at the paper's shapes (T = 116) and at 1000 tags, with a
// row whose tags are all below θ (WA exactly zero) and a row of zero
// features, and the strided forms, whose padding must stay poisoned.
func TestModel2Input(t *testing.T) {
	bind(t)
	r := rand.New(rand.NewPCG(5, uint64(os.Getpid())))
	for _, c := range []struct {
		B, D, T, E, pad int
		theta           float32
	}{{32, 4096, 116, 300, 0, 0.5}, {32, 4096, 1000, 300, 0, 0.5}, {5, 100, 30, 17, 3, 0.3}, {4, 64, 10, 8, 1, 2}} {
		name := fmt.Sprintf("%+v", c)
		B, D, T, E := c.B, c.D, c.T, c.E
		fc7, vecs := randVec(r, B*D, 2), randVec(r, T*E, 1)
		probs := make([]float32, B*T)
		for i := range probs {
			probs[i] = r.Float32()
		}
		for i := 0; i < T; i++ { // row 0: nothing above θ → zero WA
			probs[i] *= 0.3 * min(c.theta, 1)
		}
		for i := 0; i < D; i++ { // row 1: zero features
			fc7[D+i] = 0
		}
		fd, pd, vd := dev(t, fc7), dev(t, probs), dev(t, vecs)

		W := D + E
		out := poisoned(t, B*W)
		must(t, tk.Model2Input(nil, out, fd, pd, vd, B, D, T, E, c.theta))
		want := make([]float32, B*W)
		ops.Model2Input(want, fc7, probs, vecs, B, D, T, E, c.theta)
		bound := make([]float64, 0, B*W)
		for b := 0; b < B; b++ {
			bound = append(bound, l2Bound(D, 256, want[b*W:b*W+D])...)
			bound = append(bound, waBound(probs[b*T:(b+1)*T], vecs, T, E, 256, c.theta)...)
		}
		within(t, "tg_model2_input "+name, host(t, out, B*W), want, bound)

		stride := E + c.pad
		wa := poisoned(t, B*stride)
		must(t, tk.WeightedAverage(nil, wa, stride, pd, vd, B, T, E, c.theta))
		wwa := make([]float32, B*E)
		ops.WeightedAverage(wwa, probs, vecs, B, T, E, c.theta)
		bound = bound[:0]
		for b := 0; b < B; b++ {
			bound = append(bound, waBound(probs[b*T:(b+1)*T], vecs, T, E, 128, c.theta)...)
		}
		within(t, "tg_weighted_average "+name, unstride(t, host(t, wa, B*stride), B, E, stride), wwa, bound)

		stride = D + c.pad
		ln := poisoned(t, B*stride)
		must(t, tk.L2NormRows(nil, ln, stride, fd, B, D))
		wln := make([]float32, B*D)
		ops.L2NormalizeRows(wln, D, fc7, B, D)
		within(t, "tg_l2norm_rows "+name, unstride(t, host(t, ln, B*stride), B, D, stride), wln, l2Bound(D, 256, wln))
	}
	if err := tk.WeightedAverage(nil, Buffer{}, 1, Buffer{}, Buffer{}, 1, maxTagsShared+1, 1, 0.5); err == nil {
		t.Error("weighted average with more tags than fit in shared memory: no error")
	}
}

// unstride takes rows×cols values out of rows of the given stride and
// checks that the padding between them is still poisoned (NaN).
func unstride(t *testing.T, x []float32, rows, cols, stride int) []float32 {
	t.Helper()
	out := make([]float32, 0, rows*cols)
	for r := 0; r < rows; r++ {
		out = append(out, x[r*stride:r*stride+cols]...)
		for c := cols; c < stride; c++ {
			if v := x[r*stride+c]; !math.IsNaN(float64(v)) {
				t.Fatalf("row %d column %d outside the output was written (%v)", r, c, v)
			}
		}
	}
	return out
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
	// The capture stream does not wait for the legacy stream: finish the
	// uploads and fills first.
	must(t, tctx.Synchronize())
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
