//go:build gpu

package gpu

import (
	"math"
	"testing"

	"tagimp/model"
)

// Bounds of the engine against the CPU engine (model/cpu), in the
// philosophy of package cuda's kernel bounds (cuda/bounds_test.go): a sum
// of n products in float32 errs by at most γ(n)·Σ|terms|, γ(n) = nε/(1−nε),
// ε = 2⁻²⁴, whatever the order and with or without FMA; each further
// rounding adds ε relative; σ differs by the expf ulp terms. Both engines
// round, so each sum counts twice.
//
// forwardBound bounds, per output, |GPU − CPU| of the inference forward
// pass (prob, imp, or Model 2's importance MLP) when the two engines hold
// parameters pg and pc (read back with State: their difference is known,
// not estimated). For a Linear layer y = x·Wᵀ + b over K inputs:
//
//	|Δy_j| ≤ Σ_k (|W_jk|·Δx_k + |x_k|·|ΔW_jk|) + |Δb_j| + 2(γ(K) + ε)·(Σ_k|x_k W_jk| + |b_j|),
//
// ReLU is 1-Lipschitz, and σ moves by at most (s(1−s) + 0.1·Δz)·Δz for a
// logit error Δz (|d(s(1−s))/dz| ≤ 0.1), plus 10ε·s for the expf terms and
// e⁻¹⁵ where gorgonia's σ saturates to 1 (z > 15).
type linearLayer struct{ w, b string }

func forwardBound(c model.Config, pg, pc *model.Params, in, inErr []float32, rows int, layers []linearLayer) []float64 {
	x := make([]float64, len(in))
	dx := make([]float64, len(in))
	for i := range in {
		x[i] = float64(in[i])
		if inErr != nil {
			dx[i] = float64(inErr[i])
		}
	}
	width := len(in) / rows
	for li, l := range layers {
		W, Wc := pg.Get(l.w), pc.Get(l.w)
		b, bc := pg.Get(l.b), pc.Get(l.b)
		out, K := W.Shape[0], W.Shape[1]
		if K != width {
			panic("forwardBound: layer shapes do not chain")
		}
		y := make([]float64, rows*out)
		dy := make([]float64, rows*out)
		for r := 0; r < rows; r++ {
			xr, dxr := x[r*K:(r+1)*K], dx[r*K:(r+1)*K]
			for j := 0; j < out; j++ {
				var acc, abs, prop float64
				for k := 0; k < K; k++ {
					w := float64(W.Data[j*K+k])
					acc += xr[k] * w
					abs += math.Abs(xr[k] * w)
					prop += math.Abs(w)*dxr[k] + math.Abs(xr[k])*math.Abs(w-float64(Wc.Data[j*K+k]))
				}
				bj := float64(b.Data[j])
				acc += bj
				e := prop + math.Abs(bj-float64(bc.Data[j])) + 2*(gammaN(K)+eps)*(abs+math.Abs(bj))
				if li < len(layers)-1 { // hidden: ReLU
					acc = math.Max(acc, 0)
				}
				y[r*out+j], dy[r*out+j] = acc, e
			}
		}
		x, dx, width = y, dy, out
	}
	bound := make([]float64, len(x))
	for i, z := range x {
		s := 1 / (1 + math.Exp(-z))
		b := (s*(1-s)+0.1*dx[i])*dx[i] + 10*eps*s
		if z+dx[i] > 15 {
			b += math.Exp(-15)
		}
		bound[i] = b
	}
	return bound
}

// eps is float32's unit roundoff.
const eps = 1.0 / (1 << 24)

func gammaN(n int) float64 {
	x := float64(n) * eps
	return x / (1 - x)
}

// l2InputErr bounds the error of an L2-normalised row of d values (the
// two engines sum the squares in different orders): |out|·(γ(d) + 8ε).
func l2InputErr(row []float32) []float32 {
	out := make([]float32, len(row))
	for i, v := range row {
		out[i] = float32(math.Abs(float64(v)) * (gammaN(len(row)) + 8*eps))
	}
	return out
}

// checkForward compares the GPU's and the CPU's predictions within
// forwardBound.
func checkForward(t *testing.T, what string, got, want []float32, bound []float64) {
	t.Helper()
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if !(d <= bound[i]) {
			t.Errorf("%s element %d: GPU %v, CPU %v, |Δ| %.3g > derived bound %.3g", what, i, got[i], want[i], d, bound[i])
			return
		}
	}
}
