package ops

import "math"

// WeightedAverage computes Model 2's word-vector input for a batch
// (tg_wa_row, kernels/wa.cu):
//
//	N(b)   = #{t : p[b,t] ≥ θ}
//	WA(b)  = Σ_{t : p[b,t] ≥ θ} v[t]·p[b,t] / N(b)      (zero vector when N(b) = 0)
//	dst(b) = WA(b) / max(‖WA(b)‖₂, 1e-12)
//
// probs is [batch, tags], vecs [tags, dim], dst [batch, dim], all row-major.
// In training probs holds the 0/1 ground truth; at test time the tag head's
// probabilities. Sums run over t in increasing order, as in the C twin.
func WeightedAverage(dst, probs, vecs []float32, batch, tags, dim int, theta float32) {
	for b := 0; b < batch; b++ {
		p := probs[b*tags : (b+1)*tags]
		out := dst[b*dim : (b+1)*dim]
		n := 0
		for _, pt := range p {
			if pt >= theta {
				n++
			}
		}
		var ss float32
		for e := 0; e < dim; e++ {
			var acc float32
			for t, pt := range p {
				w := float32(0)
				if pt >= theta {
					w = pt
				}
				acc += w * vecs[t*dim+e]
			}
			var wa float32
			if n > 0 {
				wa = acc / float32(n)
			}
			out[e] = wa
			ss += wa * wa
		}
		inv := l2Inv(ss)
		for e := range out {
			out[e] *= inv
		}
	}
}

// l2Inv is tg_l2_inv: 1 / max(sqrt(sumsq), 1e-12), in float32.
func l2Inv(sumsq float32) float32 {
	n := float32(math.Sqrt(float64(sumsq)))
	if n < 1e-12 {
		n = 1e-12
	}
	return 1 / n
}

// L2Normalize scales x to unit L2 norm: x / max(‖x‖₂, 1e-12).
func L2Normalize(x []float32) {
	var ss float32
	for _, v := range x {
		ss += v * v
	}
	inv := l2Inv(ss)
	for i := range x {
		x[i] *= inv
	}
}
