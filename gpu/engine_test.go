//go:build gpu

package gpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/bench"
	"tagimp/model"
	"tagimp/model/cpu"
)

// The GPU engine against the CPU engine (model/cpu), the independent
// oracle: same initial state, same batches, same dropout masks (both draw
// them from model/ops's counter RNG), so after each step the losses, the
// Adam moments and the parameters must agree up to float rounding.
//
// Bounds. Predictions (Forward, Importance2) are held to forwardBound
// (bounds_test.go), derived from the operations as the kernel bounds in
// cuda/bounds_test.go are (γ(K) per sum, ε per rounding, the expf ulp terms)
// plus the two engines' actual parameter differences. What training
// accumulates is held to looser bounds that follow from Adam rather than
// from rounding: losses 1e-5 relative (a step's loss comes from
// parameters that already differ by the bound below); Adam moments per
// tensor max|Δm| ≤ 1e-4·max|m|, ×steps/10 past 10 steps (running averages
// of gradients that are sums of B·H products in different orders); parameters |Δp| ≤ 1e-5·|p| +
// 0.02·lr per step — Adam moves every weight by about lr whatever its
// gradient (its update is m̂/√v̂), so a wrong or missing gradient shows as a
// difference of order lr, while a gradient that is ~0 in both engines may
// legitimately move by a small fraction of lr differently.

// The GPU engine is a model.Trainer and keeps a split on the device the
// way bench (and a training loop) can use.
var (
	_ model.Trainer         = (*Trainer)(nil)
	_ model.ResidentTrainer = (*Trainer)(nil)
)

// smallConfig is kind at test shapes (every dimension distinct, none a
// multiple of the kernels' tile sizes).
func smallConfig(kind model.Kind, mask string) model.Config {
	c := model.DefaultConfig(kind)
	c.D, c.H, c.T, c.E, c.H2, c.Batch = 97, 66, 13, 11, 50, 8
	c.LR = 1e-3
	c.ImpLossMask = mask
	return c
}

// cpuForward runs the CPU engine's Forward (at most Config.Batch rows a
// call) over n rows, and Importance2 when wa is not nil.
func cpuForward(t *testing.T, tr model.Trainer, c model.Config, x, wa []float32, n int) (prob, imp, imp2 []float32) {
	t.Helper()
	for lo := 0; lo < n; lo += c.Batch {
		m := min(c.Batch, n-lo)
		p, q, err := tr.Forward(x[lo*c.D:(lo+m)*c.D], m)
		if err != nil {
			t.Fatal(err)
		}
		prob, imp = append(prob, p...), append(imp, q...)
		if wa != nil {
			r, err := tr.Importance2(x[lo*c.D:(lo+m)*c.D], wa[lo*c.E:(lo+m)*c.E], m)
			if err != nil {
				t.Fatal(err)
			}
			imp2 = append(imp2, r...)
		}
	}
	return prob, imp, imp2
}

func cloneState(st *model.State) *model.State {
	return &model.State{Params: st.Params.Clone(), M: st.M.Clone(), V: st.V.Clone(), Step: st.Step}
}

// momentRel is the moments' bound relative to max|m| after `steps` steps:
// 1e-4, growing linearly past 10 steps (differences in the gradients
// accumulate in the running averages).
func momentRel(steps int) float64 { return 1e-4 * math.Max(1, float64(steps)/10) }

func compareStates(t *testing.T, c model.Config, steps int, got, want *model.State) {
	t.Helper()
	if got.Step != want.Step {
		t.Errorf("step counter %d, CPU %d", got.Step, want.Step)
	}
	for i, w := range want.Params.Tensors {
		g := got.Params.Tensors[i]
		if g.Name != w.Name {
			t.Fatalf("tensor %d is %q, CPU %q", i, g.Name, w.Name)
		}
		for _, mom := range []struct {
			what     string
			got, exp []float32
		}{{"m", got.M.Tensors[i].Data, want.M.Tensors[i].Data}, {"v", got.V.Tensors[i].Data, want.V.Tensors[i].Data}} {
			var top, worst float64
			at := 0
			for j, v := range mom.exp {
				top = math.Max(top, math.Abs(float64(v)))
				if d := math.Abs(float64(mom.got[j]) - float64(v)); d > worst || math.IsNaN(d) {
					worst, at = d, j
				}
			}
			if !(worst <= momentRel(steps)*top) {
				t.Errorf("%s %s: max difference %.3g at %d (GPU %v, CPU %v), max |CPU| %.3g",
					w.Name, mom.what, worst, at, mom.got[at], mom.exp[at], top)
			}
		}
		atol := 0.02 * c.LR * float64(steps)
		for j, v := range w.Data {
			d := math.Abs(float64(g.Data[j]) - float64(v))
			if !(d <= 1e-5*math.Abs(float64(v))+atol) {
				t.Errorf("%s[%d]: GPU %v, CPU %v (difference %.3g, lr %g)", w.Name, j, g.Data[j], v, d, c.LR)
				break
			}
		}
	}
}

func TestStepMatchesCPU(t *testing.T) {
	paper := bench.Shapes(model.Model1, 116)
	paper.LR = 1e-3
	tests := []struct {
		name  string
		c     model.Config
		rows  []int // batch sizes of successive steps
		steps int
	}{
		{"baseline", smallConfig(model.Baseline, model.MaskAll), []int{8, 8, 3}, 3},
		{"model1", smallConfig(model.Model1, model.MaskAll), []int{8, 8, 8}, 3},
		{"model1 true-tag mask", smallConfig(model.Model1, model.MaskTrue), []int{8, 5}, 2},
		{"model2", smallConfig(model.Model2, model.MaskAll), []int{8, 8, 8}, 3},
		{"model2 mask partial batch", smallConfig(model.Model2, model.MaskTrue), []int{8, 1, 7}, 3},
		{"model1 paper shapes", paper, []int{32, 32}, 2},
	}
	if emulated {
		tests = tests[:len(tests)-1] // float64 host GEMMs at 4096² take too long
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			st := model.NewState(c)
			ct, err := cpu.New(c, cloneState(st))
			if err != nil {
				t.Fatal(err)
			}
			defer ct.Close()
			gt, err := NewTrainer(c, cloneState(st), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer gt.Close()
			data := bench.Synthetic(c, 64, 9)
			rng := rand.New(rand.NewPCG(1, 2))
			for s, n := range tt.rows {
				rows := make([]int32, n)
				for i := range rows {
					rows[i] = int32(rng.IntN(data.N))
				}
				b := data.Batch(rows)
				lc, err := ct.Step(b)
				if err != nil {
					t.Fatal(err)
				}
				lg, err := gt.Step(b)
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range []struct {
					what     string
					got, exp float64
				}{{"tag", lg.Tag, lc.Tag}, {"imp", lg.Imp, lc.Imp}, {"imp2", lg.Imp2, lc.Imp2}, {"total", lg.Total, lc.Total}} {
					if d := math.Abs(l.got - l.exp); !(d <= 1e-5*math.Abs(l.exp)+1e-7) {
						t.Errorf("step %d %s loss: GPU %v, CPU %v", s, l.what, l.got, l.exp)
					}
				}
			}
			sg, err := gt.State()
			if err != nil {
				t.Fatal(err)
			}
			sc, err := ct.State()
			if err != nil {
				t.Fatal(err)
			}
			compareStates(t, c, tt.steps, sg, sc)

			// Inference on the updated weights, over more rows than a batch.
			x := data.X[:13*c.D]
			pg, ig, err := gt.Forward(x, 13)
			if err != nil {
				t.Fatal(err)
			}
			var wa []float32
			if c.Kind == model.Model2 {
				wa = data.WA[:13*c.E]
			}
			pc, ic, qc := cpuForward(t, ct, c, x, wa, 13)
			fc1 := linearLayer{"fc1.weight", "fc1.bias"}
			checkForward(t, "forward prob", pg, pc, forwardBound(c, sg.Params, sc.Params, x, nil, 13,
				[]linearLayer{fc1, {"tag.weight", "tag.bias"}}))
			if c.Kind.HasImportanceHead() {
				checkForward(t, "forward imp", ig, ic, forwardBound(c, sg.Params, sc.Params, x, nil, 13,
					[]linearLayer{fc1, {"imp.weight", "imp.bias"}}))
			} else {
				checkForward(t, "forward imp (= prob)", ig, ic, forwardBound(c, sg.Params, sc.Params, x, nil, 13,
					[]linearLayer{fc1, {"tag.weight", "tag.bias"}}))
			}
			if c.Kind == model.Model2 {
				qg, err := gt.Importance2(x, wa, 13)
				if err != nil {
					t.Fatal(err)
				}
				in := make([]float32, 13*(c.D+c.E))
				model.Imp2Input(in, x, wa, 13, c.D, c.E)
				var inErr []float32
				for r := 0; r < 13; r++ {
					inErr = append(inErr, l2InputErr(in[r*(c.D+c.E):r*(c.D+c.E)+c.D])...)
					inErr = append(inErr, l2InputErr(in[r*(c.D+c.E)+c.D:(r+1)*(c.D+c.E)])...)
				}
				checkForward(t, "importance2", qg, qc, forwardBound(c, sg.Params, sc.Params, in, inErr, 13,
					[]linearLayer{{"imp2.fc1.weight", "imp2.fc1.bias"}, {"imp2.out.weight", "imp2.out.bias"}}))
			} else if _, err := gt.Importance2(x, nil, 13); err == nil {
				t.Errorf("Importance2 on %s gave no error", c.Kind)
			}
		})
	}
}

// TestResidentMatchesStep: steps on a split kept on the device give what
// the same rows fed from the host give.
func TestResidentMatchesStep(t *testing.T) {
	for _, tc := range []struct {
		kind    model.Kind
		rowCopy bool // force the row-by-row fallback of the gather kernel
		noGraph bool // launch kernel by kernel instead of replaying a graph
	}{{model.Baseline, false, false}, {model.Model1, false, false}, {model.Model2, false, false},
		{model.Model2, true, false}, {model.Model1, false, true}} {
		kind := tc.kind
		name := string(kind)
		if tc.rowCopy {
			name += " row copies"
		}
		if tc.noGraph {
			name += " no graph"
		}
		t.Run(name, func(t *testing.T) {
			c := smallConfig(kind, model.MaskAll)
			st := model.NewState(c)
			data := bench.Synthetic(c, 40, 4)
			host, err := NewTrainer(c, cloneState(st), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer host.Close()
			dev, err := NewTrainer(c, cloneState(st), Options{LossSlots: 3, NoGraph: tc.noGraph})
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			dev.rowCopies = tc.rowCopy
			t.Logf("device: %s", dev.Device())
			if err := dev.SetTrainingSet(data.X, data.Y, data.Imp, data.N, data.TagVecs); err != nil {
				t.Fatal(err)
			}
			// Eight steps with three loss slots: read-backs in the middle
			// of the run, runs of 3, 2 and 1 full batches (graph replays)
			// around partial batches (launched kernel by kernel).
			batches := [][]int32{{3, 1, 4, 1, 5, 9, 2, 6}, {0, 1, 2, 3, 4, 5, 6, 7}, {8, 9, 10, 11, 12, 13, 14, 15},
				{39, 0}, {7, 7, 7, 8, 10, 11, 12, 13}, {16, 17, 18, 19, 20, 21, 22, 23}, {20},
				{30, 31, 32, 33, 34, 35, 36, 37}}
			var sum model.Losses
			rows := 0
			for _, rs := range batches {
				l, err := host.Step(data.Batch(rs))
				if err != nil {
					t.Fatal(err)
				}
				w := float64(len(rs))
				sum.Tag += w * l.Tag
				sum.Imp += w * l.Imp
				sum.Imp2 += w * l.Imp2
				rows += len(rs)
				if err := dev.StepRows(rs); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("full batches: %s", dev.GraphMode())
			if !tc.rowCopy && !tc.noGraph && dev.graph == nil {
				t.Errorf("full batches did not replay a CUDA graph: %s", dev.GraphMode())
			}
			l, steps, err := dev.Sync()
			if err != nil {
				t.Fatal(err)
			}
			if steps != len(batches) {
				t.Errorf("Sync counted %d steps, want %d", steps, len(batches))
			}
			want := (sum.Tag + sum.Imp + sum.Imp2) / float64(rows)
			if math.Abs(l.Total-want) > 1e-5*math.Abs(want) {
				t.Errorf("resident mean loss %v, host-fed %v", l.Total, want)
			}
			sh, err := host.State()
			if err != nil {
				t.Fatal(err)
			}
			sd, err := dev.State()
			if err != nil {
				t.Fatal(err)
			}
			compareStates(t, c, len(batches), sd, sh)
			if err := dev.StepRows([]int32{40}); err == nil {
				t.Errorf("row outside the split accepted")
			}
		})
	}
}

// TestCheckpointInterop: a GPU-trained state saved as a checkpoint loads
// into the CPU engine (and back into the GPU engine) and predicts the same.
func TestCheckpointInterop(t *testing.T) {
	c := smallConfig(model.Model2, model.MaskAll)
	data := bench.Synthetic(c, 32, 5)
	gt, err := NewTrainer(c, model.NewState(c), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gt.Close()
	for i := 0; i < 3; i++ {
		if _, err := gt.Step(data.Batch([]int32{int32(i), 4, 5, 6, 7, 8, 9, 10})); err != nil {
			t.Fatal(err)
		}
	}
	st, err := gt.State()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tags := make([]string, c.T)
	for i := range tags {
		tags[i] = string(rune('a' + i))
	}
	if err := model.SaveCheckpoint(dir, &model.Meta{Config: c, Tags: tags, Device: "gpu"}, st); err != nil {
		t.Fatal(err)
	}
	_, loaded, err := model.LoadCheckpoint(dir, c.Kind, true)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := cpu.New(c, loaded)
	if err != nil {
		t.Fatal(err)
	}
	defer ct.Close()
	pg, ig, err := gt.Forward(data.X, data.N)
	if err != nil {
		t.Fatal(err)
	}
	pc, ic, _ := cpuForward(t, ct, c, data.X, nil, data.N)
	fc1 := linearLayer{"fc1.weight", "fc1.bias"}
	checkForward(t, "prob GPU vs CPU from checkpoint", pg, pc, forwardBound(c, st.Params, loaded.Params, data.X, nil, data.N,
		[]linearLayer{fc1, {"tag.weight", "tag.bias"}}))
	checkForward(t, "imp GPU vs CPU from checkpoint", ig, ic, forwardBound(c, st.Params, loaded.Params, data.X, nil, data.N,
		[]linearLayer{fc1, {"imp.weight", "imp.bias"}}))

	back, err := NewTrainer(c, loaded, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	sb, err := back.State()
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range st.Params.Tensors {
		for j, v := range w.Data {
			if sb.Params.Tensors[i].Data[j] != v || sb.M.Tensors[i].Data[j] != st.M.Tensors[i].Data[j] || sb.V.Tensors[i].Data[j] != st.V.Tensors[i].Data[j] {
				t.Fatalf("%s[%d] changed through save and load", w.Name, j)
			}
		}
	}
	if sb.Step != st.Step {
		t.Errorf("step %d after load, saved %d", sb.Step, st.Step)
	}
}

func TestClosed(t *testing.T) {
	c := smallConfig(model.Baseline, model.MaskAll)
	gt, err := NewTrainer(c, model.NewState(c), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := gt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gt.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := gt.State(); err != ErrClosed {
		t.Errorf("State after Close: %v, want ErrClosed", err)
	}
}
