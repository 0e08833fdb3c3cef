package cpu

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"tagimp/model"
)

// paperConfig is Model 1 at the paper's shape: batch 32, 4096→4096→116,
// both heads.
func paperConfig() model.Config {
	c := model.DefaultConfig(model.Model1)
	c.T = 116
	return c
}

// stepFLOP is the multiply-add work of one training step of paperConfig:
// forward x·W1 and both heads, backward the heads' weight and input
// gradients and W1's weight gradient (no gradient for the input x).
func stepFLOP(c model.Config) float64 {
	b := float64(c.Batch)
	trunk := 2 * b * float64(c.D) * float64(c.H)
	heads := 2 * b * float64(c.H) * float64(2*c.T)
	return 2*trunk + 3*heads
}

func benchBatch(c model.Config) *model.Batch {
	rng := rand.New(rand.NewPCG(1, 2))
	b := &model.Batch{N: c.Batch, X: make([]float32, c.Batch*c.D), Y: make([]float32, c.Batch*c.T), Imp: make([]float32, c.Batch*c.T)}
	for i := range b.X {
		b.X[i] = rng.Float32()
	}
	for i := range b.Y {
		if rng.IntN(20) == 0 {
			b.Y[i], b.Imp[i] = 1, 0.6
		}
	}
	return b
}

// BenchmarkStep is one training step (forward, backward, Adam) of Model 1
// at the paper's shape.
func BenchmarkStep(b *testing.B) {
	c := paperConfig()
	tr, err := New(c, model.NewState(c))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	batch := benchBatch(c)
	if _, err := tr.Step(batch); err != nil { // warm-up: first run allocates
		b.Fatal(err)
	}
	b.ResetTimer()
	best := time.Duration(math.MaxInt64)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := tr.Step(batch); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(t0))
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1e3, "ms/step")
	b.ReportMetric(best.Seconds()*1e3, "min-ms/step")
	b.ReportMetric(stepFLOP(c)/sec/1e9, "GFLOP/s")
	b.Logf("BLAS: %s; %.2f GFLOP per step", BLAS, stepFLOP(c)/1e9)
}

// BenchmarkStepParts splits BenchmarkStep into its phases: filling the
// inputs and dropout masks, the gorgonia graph (forward and backward, where
// the BLAS time is), and Adam.
func BenchmarkStepParts(b *testing.B) {
	c := paperConfig()
	e, err := newEngine(c, model.NewState(c), tensor.Float32)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	batch := benchBatch(c)
	if _, err := e.Step(batch); err != nil {
		b.Fatal(err)
	}
	var prep, run, adam time.Duration
	minRun, minAdam := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := e.prepare(batch); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := e.run(); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		e.adam()
		e.step++
		prep, run, adam = prep+t1.Sub(t0), run+t2.Sub(t1), adam+time.Since(t2)
		minRun, minAdam = min(minRun, t2.Sub(t1)), min(minAdam, time.Since(t2))
	}
	n := float64(b.N)
	b.ReportMetric(prep.Seconds()*1e3/n, "prepare-ms")
	b.ReportMetric(run.Seconds()*1e3/n, "graph-ms")
	b.ReportMetric(adam.Seconds()*1e3/n, "adam-ms")
	b.ReportMetric(minRun.Seconds()*1e3, "min-graph-ms")
	b.ReportMetric(minAdam.Seconds()*1e3, "min-adam-ms")
}

// BenchmarkSGEMM measures the BLAS in use on the step's dominant product,
// (32×4096)·(4096×4096) in float32, and reports the floor of one step:
// its FLOP over this rate.
func BenchmarkSGEMM(b *testing.B) {
	c := paperConfig()
	x := tensor.New(tensor.WithShape(c.Batch, c.D), tensor.WithBacking(make([]float32, c.Batch*c.D)))
	w := tensor.New(tensor.WithShape(c.D, c.H), tensor.WithBacking(make([]float32, c.D*c.H)))
	out := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(c.Batch, c.H))
	rng := rand.New(rand.NewPCG(3, 4))
	for i, d := range []*tensor.Dense{x, w} {
		_ = i
		f := d.Data().([]float32)
		for j := range f {
			f[j] = rng.Float32()
		}
	}
	if _, err := tensor.MatMul(x, w, tensor.WithReuse(out)); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	best := time.Duration(math.MaxInt64)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := tensor.MatMul(x, w, tensor.WithReuse(out)); err != nil {
			b.Fatal(err)
		}
		best = min(best, time.Since(t0))
	}
	sec := b.Elapsed().Seconds() / float64(b.N)
	rate := 2 * float64(c.Batch*c.D*c.H) / sec
	bestRate := 2 * float64(c.Batch*c.D*c.H) / best.Seconds()
	b.ReportMetric(rate/1e9, "GFLOP/s")
	b.ReportMetric(bestRate/1e9, "max-GFLOP/s")
	b.ReportMetric(stepFLOP(c)/rate*1e3, "floor-ms/step")
	b.ReportMetric(stepFLOP(c)/bestRate*1e3, "min-floor-ms/step")
	b.ReportMetric(3.2e9/bestRate*1e3, "min-floor3.2-ms/step")
	b.Logf("BLAS: %s", BLAS)
}

// BenchmarkEpoch32k trains one epoch of Model 1 at the paper's shape on
// 32,000 synthetic rows (1,000 steps). It takes about a minute, so it runs
// only with TAGIMP_BENCH_EPOCH=1; use -benchtime=1x.
func BenchmarkEpoch32k(b *testing.B) {
	if os.Getenv("TAGIMP_BENCH_EPOCH") == "" {
		b.Skip("set TAGIMP_BENCH_EPOCH=1 (and -benchtime=1x) to train one 32k-row epoch")
	}
	c := paperConfig()
	const rows = 32000
	tr, err := New(c, model.NewState(c))
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, rows*c.D)
	for i := range x {
		x[i] = rng.Float32()
	}
	y := make([]float32, c.Batch*c.T)
	imp := make([]float32, c.Batch*c.T)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for _, r := range model.EpochOrder(c.Seed, i+1, rows/c.Batch) {
			batch := &model.Batch{N: c.Batch, X: x[r*c.Batch*c.D : (r+1)*c.Batch*c.D], Y: y, Imp: imp}
			if _, err := tr.Step(batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/epoch")
	}
}

// BenchmarkStepKinds is BenchmarkStep for each model at the paper's shape
// (Model 2 with word vectors of 300), to profile one step per model:
// go test -run X -bench StepKinds/model2 -cpuprofile cpu.prof.
func BenchmarkStepKinds(b *testing.B) {
	for _, k := range []model.Kind{model.Baseline, model.Model1, model.Model2} {
		b.Run(string(k), func(b *testing.B) {
			c := model.DefaultConfig(k)
			c.T = 116
			tr, err := New(c, model.NewState(c))
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Close()
			batch := benchBatch(c)
			batch.WA = make([]float32, c.Batch*c.E)
			for i := range batch.WA {
				batch.WA[i] = float32(i%7) - 3
			}
			if _, err := tr.Step(batch); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			best := time.Duration(math.MaxInt64)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := tr.Step(batch); err != nil {
					b.Fatal(err)
				}
				best = min(best, time.Since(t0))
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/step")
			b.ReportMetric(best.Seconds()*1e3, "min-ms/step")
		})
	}
}
