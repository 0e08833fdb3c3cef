package ops

// Activation of a dense layer, as the kernels' act argument (TG_ACT_*).
const (
	ActNone = 0 // y = a + b (output layers)
	ActReLU = 1 // y = ReLU(a + b) · dropout mask
)

// DenseAct is tg_dense_act: bias and activation of one element a of X·Wᵀ.
// For ActReLU the result is ReLU(a + bias) times the dropout factor of
// element idx under key (p = 0: no dropout).
func DenseAct(a, bias float32, act int, key, idx uint64, p float32) float32 {
	x := float32(a + bias)
	if act == ActNone {
		return x
	}
	if !(x > 0) {
		return 0
	}
	if p > 0 {
		return float32(x * dropoutScaleKey(key, idx, p))
	}
	return x
}

// KeepScale is the factor a kept element carries: 1/(1-p), 1 when p = 0
// (tg_keep_scale); DenseBackward takes it.
func KeepScale(p float32) float32 {
	if p > 0 {
		return 1 / (1 - p)
	}
	return 1
}

// DenseForward is the fused forward epilogue (kernels/dense.cu
// tg_dense_forward and the epilogue of tg_sgemm_dense), in place on
// y [rows, cols] = X·Wᵀ:
//
//	y[r,c] = act(y[r,c] + bias[c])
//
// with the dropout factor DropoutScale(seed, stream, r·cols+c, p) for
// ActReLU. bias may be nil. Bit-identical to the kernels.
func DenseForward(y, bias []float32, rows, cols, act int, seed, stream uint64, p float32) {
	key := StreamKey(seed, stream)
	for r := 0; r < rows; r++ {
		row := y[r*cols : (r+1)*cols]
		for c := range row {
			var b float32
			if bias != nil {
				b = bias[c]
			}
			row[c] = DenseAct(row[c], b, act, key, uint64(r*cols+c), p)
		}
	}
}

// DenseActGrad is tg_dense_act_grad: the gradient through ReLU and dropout
// from the layer's output y (y > 0 means ReLU passed and the mask kept it).
func DenseActGrad(dy, y, keep float32) float32 {
	if y > 0 {
		return float32(dy * keep)
	}
	return 0
}

// DenseBackward is the fused backward epilogue (tg_dense_backward):
//
//	dA[r,c] = DenseActGrad(dY[r,c], Y[r,c], keep)   (ActReLU; dY itself for ActNone)
//	db[c]   = Σ_r dA[r,c]
//
// dA may alias dY or be nil; db may be nil; y is read only for ActReLU. The
// column sums follow the kernel's order (eight partial sums over rows
// r ≡ j mod 8, then added for j = 0..7), so db is bit-identical too.
func DenseBackward(dA, dY, y, db []float32, rows, cols, act int, keep float32) {
	var part [8]float32
	for c := 0; c < cols; c++ {
		part = [8]float32{}
		for r := 0; r < rows; r++ {
			i := r*cols + c
			g := dY[i]
			if act == ActReLU {
				g = DenseActGrad(g, y[i], keep)
			}
			if dA != nil {
				dA[i] = g
			}
			part[r%8] += g
		}
		if db != nil {
			t := part[0]
			for j := 1; j < 8; j++ {
				t += part[j]
			}
			db[c] = t
		}
	}
}
