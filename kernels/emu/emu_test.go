package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/model/ops"
)

// The kernels run on the emulator with the launch shapes of package cuda
// and are compared with their CPU twins in model/ops. Outputs start as NaN,
// so an element a kernel fails to write is caught. Bounds: bit-identical
// where the kernel and the twin round the same way (dense epilogues, Adam);
// 2 ulp per element for σ and the loss gradients (glibc's expf against Go's
// exp); 1e-5 relative for sums taken in another order (losses, GEMMs
// against Σ|a||b|); 2e-6 absolute on unit-norm rows.

// emu uses one "SM", so grid-stride kernels loop over their inputs.
var emu = Kernels{SMs: 1}

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

func nans(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(math.NaN())
	}
	return x
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s element %d: kernel %v, twin %v (want identical bits)", what, i, got[i], want[i])
		}
	}
}

func near(t *testing.T, what string, got, want, scale []float32, rel, abs float64) {
	t.Helper()
	for i := range want {
		s := math.Abs(float64(want[i]))
		if scale != nil {
			s = float64(scale[i])
		}
		if d := math.Abs(float64(got[i] - want[i])); !(d <= rel*s+abs) {
			t.Fatalf("%s element %d: kernel %v, twin %v (|Δ| %.3g > %.3g)", what, i, got[i], want[i], d, rel*s+abs)
		}
	}
}

func ulps(a, b float32) int {
	if a == b {
		return 0
	}
	if a != a || b != b || (a < 0) != (b < 0) {
		return math.MaxInt
	}
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	return int(max(ia-ib, ib-ia))
}

func nearULP(t *testing.T, what string, got, want []float32, maxULP int, abs float64) {
	t.Helper()
	for i := range want {
		if ulps(got[i], want[i]) > maxULP && !(math.Abs(float64(got[i]-want[i])) <= abs) {
			t.Fatalf("%s element %d: kernel %v, twin %v", what, i, got[i], want[i])
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDense(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		rows, cols, act int
		p               float32
		bias            bool
	}{
		{37, 100, ops.ActReLU, 0.5, true},
		{3, 33, ops.ActReLU, 0, false},
		{9, 70, ops.ActNone, 0, true},
	} {
		n := c.rows * c.cols
		a, dY := randVec(r, n, 1), randVec(r, n, 1)
		var bias []float32
		if c.bias {
			bias = randVec(r, c.cols, 0.1)
		}
		seed, stream := r.Uint64(), ops.DropoutStream(uint64(r.IntN(1000)), 1)
		got := append([]float32(nil), a...)
		must(t, emu.DenseForward(got, bias, c.rows, c.cols, c.act, ops.StreamKey(seed, stream), c.p))
		want := append([]float32(nil), a...)
		ops.DenseForward(want, bias, c.rows, c.cols, c.act, seed, stream, c.p)
		sameBits(t, fmt.Sprintf("forward %+v", c), got, want)

		keep := ops.KeepScale(c.p)
		dA, db := nans(n), nans(c.cols)
		must(t, emu.DenseBackward(dA, dY, got, db, c.rows, c.cols, c.act, keep))
		wA, wb := make([]float32, n), make([]float32, c.cols)
		ops.DenseBackward(wA, dY, want, wb, c.rows, c.cols, c.act, keep)
		sameBits(t, fmt.Sprintf("backward dA %+v", c), dA, wA)
		sameBits(t, fmt.Sprintf("backward db %+v", c), db, wb)

		inPlace, onlyDB := append([]float32(nil), dY...), nans(c.cols)
		must(t, emu.DenseBackward(inPlace, inPlace, got, nil, c.rows, c.cols, c.act, keep))
		must(t, emu.DenseBackward(nil, dY, got, onlyDB, c.rows, c.cols, c.act, keep))
		sameBits(t, "backward in place", inPlace, wA)
		sameBits(t, "backward db only", onlyDB, wb)
	}
}

func gemmScale(ta, tb bool, M, N, K int, A []float32, lda int, B []float32, ldb int) []float32 {
	abs := func(x []float32) []float32 {
		y := make([]float32, len(x))
		for i, v := range x {
			y[i] = float32(math.Abs(float64(v)))
		}
		return y
	}
	s := make([]float32, M*N)
	ops.Sgemm(ta, tb, M, N, K, 1, abs(A), lda, abs(B), ldb, 0, s, N)
	return s
}

func TestSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		ta, tb  bool
		M, N, K int
	}{
		{false, true, 33, 130, 40},
		{false, false, 70, 65, 17},
		{true, false, 65, 129, 33},
		{true, true, 1, 1, 1},
	} {
		lda, ldb := c.K, c.N
		if c.ta {
			lda = c.M
		}
		if c.tb {
			ldb = c.K
		}
		A, B, C0 := randVec(r, c.M*c.K, 1), randVec(r, c.K*c.N, 1), randVec(r, c.M*c.N, 1)
		scale := gemmScale(c.ta, c.tb, c.M, c.N, c.K, A, lda, B, ldb)
		for _, beta := range []float32{0, -0.5} {
			got := nans(c.M * c.N)
			if beta != 0 {
				copy(got, C0)
			}
			must(t, emu.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 2, A, lda, B, ldb, beta, got, c.N))
			want := append([]float32(nil), C0...)
			ops.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 2, A, lda, B, ldb, beta, want, c.N)
			s := make([]float32, len(scale))
			for i := range s {
				s[i] = 2*scale[i] + float32(math.Abs(float64(beta*C0[i])))
			}
			near(t, fmt.Sprintf("tg_sgemm %+v β=%v", c, beta), got, want, s, 1e-5, 0)
		}
	}
	const M, N, K = 33, 70, 50
	X, W, bias := randVec(r, M*K, 1), randVec(r, N*K, 0.1), randVec(r, N, 0.1)
	for _, act := range []int{ops.ActNone, ops.ActReLU} {
		got := nans(M * N)
		must(t, emu.SgemmDense(M, N, K, X, W, bias, got, act, ops.StreamKey(5, 6), 0.5))
		want := make([]float32, M*N)
		ops.Sgemm(false, true, M, N, K, 1, X, K, W, K, 0, want, N)
		ops.DenseForward(want, bias, M, N, act, 5, 6, 0.5)
		s := gemmScale(false, true, M, N, K, X, K, W, K)
		for i := range s {
			s[i] *= 2
		}
		near(t, fmt.Sprintf("tg_sgemm_dense act=%d", act), got, want, s, 1e-5, 0)
	}
}

func TestLosses(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 1023, 3001} {
		z, y, imp, mask := randVec(r, n, 4), make([]float32, n), make([]float32, n), make([]float32, n)
		copy(z, []float32{0, 1e4, -1e4, 88, -88, 30, -30})
		for i := range y {
			y[i] = float32(r.IntN(2))
			imp[i] = r.Float32()
			mask[i] = y[i]
		}
		grad, prob, loss := nans(n), nans(n), nans(1)
		must(t, emu.BCEWithLogits(grad, prob, loss, z, y))
		wg, wp := make([]float32, n), make([]float32, n)
		wl := ops.BCEWithLogits(wg, wp, z, y)
		nearULP(t, "BCE grad", grad, wg, 2, 0)
		nearULP(t, "BCE prob", prob, wp, 2, 0)
		near(t, "BCE loss", loss, []float32{wl}, nil, 1e-5, 0)
		for _, m := range [][]float32{nil, mask, make([]float32, n)} {
			grad, prob, loss := nans(n), nans(n), nans(1)
			must(t, emu.SigmoidMSE(grad, prob, loss, z, imp, m))
			wl := ops.SigmoidMSE(wg, wp, z, imp, m)
			nearULP(t, "MSE grad", grad, wg, 4, 1e-30)
			nearULP(t, "MSE prob", prob, wp, 2, 0)
			near(t, "MSE loss", loss, []float32{wl}, nil, 1e-5, 1e-30)
		}
		// Prediction: σ only, no targets.
		prob = nans(n)
		must(t, emu.BCEWithLogits(nil, prob, nil, z, nil))
		nearULP(t, "BCE prob only", prob, wp, 2, 0)
		out := nans(n)
		must(t, emu.Sigmoid(out, z))
		nearULP(t, "sigmoid", out, wp, 2, 0)
	}
}

func TestModel2Input(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const B, D, T, E = 5, 300, 50, 20
	fc7, vecs := randVec(r, B*D, 2), randVec(r, T*E, 1)
	probs := make([]float32, B*T)
	for i := range probs {
		probs[i] = r.Float32()
	}
	for i := 0; i < T; i++ {
		probs[i] *= 0.4 // row 0: nothing above θ
		fc7[D+i] = 0
	}
	for i := 0; i < D; i++ {
		fc7[D+i] = 0 // row 1: zero features
	}
	got := nans(B * (D + E))
	must(t, emu.Model2Input(got, fc7, probs, vecs, B, D, T, E, 0.5))
	want := make([]float32, B*(D+E))
	ops.Model2Input(want, fc7, probs, vecs, B, D, T, E, 0.5)
	near(t, "tg_model2_input", got, want, nil, 0, 2e-6)

	wa := nans(B * (E + 3)) // written with a row stride wider than E
	must(t, emu.WeightedAverage(wa, E+3, probs, vecs, B, T, E, 0.5))
	wwa := make([]float32, B*E)
	ops.WeightedAverage(wwa, probs, vecs, B, T, E, 0.5)
	for b := 0; b < B; b++ {
		near(t, fmt.Sprintf("tg_weighted_average row %d", b), wa[b*(E+3):b*(E+3)+E], wwa[b*E:(b+1)*E], nil, 0, 2e-6)
	}

	ln := nans(B * D)
	must(t, emu.L2NormRows(ln, D, fc7, B, D))
	wln := make([]float32, B*D)
	ops.L2NormalizeRows(wln, D, fc7, B, D)
	near(t, "tg_l2norm_rows", ln, wln, nil, 0, 2e-6)
}

// TestAdam runs both Adam kernels three steps, on aligned buffers (the
// float4 path plus a tail of 3) and on buffers shifted by one element (the
// scalar path), against the twin.
func TestAdam(t *testing.T) {
	for _, off := range []int{0, 1} {
		r := rand.New(rand.NewPCG(9, 10))
		const n = 5003
		cfg := ops.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 1e-4}
		buf := func(x []float32) []float32 { // x copied to a slice starting off elements into its array
			b := make([]float32, len(x)+off)
			copy(b[off:], x)
			return b[off:]
		}
		p := randVec(r, n, 0.05)
		zero := make([]float32, n)
		kp, km, kv := buf(p), buf(zero), buf(zero)
		dp, dm, dv := buf(p), buf(zero), buf(zero)
		wp, wm, wv := append([]float32(nil), p...), make([]float32, n), make([]float32, n)
		w2p, w2m, w2v := append([]float32(nil), p...), make([]float32, n), make([]float32, n)
		pw, hostPw := []float32{1, 1}, [2]float32{1, 1}
		for step := 1; step <= 3; step++ {
			g := buf(randVec(r, n, 0.01))
			bc1, bc2 := ops.AdamBiasCorrections(cfg.Beta1, cfg.Beta2, step)
			must(t, emu.Adam(kp, g, km, kv, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay, bc1, bc2))
			ops.Adam(wp, g, wm, wv, cfg, bc1, bc2)
			sameBits(t, fmt.Sprintf("offset %d tg_adam step %d param", off, step), kp, wp)
			sameBits(t, "tg_adam m", km, wm)
			sameBits(t, "tg_adam v", kv, wv)

			must(t, emu.AdamPowers(pw, cfg.Beta1, cfg.Beta2))
			must(t, emu.AdamDev(dp, g, dm, dv, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay, pw))
			ops.AdamPowers(&hostPw, cfg.Beta1, cfg.Beta2)
			ops.Adam(w2p, g, w2m, w2v, cfg, 1-hostPw[0], 1-hostPw[1])
			sameBits(t, "tg_adam_powers", pw, hostPw[:])
			sameBits(t, fmt.Sprintf("offset %d tg_adam_dev step %d param", off, step), dp, w2p)
		}
	}
}

// TestSgemmSplitK checks the split-K GEMM against the twins: transposes,
// β, slices past the end of K (which must add zeros), and the dense
// epilogue applied in the reduction.
func TestSgemmSplitK(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, c := range []struct {
		ta, tb          bool
		M, N, K, splits int
		beta            float32
		act             int
		bias            bool
	}{
		{false, true, 33, 130, 100, 3, 0, ops.ActReLU, true},
		{false, false, 32, 70, 300, 4, 0.5, ops.ActNone, false},
		{true, false, 65, 64, 40, 5, 0, ops.ActNone, true},
		{true, true, 5, 7, 1, 2, -1, ops.ActReLU, false},
	} {
		lda, ldb := c.K, c.N
		if c.ta {
			lda = c.M
		}
		if c.tb {
			ldb = c.K
		}
		A, B, C0 := randVec(r, c.M*c.K, 1), randVec(r, c.K*c.N, 1), randVec(r, c.M*c.N, 1)
		var bias []float32
		if c.bias {
			bias = randVec(r, c.N, 0.1)
		}
		got := nans(c.M * c.N)
		if c.beta != 0 {
			copy(got, C0)
		}
		seed, stream := r.Uint64(), ops.DropoutStream(3, 0)
		must(t, emu.SgemmSplitK(c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, c.beta, got, c.N, c.splits,
			bias, c.act, ops.StreamKey(seed, stream), 0.5))
		want := append([]float32(nil), C0...)
		ops.Sgemm(c.ta, c.tb, c.M, c.N, c.K, 1.5, A, lda, B, ldb, c.beta, want, c.N)
		if c.bias || c.act != ops.ActNone {
			ops.DenseForward(want, bias, c.M, c.N, c.act, seed, stream, 0.5)
		}
		s := gemmScale(c.ta, c.tb, c.M, c.N, c.K, A, lda, B, ldb)
		for i := range s {
			s[i] = 2 * (1.5*s[i] + float32(math.Abs(float64(c.beta*C0[i]))))
		}
		near(t, fmt.Sprintf("split-K %+v", c), got, want, s, 1e-5, 0)
	}
}
