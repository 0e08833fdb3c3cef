//go:build gpu

package gpu

import (
	"flag"
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/bench"
	"tagimp/model"
	"tagimp/model/cpu"
)

var (
	paperSteps    = flag.Int("paper.steps", 300, "TestPaperShapesGraph: training steps in graph mode and kernel by kernel")
	paperCPUSteps = flag.Int("paper.cpusteps", 30, "TestPaperShapesGraph: of those, steps also run on the CPU engine")
)

// TestPaperShapesGraph trains each model at the paper's shapes (D = H =
// H2 = 4096, T = 116, E = 300, batch 32) on the same synthetic split three
// ways: the device-resident path replaying a captured CUDA graph, the same
// path kernel by kernel (Options.NoGraph), and — for the first
// -paper.cpusteps steps — the CPU engine (model/cpu) on the same batches.
// After the CPU steps the graph-mode state must match the CPU engine's
// (compareStates' bounds); after -paper.steps steps the graph-mode state and
// losses must match the kernel-by-kernel ones (same kernels and GEMM
// shapes: only cuBLAS's algorithm choice on the capture stream may differ,
// so the same bounds apply, with the step count). This is what a passing
// gpu-check proves about graph mode and Model 2 at the paper's shapes;
// scripts/gpu-check.sh runs it as its own process. On the host emulator
// (4096² float64 GEMMs take minutes there) the same test runs at small
// shapes and 40 steps, which checks its sequence of calls.
func TestPaperShapesGraph(t *testing.T) {
	steps, cpuSteps := *paperSteps, min(*paperCPUSteps, *paperSteps)
	if emulated {
		steps, cpuSteps = 40, 10
	}
	for _, kind := range model.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			c := bench.Shapes(kind, 116)
			if emulated {
				c = smallConfig(kind, model.MaskAll)
			}
			c.LR = 1e-3
			data := bench.Synthetic(c, 16*c.Batch, 11)
			st := model.NewState(c)
			graph, err := NewTrainer(c, cloneState(st), Options{LossSlots: 50})
			if err != nil {
				t.Fatal(err)
			}
			defer graph.Close()
			eager, err := NewTrainer(c, cloneState(st), Options{LossSlots: 50, NoGraph: true})
			if err != nil {
				t.Fatal(err)
			}
			defer eager.Close()
			ref, err := cpu.New(c, cloneState(st))
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			for _, tr := range []*Trainer{graph, eager} {
				if err := tr.SetTrainingSet(data.X, data.Y, data.Imp, data.N, data.TagVecs); err != nil {
					t.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(uint64(len(kind)), 3))
			var cpuLoss model.Losses
			for s := 0; s < steps; s++ {
				rows := make([]int32, c.Batch)
				for i := range rows {
					rows[i] = int32(rng.IntN(data.N))
				}
				for _, tr := range []*Trainer{graph, eager} {
					if err := tr.StepRows(rows); err != nil {
						t.Fatalf("step %d: %v", s, err)
					}
				}
				if s < cpuSteps {
					l, err := ref.Step(data.Batch(rows))
					if err != nil {
						t.Fatal(err)
					}
					cpuLoss.Tag += l.Tag
					cpuLoss.Imp += l.Imp
					cpuLoss.Imp2 += l.Imp2
				}
				if s+1 == cpuSteps {
					lg, n, err := graph.Sync()
					if err != nil {
						t.Fatal(err)
					}
					if _, _, err := eager.Sync(); err != nil {
						t.Fatal(err)
					}
					for _, l := range []struct {
						what     string
						got, cpu float64
					}{{"tag", lg.Tag, cpuLoss.Tag / float64(n)}, {"imp", lg.Imp, cpuLoss.Imp / float64(n)}, {"imp2", lg.Imp2, cpuLoss.Imp2 / float64(n)}} {
						if d := math.Abs(l.got - l.cpu); !(d <= 1e-4*math.Abs(l.cpu)+1e-6) {
							t.Errorf("mean %s loss over %d steps: graph %v, CPU %v", l.what, n, l.got, l.cpu)
						}
					}
					sg, err := graph.State()
					if err != nil {
						t.Fatal(err)
					}
					sc, err := ref.State()
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("graph mode vs CPU engine after %d steps", cpuSteps)
					compareStates(t, c, cpuSteps, sg, sc)
				}
			}
			lg, n, err := graph.Sync()
			if err != nil {
				t.Fatal(err)
			}
			le, _, err := eager.Sync()
			if err != nil {
				t.Fatal(err)
			}
			if graph.GraphMode() != "CUDA graph" {
				t.Errorf("full batches did not replay a CUDA graph: %s", graph.GraphMode())
			}
			t.Logf("%s: %s; last %d steps' mean losses graph %+v, kernel by kernel %+v", kind, graph.Device(), n, lg, le)
			for _, l := range []struct {
				what string
				g, e float64
			}{{"tag", lg.Tag, le.Tag}, {"imp", lg.Imp, le.Imp}, {"imp2", lg.Imp2, le.Imp2}} {
				if d := math.Abs(l.g - l.e); !(d <= 1e-4*math.Abs(l.e)+1e-6) {
					t.Errorf("mean %s loss of the last %d steps: graph %v, kernel by kernel %v", l.what, n, l.g, l.e)
				}
			}
			sg, err := graph.State()
			if err != nil {
				t.Fatal(err)
			}
			se, err := eager.State()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("graph mode vs kernel by kernel after %d steps", steps)
			compareStates(t, c, steps, sg, se)
		})
	}
}
