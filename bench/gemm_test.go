package bench

import (
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/model"
)

func TestStepFLOP(t *testing.T) {
	const b, d, h, t116, e, h2 = 32, 4096, 4096, 116, 300, 4096
	trunk := int64(2 * 2 * b * d * h)   // x·W1 and xᵀ·dpre
	head := int64(3 * 2 * b * h * t116) // h·W, hᵀ·dz, dz·Wᵀ
	mlp := int64(2*2*b*(d+e)*h2) + head // x2·V1, x2ᵀ·dpre2, and a head on H2 = H
	tests := []struct {
		kind  model.Kind
		gemms int
		flop  int64
	}{
		{model.Baseline, 5, trunk + head},
		{model.Model1, 8, trunk + 2*head},
		{model.Model2, 13, trunk + 2*head + mlp},
	}
	for _, tt := range tests {
		c := Shapes(tt.kind, 116)
		if got := len(StepGEMMs(c)); got != tt.gemms {
			t.Errorf("%s: %d products, want %d", tt.kind, got, tt.gemms)
		}
		if got := StepFLOP(c); got != tt.flop {
			t.Errorf("%s: %d FLOP per step, want %d", tt.kind, got, tt.flop)
		}
	}
	// The numbers the docs quote.
	for kind, want := range map[model.Kind]float64{model.Baseline: 2.24, model.Model1: 2.33, model.Model2: 4.73} {
		if got := float64(StepFLOP(Shapes(kind, 116))) / 1e9; math.Abs(got-want) > 0.005 {
			t.Errorf("%s: %.3f GFLOP, docs say %.2f", kind, got, want)
		}
	}
	// The only input gradients (dz·Wᵀ) are the heads' (K = T); the
	// gradient of x or x2 would be dpre·W1ᵀ with K = H or H2.
	for _, g := range StepGEMMs(Shapes(model.Model2, 116)) {
		if g.TransB && g.K != t116 {
			t.Errorf("%s looks like the gradient of the input features", g.Name)
		}
	}
}

// TestSgemm checks the transposes and leading dimensions MeasureGEMMs
// hands the BLAS against a naive product.
func TestSgemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, g := range []GEMM{
		{Name: "NN", M: 3, N: 5, K: 4},
		{Name: "TN", M: 6, N: 2, K: 3, TransA: true},
		{Name: "NT", M: 2, N: 7, K: 5, TransB: true},
	} {
		a, b, c := make([]float32, g.M*g.K), make([]float32, g.K*g.N), make([]float32, g.M*g.N)
		for _, x := range [][]float32{a, b} {
			for i := range x {
				x[i] = float32(rng.IntN(7) - 3)
			}
		}
		sgemm(g, a, b, c)
		for i := 0; i < g.M; i++ {
			for j := 0; j < g.N; j++ {
				var want float32
				for k := 0; k < g.K; k++ {
					av, bv := a[i*g.K+k], b[k*g.N+j]
					if g.TransA {
						av = a[k*g.M+i]
					}
					if g.TransB {
						bv = b[j*g.K+k]
					}
					want += av * bv
				}
				if c[i*g.N+j] != want {
					t.Fatalf("%s: c[%d,%d] = %v, want %v", g.Name, i, j, c[i*g.N+j], want)
				}
			}
		}
	}
}

func TestMeasureGEMMs(t *testing.T) {
	c := small(model.Model1)
	gs := StepGEMMs(c)
	f, err := MeasureGEMMs(gs, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Times) != len(gs) || f.FLOP != StepFLOP(c) {
		t.Fatalf("%d timings, %d FLOP; want %d, %d", len(f.Times), f.FLOP, len(gs), StepFLOP(c))
	}
	var sum float64
	for i, tm := range f.Times {
		if tm.Name != gs[i].Name || !(tm.MinMS > 0) || tm.MinMS > tm.MedianMS || math.Abs(tm.GFLOPs-float64(tm.FLOP())/(tm.MinMS*1e6)) > 1e-9*tm.GFLOPs {
			t.Errorf("timing %+v", tm)
		}
		sum += tm.MinMS
	}
	// The tag and importance heads have the same shapes: timed once.
	if f.Times[2].MinMS != f.Times[5].MinMS || f.Times[2].Name == f.Times[5].Name {
		t.Errorf("the two heads' forward products were timed apart: %+v, %+v", f.Times[2], f.Times[5])
	}
	if math.Abs(sum-f.MS) > 1e-9 || math.Abs(f.GFLOPs-float64(f.FLOP)/(f.MS*1e6)) > 1e-9*f.GFLOPs {
		t.Errorf("floor %v ms at %v GFLOP/s, the products sum to %v ms", f.MS, f.GFLOPs, sum)
	}
	tm, err := NewGEMMTimer(gs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tm.Floor(); err == nil {
		t.Error("floor before any round: no error")
	}
	tm.Round()
	tm.Round()
	if f2, err := tm.Floor(); err != nil || tm.Rounds() != 2 || f2.FLOP != f.FLOP || !(f2.MS > 0) {
		t.Errorf("timer after 2 rounds: %+v, %v", f2, err)
	}
	if _, err := MeasureGEMMs(gs, 0); err == nil {
		t.Error("0 repetitions: no error")
	}
	if _, err := MeasureGEMMs([]GEMM{{Name: "empty", M: 0, N: 1, K: 1}}, 1); err == nil {
		t.Error("empty product: no error")
	}
}

func TestResultRatios(t *testing.T) {
	r := Result{StepMS: 12, MedianMS: 10, MinMS: 8}
	r.SetGEMMFloor(GEMMFloor{FLOP: 4e9, MS: 5, GFLOPs: 800, Times: []GEMMTime{{MinMS: 5}}})
	if r.FloorBasis != "sgemm" || r.FloorMS != 5 || r.OursOverFloor != 2 || r.OursOverFloorMin != 1.6 || r.FloorFraction != 0.5 || r.SGEMMGFLOPs != 800 || len(r.GEMMs) != 1 {
		t.Errorf("gemm floor: %+v", r)
	}
	r.SetPeer(PeerResult{MedianMS: 15, MinMS: 12})
	if r.Peer == nil || r.PeerOverOurs != 1.5 || r.PeerOverOursMin != 1.5 {
		t.Errorf("peer: %+v", r)
	}
	// A resident (GPU) result has only the mean.
	g := Result{StepMS: 4, BytesPerStep: 4e9}
	g.SetFloor(1000)
	if g.FloorBasis != "hbm" || math.Abs(g.FloorMS-4) > 1e-9 || math.Abs(g.OursOverFloor-1) > 1e-9 || g.OursOverFloorMin != 0 {
		t.Errorf("hbm floor: %+v", g)
	}
	var none Result
	none.SetGEMMFloor(GEMMFloor{MS: 1})
	if none.FloorMS != 0 {
		t.Errorf("floor without a step time: %+v", none)
	}
}

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
