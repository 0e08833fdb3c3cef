//go:build gpu && !emu

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/cuda"
	"tagimp/model/ops"
)

// Every kernel against its CPU twin in model/ops on fresh random inputs,
// with every output buffer filled with NaN before the launch.
//
// Bounds: element-wise kernels are bit-compatible with their twins by
// construction (same header, no FMA contraction); they are held to a
// relative error of 1e-5 with a zero pattern (ReLU, dropout) that must
// match exactly. Products and sums are held to 1e-5·Σ|terms| in FP32 and
// 1e-3·Σ|terms| with TF32 (the twin sums in float64).

const (
	fp32Bound = 1e-5
	tf32Bound = 1e-3
)

func TestGemm(t *testing.T) {
	tests := []struct {
		name           string
		impl           string // "ours", "cublas", "cublas-tf32"
		transA, transB bool
		M, N, K        int
		beta           float32
	}{
		{"forward ours", "ours", false, true, 32, 300, 517, 0},
		{"dW ours", "ours", true, false, 116, 257, 32, 0},
		{"dX ours", "ours", false, false, 31, 640, 116, 1},
		{"forward cublas", "cublas", false, true, 32, 1024, 4096, 0},
		{"dW cublas", "cublas", true, false, 116, 1000, 32, 0},
		{"dX cublas accumulate", "cublas", false, false, 32, 4096, 116, 1},
		{"both transposed cublas", "cublas", true, true, 33, 65, 129, 0},
		{"forward tf32", "cublas-tf32", false, true, 32, 1024, 4096, 0},
		{"dW tf32", "cublas-tf32", true, false, 512, 300, 32, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openDev(t, tt.impl == "cublas-tf32")
			rng := rand.New(rand.NewPCG(uint64(tt.M*7+tt.N), uint64(tt.K)))
			lda, ldb := tt.K, tt.N
			aRows, bRows := tt.M, tt.K
			if tt.transA {
				lda, aRows = tt.M, tt.K
			}
			if tt.transB {
				ldb, bRows = tt.K, tt.N
			}
			A := randn(rng, aRows*lda, 1)
			B := randn(rng, bRows*ldb, 1)
			C0 := randn(rng, tt.M*tt.N, 1)
			want := append([]float32(nil), C0...)
			ops.Sgemm(tt.transA, tt.transB, tt.M, tt.N, tt.K, 1, A, lda, B, ldb, tt.beta, want, tt.N)
			scale := gemmScale(tt.transA, tt.transB, tt.M, tt.N, tt.K, A, lda, B, ldb)
			if tt.beta != 0 {
				for i := range scale {
					scale[i] += math.Abs(float64(C0[i]))
				}
			}
			dA, dB := d.buf(A), d.buf(B)
			var dC cuda.Buffer
			if tt.beta == 0 {
				dC = d.poisoned(tt.M * tt.N)
			} else {
				dC = d.buf(C0)
			}
			var err error
			if tt.impl == "ours" {
				err = d.k.Sgemm(nil, tt.transA, tt.transB, tt.M, tt.N, tt.K, 1, dA, lda, dB, ldb, tt.beta, dC, tt.N)
			} else {
				err = d.blas.Sgemm(tt.transA, tt.transB, tt.M, tt.N, tt.K, 1, dA, lda, dB, ldb, tt.beta, dC, tt.N)
			}
			if err != nil {
				t.Fatal(err)
			}
			bound := fp32Bound
			if tt.impl == "cublas-tf32" {
				bound = tf32Bound
			}
			checkGemm(t, tt.name, d.get(dC, tt.M*tt.N), want, scale, bound)
		})
	}
}

func TestSgemmDense(t *testing.T) {
	tests := []struct {
		name    string
		M, N, K int
		act     cuda.Act
		p       float32
		bias    bool
	}{
		{"relu dropout", 32, 300, 257, cuda.ActReLU, 0.5, true},
		{"relu no dropout", 17, 129, 64, cuda.ActReLU, 0, true},
		{"output layer", 32, 116, 512, cuda.ActNone, 0, true},
		{"no bias", 5, 70, 33, cuda.ActNone, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openDev(t, false)
			rng := rand.New(rand.NewPCG(uint64(tt.M), uint64(tt.N*tt.K)))
			X, W := randn(rng, tt.M*tt.K, 1), randn(rng, tt.N*tt.K, 1)
			var bias []float32
			var dBias cuda.Buffer
			if tt.bias {
				bias = randn(rng, tt.N, 1)
				dBias = d.buf(bias)
			}
			const seed, stream = 12345, 67
			want := make([]float32, tt.M*tt.N)
			ops.Sgemm(false, true, tt.M, tt.N, tt.K, 1, X, tt.K, W, tt.K, 0, want, tt.N)
			ops.DenseForward(want, bias, tt.M, tt.N, int(tt.act), seed, stream, tt.p)
			scale := gemmScale(false, true, tt.M, tt.N, tt.K, X, tt.K, W, tt.K)
			for i := range scale {
				// ReLU is 1-Lipschitz and a kept unit is scaled by 1/(1−p).
				scale[i] = (scale[i] + 1) * float64(ops.KeepScale(tt.p))
			}
			Y := d.poisoned(tt.M * tt.N)
			key := ops.StreamKey(seed, stream)
			if err := d.k.SgemmDense(nil, tt.M, tt.N, tt.K, d.buf(X), d.buf(W), dBias, Y, tt.act, key, tt.p); err != nil {
				t.Fatal(err)
			}
			checkGemm(t, tt.name, d.get(Y, tt.M*tt.N), want, scale, fp32Bound)
		})
	}
}

func TestDenseForward(t *testing.T) {
	tests := []struct {
		name       string
		rows, cols int
		act        cuda.Act
		p          float32
		bias       bool
	}{
		{"trunk relu dropout", 32, 4096, cuda.ActReLU, 0.5, true},
		{"odd relu dropout", 7, 1001, cuda.ActReLU, 0.5, true},
		{"relu p=0.3", 3, 300, cuda.ActReLU, 0.3, false},
		{"relu inference", 9, 257, cuda.ActReLU, 0, true},
		{"head bias", 32, 116, cuda.ActNone, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openDev(t, false)
			rng := rand.New(rand.NewPCG(uint64(tt.rows), uint64(tt.cols)))
			n := tt.rows * tt.cols
			Y0 := randn(rng, n, 2)
			var bias []float32
			var dBias cuda.Buffer
			if tt.bias {
				bias = randn(rng, tt.cols, 1)
				dBias = d.buf(bias)
			}
			seed, stream := rng.Uint64(), ops.DropoutStream(rng.Uint64N(1<<20), 1)
			want := append([]float32(nil), Y0...)
			ops.DenseForward(want, bias, tt.rows, tt.cols, int(tt.act), seed, stream, tt.p)
			dY := d.buf(Y0)
			if err := d.k.DenseForward(nil, dY, dBias, tt.rows, tt.cols, tt.act, ops.StreamKey(seed, stream), tt.p); err != nil {
				t.Fatal(err)
			}
			got := d.get(dY, n)
			for i := range want {
				if (got[i] == 0) != (want[i] == 0) {
					t.Fatalf("element %d (row %d, col %d): got %v, want %v: ReLU/dropout pattern differs", i, i/tt.cols, i%tt.cols, got[i], want[i])
				}
			}
			checkRel(t, "Y", got, want, 1e-30, fp32Bound)
			if tt.p > 0 {
				dropped := 0
				for i := range want {
					pre := Y0[i]
					if bias != nil {
						pre += bias[i%tt.cols]
					}
					if pre > 0 && got[i] == 0 {
						dropped++
					}
				}
				if dropped == 0 {
					t.Errorf("dropout p=%v dropped nothing", tt.p)
				}
			}
		})
	}
}

func TestDenseBackward(t *testing.T) {
	tests := []struct {
		name       string
		rows, cols int
		act        cuda.Act
		inPlace    bool
		noDA, noDB bool
	}{
		{"relu in place", 32, 4096, cuda.ActReLU, true, false, false},
		{"relu separate", 13, 300, cuda.ActReLU, false, false, false},
		{"none bias only", 32, 116, cuda.ActNone, false, true, false},
		{"relu no bias", 8, 77, cuda.ActReLU, false, false, true},
		{"one row", 1, 1000, cuda.ActReLU, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openDev(t, false)
			rng := rand.New(rand.NewPCG(uint64(tt.rows)+99, uint64(tt.cols)))
			n := tt.rows * tt.cols
			const p = 0.5
			keep := ops.KeepScale(p)
			Y := randn(rng, n, 1)
			ops.DenseForward(Y, nil, tt.rows, tt.cols, int(cuda.ActReLU), 7, 11, p)
			dY := randn(rng, n, 1)
			wantA := make([]float32, n)
			wantB := make([]float32, tt.cols)
			ops.DenseBackward(wantA, dY, Y, wantB, tt.rows, tt.cols, int(tt.act), keep)
			ddY, dYout := d.buf(dY), d.buf(Y)
			var dA, db cuda.Buffer
			switch {
			case tt.inPlace:
				dA = ddY
			case !tt.noDA:
				dA = d.poisoned(n)
			}
			if !tt.noDB {
				db = d.poisoned(tt.cols)
			}
			if err := d.k.DenseBackward(nil, dA, ddY, dYout, db, tt.rows, tt.cols, tt.act, keep); err != nil {
				t.Fatal(err)
			}
			if !tt.noDA {
				checkRel(t, "dA", d.get(dA, n), wantA, 1e-30, fp32Bound)
			}
			if !tt.noDB {
				scale := make([]float64, tt.cols)
				for i, v := range wantA {
					scale[i%tt.cols] += math.Abs(float64(v))
				}
				checkGemm(t, "db", d.get(db, tt.cols), wantB, scale, fp32Bound)
			}
		})
	}
}

func TestLosses(t *testing.T) {
	tests := []struct {
		name   string
		kind   string // "bce", "mse", "mse-mask"
		n      int
		zscale float64
		nulls  bool // grad and prob null, loss only
	}{
		{"bce batch", "bce", 32 * 116, 3, false},
		{"bce extreme logits", "bce", 5000, 60, false},
		{"bce one", "bce", 1, 1, false},
		{"bce loss only", "bce", 700, 2, true},
		{"mse all", "mse", 32 * 116, 2, false},
		{"mse mask", "mse-mask", 32 * 116, 2, false},
		{"mse mask large", "mse-mask", 40000, 4, false},
		{"mse loss only", "mse", 333, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openDev(t, false)
			rng := rand.New(rand.NewPCG(uint64(tt.n), 5))
			z := randn(rng, tt.n, tt.zscale)
			y := bernoulli(rng, tt.n, 0.1)
			target := make([]float32, tt.n)
			for i := range target {
				target[i] = y[i] * float32(1+rng.IntN(5)) / 5
			}
			wantG, wantP := make([]float32, tt.n), make([]float32, tt.n)
			var wantL float32
			var mask []float32
			switch tt.kind {
			case "bce":
				wantL = ops.BCEWithLogits(wantG, wantP, z, y)
			case "mse":
				wantL = ops.SigmoidMSE(wantG, wantP, z, target, nil)
			case "mse-mask":
				mask = y
				wantL = ops.SigmoidMSE(wantG, wantP, z, target, mask)
			}
			var grad, prob cuda.Buffer
			if !tt.nulls {
				grad, prob = d.poisoned(tt.n), d.poisoned(tt.n)
			}
			loss := d.poisoned(1)
			var err error
			if tt.kind == "bce" {
				err = d.k.BCEWithLogits(nil, grad, prob, loss, d.buf(z), d.buf(y), tt.n)
			} else {
				var dm cuda.Buffer
				if mask != nil {
					dm = d.buf(mask)
				}
				err = d.k.SigmoidMSE(nil, grad, prob, loss, d.buf(z), d.buf(target), dm, tt.n)
			}
			if err != nil {
				t.Fatal(err)
			}
			checkRel(t, "loss", d.get(loss, 1), []float32{wantL}, 1e-30, fp32Bound)
			if !tt.nulls {
				checkRel(t, "grad", d.get(grad, tt.n), wantG, 1e-30, fp32Bound)
				checkRel(t, "prob", d.get(prob, tt.n), wantP, 1e-30, fp32Bound)
			}
		})
	}
}

func TestSigmoid(t *testing.T) {
	for _, n := range []int{1, 116, 32*116 + 5, 1 << 20} {
		d := openDev(t, false)
		rng := rand.New(rand.NewPCG(uint64(n), 3))
		z := randn(rng, n, 20)
		want := make([]float32, n)
		for i, v := range z {
			want[i] = ops.Sigmoid(v)
		}
		out := d.poisoned(n)
		if err := d.k.Sigmoid(nil, out, d.buf(z), n); err != nil {
			t.Fatal(err)
		}
		checkRel(t, "sigmoid", d.get(out, n), want, 1e-30, fp32Bound)
		// In place.
		dz := d.buf(z)
		if err := d.k.Sigmoid(nil, dz, dz, n); err != nil {
			t.Fatal(err)
		}
		checkRel(t, "sigmoid in place", d.get(dz, n), want, 1e-30, fp32Bound)
	}
}

func TestModel2Inputs(t *testing.T) {
	tests := []struct {
		name       string
		B, D, T, E int
		pad        int // extra columns per output row that must stay poisoned
		theta      float32
	}{
		{"paper shapes", 32, 4096, 116, 300, 0, 0.5},
		{"strided", 5, 100, 30, 17, 3, 0.3},
		{"no tag above threshold", 4, 64, 10, 8, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openDev(t, false)
			rng := rand.New(rand.NewPCG(uint64(tt.B*tt.T), uint64(tt.E)))
			x := randn(rng, tt.B*tt.D, 1)
			probs := make([]float32, tt.B*tt.T)
			for i := range probs {
				probs[i] = rng.Float32()
			}
			vecs := randn(rng, tt.T*tt.E, 1)
			dx, dp, dv := d.buf(x), d.buf(probs), d.buf(vecs)

			// Weighted average into rows of stride E+pad.
			stride := tt.E + tt.pad
			wantWA := make([]float32, tt.B*tt.E)
			ops.WeightedAverage(wantWA, probs, vecs, tt.B, tt.T, tt.E, tt.theta)
			out := d.poisoned(tt.B * stride)
			if err := d.k.WeightedAverage(nil, out, stride, dp, dv, tt.B, tt.T, tt.E, tt.theta); err != nil {
				t.Fatal(err)
			}
			got := d.get(out, tt.B*stride)
			checkRel(t, "WA", unstride(t, got, tt.B, tt.E, stride), wantWA, 1e-6, fp32Bound)

			// L2-normalised rows.
			stride = tt.D + tt.pad
			wantN := make([]float32, tt.B*tt.D)
			ops.L2NormalizeRows(wantN, tt.D, x, tt.B, tt.D)
			out = d.poisoned(tt.B * stride)
			if err := d.k.L2NormRows(nil, out, stride, dx, tt.B, tt.D); err != nil {
				t.Fatal(err)
			}
			checkRel(t, "L2 rows", unstride(t, d.get(out, tt.B*stride), tt.B, tt.D, stride), wantN, 1e-6, fp32Bound)

			// The fused Model 2 input.
			w := tt.D + tt.E
			want := make([]float32, tt.B*w)
			ops.Model2Input(want, x, probs, vecs, tt.B, tt.D, tt.T, tt.E, tt.theta)
			out = d.poisoned(tt.B * w)
			if err := d.k.Model2Input(nil, out, dx, dp, dv, tt.B, tt.D, tt.T, tt.E, tt.theta); err != nil {
				t.Fatal(err)
			}
			checkRel(t, "model2 input", d.get(out, tt.B*w), want, 1e-6, fp32Bound)
		})
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
	tests := []struct {
		name  string
		n     int
		steps int
		dev   bool // bias corrections from device memory (AdamDev + AdamPowers)
		wd    float32
	}{
		{"host corrections", 100003, 3, false, 0},
		{"weight decay", 4097, 2, false, 0.01},
		{"device corrections", 65536 + 7, 5, true, 0},
		{"one element", 1, 4, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := openDev(t, false)
			rng := rand.New(rand.NewPCG(uint64(tt.n), 17))
			h := cuda.AdamHyper{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: tt.wd}
			oc := ops.AdamConfig{LR: h.LR, Beta1: h.Beta1, Beta2: h.Beta2, Eps: h.Eps, WeightDecay: h.WeightDecay}
			p := randn(rng, tt.n, 0.1)
			m, v := make([]float32, tt.n), make([]float32, tt.n)
			dp, dm, dv := d.buf(p), d.buf(m), d.buf(v)
			pw := [2]float32{1, 1}
			dpw := d.buf(pw[:])
			for s := 1; s <= tt.steps; s++ {
				g := randn(rng, tt.n, 1e-2)
				dg := d.buf(g)
				var err error
				if tt.dev {
					ops.AdamPowers(&pw, h.Beta1, h.Beta2)
					ops.Adam(p, g, m, v, oc, 1-pw[0], 1-pw[1])
					if err = d.k.AdamPowers(nil, dpw, h.Beta1, h.Beta2); err == nil {
						err = d.k.AdamDev(nil, dp, dg, dm, dv, tt.n, h, dpw)
					}
				} else {
					bc1, bc2 := ops.AdamBiasCorrections(h.Beta1, h.Beta2, s)
					ops.Adam(p, g, m, v, oc, bc1, bc2)
					err = d.k.Adam(nil, dp, dg, dm, dv, tt.n, h, bc1, bc2)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			checkRel(t, "param", d.get(dp, tt.n), p, 1e-30, fp32Bound)
			checkRel(t, "m", d.get(dm, tt.n), m, 1e-30, fp32Bound)
			checkRel(t, "v", d.get(dv, tt.n), v, 1e-30, fp32Bound)
		})
	}
}
