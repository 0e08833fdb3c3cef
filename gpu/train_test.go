//go:build gpu

package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/model"
	"tagimp/model/cpu"
)

// learnable returns a split whose features are a noisy linear image of the
// tags, so that three epochs of training move the metrics.
func learnable(c model.Config, n int, seed uint64, basis []float32) *model.Data {
	rng := rand.New(rand.NewPCG(seed, 3))
	d := &model.Data{N: n, D: c.D, T: c.T, X: make([]float32, n*c.D), Presence: make([]uint8, n*c.T), Importance: make([]float32, n*c.T)}
	for r := 0; r < n; r++ {
		d.IDs = append(d.IDs, int64(r)+int64(seed)<<32)
		for t := 0; t < c.T; t++ {
			if rng.Float64() < 0.25 || t == r%c.T {
				d.Presence[r*c.T+t] = 1
				d.Importance[r*c.T+t] = float32(1+rng.IntN(5)) / 5
			}
		}
		for j := 0; j < c.D; j++ {
			v := rng.NormFloat64() * 0.3
			for t := 0; t < c.T; t++ {
				v += float64(d.Importance[r*c.T+t]) * float64(basis[t*c.D+j])
			}
			d.X[r*c.D+j] = float32(math.Max(0, v))
		}
	}
	return d
}

// TestThreeEpochsMatchCPU trains each model three epochs with model.Train
// on the GPU and on the CPU from the same seed and data and compares the
// test metrics after the last epoch: |GPU − CPU| ≤ 0.01 for mAP (both
// readings), Jaccard, MAE and MSE, and the epoch losses within 1e-3
// relative. (The engines agree step by step to float rounding; 0.01 leaves
// room for rounding to flip a thresholded prediction or two over 150 test
// images.)
func TestThreeEpochsMatchCPU(t *testing.T) {
	for _, kind := range model.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			c := smallConfig(kind, model.MaskAll)
			c.Batch, c.Epochs = 16, 3
			rng := rand.New(rand.NewPCG(11, 12))
			basis := randn(rng, c.T*c.D, 1)
			train, test := learnable(c, 300, 1, basis), learnable(c, 150, 2, basis)
			tagVecs := randn(rng, c.T*c.E, 1)
			tags := make([]string, c.T)
			for i := range tags {
				tags[i] = fmt.Sprintf("tag%d", i)
			}
			run := func(device string, f model.Factory) *model.Meta {
				t.Helper()
				m, err := model.Train(&model.Run{
					Dir: t.TempDir(), Config: c, Tags: tags, TagVecs: tagVecs,
					Train: train, Test: test, Device: device, Factory: f,
					Source: model.DataSource{NTrain: train.N, NTest: test.N},
				})
				if err != nil {
					t.Fatalf("%s: %v", device, err)
				}
				return m
			}
			mg, mc := run("gpu", New), run("cpu", cpu.New)
			if len(mg.History) != 3 || len(mc.History) != 3 {
				t.Fatalf("history of %d (GPU) and %d (CPU) epochs, want 3", len(mg.History), len(mc.History))
			}
			for e := range mc.History {
				lg, lc := mg.History[e].Loss.Total, mc.History[e].Loss.Total
				if math.Abs(lg-lc) > 1e-3*math.Abs(lc) {
					t.Errorf("epoch %d loss: GPU %v, CPU %v", e+1, lg, lc)
				}
			}
			if !(mc.History[2].Loss.Total < mc.History[0].Loss.Total) {
				t.Errorf("CPU loss did not fall over 3 epochs (%v → %v): the data teaches nothing",
					mc.History[0].Loss.Total, mc.History[2].Loss.Total)
			}
			g, r := mg.Metrics, mc.Metrics
			for _, m := range []struct {
				name     string
				gpu, cpu float64
			}{{"map_image", g.MAPImage, r.MAPImage}, {"map_class", g.MAPClass, r.MAPClass},
				{"jaccard", g.Jaccard, r.Jaccard}, {"mae", g.MAE, r.MAE}, {"mse", g.MSE, r.MSE}} {
				if !(math.Abs(m.gpu-m.cpu) <= 0.01) {
					t.Errorf("%s after 3 epochs: GPU %.4f, CPU %.4f", m.name, m.gpu, m.cpu)
				}
			}
			t.Logf("%s after 3 epochs: mAP %.4f/%.4f (GPU/CPU), Jaccard %.4f/%.4f, MAE %.4f/%.4f",
				kind, g.MAPImage, r.MAPImage, g.Jaccard, r.Jaccard, g.MAE, r.MAE)
		})
	}
}
