//go:build gpu

package cuda

// Error bounds of the kernels against their CPU twins (model/ops), each
// derived from the operation rather than picked. One philosophy, here and
// in package gpu's engine tests:
//
//   - Element-wise math that the kernel writes with tg_mul/tg_add
//     (__fmul_rn/__fadd_rn: no fused multiply-add) in the twin's order,
//     with IEEE-rounded division and sqrtf on both sides (nvcc's defaults,
//     never --use_fast_math): identical bits. That is the dense epilogues
//     (bias, ReLU, dropout scale), their backward pass and bias-gradient
//     sums (the twin adds the 8 partial sums in the kernel's order), Adam,
//     the gathers and the step state. These are compared bit for bit.
//   - Sums of products (GEMMs, the WA sums, squared norms, loss means): the
//     kernels keep nvcc's FMA contraction and their own reduction trees, so
//     the bound is the classic one for a sum of n terms in any order and
//     with or without FMA (Higham, Accuracy and Stability, §3.1): |fl(Σ) −
//     Σ| ≤ γ(n)·Σ|terms|, γ(n) = nε/(1−nε), ε = 2⁻²⁴ — per side, plus one ε
//     per rounding after the sum. A reduction tree of depth d (a thread's
//     sequential part plus the block's shuffle levels) gives γ(d).
//   - expf: CUDA's is within 2 ulp (CUDA C Programming Guide, "Mathematical
//     Functions", single precision), Go's math.Exp rounded to float32
//     within 1 ulp; 1 ulp of x is at most 2ε|x|, so the two e^z differ by at
//     most 6ε relative. log1pf: 1 ulp on the device.
//
// Worst-case bounds at K = 4096 are loose against the √K-like error seen in
// practice (2·4096·ε ≈ 5e-4 of Σ|a||b|): an index error that drops one
// term of 4096 could hide under them, so every kernel is also checked at
// small, odd sizes (K = 17, 33, 129), where one term is far above the
// bound, and outputs are poisoned with NaN so unwritten elements fail.

import (
	"math"
	"testing"
)

// eps is float32's unit roundoff, half an ulp of 1.
const eps = 1.0 / (1 << 24)

// tf32Unit is the relative error of rounding an FP32 operand to TF32 (10
// explicit mantissa bits), taken as a whole ulp (2⁻¹⁰) so that truncation
// is covered as well as round-to-nearest.
const tf32Unit = 1.0 / (1 << 10)

// gamma is γ(n) = nε/(1−nε), the relative bound of a sum of n terms.
func gamma(n int) float64 {
	x := float64(n) * eps
	return x / (1 - x)
}

// gemmBound bounds |GPU − twin| for each element of C = α·op(A)·op(B) +
// β·C0 (C0 nil when β = 0). With S = Σ_k|a||b|: the device sum errs by at
// most γ(K)·S (any order, FMA or not), α and the β term add two roundings,
// and ops.Sgemm (float64 sum) rounds once to float32:
//
//	|Δ| ≤ (γ(K) + 2ε)·|α|·S + 2ε·|β·c0| + ε·|want|.
//
// With TF32 (tf = tf32Unit) each product also carries the operands'
// rounding, (1+u)² − 1 ≤ 2u + u²: add (2u + u²)·|α|·S.
func gemmBound(ta, tb bool, M, N, K int, alpha float32, A []float32, lda int, B []float32, ldb int,
	beta float32, C0, want []float32, tf float64) []float64 {
	S := absGemm(ta, tb, M, N, K, A, lda, B, ldb)
	out := make([]float64, M*N)
	for i := range out {
		b := (gamma(K)+2*eps+2*tf+tf*tf)*math.Abs(float64(alpha))*S[i] + eps*math.Abs(float64(want[i]))
		if C0 != nil {
			b += 2 * eps * math.Abs(float64(beta)*float64(C0[i]))
		}
		out[i] = b
	}
	return out
}

// denseGemmBound bounds a GEMM followed by the dense epilogue, Y =
// act(X·Wᵀ + bias)·keep: the product's bound (gemmBound with α = 1, β = 0),
// one rounding for the bias add, ReLU exact (1-Lipschitz; an element near
// 0 may switch by at most the bound), and the keep scale 1/(1−p) (one more
// rounding): |Δ| ≤ keep·(gemm + 2ε·(|pre| + |bias|)) + ε|want|.
func denseGemmBound(ta, tb bool, M, N, K int, X []float32, ldx int, W []float32, ldw int,
	bias []float32, p float32, want []float32, tf float64) []float64 {
	g := gemmBound(ta, tb, M, N, K, 1, X, ldx, W, ldw, 0, nil, make([]float32, M*N), tf)
	S := absGemm(ta, tb, M, N, K, X, ldx, W, ldw)
	keep := 1.0
	if p > 0 {
		keep = 1 / (1 - float64(p))
	}
	for i := range g {
		var bb float64
		if bias != nil {
			bb = math.Abs(float64(bias[i%N]))
		}
		g[i] = keep*(g[i]+2*eps*(S[i]+bb)) + eps*math.Abs(float64(want[i]))
	}
	return g
}

// absGemm is Σ_k |op(A)[m,k]|·|op(B)[k,n]| per element, in float64.
func absGemm(ta, tb bool, M, N, K int, A []float32, lda int, B []float32, ldb int) []float64 {
	s := make([]float64, M*N)
	for m := 0; m < M; m++ {
		for n := 0; n < N; n++ {
			var acc float64
			for k := 0; k < K; k++ {
				a, b := A[m*lda+k], B[k*ldb+n]
				if ta {
					a = A[k*lda+m]
				}
				if tb {
					b = B[n*ldb+k]
				}
				acc += math.Abs(float64(a) * float64(b))
			}
			s[m*N+n] = acc
		}
	}
	return s
}

// sigmoidBound bounds |Δσ| for s = σ(z): e^{∓z} differs by ≤ 6ε relative
// (expf 2 ulp on the device, ≤ 1 ulp in the twin), which moves s by
// (1−s)·6ε relative; each side rounds twice more (1 + e, the division):
// |Δs| ≤ s·(6ε(1−s) + 4ε) ≤ 10ε·s. Below 2⁻¹²⁶ (z < −87) ulps are absolute
// (2⁻¹⁴⁹, no flush to zero without --use_fast_math): add 8 of them.
func sigmoidBound(s float32) float64 {
	sf := float64(s)
	return sf*(6*eps*(1-sf)+4*eps) + 8*denormUlp
}

// denormUlp is the spacing of float32's subnormal numbers, 2⁻¹⁴⁹.
const denormUlp = 1.0 / (1 << 62) / (1 << 62) / (1 << 25)

// reduceDepth is the summation depth of a loss or norm reduction over n
// elements by one block of `threads` threads: each thread's sequential
// part, then log2(32) shuffle levels in each of the two warp passes of
// tg_block_sum.
func reduceDepth(n, threads int) int { return (n+threads-1)/threads + 10 }

// firstOutside returns the first index where |got − want| exceeds bound
// (a NaN or Inf in got always does), and false; or -1, true.
func firstOutside(got, want []float32, bound []float64) (int, bool) {
	for i := range want {
		g := float64(got[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			if float64(want[i]) != g {
				return i, false
			}
			continue
		}
		if d := math.Abs(g - float64(want[i])); !(d <= bound[i]) {
			return i, false
		}
	}
	return -1, true
}

// within fails the test at the first element outside its bound, saying how
// far outside and where the worst element is.
func within(t testing.TB, what string, got, want []float32, bound []float64) {
	t.Helper()
	if len(got) != len(want) || len(bound) != len(want) {
		t.Fatalf("%s: %d values, %d wanted, %d bounds", what, len(got), len(want), len(bound))
	}
	if i, ok := firstOutside(got, want, bound); !ok {
		worst, at := 0.0, i
		for j := range want {
			if r := math.Abs(float64(got[j])-float64(want[j])) / math.Max(bound[j], 1e-45); r > worst {
				worst, at = r, j
			}
		}
		t.Fatalf("%s element %d: GPU %v, twin %v, |Δ| %.3g > bound %.3g (worst: element %d at %.3g× its bound)",
			what, i, got[i], want[i], math.Abs(float64(got[i])-float64(want[i])), bound[i], at, worst)
	}
}

// constBound is a bound of b for n elements.
func constBound(n int, b float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// bceBounds bounds tg_bce_logits against ops.BCEWithLogits over z, y:
//
//	prob: sigmoidBound.
//	grad g = (s − y)/n: s − y adds a rounding per side, ×1/n another:
//	      |Δg| ≤ (|Δs| + 2ε|s − y|)/n + 2ε|g|.
//	loss: ℓ = max(z,0) − z·y + L, L = log1p(e^{−|z|}); the first part is
//	      exact for y ∈ {0,1}. e^{−|z|} differs by ≤ 6ε relative, which moves
//	      L by ≤ 6ε·e/(1+e) ≤ 6εL (L ≥ e/(1+e)); log1pf adds ≤ 1 ulp (device)
//	      + ½ ulp (twin) ≤ 3εL; the final add one rounding per side: |Δℓ| ≤
//	      11εℓ. The device sums over a tree of depth reduceDepth(n, 1024),
//	      the twin in float64 then rounds once; ×1/n rounds on each side:
//	      |Δloss| ≤ (11ε + γ(depth) + 3ε)·Σℓ/n.
func bceBounds(z, y, wantProb, wantGrad []float32) (prob, grad []float64, loss float64) {
	n := len(z)
	prob, grad = make([]float64, n), make([]float64, n)
	var sum float64
	for i, zi := range z {
		s := wantProb[i]
		ds := sigmoidBound(s)
		prob[i] = ds
		grad[i] = (ds+2*eps*math.Abs(float64(s-y[i])))/float64(n) + 2*eps*math.Abs(float64(wantGrad[i]))
		zf := float64(zi)
		sum += math.Max(zf, 0) - zf*float64(y[i]) + math.Log1p(math.Exp(-math.Abs(zf)))
	}
	return prob, grad, (14*eps + gamma(reduceDepth(n, 1024))) * sum / float64(n)
}

// mseBounds bounds tg_sigmoid_mse against ops.SigmoidMSE over z, targets t
// and mask (nil: all ones), with cnt = Σmask (exact: small integers):
//
//	grad g = w·2(s−t)·s·(1−s)/cnt: five roundings per side (s − t, ×s,
//	      1 − s, ×(1−s), ×1/cnt) give 10ε|g|; an error Δs in s moves g by
//	      ≤ 2w(s(1−s) + |s−t| + Δs)·Δs/cnt (the last Δs covers the second
//	      order, which matters where s is a few ulps from 1).
//	loss: d = s − t errs by Δd ≤ Δs + 2ε|d|; w·d² by 2|d|Δd + Δd² + 2εd²;
//	      the sum over a tree of depth reduceDepth(n, 1024), the twin's
//	      float64 sum rounded once and ×1/cnt on each side:
//	      |Δloss| ≤ (Σ w(2|d|Δd + Δd² + 2εd²) + (γ(depth) + 3ε)·Σ w d²)/cnt.
func mseBounds(t, mask, wantProb, wantGrad []float32) (grad []float64, loss float64) {
	n := len(t)
	cnt := float64(n)
	if mask != nil {
		cnt = 0
		for _, m := range mask {
			cnt += float64(m)
		}
	}
	cnt = math.Max(cnt, 1)
	grad = make([]float64, n)
	var errSum, sq float64
	for i := range t {
		w := 1.0
		if mask != nil {
			w = float64(mask[i])
		}
		s := float64(wantProb[i])
		ds := sigmoidBound(wantProb[i])
		d := s - float64(t[i])
		grad[i] = 2*w*(s*(1-s)+math.Abs(d)+ds)*ds/cnt + 10*eps*math.Abs(float64(wantGrad[i]))
		dd := ds + 2*eps*math.Abs(d)
		errSum += w * (2*math.Abs(d)*dd + dd*dd + 2*eps*d*d)
		sq += w * d * d
	}
	return grad, (errSum + (gamma(reduceDepth(n, 1024))+3*eps)*sq) / cnt
}

// l2Bound bounds tg_l2norm_rows against ops.L2NormalizeRows for one row x
// with output want: the squared norm errs by ≤ γ(depth) on the device
// (tree over `threads`), γ(D) + ε in the twin (sequential, products
// rounded), all relative (positive terms): r = γ(depth) + γ(D) + 2ε; sqrt
// halves it and both sqrt and the division round once per side; the product
// x·inv once more: |Δout| ≤ |out|·(r/2 + 6ε).
func l2Bound(D, threads int, want []float32) []float64 {
	r := gamma(reduceDepth(D, threads)) + gamma(D) + 2*eps
	out := make([]float64, len(want))
	for i, w := range want {
		out[i] = math.Abs(float64(w)) * (r/2 + 6*eps)
	}
	return out
}

// waBound bounds tg_weighted_average (tg_model2_input's WA part) against
// ops.WeightedAverage for one row of probabilities p [T], vectors v [T,E]
// and the twin's output want [E]. Both sides sum acc_e = Σ_t w_t·v[t,e] in
// the same order, the device with FMA: |Δacc_e| ≤ 2γ(T)·S_e, S_e =
// Σ_t|w_t·v[t,e]|; ÷n rounds once per side: B_e = (2γ(T)S_e + 2ε|acc_e|)/n.
// The squared norm ss = Σ wa_e² errs by (γ(depth) + γ(E) + 2ε)·ss +
// Σ(2|wa_e|B_e + B_e²); the inverse norm by half of that relative, plus 4ε;
// out_e = wa_e·inv by one more rounding:
// |Δout_e| ≤ B_e·inv + |out_e|·(Δss/(2ss) + 6ε).
func waBound(p, v []float32, T, E, threads int, theta float32) []float64 {
	out := make([]float64, E)
	n := 0
	for _, pt := range p {
		if pt >= theta {
			n++
		}
	}
	if n == 0 {
		return out // zero rows are written exactly
	}
	wa, B := make([]float64, E), make([]float64, E)
	var ss, dss float64
	for e := 0; e < E; e++ {
		var acc, S float64
		for t := 0; t < T; t++ {
			if p[t] >= theta {
				x := float64(p[t]) * float64(v[t*E+e])
				acc += x
				S += math.Abs(x)
			}
		}
		wa[e] = acc / float64(n)
		B[e] = (2*gamma(T)*S + 2*eps*math.Abs(acc)) / float64(n)
		ss += wa[e] * wa[e]
		dss += 2*math.Abs(wa[e])*B[e] + B[e]*B[e]
	}
	dss += (gamma(reduceDepth(E, threads)) + gamma(E) + 2*eps) * ss
	inv := 1 / math.Max(math.Sqrt(ss), 1e-12)
	for e := range out {
		outE := wa[e] * inv
		out[e] = B[e]*inv + math.Abs(outE)*(dss/(2*math.Max(ss, 1e-24))+6*eps)
	}
	return out
}
