package cpu

import (
	"math"
	"runtime"
	"testing"

	"gorgonia.org/tensor"

	"tagimp/model"
)

// TestRewindMatchesReset trains two engines side by side on the same
// batches, one whose tape machines keep their buffers between runs
// (rewind) and one that resets them (gorgonia's Reset, a fresh allocation
// of every intermediate value each run), with inference calls in between,
// and wants the same losses, outputs and states bit for bit.
func TestRewindMatchesReset(t *testing.T) {
	tests := []struct {
		name string
		kind model.Kind
		mask string
		dt   tensor.Dtype
	}{
		{"baseline", model.Baseline, model.MaskAll, tensor.Float32},
		{"model1", model.Model1, model.MaskAll, tensor.Float32},
		{"model1 true-tag mask", model.Model1, model.MaskTrue, tensor.Float32},
		{"model2", model.Model2, model.MaskAll, tensor.Float32},
		{"model2 float64", model.Model2, model.MaskTrue, tensor.Float64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := smallConfig(tt.kind, tt.mask)
			st := model.NewState(c)
			fast, err := newEngine(c, st, tt.dt)
			if err != nil {
				t.Fatal(err)
			}
			defer fast.Close()
			slow, err := newEngine(c, st, tt.dt)
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()
			for _, r := range []*rewinder{fast.trw, fast.frw} {
				if !r.active() {
					t.Fatal("rewinder fell back to Reset: gorgonia's tape machine has changed; rewind.go needs updating")
				}
			}
			slow.trw = &rewinder{vm: slow.tvm}
			slow.frw = &rewinder{vm: slow.fvm}
			if slow.ivm != nil {
				slow.irw = &rewinder{vm: slow.ivm}
			}
			for s, n := range []int{4, 4, 2, 4, 1, 4} {
				b := randomBatch(c, n, uint64(10+s))
				lf, err := fast.Step(b)
				if err != nil {
					t.Fatal(err)
				}
				ls, err := slow.Step(b)
				if err != nil {
					t.Fatal(err)
				}
				if lf != ls {
					t.Fatalf("step %d: losses %+v, with Reset %+v", s, lf, ls)
				}
				pf, if1, err := fast.Forward(b.X, n)
				if err != nil {
					t.Fatal(err)
				}
				ps, is, err := slow.Forward(b.X, n)
				if err != nil {
					t.Fatal(err)
				}
				sameBits(t, "prob", pf, ps)
				sameBits(t, "imp", if1, is)
				if c.Kind == model.Model2 {
					of, err := fast.Importance2(b.X, b.WA, n)
					if err != nil {
						t.Fatal(err)
					}
					os, err := slow.Importance2(b.X, b.WA, n)
					if err != nil {
						t.Fatal(err)
					}
					sameBits(t, "importance2", of, os)
				}
			}
			sf, err := fast.State()
			if err != nil {
				t.Fatal(err)
			}
			ss, err := slow.State()
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range ss.Params.Tensors {
				sameBits(t, p.Name, sf.Params.Tensors[i].Data, p.Data)
				sameBits(t, p.Name+" m", sf.M.Tensors[i].Data, ss.M.Tensors[i].Data)
				sameBits(t, p.Name+" v", sf.V.Tensors[i].Data, ss.V.Tensors[i].Data)
			}
			w0, w1 := st.Params.Get("fc1.weight").Data, sf.Params.Get("fc1.weight").Data
			changed := false
			for i := range w0 {
				changed = changed || w0[i] != w1[i]
			}
			if !changed {
				t.Error("fc1.weight did not change in training")
			}
		})
	}
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s[%d] = %v with rewind, %v with Reset", what, i, got[i], want[i])
		}
	}
}

// TestRewindKeepsBuffers checks that the training graph reuses its
// intermediate values: after the first step, a step allocates almost
// nothing (with Reset it allocates every gradient again).
func TestRewindKeepsBuffers(t *testing.T) {
	c := smallConfig(model.Model2, model.MaskAll)
	c.D, c.H, c.H2 = 256, 512, 384
	e, err := newEngine(c, model.NewState(c), tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b := randomBatch(c, c.Batch, 3)
	if _, err := e.Step(b); err != nil {
		t.Fatal(err)
	}
	grads := 0
	for _, p := range e.ps {
		grads += 4 * p.val.Size()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 3; i++ {
		if _, err := e.Step(b); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if got := (after.TotalAlloc - before.TotalAlloc) / 3; got > uint64(grads)/4 {
		t.Errorf("a step allocates %d bytes, the gradients are %d: buffers are not reused", got, grads)
	}
}
