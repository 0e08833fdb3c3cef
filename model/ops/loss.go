package ops

import "math"

func expf(x float32) float32   { return float32(math.Exp(float64(x))) }
func log1pf(x float32) float32 { return float32(math.Log1p(float64(x))) }

// Sigmoid is tg_sigmoid: 1/(1+e^{-z}) for z ≥ 0, e^z/(1+e^z) otherwise, so
// neither branch overflows.
func Sigmoid(z float32) float32 {
	if z >= 0 {
		return 1 / (1 + expf(-z))
	}
	e := expf(z)
	return e / (1 + e)
}

// BCELogitsLoss is tg_bce_logits_loss: max(z,0) − z·y + log1p(e^{−|z|}),
// the binary cross-entropy of σ(z) against y, finite for any finite z.
func BCELogitsLoss(z, y float32) float32 {
	zy := float32(z * y)
	return float32(max(z, 0)-zy) + log1pf(expf(-float32(math.Abs(float64(z)))))
}

// SigmoidMSEGrad is tg_sigmoid_mse_grad: ∂(σ(z) − t)²/∂z = 2(s − t)s(1 − s)
// with s = σ(z).
func SigmoidMSEGrad(s, t float32) float32 {
	return float32(float32(float32(2*(s-t))*s) * (1 - s))
}

// BCEWithLogits is the tag head's loss (tg_bce_logits) over n logits z and
// 0/1 targets y: it returns the mean BCE and writes grad[i] = (σ(z_i) −
// y_i)/n and prob[i] = σ(z_i); grad and prob may be nil. The loss is summed
// in float64 (the kernel reduces in float32 across a block: compare with a
// relative bound of 1e-5).
func BCEWithLogits(grad, prob, z, y []float32) float32 {
	n := len(z)
	inv := 1 / float32(max(n, 1))
	var sum float64
	for i, zi := range z {
		if prob != nil {
			prob[i] = Sigmoid(zi)
		}
		if grad != nil {
			grad[i] = float32((Sigmoid(zi) - y[i]) * inv)
		}
		sum += float64(BCELogitsLoss(zi, y[i]))
	}
	return float32(sum) * inv
}

// SigmoidMSE is an importance head's loss (tg_sigmoid_mse): with s = σ(z),
// w = mask[i] (0/1) or 1 when mask is nil and cnt = Σw, it returns
// Σ w(s − t)² / max(cnt, 1) and writes grad[i] = w·2(s − t)s(1 − s) /
// max(cnt, 1) and prob[i] = s; grad and prob may be nil.
func SigmoidMSE(grad, prob, z, t, mask []float32) float32 {
	cnt := float32(len(z))
	if mask != nil {
		var c float64
		for _, m := range mask[:len(z)] {
			c += float64(m)
		}
		cnt = float32(c)
	}
	inv := 1 / max(cnt, 1)
	var sum float64
	for i, zi := range z {
		s := Sigmoid(zi)
		w := float32(1)
		if mask != nil {
			w = mask[i]
		}
		if prob != nil {
			prob[i] = s
		}
		if grad != nil {
			grad[i] = float32(float32(w*SigmoidMSEGrad(s, t[i])) * inv)
		}
		d := float64(s - t[i])
		sum += float64(w) * d * d
	}
	return float32(sum) * inv
}
