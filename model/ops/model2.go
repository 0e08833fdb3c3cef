package ops

// L2NormalizeRows writes dst[r·dstStride : r·dstStride+d] = x[r] /
// max(‖x[r]‖₂, 1e-12) for the rows of x [rows, d] (tg_l2norm_rows); dst may
// be x with dstStride = d.
func L2NormalizeRows(dst []float32, dstStride int, x []float32, rows, d int) {
	for r := 0; r < rows; r++ {
		src := x[r*d : (r+1)*d]
		var ss float32
		for _, v := range src {
			ss += float32(v * v)
		}
		inv := l2Inv(ss)
		out := dst[r*dstStride : r*dstStride+d]
		for i, v := range src {
			out[i] = float32(v * inv)
		}
	}
}

// Model2Input builds the input of Model 2's importance MLP
// (tg_model2_input): dst [batch, d+e] = concat(fc7[b]/‖fc7[b]‖, WA(b)) with
// WA as WeightedAverage computes it. fc7 is [batch, d], probs [batch, tags]
// (ground truth in training, tag probabilities at test time), vecs [tags, e].
func Model2Input(dst, fc7, probs, vecs []float32, batch, d, tags, e int, theta float32) {
	L2NormalizeRows(dst, d+e, fc7, batch, d)
	wa := make([]float32, e)
	for b := 0; b < batch; b++ {
		WeightedAverage(wa, probs[b*tags:(b+1)*tags], vecs, 1, tags, e, theta)
		copy(dst[b*(d+e)+d:(b+1)*(d+e)], wa)
	}
}
