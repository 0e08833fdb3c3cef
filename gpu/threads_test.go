//go:build gpu

package gpu

import (
	"errors"
	"testing"

	"tagimp/bench"
	"tagimp/model"
)

// TestTrainerGoroutines checks the threading rule on the engine (the same
// on a GPU and on the emulator): a Trainer works from the goroutine that
// created it; from another goroutine every method fails with ErrNotCurrent
// until that goroutine calls Bind, and again after Unbind; Close from an
// unbound goroutine releases nothing and can be retried from a bound one.
func TestTrainerGoroutines(t *testing.T) {
	c := smallConfig(model.Model1, model.MaskAll)
	data := bench.Synthetic(c, 16, 3)
	tr, err := NewTrainer(c, model.NewState(c), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	batch := data.Batch([]int32{0, 1, 2, 3, 4, 5, 6, 7})
	if _, err := tr.Step(batch); err != nil {
		t.Fatalf("step on the creating goroutine: %v", err)
	}
	other := func(f func() error) error {
		ch := make(chan error)
		go func() { ch <- f() }()
		return <-ch
	}
	step := func() error { _, err := tr.Step(batch); return err }
	if err := other(step); !errors.Is(err, ErrNotCurrent) {
		t.Errorf("step on another goroutine: got %v, want ErrNotCurrent", err)
	}
	if err := other(func() error { _, err := tr.State(); return err }); !errors.Is(err, ErrNotCurrent) {
		t.Errorf("State on another goroutine: got %v, want ErrNotCurrent", err)
	}
	if err := other(tr.Close); !errors.Is(err, ErrNotCurrent) {
		t.Errorf("Close on another goroutine: got %v, want ErrNotCurrent", err)
	}
	if err := other(func() error {
		if err := tr.Bind(); err != nil {
			return err
		}
		if err := step(); err != nil {
			return err
		}
		if err := tr.Unbind(); err != nil {
			return err
		}
		return step()
	}); !errors.Is(err, ErrNotCurrent) {
		t.Errorf("bound step then unbound step on another goroutine: got %v, want the second to fail with ErrNotCurrent", err)
	}
	if _, err := tr.Step(batch); err != nil {
		t.Fatalf("step on the creating goroutine after the others: %v", err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("Close on the creating goroutine: %v", err)
	}
	if _, err := tr.Step(batch); !errors.Is(err, ErrClosed) {
		t.Errorf("step after Close: got %v, want ErrClosed", err)
	}
}
