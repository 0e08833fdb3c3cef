package ops

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestStepStateWords(t *testing.T) {
	for _, s := range []StepState{{}, {Step: 41, Slot: 3}, {Step: 1<<40 + 7, Slot: -1}, {Step: math.MaxUint64, Slot: math.MaxInt32}} {
		w := s.Words()
		if w[0] != uint32(s.Step) || w[1] != uint32(s.Step>>32) || w[2] != uint32(s.Slot) || w[3] != 0 {
			t.Errorf("%+v: words %v, want step low, step high, slot, 0", s, w)
		}
		got, err := StepStateFromWords(w[:])
		if err != nil || got != s {
			t.Errorf("%+v: round trip gave %+v, %v", s, got, err)
		}
	}
	if _, err := StepStateFromWords(make([]uint32, 3)); err == nil {
		t.Error("3 words: no error")
	}
}

func TestGatherRows(t *testing.T) {
	const n, cols = 6, 5
	src := make([]float32, n*cols)
	for i := range src {
		src[i] = float32(i)
	}
	rows := []int32{5, 0, 2, 2, 4, 1, 3, 0}
	for _, c := range []struct {
		name  string
		run   func(dst []float32)
		want  []int32
		batch int
	}{
		{"all", func(dst []float32) { GatherRows(dst, src, rows, cols) }, rows, len(rows)},
		{"slot 0", func(dst []float32) { GatherRowsStep(dst, src, rows, StepState{Step: 9, Slot: 0}, 4, cols) }, rows[:4], 4},
		{"slot 1", func(dst []float32) { GatherRowsStep(dst, src, rows, StepState{Step: 9, Slot: 1}, 4, cols) }, rows[4:], 4},
	} {
		dst := make([]float32, (c.batch+1)*cols)
		for i := range dst {
			dst[i] = -1
		}
		c.run(dst)
		for i, r := range c.want {
			for j := 0; j < cols; j++ {
				if got, want := dst[i*cols+j], float32(int(r)*cols+j); got != want {
					t.Fatalf("%s: dst[%d,%d] = %v, want %v", c.name, i, j, got, want)
				}
			}
		}
		for _, v := range dst[c.batch*cols:] {
			if v != -1 {
				t.Fatalf("%s: wrote past the %d rows", c.name, c.batch)
			}
		}
	}
}

// TestDenseForwardStep: the step's dropout stream is DropoutStream(step,
// layer), so two steps draw different masks and each is DenseForward's.
func TestDenseForwardStep(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const rows, cols, seed = 4, 50, 77
	a, bias := make([]float32, rows*cols), make([]float32, cols)
	for i := range a {
		a[i] = float32(r.NormFloat64()) + 2 // mostly positive: the mask shows
	}
	for i := range bias {
		bias[i] = float32(r.NormFloat64() * 0.1)
	}
	var prev []float32
	for _, step := range []uint64{41, 42} {
		for _, layer := range []int{0, 1} {
			got := slices.Clone(a)
			DenseForwardStep(got, bias, rows, cols, ActReLU, seed, StepState{Step: step, Slot: 5}, layer, 0.5)
			want := slices.Clone(a)
			DenseForward(want, bias, rows, cols, ActReLU, seed, step<<3|uint64(layer), 0.5)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("step %d layer %d element %d: %v, want %v", step, layer, i, got[i], want[i])
				}
			}
			if prev != nil && slices.Equal(prev, got) {
				t.Fatalf("step %d layer %d: same mask as the case before", step, layer)
			}
			prev = got
		}
	}
}

func TestStepEnd(t *testing.T) {
	slots := []float32{-1, -1, -1, -1, -1, -1, -1}
	st := StepState{Step: 41}
	StepEnd(slots, []float32{1, 2, 3}, 3, &st)
	StepEnd(slots, []float32{4, 5, 6, 99}, 3, &st)
	if want := []float32{1, 2, 3, 4, 5, 6, -1}; !slices.Equal(slots, want) {
		t.Errorf("slots %v, want %v", slots, want)
	}
	StepEnd(slots, nil, 0, &st)
	if st != (StepState{Step: 44, Slot: 3}) {
		t.Errorf("state %+v after three steps from 41, want step 44 slot 3", st)
	}
}
