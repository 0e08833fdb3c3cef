package model_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"tagimp/model"
	"tagimp/model/cpu"
)

// residentFake is a model.ResidentTrainer built on the CPU engine: it keeps
// the split it is given, queues StepRows and runs the queued steps (host
// batches through the engine's Step) only when something waits for them,
// as a device would, so Train must Sync before it validates or saves.
type residentFake struct {
	model.Trainer
	c           model.Config
	x, y, imp   []float32
	wa          []float32
	n           int
	queue       [][]int32
	err         error // of a queued step, returned by the next waiting call
	tag, imp1   float64
	imp2        float64
	rows, steps int

	// What the test sets and reads.
	noRoom, uploadErr bool
	nanAtStep         int // the step (1-based, counted over the fake's life) whose loss is NaN
	failAtStep        int // the step whose launch fails
	uploads           int
	hostSteps         int
	sizes             []int // rows of each resident step
	done              int
}

func (f *residentFake) SetTrainingSet(x, y, imp []float32, n int, tagVecs []float32) error {
	c := f.c
	switch {
	case f.noRoom:
		return fmt.Errorf("fake split of %d rows: %w", n, model.ErrNoRoom)
	case f.uploadErr:
		return errors.New("fake device lost")
	case n < 1 || len(x) != n*c.D || len(y) != n*c.T || len(imp) != n*c.T:
		return fmt.Errorf("fake split: %d rows, %d, %d, %d values", n, len(x), len(y), len(imp))
	case (c.Kind == model.Model2) != (tagVecs != nil):
		return fmt.Errorf("fake split: %d tag-vector values for %s", len(tagVecs), c.Kind)
	}
	f.x, f.y, f.imp, f.n = x, y, imp, n
	if c.Kind == model.Model2 {
		f.wa = make([]float32, n*c.E)
		model.WeightedAverage(f.wa, y, tagVecs, n, c.T, c.E, c.Threshold)
	}
	f.uploads++
	return nil
}

func (f *residentFake) StepRows(rows []int32) error {
	if f.x == nil {
		return errors.New("fake: no split")
	}
	if len(rows) < 1 || len(rows) > f.c.Batch {
		return fmt.Errorf("fake: %d rows", len(rows))
	}
	for _, r := range rows {
		if r < 0 || int(r) >= f.n {
			return fmt.Errorf("fake: row %d of %d", r, f.n)
		}
	}
	f.queue = append(f.queue, slices.Clone(rows))
	return nil
}

// drain runs the queued steps.
func (f *residentFake) drain() error {
	c := f.c
	for _, rows := range f.queue {
		f.done++
		if f.err != nil {
			break
		}
		if f.done == f.failAtStep {
			f.err = fmt.Errorf("fake: launch of step %d failed", f.done)
			break
		}
		b := &model.Batch{N: len(rows)}
		for _, r := range rows {
			b.X = append(b.X, f.x[int(r)*c.D:int(r+1)*c.D]...)
			b.Y = append(b.Y, f.y[int(r)*c.T:int(r+1)*c.T]...)
			b.Imp = append(b.Imp, f.imp[int(r)*c.T:int(r+1)*c.T]...)
			if f.wa != nil {
				b.WA = append(b.WA, f.wa[int(r)*c.E:int(r+1)*c.E]...)
			}
		}
		l, err := f.Trainer.Step(b)
		if err != nil {
			f.err = err
			break
		}
		if f.done == f.nanAtStep {
			l.Tag = math.NaN()
		}
		w := float64(b.N)
		f.tag += w * l.Tag
		f.imp1 += w * l.Imp
		f.imp2 += w * l.Imp2
		f.rows += b.N
		f.steps++
		f.sizes = append(f.sizes, b.N)
	}
	f.queue = f.queue[:0]
	err := f.err
	f.err = nil
	return err
}

func (f *residentFake) Sync() (model.Losses, int, error) {
	if err := f.drain(); err != nil {
		return model.Losses{}, 0, err
	}
	r := float64(f.rows)
	l := model.Losses{Tag: f.tag / r, Imp: f.imp1 / r, Imp2: f.imp2 / r}
	l.Total = l.Tag + l.Imp + l.Imp2
	steps := f.steps
	f.tag, f.imp1, f.imp2, f.rows, f.steps = 0, 0, 0, 0, 0
	return l, steps, nil
}

func (f *residentFake) Step(b *model.Batch) (model.Losses, error) {
	if err := f.drain(); err != nil {
		return model.Losses{}, err
	}
	f.hostSteps++
	return f.Trainer.Step(b)
}

func (f *residentFake) Forward(x []float32, n int) ([]float32, []float32, error) {
	if len(f.queue) > 0 {
		return nil, nil, errors.New("fake: Forward with steps still queued (Train did not Sync)")
	}
	return f.Trainer.Forward(x, n)
}

func (f *residentFake) Importance2(x, wa []float32, n int) ([]float32, error) {
	if len(f.queue) > 0 {
		return nil, errors.New("fake: Importance2 with steps still queued (Train did not Sync)")
	}
	return f.Trainer.Importance2(x, wa, n)
}

func (f *residentFake) State() (*model.State, error) {
	if len(f.queue) > 0 {
		return nil, errors.New("fake: State with steps still queued (Train did not Sync)")
	}
	return f.Trainer.State()
}

// fakeFactory returns a factory of residentFakes set up by setup; the
// fakes made are appended to *made.
func fakeFactory(made *[]*residentFake, setup func(f *residentFake)) model.Factory {
	return func(c model.Config, st *model.State) (model.Trainer, error) {
		tr, err := cpu.New(c, st)
		if err != nil {
			return nil, err
		}
		f := &residentFake{Trainer: tr, c: c}
		if setup != nil {
			setup(f)
		}
		*made = append(*made, f)
		return f, nil
	}
}

// residentRun is a small run of kind on random data: 70 training rows in
// batches of 16 (four of 16 and a last one of 6), 30 test rows.
func residentRun(t *testing.T, kind model.Kind, epochs int, f model.Factory) *model.Run {
	t.Helper()
	c := model.DefaultConfig(kind)
	c.D, c.H, c.T, c.E, c.H2 = 12, 20, 5, 4, 18
	c.Epochs, c.Batch, c.LR = epochs, 16, 3e-3
	rng := rand.New(rand.NewPCG(5, 6))
	split := func(n int, first int64) *model.Data {
		d := &model.Data{N: n, D: c.D, T: c.T, X: make([]float32, n*c.D), Presence: make([]uint8, n*c.T), Importance: make([]float32, n*c.T)}
		for i := 0; i < n; i++ {
			d.IDs = append(d.IDs, first+int64(i))
			for j := 0; j < c.T; j++ {
				if rng.IntN(3) == 0 || j == i%c.T {
					d.Presence[i*c.T+j] = 1
					d.Importance[i*c.T+j] = float32(1+rng.IntN(5)) / 5
				}
			}
			for j := 0; j < c.D; j++ {
				v := float32(rng.NormFloat64()) + d.Importance[i*c.T+j%c.T]
				d.X[i*c.D+j] = max(v, 0)
			}
		}
		return d
	}
	vecs := make([]float32, c.T*c.E)
	for i := range vecs {
		vecs[i] = float32(rng.NormFloat64())
	}
	train, test := split(70, 1), split(30, 1000)
	return &model.Run{
		Dir: t.TempDir(), Config: c, Tags: []string{"a", "b", "c", "d", "e"}, TagVecs: vecs,
		Train: train, Test: test, Source: model.DataSource{Labels: "random", NTrain: train.N, NTest: test.N},
		Device: "fake", Factory: f,
	}
}

// asSaved returns v as the metadata saves it (JSON).
func asSaved(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameCheckpoints fails unless the checkpoints of kind in dirs a and b
// hold bit-identical states and the same history (losses and validation).
func sameCheckpoints(t *testing.T, kind model.Kind, a, b string) {
	t.Helper()
	ma, sa, err := model.LoadCheckpoint(a, kind, true)
	if err != nil {
		t.Fatal(err)
	}
	mb, sb, err := model.LoadCheckpoint(b, kind, true)
	if err != nil {
		t.Fatal(err)
	}
	if sa.Step != sb.Step {
		t.Errorf("steps %d and %d", sa.Step, sb.Step)
	}
	for _, p := range []struct {
		what string
		a, b *model.Params
	}{{"parameters", sa.Params, sb.Params}, {"Adam m", sa.M, sb.M}, {"Adam v", sa.V, sb.V}} {
		for i, ta := range p.a.Tensors {
			for j, v := range ta.Data {
				if w := p.b.Tensors[i].Data[j]; math.Float32bits(v) != math.Float32bits(w) {
					t.Fatalf("%s %s[%d]: %v and %v", p.what, ta.Name, j, v, w)
				}
			}
		}
	}
	if len(ma.History) != len(mb.History) {
		t.Fatalf("histories of %d and %d epochs", len(ma.History), len(mb.History))
	}
	for e := range ma.History {
		ha, hb := ma.History[e], mb.History[e]
		if ha.Loss != hb.Loss || asSaved(t, ha.Val) != asSaved(t, hb.Val) {
			t.Errorf("epoch %d: %+v %s and %+v %s", e+1, ha.Loss, asSaved(t, ha.Val), hb.Loss, asSaved(t, hb.Val))
		}
	}
}

// TestTrainResident: Train through a ResidentTrainer (the split uploaded
// once per Train call, batches as row indices, the last one partial, a
// resume after epoch 2) gives bit-identical checkpoints and history to
// host-fed steps on the same engine, for each model.
func TestTrainResident(t *testing.T) {
	for _, kind := range model.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			host := residentRun(t, kind, 3, cpu.New)
			mh, err := model.Train(host)
			if err != nil {
				t.Fatal(err)
			}
			var made []*residentFake
			var notes []string
			res := residentRun(t, kind, 2, fakeFactory(&made, nil))
			res.Log = func(msg string) { notes = append(notes, msg) }
			if _, err := model.Train(res); err != nil {
				t.Fatal(err)
			}
			res.Config.Epochs = 3
			mr, err := model.Train(res)
			if err != nil {
				t.Fatal(err)
			}
			sameCheckpoints(t, kind, host.Dir, res.Dir)
			if mh.Step != 15 || mr.Step != 15 {
				t.Errorf("steps %d (host-fed) and %d (resident), want 3 epochs × 5", mh.Step, mr.Step)
			}
			if len(made) != 2 {
				t.Fatalf("%d trainers made, want 2", len(made))
			}
			want := [][]int{{16, 16, 16, 16, 6, 16, 16, 16, 16, 6}, {16, 16, 16, 16, 6}}
			for i, f := range made {
				if f.uploads != 1 || f.hostSteps != 0 || !slices.Equal(f.sizes, want[i]) {
					t.Errorf("run %d: %d uploads, %d host-fed steps, resident steps of %v rows; want 1, 0, %v", i+1, f.uploads, f.hostSteps, f.sizes, want[i])
				}
			}
			if len(notes) != 2 || !strings.Contains(notes[0], "70 rows kept in device memory") {
				t.Errorf("notes %q", notes)
			}
			if mr.Device != "fake" {
				t.Errorf("device %q in the metadata, want fake", mr.Device)
			}
		})
	}
}

// TestTrainResidentNoRoom: a split that does not fit falls back to
// host-fed steps, says so through Log and in the metadata, and trains the
// same.
func TestTrainResidentNoRoom(t *testing.T) {
	kind := model.Model2
	host := residentRun(t, kind, 2, cpu.New)
	if _, err := model.Train(host); err != nil {
		t.Fatal(err)
	}
	var made []*residentFake
	var notes []string
	res := residentRun(t, kind, 2, fakeFactory(&made, func(f *residentFake) { f.noRoom = true }))
	res.Log = func(msg string) { notes = append(notes, msg) }
	m, err := model.Train(res)
	if err != nil {
		t.Fatal(err)
	}
	sameCheckpoints(t, kind, host.Dir, res.Dir)
	if f := made[0]; f.hostSteps != 10 || len(f.sizes) != 0 {
		t.Errorf("%d host-fed and %d resident steps, want 10 and 0", f.hostSteps, len(f.sizes))
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "does not fit") || !strings.Contains(notes[0], "from the host") {
		t.Errorf("notes %q, want one that the split does not fit and batches come from the host", notes)
	}
	if !strings.Contains(m.Device, "host-fed") {
		t.Errorf("metadata device %q does not record the fallback", m.Device)
	}
}

// TestTrainResidentFailures: a NaN loss, a failed launch and a failed
// upload on the resident path stop training with an error that names the
// epoch, and the last good checkpoint stays.
func TestTrainResidentFailures(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(f *residentFake)
		is    error
		want  []string
		saved int // epochs in the checkpoint left
	}{
		{"nan in epoch 2", func(f *residentFake) { f.nanAtStep = 7 }, model.ErrNonFinite,
			[]string{"epoch 2", "batch unknown", "epoch 1) is kept"}, 1},
		{"nan in the last batch of epoch 1", func(f *residentFake) { f.nanAtStep = 5 }, model.ErrNonFinite,
			[]string{"epoch 1", "batch unknown", "no epoch had completed", "holds no model1 checkpoint"}, 0},
		{"launch fails in epoch 3", func(f *residentFake) { f.failAtStep = 12 }, nil,
			[]string{"epoch 3", "launch of step 12 failed"}, 2},
		{"upload fails", func(f *residentFake) { f.uploadErr = true }, nil,
			[]string{"upload the training split", "fake device lost"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var made []*residentFake
			r := residentRun(t, model.Model1, 3, fakeFactory(&made, tt.setup))
			_, err := model.Train(r)
			if err == nil {
				t.Fatal("no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			m, merr := model.ReadMeta(r.Dir, model.Model1)
			switch {
			case tt.saved == 0 && !model.IsNotExist(merr):
				t.Errorf("a checkpoint was saved (%v)", merr)
			case tt.saved > 0 && merr != nil:
				t.Fatal(merr)
			case tt.saved > 0 && m.Epoch != tt.saved:
				t.Errorf("checkpoint of epoch %d kept, want %d", m.Epoch, tt.saved)
			}
		})
	}
}
