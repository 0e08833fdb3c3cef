package ops

import "fmt"

// StepState is tg_step_state (kernels/tagimp_math.h): the values of a
// training step that a captured CUDA graph reads from device memory, since
// a replay cannot take new arguments. Step is the training step counter,
// Slot the step's position in the queued chunk of steps.
type StepState struct {
	Step uint64
	Slot int32
}

// StepStateWords is the size of tg_step_state in 32-bit words (16 bytes).
const StepStateWords = 4

// Words is s laid out as tg_step_state in little-endian 32-bit words:
// step (low, high), slot, padding.
func (s StepState) Words() [StepStateWords]uint32 {
	return [StepStateWords]uint32{uint32(s.Step), uint32(s.Step >> 32), uint32(s.Slot), 0}
}

// StepStateFromWords reads a tg_step_state from its first StepStateWords
// 32-bit words (as Words writes them).
func StepStateFromWords(w []uint32) (StepState, error) {
	if len(w) < StepStateWords {
		return StepState{}, fmt.Errorf("step state: %d words, want %d", len(w), StepStateWords)
	}
	return StepState{Step: uint64(w[0]) | uint64(w[1])<<32, Slot: int32(w[2])}, nil
}

// GatherRows is tg_gather_rows: dst[i, :] = src[rows[i], :] for every i <
// len(rows), rows of cols floats. It panics, as any slice access, on a row
// outside src.
func GatherRows(dst, src []float32, rows []int32, cols int) {
	for i, r := range rows {
		copy(dst[i*cols:(i+1)*cols], src[int(r)*cols:(int(r)+1)*cols])
	}
}

// GatherRowsStep is tg_gather_rows_dev: GatherRows with the batch row
// indices of slot st.Slot, rows[st.Slot·batch : (st.Slot+1)·batch].
func GatherRowsStep(dst, src []float32, rows []int32, st StepState, batch, cols int) {
	s := int(st.Slot) * batch
	GatherRows(dst, src, rows[s:s+batch], cols)
}

// DenseForwardStep is tg_dense_forward_dev: DenseForward with the dropout
// stream of layer `layer` at step st.Step (DropoutStream(st.Step, layer)).
// Bit-identical to the kernel.
func DenseForwardStep(y, bias []float32, rows, cols, act int, seed uint64, st StepState, layer int, p float32) {
	DenseForward(y, bias, rows, cols, act, seed, DropoutStream(st.Step, layer), p)
}

// StepEnd is tg_step_end: the step's nloss losses scratch[0:nloss] go to
// slots[nloss·st.Slot:], then st moves on to the next step and slot. nloss
// = 0 copies nothing.
func StepEnd(slots, scratch []float32, nloss int, st *StepState) {
	if nloss > 0 {
		s := nloss * int(st.Slot)
		copy(slots[s:s+nloss], scratch[:nloss])
	}
	st.Slot++
	st.Step++
}
