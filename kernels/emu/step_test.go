package emu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/model/ops"
)

// TestGatherRows runs both gather kernels with widths around the block size
// and past the 32-block cap of a grid row (so blocks stride), rows repeated
// and out of order, against ops.GatherRows; one row of NaN after the batch
// must stay unwritten.
func TestGatherRows(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const N = 20
	rows := []int32{19, 0, 7, 7, 3, 18, 1, 2, 0, 5}
	for _, cols := range []int{1, 255, 256, 300, 8300} {
		src := randVec(r, N*cols, 1)
		got := nans((len(rows) + 1) * cols)
		must(t, emu.GatherRows(got, src, rows, cols))
		want := nans((len(rows) + 1) * cols)
		ops.GatherRows(want, src, rows, cols)
		sameBits(t, fmt.Sprintf("tg_gather_rows cols %d", cols), got, want)

		const batch = 4
		for slot := int32(0); slot < 2; slot++ {
			st := ops.StepState{Step: 5, Slot: slot}
			w := st.Words()
			got := nans((batch + 1) * cols)
			must(t, emu.GatherRowsDev(got, src, rows, w[:], batch, cols))
			want := nans((batch + 1) * cols)
			ops.GatherRowsStep(want, src, rows, st, batch, cols)
			sameBits(t, fmt.Sprintf("tg_gather_rows_dev cols %d slot %d", cols, slot), got, want)
			if w != st.Words() {
				t.Fatalf("tg_gather_rows_dev changed the step state to %v", w)
			}
		}
	}
}

// TestStepKernels replays three graph-mode steps: the dense forward with
// the key of the step in device memory, then the step end that stores the
// losses in the step's slot and advances the state, against
// ops.DenseForwardStep and ops.StepEnd. Steps straddle 2^32 so the high
// word of the counter matters.
func TestStepKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, c := range []struct {
		rows, cols, act, layer int
		p                      float32
		bias                   bool
	}{
		{5, 300, ops.ActReLU, 1, 0.5, true},
		{3, 33, ops.ActReLU, 0, 0.5, false},
		{4, 70, ops.ActNone, 0, 0, true},
	} {
		n := c.rows * c.cols
		var bias []float32
		if c.bias {
			bias = randVec(r, c.cols, 0.1)
		}
		seed := r.Uint64()
		st := ops.StepState{Step: 1<<32 - 2, Slot: 0}
		w := st.Words()
		const nloss = 3
		slots, wslots := nans(3*nloss+1), nans(3*nloss+1)
		var prev []float32
		for s := 0; s < 3; s++ {
			a := randVec(r, n, 1)
			got := append([]float32(nil), a...)
			must(t, emu.DenseForwardDev(got, bias, c.rows, c.cols, c.act, seed, w[:], c.layer, c.p))
			want := append([]float32(nil), a...)
			ops.DenseForwardStep(want, bias, c.rows, c.cols, c.act, seed, st, c.layer, c.p)
			sameBits(t, fmt.Sprintf("tg_dense_forward_dev %+v step %d", c, st.Step), got, want)
			if c.p > 0 && prev != nil {
				same := true
				for i := range got {
					same = same && (got[i] == 0) == (prev[i] == 0)
				}
				if same {
					t.Fatalf("%+v step %d: the dropout mask of the step before", c, st.Step)
				}
			}
			prev = got

			scratch := randVec(r, nloss, 1)
			must(t, emu.StepEnd(slots, scratch, nloss, w[:]))
			ops.StepEnd(wslots, scratch, nloss, &st)
			sameBits(t, "tg_step_end slots", slots, wslots)
			if got, err := ops.StepStateFromWords(w[:]); err != nil || got != st {
				t.Fatalf("tg_step_end: state %+v, twin %+v (%v)", got, st, err)
			}
		}
		if !math.IsNaN(float64(slots[3*nloss])) {
			t.Fatal("tg_step_end wrote past the last slot")
		}
		must(t, emu.StepEnd(slots, nil, 0, w[:]))
		if got, _ := ops.StepStateFromWords(w[:]); got != (ops.StepState{Step: st.Step + 1, Slot: 4}) {
			t.Fatalf("tg_step_end without losses: state %+v", got)
		}
	}
}
