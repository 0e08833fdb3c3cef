package ops

import "math"

// AdamConfig holds Adam's hyper-parameters (torch.optim.Adam defaults: LR
// 1e-3, Beta1 0.9, Beta2 0.999, Eps 1e-8, WeightDecay 0).
type AdamConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float32
}

// AdamBiasCorrections returns bc1 = 1 − β1^t and bc2 = 1 − β2^t for step t
// (1 for the first update), computed in float64 then rounded, as PyTorch does.
func AdamBiasCorrections(beta1, beta2 float32, t int) (bc1, bc2 float32) {
	return float32(1 - math.Pow(float64(beta1), float64(t))),
		float32(1 - math.Pow(float64(beta2), float64(t)))
}

// AdamPowers advances pw = {β1^t, β2^t} by one step in float32, as the
// kernel tg_adam_powers does on the device (start from {1, 1}); the bias
// corrections are then 1 − pw[0] and 1 − pw[1].
func AdamPowers(pw *[2]float32, beta1, beta2 float32) {
	pw[0] = float32(pw[0] * beta1)
	pw[1] = float32(pw[1] * beta2)
}

// Adam applies one Adam step to every element (tg_adam_update, kernels
// tg_adam and tg_adam_dev), bit-identical to the kernels:
//
//	g ← g + wd·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p − (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + ε)
//
// param, grad, m and v have the same length; m and v start at zero.
func Adam(param, grad, m, v []float32, c AdamConfig, bc1, bc2 float32) {
	step := c.LR / bc1
	sbc2 := sqrtf(bc2)
	for i := range param {
		p, g := param[i], grad[i]
		if c.WeightDecay != 0 {
			g = float32(g + float32(c.WeightDecay*p))
		}
		mm := float32(float32(c.Beta1*m[i]) + float32((1-c.Beta1)*g))
		vv := float32(float32(c.Beta2*v[i]) + float32((1-c.Beta2)*float32(g*g)))
		denom := float32(sqrtf(vv)/sbc2) + c.Eps
		m[i], v[i] = mm, vv
		param[i] = p - float32(step*float32(mm/denom))
	}
}

// sqrtf is the correctly rounded float32 square root (sqrtf).
func sqrtf(x float32) float32 { return float32(math.Sqrt(float64(x))) }
