package ops

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBCEHand checks the BCE loss on values known in closed form and its
// stability for |z| ≫ 1.
func TestBCEHand(t *testing.T) {
	cases := []struct{ z, y, want float32 }{
		{0, 1, float32(math.Ln2)},
		{0, 0, float32(math.Ln2)},
		{2, 1, float32(math.Log1p(math.Exp(-2)))},
		{-2, 1, float32(2 + math.Log1p(math.Exp(-2)))},
		{100, 0, 100},
		{-100, 1, 100},
		{1e4, 1, 0},
		{-1e4, 0, 0},
	}
	for _, c := range cases {
		if got := BCELogitsLoss(c.z, c.y); math.Abs(float64(got-c.want)) > 1e-6*math.Max(1, float64(c.want)) {
			t.Errorf("BCE(%v, %v) = %v, want %v", c.z, c.y, got, c.want)
		}
	}
	if s := Sigmoid(-1e4); s != 0 {
		t.Errorf("σ(-1e4) = %v", s)
	}
	if s := Sigmoid(1e4); s != 1 {
		t.Errorf("σ(1e4) = %v", s)
	}
}

// TestLossGradients checks both losses' gradients against central finite
// differences of the loss (in float64 from the formulas), including the
// masked MSE and its normalisation by the mask count.
func TestLossGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	const n = 12
	z, y, imp, mask := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range z {
		z[i] = float32(r.NormFloat64() * 3)
		y[i] = float32(r.IntN(2))
		imp[i] = r.Float32()
		mask[i] = float32(r.IntN(2))
	}
	mask[0] = 1
	bce := func(zz []float64) float64 {
		var s float64
		for i, v := range zz {
			s += math.Max(v, 0) - v*float64(y[i]) + math.Log1p(math.Exp(-math.Abs(v)))
		}
		return s / n
	}
	mse := func(m []float32) func([]float64) float64 {
		return func(zz []float64) float64 {
			var s, c float64
			for i, v := range zz {
				w := 1.0
				if m != nil {
					w = float64(m[i])
				}
				d := 1/(1+math.Exp(-v)) - float64(imp[i])
				s += w * d * d
				c += w
			}
			return s / math.Max(c, 1)
		}
	}
	grad := make([]float32, n)
	check := func(name string, loss float32, f func([]float64) float64) {
		t.Helper()
		zz := make([]float64, n)
		for i := range z {
			zz[i] = float64(z[i])
		}
		if want := f(zz); math.Abs(float64(loss)-want) > 1e-6*math.Max(1, want) {
			t.Fatalf("%s loss %v, want %v", name, loss, want)
		}
		for i := range z {
			const h = 1e-4
			zz[i] += h
			up := f(zz)
			zz[i] -= 2 * h
			down := f(zz)
			zz[i] += h
			fd := (up - down) / (2 * h)
			if math.Abs(float64(grad[i])-fd) > 1e-5*math.Max(1e-2, math.Abs(fd)) {
				t.Fatalf("%s grad[%d] = %v, finite difference %v", name, i, grad[i], fd)
			}
		}
	}
	check("BCE", BCEWithLogits(grad, nil, z, y), bce)
	check("MSE", SigmoidMSE(grad, nil, z, imp, nil), mse(nil))
	check("MSE masked", SigmoidMSE(grad, nil, z, imp, mask), mse(mask))
}

// TestDenseBackwardIsGradient: for y = DenseForward(a) and L = Σ dY·y, the
// gradient with respect to a is DenseBackward's dA (the mask and ReLU are
// fixed for a small step), and db sums dA over rows.
func TestDenseBackwardIsGradient(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	const rows, cols = 9, 13
	for _, act := range []int{ActNone, ActReLU} {
		a, dY, bias := make([]float32, rows*cols), make([]float32, rows*cols), make([]float32, cols)
		for i := range a {
			a[i] = float32(r.NormFloat64())
			dY[i] = float32(r.NormFloat64())
		}
		y := append([]float32(nil), a...)
		DenseForward(y, bias, rows, cols, act, 7, DropoutStream(1, 0), 0.5)
		dA, db := make([]float32, rows*cols), make([]float32, cols)
		DenseBackward(dA, dY, y, db, rows, cols, act, KeepScale(0.5))
		for i := range a {
			const h = 1e-3
			one := func(v float32) float32 {
				x := []float32{v}
				DenseForward(x, []float32{bias[i%cols]}, 1, 1, act, 7, DropoutStream(1, 0), 0) // no mask
				return x[0] * DropoutScale(7, DropoutStream(1, 0), uint64(i), 0.5*float32(act))
			}
			fd := float64(dY[i]) * float64(one(a[i]+h)-one(a[i]-h)) / (2 * h)
			if math.Abs(float64(dA[i])-fd) > 1e-2*math.Max(1, math.Abs(fd)) {
				t.Fatalf("act %d element %d: dA %v, finite difference %v (a %v, y %v)", act, i, dA[i], fd, a[i], y[i])
			}
		}
		for c := 0; c < cols; c++ {
			var s float64
			for rr := 0; rr < rows; rr++ {
				s += float64(dA[rr*cols+c])
			}
			if math.Abs(s-float64(db[c])) > 1e-5 {
				t.Fatalf("act %d db[%d] = %v, want %v", act, c, db[c], s)
			}
		}
	}
}

// TestSgemmTransposes: the four transpose combinations of Sgemm agree with
// a direct triple loop on explicit matrices, with α, β and row strides
// larger than the width.
func TestSgemmTransposes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	const M, N, K = 5, 7, 6
	a, b, c0 := make([]float64, M*K), make([]float64, K*N), make([]float64, M*N)
	for i := range a {
		a[i] = float64(r.IntN(7) - 3)
	}
	for i := range b {
		b[i] = float64(r.IntN(7) - 3)
	}
	for i := range c0 {
		c0[i] = float64(r.IntN(7) - 3)
	}
	const alpha, beta = 2, -1
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			lda, ldb, ldc := K+1, N+2, N+3
			A := make([]float32, M*(M+K+2))
			if ta {
				lda = M + 1
			}
			B := make([]float32, K*N+N*K+20)
			if tb {
				ldb = K + 2
			}
			for m := 0; m < M; m++ {
				for k := 0; k < K; k++ {
					if ta {
						A[k*lda+m] = float32(a[m*K+k])
					} else {
						A[m*lda+k] = float32(a[m*K+k])
					}
				}
			}
			for k := 0; k < K; k++ {
				for n := 0; n < N; n++ {
					if tb {
						B[n*ldb+k] = float32(b[k*N+n])
					} else {
						B[k*ldb+n] = float32(b[k*N+n])
					}
				}
			}
			C := make([]float32, M*ldc)
			for m := 0; m < M; m++ {
				for n := 0; n < N; n++ {
					C[m*ldc+n] = float32(c0[m*N+n])
				}
			}
			Sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
			for m := 0; m < M; m++ {
				for n := 0; n < N; n++ {
					want := beta * c0[m*N+n]
					for k := 0; k < K; k++ {
						want += alpha * a[m*K+k] * b[k*N+n]
					}
					if float64(C[m*ldc+n]) != want {
						t.Fatalf("transA=%v transB=%v C[%d,%d] = %v, want %v", ta, tb, m, n, C[m*ldc+n], want)
					}
				}
			}
		}
	}
}

// TestAdamFirstStep: on the first step with bias correction, Adam moves
// every parameter by lr·g/(|g| + ε') ≈ lr·sign(g), and zero gradients leave
// parameters alone.
func TestAdamFirstStep(t *testing.T) {
	cfg := AdamConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	p := []float32{1, 1, 1, 1}
	g := []float32{0.5, -2, 1e-3, 0}
	m, v := make([]float32, 4), make([]float32, 4)
	bc1, bc2 := AdamBiasCorrections(cfg.Beta1, cfg.Beta2, 1)
	Adam(p, g, m, v, cfg, bc1, bc2)
	want := []float64{1 - 1e-3, 1 + 1e-3, 1 - 1e-3, 1}
	for i := range p {
		if math.Abs(float64(p[i])-want[i]) > 1e-6 {
			t.Fatalf("param %d = %v, want %v", i, p[i], want[i])
		}
	}
	pw := [2]float32{1, 1}
	for i := 0; i < 100; i++ {
		AdamPowers(&pw, cfg.Beta1, cfg.Beta2)
	}
	b1, b2 := AdamBiasCorrections(cfg.Beta1, cfg.Beta2, 100)
	if math.Abs(float64(1-pw[0]-b1)) > 1e-6 || math.Abs(float64(1-pw[1]-b2)) > 1e-6 {
		t.Fatalf("powers after 100 steps give (%v, %v), pow gives (%v, %v)", 1-pw[0], 1-pw[1], b1, b2)
	}
}
