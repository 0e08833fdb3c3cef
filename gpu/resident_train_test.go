//go:build gpu

package gpu

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"tagimp/model"
)

// saved returns v as the metadata saves it.
func saved(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// hostFed hides the resident methods of a Trainer, so model.Train feeds it
// batches from the host with Step.
type hostFed struct{ model.Trainer }

// TestTrainResidentMatchesHostFed runs model.Train for each model through
// the device-resident path (SetTrainingSet, StepRows, Sync) and through
// host-fed steps (Step) from the same seed and data, with a partial last
// batch (43 rows in batches of 8: five of 8 and one of 3) and, on the
// resident side, a resume after epoch 2 of 3, and compares the final
// checkpoints and the per-epoch history.
//
// Kernel by kernel (Options.NoGraph) on the host emulator the resident path
// runs exactly the host-fed step's kernels on the same values (the gather
// copies rows, the device WA is the host's twin row by row, the losses are
// summed in the same order), so parameters, Adam moments, step counter,
// losses and validation metrics must be bit-identical. On a real GPU,
// Model 2's WA is summed by a kernel in its own order, so there the bounds
// of the graph case below apply.
//
// Replaying the captured CUDA graph, full batches take Adam's bias
// corrections from pw = β^t advanced in float32 on the device
// (tg_adam_powers, re-seeded from the host's float64 β^t at the start of
// each run of full batches that StepRows launches together, at most
// Options.LossSlots = 3 steps here) instead of the host's float64 1−β^t. Each float32
// product is off by at most 2⁻²⁴ ≈ 6e-8, so with ≤ 3 products per chunk
// here, 1−β2^t (≈ 1e-3·t at small t) is off by up to ~2e-4/t relative and
// √bc2 by half that: one step's update (at most about lr) differs by up to
// ~1e-4·lr. Bound after s steps: |Δp| ≤ 1e-4·lr·s for every parameter
// (the per-step worst cases added up; measured: ≤ 5e-8 = 1/40 of it), the
// epoch losses within 1e-5 relative, the validation metrics within 1e-4.
// The parameters must still have moved from their initial values by ≫ the
// bound, so the comparison is not vacuous.
//
// The history's validation reports are compared as saved (JSON): the
// epochs before a resume come back from the metadata, without the
// report's unsaved counters.
func TestTrainResidentMatchesHostFed(t *testing.T) {
	for _, kind := range model.Kinds {
		for _, graph := range []bool{false, true} {
			name := string(kind) + " kernel by kernel"
			if graph {
				name = string(kind) + " graph"
			}
			t.Run(name, func(t *testing.T) {
				c := smallConfig(kind, model.MaskAll)
				c.Epochs = 3
				rng := rand.New(rand.NewPCG(21, 22))
				basis := randn(rng, c.T*c.D, 1)
				train, test := learnable(c, 43, 3, basis), learnable(c, 20, 4, basis)
				tagVecs := randn(rng, c.T*c.E, 1)
				tags := make([]string, c.T)
				for i := range tags {
					tags[i] = fmt.Sprintf("tag%d", i)
				}
				var notes []string
				var last *Trainer
				var device string
				run := func(dir string, epochs int, f model.Factory) *model.Meta {
					t.Helper()
					cc := c
					cc.Epochs = epochs
					m, err := model.Train(&model.Run{
						Dir: dir, Config: cc, Tags: tags, TagVecs: tagVecs,
						Train: train, Test: test, Device: "gpu", Factory: f,
						Source: model.DataSource{NTrain: train.N, NTest: test.N},
						Log:    func(msg string) { notes = append(notes, msg) },
					})
					if err != nil {
						t.Fatal(err)
					}
					return m
				}
				host := func(c model.Config, st *model.State) (model.Trainer, error) {
					tr, err := NewTrainer(c, st, Options{})
					if err != nil {
						return nil, err
					}
					return hostFed{tr}, nil
				}
				resident := func(c model.Config, st *model.State) (model.Trainer, error) {
					// Three loss slots: read-backs in the middle of an
					// epoch of six steps.
					tr, err := NewTrainer(c, st, Options{NoGraph: !graph, LossSlots: 3})
					if err != nil {
						return nil, err
					}
					last, device = tr, tr.Device()
					return tr, nil
				}

				hostDir, resDir := t.TempDir(), t.TempDir()
				mh := run(hostDir, 3, host)
				if len(notes) != 0 {
					t.Errorf("host-fed run logged %q", notes)
				}
				run(resDir, 2, resident)
				mr := run(resDir, 3, resident) // resumes after epoch 2
				if len(notes) != 2 || !strings.Contains(notes[1], "kept in device memory") {
					t.Errorf("resident runs logged %q, want two notes that the split is kept in device memory", notes)
				}
				if graph && last.graph == nil {
					t.Errorf("full batches did not replay a CUDA graph: %s", last.GraphMode())
				}
				t.Logf("%s, full batches: %s", device, last.GraphMode())
				exact := !graph && emulated

				_, sh, err := model.LoadCheckpoint(hostDir, kind, true)
				if err != nil {
					t.Fatal(err)
				}
				_, sr, err := model.LoadCheckpoint(resDir, kind, true)
				if err != nil {
					t.Fatal(err)
				}
				steps := 3 * 6
				if sh.Step != int64(steps) || sr.Step != sh.Step {
					t.Errorf("steps: host-fed %d, resident %d, want %d", sh.Step, sr.Step, steps)
				}
				init := model.NewState(c)
				bound := 0.0 // bit-identical
				if !exact {
					bound = 1e-4 * c.LR * float64(steps)
				}
				var worst, moved float64
				for i, th := range sh.Params.Tensors {
					tr, t0 := sr.Params.Tensors[i], init.Params.Tensors[i]
					for j, v := range th.Data {
						worst = math.Max(worst, math.Abs(float64(tr.Data[j]-v)))
						moved = math.Max(moved, math.Abs(float64(v-t0.Data[j])))
					}
					if exact {
						for _, p := range []struct {
							what string
							h, r *model.Params
						}{{"Adam first moment", sh.M, sr.M}, {"Adam second moment", sh.V, sr.V}} {
							for j, v := range p.h.Tensors[i].Data {
								if w := p.r.Tensors[i].Data[j]; math.Float32bits(w) != math.Float32bits(v) {
									t.Fatalf("%s of %s[%d]: resident %v, host-fed %v", p.what, th.Name, j, w, v)
								}
							}
						}
					}
				}
				t.Logf("max |Δparam| %.3g (bound %.3g), max |param − initial| %.3g", worst, bound, moved)
				if worst > bound {
					t.Errorf("parameters differ by up to %.3g, bound %.3g", worst, bound)
				}
				if moved < max(100*bound, 5*c.LR) {
					t.Errorf("training moved the parameters by at most %.3g: the comparison says nothing", moved)
				}

				if len(mh.History) != 3 || len(mr.History) != 3 {
					t.Fatalf("history of %d (host-fed) and %d (resident) epochs, want 3", len(mh.History), len(mr.History))
				}
				for e := range mh.History {
					hh, hr := mh.History[e], mr.History[e]
					lh, lr := hh.Loss, hr.Loss
					if exact {
						if lh != lr || saved(t, hh.Val) != saved(t, hr.Val) {
							t.Errorf("epoch %d: resident %+v %+v, host-fed %+v %+v", e+1, lr, hr.Val, lh, hh.Val)
						}
						continue
					}
					for _, l := range [][2]float64{{lh.Tag, lr.Tag}, {lh.Imp, lr.Imp}, {lh.Imp2, lr.Imp2}, {lh.Total, lr.Total}} {
						if math.Abs(l[0]-l[1]) > 1e-5*math.Abs(l[0]) {
							t.Errorf("epoch %d losses: resident %+v, host-fed %+v", e+1, lr, lh)
							break
						}
					}
					for _, v := range [][2]float64{{hh.Val.MAPImage, hr.Val.MAPImage}, {hh.Val.MAPClass, hr.Val.MAPClass},
						{hh.Val.Jaccard, hr.Val.Jaccard}, {hh.Val.MAE, hr.Val.MAE}, {hh.Val.MSE, hr.Val.MSE}} {
						if math.Abs(v[0]-v[1]) > 1e-4 {
							t.Errorf("epoch %d validation: resident %+v, host-fed %+v", e+1, hr.Val, hh.Val)
							break
						}
					}
				}
				if kind == model.Baseline && (mr.History[2].Loss.Imp != 0 || mr.History[2].Loss.Imp2 != 0) {
					t.Errorf("baseline importance losses %+v", mr.History[2].Loss)
				}
			})
		}
	}
}
