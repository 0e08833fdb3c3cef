package hostref

import (
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/model/ops"
)

// TestRNGMatchesTwin: the Go twin draws bit-identical random numbers and
// dropout factors to the C header the kernels use.
func TestRNGMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		seed, stream, idx := r.Uint64(), r.Uint64(), r.Uint64()
		if g, c := ops.StreamKey(seed, stream), StreamKey(seed, stream); g != c {
			t.Fatalf("StreamKey(%d,%d): go %d, C %d", seed, stream, g, c)
		}
		key := StreamKey(seed, stream)
		if g, c := ops.RandU32(key, idx), RandU32(key, idx); g != c {
			t.Fatalf("RandU32: go %d, C %d", g, c)
		}
		p := []float32{0.5, 0.1, 0.9, 0}[i%4]
		if g, c := ops.DropoutScale(seed, stream, idx, p), DropoutScale(seed, stream, idx, p); g != c {
			t.Fatalf("DropoutScale p=%v: go %v, C %v", p, g, c)
		}
	}
}

// TestWeightedAverageMatchesTwin compares WA on random batches, including
// rows with no tag above θ and rows of ground truth (0/1). Both sum in the
// same order, so the bound is tight: 1e-6 absolute on unit-norm outputs.
func TestWeightedAverageMatchesTwin(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, shape := range []struct{ b, t, e int }{{1, 1, 1}, {7, 13, 5}, {32, 116, 300}} {
		probs := make([]float32, shape.b*shape.t)
		for i := range probs {
			probs[i] = r.Float32()
		}
		for j := 0; j < shape.t; j++ { // row 0: nothing above θ
			probs[j] *= 0.4
		}
		if shape.b > 1 {
			for j := 0; j < shape.t; j++ { // row 1: ground truth
				probs[shape.t+j] = float32(r.IntN(2))
			}
		}
		vecs := make([]float32, shape.t*shape.e)
		for i := range vecs {
			vecs[i] = float32(r.NormFloat64())
		}
		got := make([]float32, shape.b*shape.e)
		want := make([]float32, shape.b*shape.e)
		ops.WeightedAverage(got, probs, vecs, shape.b, shape.t, shape.e, 0.5)
		WeightedAverage(want, probs, vecs, shape.b, shape.t, shape.e, 0.5)
		for i := range got {
			if math.Abs(float64(got[i]-want[i])) > 1e-6 || math.IsNaN(float64(got[i])) {
				t.Fatalf("shape %+v element %d: go %v, C %v", shape, i, got[i], want[i])
			}
		}
		for e := 0; e < shape.e; e++ {
			if got[e] != 0 {
				t.Fatalf("row without tags above θ gave %v", got[:shape.e])
			}
		}
	}
}

// TestStepStateMatchesTwin: the C layout of tg_step_state is the one
// ops.StepState.Words writes (16 bytes, slot at byte 8), the key the
// graph-mode kernels derive from it is the Go twin's, and tg_dropout_stream
// is ops.DropoutStream.
func TestStepStateMatchesTwin(t *testing.T) {
	if size, off := StepStateLayout(); size != 4*ops.StepStateWords || off != 8 {
		t.Fatalf("tg_step_state: %d bytes, slot at %d; ops.StepState.Words writes %d bytes, slot at 8", size, off, 4*ops.StepStateWords)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 5000; i++ {
		st := ops.StepState{Step: r.Uint64() >> (i % 64), Slot: int32(r.IntN(1 << 20))}
		layer, seed := r.IntN(8), r.Uint64()
		if g, c := ops.DropoutStream(st.Step, layer), DropoutStream(st.Step, layer); g != c {
			t.Fatalf("DropoutStream(%d, %d): go %d, C %d", st.Step, layer, g, c)
		}
		w := st.Words()
		key, slot := StepKey(seed, w[:], layer)
		if want := ops.StreamKey(seed, ops.DropoutStream(st.Step, layer)); key != want || slot != st.Slot {
			t.Fatalf("%+v layer %d: C key %d slot %d, Go key %d slot %d", st, layer, key, slot, want, st.Slot)
		}
	}
}
