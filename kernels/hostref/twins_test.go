package hostref

import (
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/model/ops"
)

// ulps returns how many float32 steps lie between a and b (0 when equal,
// including both zero; MaxInt when either is NaN or they differ in sign).
func ulps(a, b float32) int {
	if a == b {
		return 0
	}
	if a != a || b != b || (a < 0) != (b < 0) {
		return math.MaxInt
	}
	ia, ib := int64(math.Float32bits(a)), int64(math.Float32bits(b))
	if ia > ib {
		return int(ia - ib)
	}
	return int(ib - ia)
}

func randSlice(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// TestDenseMatchesTwin: the forward and backward epilogues of the Go twin
// and the C header agree bit for bit (both round every product and sum the
// bias gradient in the kernel's order), for both activations, with and
// without dropout and bias, and with the gradient written in place.
func TestDenseMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range []struct {
		rows, cols, act int
		p               float32
		bias            bool
	}{
		{1, 1, ops.ActNone, 0, true},
		{3, 17, ops.ActReLU, 0, false},
		{32, 300, ops.ActReLU, 0.5, true},
		{33, 64, ops.ActReLU, 0.1, true},
		{32, 116, ops.ActNone, 0, true},
	} {
		n := c.rows * c.cols
		a := randSlice(r, n, 1)
		var bias []float32
		if c.bias {
			bias = randSlice(r, c.cols, 0.1)
		}
		seed, stream := r.Uint64(), ops.DropoutStream(uint64(r.IntN(1000)), 0)
		got := append([]float32(nil), a...)
		want := append([]float32(nil), a...)
		ops.DenseForward(got, bias, c.rows, c.cols, c.act, seed, stream, c.p)
		DenseForward(want, bias, c.rows, c.cols, c.act, seed, stream, c.p)
		zeros := 0
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%+v forward element %d: go %v, C %v", c, i, got[i], want[i])
			}
			if got[i] == 0 {
				zeros++
			}
		}
		if c.act == ops.ActReLU && c.p == 0.5 && (zeros < n*6/10 || zeros > n*9/10) {
			t.Fatalf("%+v: ReLU and dropout 0.5 zeroed %d of %d (expected about 3/4)", c, zeros, n)
		}
		dY := randSlice(r, n, 1)
		keep := ops.KeepScale(c.p)
		gA, gB := make([]float32, n), make([]float32, c.cols)
		wA, wB := make([]float32, n), make([]float32, c.cols)
		ops.DenseBackward(gA, dY, got, gB, c.rows, c.cols, c.act, keep)
		DenseBackward(wA, dY, want, wB, c.rows, c.cols, c.act, keep)
		for i := range gA {
			if math.Float32bits(gA[i]) != math.Float32bits(wA[i]) {
				t.Fatalf("%+v backward dA %d: go %v, C %v", c, i, gA[i], wA[i])
			}
			if c.act == ops.ActReLU && (got[i] > 0) != (gA[i] != 0 || dY[i] == 0) {
				t.Fatalf("%+v: gradient %v passes where y = %v", c, gA[i], got[i])
			}
		}
		for j := range gB {
			if math.Float32bits(gB[j]) != math.Float32bits(wB[j]) {
				t.Fatalf("%+v backward db %d: go %v, C %v", c, j, gB[j], wB[j])
			}
		}
		inPlace := append([]float32(nil), dY...) // dA = dY, as the kernel allows
		ops.DenseBackward(inPlace, inPlace, got, nil, c.rows, c.cols, c.act, keep)
		for i := range inPlace {
			if inPlace[i] != gA[i] {
				t.Fatalf("%+v: in-place backward differs at %d", c, i)
			}
		}
	}
}

// edgeLogits are logits where a naive formula overflows or cancels.
var edgeLogits = []float32{0, 1e-30, -1e-30, 1e-7, -1e-7, 1, -1, 15, -15, 17, -17, 30, -30,
	88, -88, 89, -89, 103, -104, 1e4, -1e4, 3e38, -3e38}

// TestLossesMatchTwin: σ, the BCE loss and both losses' gradients of the Go
// twin agree with the C header within 2 ulp per element (Go's exp and log1p
// in float64 rounded, against glibc's expf and log1pf), and the batch losses
// within 1e-6 relative (both sum in double). Every value is finite, also for
// |z| ≫ 1.
func TestLossesMatchTwin(t *testing.T) {
	for _, z := range edgeLogits {
		if g, c := ops.Sigmoid(z), Sigmoid(z); ulps(g, c) > 2 || g < 0 || g > 1 {
			t.Fatalf("σ(%v): go %v, C %v", z, g, c)
		}
		for _, y := range []float32{0, 1} {
			g, c := ops.BCELogitsLoss(z, y), BCELogitsLoss(z, y)
			if ulps(g, c) > 2 || math.IsInf(float64(g), 0) || g < 0 {
				t.Fatalf("BCE(%v, %v): go %v, C %v", z, y, g, c)
			}
		}
	}
	if l := ops.BCELogitsLoss(1e4, 0); l != 1e4 {
		t.Fatalf("BCE(1e4, 0) = %v, want 1e4", l)
	}
	if l := ops.BCELogitsLoss(-1e4, 0); l != 0 {
		t.Fatalf("BCE(-1e4, 0) = %v, want 0", l)
	}

	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 37, 32 * 116, 32*1000 + 3} {
		z := randSlice(r, n, 4)
		copy(z, edgeLogits[:len(edgeLogits)-2]) // not ±3e38: two of them overflow the sum
		y := make([]float32, n)
		imp := make([]float32, n)
		mask := make([]float32, n)
		for i := range y {
			y[i] = float32(r.IntN(2))
			imp[i] = r.Float32()
			if r.IntN(5) == 0 {
				mask[i] = 1
			}
		}
		gGrad, gProb := make([]float32, n), make([]float32, n)
		cGrad, cProb := make([]float32, n), make([]float32, n)
		gl := ops.BCEWithLogits(gGrad, gProb, z, y)
		cl := BCEWithLogits(cGrad, cProb, z, y)
		checkVec(t, "BCE grad", n, gGrad, cGrad, 2)
		checkVec(t, "BCE prob", n, gProb, cProb, 2)
		checkRel(t, "BCE loss", n, gl, cl, 1e-6)
		for _, m := range [][]float32{nil, mask, make([]float32, n)} {
			gl := ops.SigmoidMSE(gGrad, gProb, z, imp, m)
			cl := SigmoidMSE(cGrad, cProb, z, imp, m)
			checkVec(t, "MSE grad", n, gGrad, cGrad, 4)
			checkVec(t, "MSE prob", n, gProb, cProb, 2)
			checkRel(t, "MSE loss", n, gl, cl, 1e-6)
		}
	}
}

func checkVec(t *testing.T, what string, n int, got, want []float32, maxULP int) {
	t.Helper()
	for i := range got {
		if math.IsNaN(float64(got[i])) || math.IsInf(float64(got[i]), 0) {
			t.Fatalf("%s n=%d element %d not finite: %v", what, n, i, got[i])
		}
		// tiny gradients: compare absolutely below 1e-30
		if ulps(got[i], want[i]) > maxULP && math.Abs(float64(got[i]-want[i])) > 1e-30 {
			t.Fatalf("%s n=%d element %d: go %v, C %v (%d ulp)", what, n, i, got[i], want[i], ulps(got[i], want[i]))
		}
	}
}

func checkRel(t *testing.T, what string, n int, got, want float32, rel float64) {
	t.Helper()
	if d := math.Abs(float64(got - want)); d > rel*math.Abs(float64(want)) && d > 1e-30 || math.IsNaN(float64(got)) {
		t.Fatalf("%s n=%d: go %v, C %v", what, n, got, want)
	}
}

// TestAdamMatchesTwin: ten Adam steps of the Go twin and the C header are
// bit-identical, with and without weight decay, with bias corrections from
// the host (float64 pow) and from the device's running powers.
func TestAdamMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, wd := range []float32{0, 0.01} {
		cfg := ops.AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: wd}
		const n = 5000
		gp, cp := randSlice(r, n, 0.05), make([]float32, n)
		copy(cp, gp)
		gm, gv, cm, cv := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		pw := [2]float32{1, 1}
		for step := 1; step <= 10; step++ {
			g := randSlice(r, n, 0.01)
			g[0] = 0
			bc1, bc2 := ops.AdamBiasCorrections(cfg.Beta1, cfg.Beta2, step)
			if step%2 == 0 { // the graph path: powers kept on the device
				ops.AdamPowers(&pw, cfg.Beta1, cfg.Beta2)
				bc1, bc2 = 1-pw[0], 1-pw[1]
			} else {
				ops.AdamPowers(&pw, cfg.Beta1, cfg.Beta2)
			}
			ops.Adam(gp, g, gm, gv, cfg, bc1, bc2)
			Adam(cp, g, cm, cv, cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay, bc1, bc2)
			for i := range gp {
				if math.Float32bits(gp[i]) != math.Float32bits(cp[i]) ||
					math.Float32bits(gm[i]) != math.Float32bits(cm[i]) ||
					math.Float32bits(gv[i]) != math.Float32bits(cv[i]) {
					t.Fatalf("wd=%v step %d element %d: go (%v %v %v), C (%v %v %v)",
						wd, step, i, gp[i], gm[i], gv[i], cp[i], cm[i], cv[i])
				}
			}
		}
	}
}

// TestModel2InputMatchesTwin compares Model 2's input built by the Go twin
// with the C header's, on random fc7 rows (one all zero) and probabilities;
// both sum in the same order, so the bound is 1e-6 absolute on unit-norm
// halves.
func TestModel2InputMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const b, d, tags, e = 5, 64, 20, 30
	fc7 := randSlice(r, b*d, 3)
	for i := 0; i < d; i++ {
		fc7[2*d+i] = 0
	}
	probs := make([]float32, b*tags)
	for i := range probs {
		probs[i] = r.Float32()
	}
	vecs := randSlice(r, tags*e, 1)
	got := make([]float32, b*(d+e))
	want := make([]float32, b*(d+e))
	ops.Model2Input(got, fc7, probs, vecs, b, d, tags, e, 0.5)
	Model2Input(want, fc7, probs, vecs, b, d, tags, e, 0.5)
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 || math.IsNaN(float64(got[i])) {
			t.Fatalf("element %d (row %d col %d): go %v, C %v", i, i/(d+e), i%(d+e), got[i], want[i])
		}
	}
	for row := 0; row < b; row++ {
		var ss float64
		for _, v := range got[row*(d+e) : row*(d+e)+d] {
			ss += float64(v) * float64(v)
		}
		if want := 1.0; row == 2 {
			if ss != 0 {
				t.Fatalf("zero fc7 row normalised to norm² %v", ss)
			}
		} else if math.Abs(ss-want) > 1e-5 {
			t.Fatalf("row %d fc7 part has norm² %v", row, ss)
		}
	}
}
