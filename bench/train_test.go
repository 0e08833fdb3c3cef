package bench

import (
	"errors"
	"math"
	"testing"

	"tagimp/model"
)

// fakeTrainer counts steps and returns a loss that falls with the step
// count; with resident set it also implements Resident.
type fakeTrainer struct {
	c       model.Config
	steps   int
	rows    int
	queued  int
	nan     bool
	uploads int
}

func (f *fakeTrainer) loss() model.Losses {
	v := 1 / float64(1+f.steps)
	if f.nan {
		v = math.NaN()
	}
	return model.Losses{Tag: v, Total: v}
}

func (f *fakeTrainer) Step(b *model.Batch) (model.Losses, error) {
	if b.N != f.c.Batch || len(b.X) != b.N*f.c.D || len(b.Y) != b.N*f.c.T {
		return model.Losses{}, errors.New("bad batch shape")
	}
	if f.c.Kind == model.Model2 && len(b.WA) != b.N*f.c.E {
		return model.Losses{}, errors.New("model2 batch without WA")
	}
	f.steps++
	return f.loss(), nil
}
func (f *fakeTrainer) Forward(x []float32, n int) ([]float32, []float32, error) { return nil, nil, nil }
func (f *fakeTrainer) Importance2(x, wa []float32, n int) ([]float32, error)    { return nil, nil }
func (f *fakeTrainer) State() (*model.State, error)                             { return nil, nil }
func (f *fakeTrainer) Close() error                                             { return nil }

type residentFake struct{ fakeTrainer }

func (f *residentFake) SetTrainingSet(x, y, imp []float32, n int, tagVecs []float32) error {
	if len(x) != n*f.c.D || len(y) != n*f.c.T || len(imp) != n*f.c.T {
		return errors.New("bad split shape")
	}
	if f.c.Kind == model.Model2 && len(tagVecs) != f.c.T*f.c.E {
		return errors.New("model2 split without tag vectors")
	}
	f.rows = n
	f.uploads++
	return nil
}

func (f *residentFake) StepRows(rows []int32) error {
	for _, r := range rows {
		if r < 0 || int(r) >= f.rows {
			return errors.New("row out of range")
		}
	}
	f.steps++
	f.queued++
	return nil
}

func (f *residentFake) Sync() (model.Losses, int, error) {
	n := f.queued
	f.queued = 0
	return f.loss(), n, nil
}

func small(kind model.Kind) model.Config {
	c := model.DefaultConfig(kind)
	c.D, c.H, c.T, c.E, c.H2, c.Batch = 16, 8, 5, 4, 6, 4
	return c
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		kind     model.Kind
		resident bool
		nan      bool
		wantErr  error
	}{
		{"baseline host-fed", model.Baseline, false, false, nil},
		{"model2 host-fed", model.Model2, false, false, nil},
		{"model1 resident", model.Model1, true, false, nil},
		{"model2 resident", model.Model2, true, false, nil},
		{"diverged", model.Model1, false, true, ErrDiverged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := small(tt.kind)
			var made *fakeTrainer
			var res *residentFake
			f := func(c model.Config, st *model.State) (model.Trainer, error) {
				if tt.resident {
					res = &residentFake{fakeTrainer{c: c, nan: tt.nan}}
					made = &res.fakeTrainer
					return res, nil
				}
				made = &fakeTrainer{c: c, nan: tt.nan}
				return made, nil
			}
			var calls, last, between int
			o := Options{Steps: 7, Warmup: 3, Rows: 10, Seed: 1, Between: func() { between++ }}
			r, err := Run(f, c, o, func(done, total int) {
				calls++
				last = done
				if total != 10 {
					t.Errorf("progress total %d, want 10", total)
				}
			})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{false: 7, true: 0}[tt.resident]; between != want {
				t.Errorf("Between called %d times, want %d (resident %v)", between, want, tt.resident)
			}
			if made.steps != 10 || calls != 10 || last != 10 {
				t.Errorf("steps %d, progress calls %d (last %d), want 10", made.steps, calls, last)
			}
			if r.Resident != tt.resident || (tt.resident && res.uploads != 1) {
				t.Errorf("resident = %v (uploads %v), want %v", r.Resident, res, tt.resident)
			}
			if !(r.StepMS > 0) || r.Steps != 7 || r.Batch != 4 || r.FLOPPerStep != StepFLOP(c) {
				t.Errorf("result %+v", r)
			}
			// Host-fed steps are timed one by one; resident ones together.
			if tt.resident != (r.MedianMS == 0 && r.MinMS == 0) || r.MinMS > r.MedianMS || r.MedianMS > 7*r.StepMS {
				t.Errorf("resident %v: median %v ms, min %v ms, mean %v ms", tt.resident, r.MedianMS, r.MinMS, r.StepMS)
			}
			if !(r.LastLoss < r.FirstLoss) {
				t.Errorf("loss went %v → %v, want it to fall", r.FirstLoss, r.LastLoss)
			}
		})
	}
}

func TestFloor(t *testing.T) {
	tests := []struct {
		kind   model.Kind
		params int
	}{
		// fc1 4096·4096+4096, tag 116·4096+116, imp the same, imp2.fc1
		// 4096·4396+4096, imp2.out 116·4096+116.
		{model.Baseline, 16781312 + 475252},
		{model.Model1, 16781312 + 2*475252},
		{model.Model2, 16781312 + 2*475252 + 18010112 + 475252},
	}
	for _, tt := range tests {
		c := Shapes(tt.kind, 116)
		if got := ParamCount(c); got != tt.params {
			t.Errorf("%s: %d parameters, want %d", tt.kind, got, tt.params)
		}
		if got := FloorBytes(c); got != 36*int64(tt.params) {
			t.Errorf("%s: floor %d bytes, want %d", tt.kind, got, 36*tt.params)
		}
		r := Result{StepMS: 1, BytesPerStep: FloorBytes(c)}
		r.SetFloor(4000) // 4 TB/s
		want := float64(FloorBytes(c)) / 4e12 * 1e3
		if math.Abs(r.FloorMS-want) > 1e-12 || math.Abs(r.FloorFraction-want) > 1e-12 {
			t.Errorf("%s: floor %v ms (fraction %v), want %v", tt.kind, r.FloorMS, r.FloorFraction, want)
		}
	}
	var r Result
	r.SetFloor(0)
	if r.FloorMS != 0 {
		t.Errorf("no bandwidth gave floor %v", r.FloorMS)
	}
}

func TestSynthetic(t *testing.T) {
	c := small(model.Model2)
	a, b := Synthetic(c, 9, 3), Synthetic(c, 9, 3)
	for i := range a.X {
		if a.X[i] != b.X[i] || a.X[i] < 0 {
			t.Fatalf("features differ or negative at %d", i)
		}
	}
	for r := 0; r < 9; r++ {
		present := 0
		for j := 0; j < c.T; j++ {
			y, imp := a.Y[r*c.T+j], a.Imp[r*c.T+j]
			if (y == 1) != (imp > 0) || imp > 1 {
				t.Fatalf("row %d tag %d: presence %v importance %v", r, j, y, imp)
			}
			present += int(y)
		}
		if present == 0 {
			t.Errorf("row %d has no tag", r)
		}
		var ss float64
		for _, v := range a.WA[r*c.E : (r+1)*c.E] {
			ss += float64(v) * float64(v)
		}
		if math.Abs(ss-1) > 1e-5 {
			t.Errorf("row %d WA norm² %v, want 1", r, ss)
		}
	}
	bt := a.Batch([]int32{2, 0})
	if bt.N != 2 || bt.X[0] != a.X[2*c.D] || bt.WA[c.E] != a.WA[0] {
		t.Errorf("Batch gathered the wrong rows")
	}
}
