package bench

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"gonum.org/v1/gonum/blas"
	"gorgonia.org/tensor"

	"tagimp/model"
)

// GEMM is one matrix product of a training step, C[M,N] = op(A)·op(B) in
// float32 and row-major, op(A) being M×K and op(B) K×N. TransA means A is
// stored K×M (a weight gradient xᵀ·dz), TransB that B is stored N×K (an
// input gradient dz·Wᵀ), as the CPU engine hands them to the BLAS.
type GEMM struct {
	Name   string `json:"name"`
	M      int    `json:"m"`
	N      int    `json:"n"`
	K      int    `json:"k"`
	TransA bool   `json:"trans_a,omitempty"`
	TransB bool   `json:"trans_b,omitempty"`
}

// FLOP is the product's work: 2·M·N·K (a multiply and an add each).
func (g GEMM) FLOP() int64 { return 2 * int64(g.M) * int64(g.N) * int64(g.K) }

// StepGEMMs lists the matrix products of one training step of c, as the
// CPU engine (and the numpy peer) does them: for each Linear layer the
// forward product and the weight gradient, and for the layers behind the
// trunk's and the MLP's hidden layer the input gradient as well. No
// gradient of the input features x (or of Model 2's input x2) is computed,
// so the first layers have no input-gradient product. Biases, activations,
// losses and Adam are not matrix products and are left out.
func StepGEMMs(c model.Config) []GEMM {
	b := c.Batch
	gs := []GEMM{
		{Name: "fc1 x·W1", M: b, N: c.H, K: c.D},
		{Name: "fc1 dW1 = xᵀ·dpre", M: c.D, N: c.H, K: b, TransA: true},
	}
	head := func(name string, in int) {
		gs = append(gs,
			GEMM{Name: name + " h·W", M: b, N: c.T, K: in},
			GEMM{Name: name + " dW = hᵀ·dz", M: in, N: c.T, K: b, TransA: true},
			GEMM{Name: name + " dh = dz·Wᵀ", M: b, N: in, K: c.T, TransB: true},
		)
	}
	head("tag", c.H)
	if c.Kind.HasImportanceHead() {
		head("imp", c.H)
	}
	if c.Kind.HasImportanceMLP() {
		gs = append(gs,
			GEMM{Name: "imp2.fc1 x2·V1", M: b, N: c.H2, K: c.D + c.E},
			GEMM{Name: "imp2.fc1 dV1 = x2ᵀ·dpre2", M: c.D + c.E, N: c.H2, K: b, TransA: true},
		)
		head("imp2.out", c.H2)
	}
	return gs
}

// StepFLOP is the matrix-product work of one training step of c: the sum
// of StepGEMMs' FLOP. At the paper's shapes (batch 32, 4096→4096→116) it
// is 2.24 GFLOP for the Baseline, 2.33 for Model 1 and 4.73 for Model 2;
// the "3.2 GFLOP" also counts the gradient of x (another
// 2·32·4096·4096), which neither engine computes.
func StepFLOP(c model.Config) int64 {
	var f int64
	for _, g := range StepGEMMs(c) {
		f += g.FLOP()
	}
	return f
}

// GEMMTime is the measured time of one product on the BLAS in use.
type GEMMTime struct {
	GEMM
	// MinMS and MedianMS are over the timed repetitions.
	MinMS    float64 `json:"min_ms"`
	MedianMS float64 `json:"median_ms"`
	// GFLOPs is the rate at MinMS.
	GFLOPs float64 `json:"gflops"`
}

// GEMMFloor is the compute floor of a step: the time its matrix products
// take at the best rate the BLAS reached on each of their shapes.
type GEMMFloor struct {
	Times []GEMMTime `json:"gemms"`
	// FLOP is the work of all products, MS the sum of their fastest times
	// and GFLOPs FLOP over MS (the step's effective SGEMM rate).
	FLOP   int64   `json:"flop"`
	MS     float64 `json:"ms"`
	GFLOPs float64 `json:"gflops"`
}

// MeasureGEMMs times each product of gs reps times (after one untimed
// call) with the BLAS that gorgonia's tensor package uses at the moment
// (tensor.WhichBLAS: OpenBLAS once model/cpu is linked with cgo, gonum's
// pure-Go BLAS otherwise), on seeded random operands. Products of the
// same shape are timed once.
func MeasureGEMMs(gs []GEMM, reps int) (GEMMFloor, error) {
	if reps < 1 {
		return GEMMFloor{}, fmt.Errorf("gemm floor: %d repetitions, want at least 1", reps)
	}
	t, err := NewGEMMTimer(gs)
	if err != nil {
		return GEMMFloor{}, err
	}
	for range reps {
		t.Round()
	}
	return t.Floor()
}

// GEMMTimer times a step's products a round at a time (each distinct
// shape once per round), so that rounds can be interleaved with the steps
// whose floor they measure and both see the same load on a shared
// machine. It holds the operands of every distinct shape.
type GEMMTimer struct {
	gs     []GEMM
	shapes []*gemmShape
	of     []int // index into shapes of each product of gs
	rounds int
}

type gemmShape struct {
	g       GEMM
	a, b, c []float32
	ms      []float64
}

// NewGEMMTimer allocates seeded random operands for the distinct shapes
// of gs and calls each product once untimed.
func NewGEMMTimer(gs []GEMM) (*GEMMTimer, error) {
	type key struct {
		m, n, k        int
		transA, transB bool
	}
	t := &GEMMTimer{gs: gs}
	index := map[key]int{}
	rng := rand.New(rand.NewPCG(7, 11))
	for _, g := range gs {
		if g.M < 1 || g.N < 1 || g.K < 1 {
			return nil, fmt.Errorf("gemm floor: %s is %d×%d×%d, want positive sizes", g.Name, g.M, g.N, g.K)
		}
		k := key{g.M, g.N, g.K, g.TransA, g.TransB}
		i, ok := index[k]
		if !ok {
			s := &gemmShape{g: g, a: make([]float32, g.M*g.K), b: make([]float32, g.K*g.N), c: make([]float32, g.M*g.N)}
			for _, x := range [][]float32{s.a, s.b} {
				for j := range x {
					x[j] = rng.Float32() - 0.5
				}
			}
			sgemm(g, s.a, s.b, s.c)
			i = len(t.shapes)
			index[k] = i
			t.shapes = append(t.shapes, s)
		}
		t.of = append(t.of, i)
	}
	return t, nil
}

// Round times each distinct product once.
func (t *GEMMTimer) Round() {
	for _, s := range t.shapes {
		t0 := time.Now()
		sgemm(s.g, s.a, s.b, s.c)
		s.ms = append(s.ms, float64(time.Since(t0).Nanoseconds())/1e6)
	}
	t.rounds++
}

// Rounds returns the number of rounds timed so far.
func (t *GEMMTimer) Rounds() int { return t.rounds }

// Floor sums the fastest time of each product over the rounds so far.
func (t *GEMMTimer) Floor() (GEMMFloor, error) {
	if t.rounds == 0 {
		return GEMMFloor{}, fmt.Errorf("gemm floor: no round timed")
	}
	var f GEMMFloor
	for i, g := range t.gs {
		s := t.shapes[t.of[i]]
		ms := slices.Clone(s.ms)
		tm := GEMMTime{GEMM: g, MinMS: slices.Min(ms), MedianMS: median(ms)}
		tm.GFLOPs = float64(g.FLOP()) / (tm.MinMS * 1e6)
		f.Times = append(f.Times, tm)
		f.FLOP += g.FLOP()
		f.MS += tm.MinMS
	}
	if f.MS > 0 {
		f.GFLOPs = float64(f.FLOP) / (f.MS * 1e6)
	}
	return f, nil
}

// sgemm computes c = op(a)·op(b) for g with the BLAS in use; a, b and c
// are row-major, a stored M×K (K×M when g.TransA) and b K×N (N×K when
// g.TransB).
func sgemm(g GEMM, a, b, c []float32) {
	tA, tB, lda, ldb := blas.NoTrans, blas.NoTrans, g.K, g.N
	if g.TransA {
		tA, lda = blas.Trans, g.M
	}
	if g.TransB {
		tB, ldb = blas.Trans, g.K
	}
	tensor.WhichBLAS().Sgemm(tA, tB, g.M, g.N, g.K, 1, a, lda, b, ldb, 0, c, g.N)
}

// median returns the median of xs (the mean of the middle two for an even
// count); xs is reordered.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
