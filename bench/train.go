package bench

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"tagimp/model"
	"tagimp/model/ops"
)

// Shapes returns the paper's configuration of kind for the bench: D = H =
// H2 = 4096, E = 300, batch 32, dropout 0.5, Adam lr 1e-4, with t tags
// (116 in the paper).
func Shapes(kind model.Kind, t int) model.Config {
	c := model.DefaultConfig(kind)
	c.T = t
	return c
}

// Options say how long to time.
type Options struct {
	// Steps are timed after Warmup untimed steps.
	Steps, Warmup int
	// Rows is the size of the synthetic training split (at least one
	// batch); steps walk through it in a seeded shuffled order.
	Rows int
	// Seed drives the synthetic data and the row order.
	Seed uint64
	// Between, if not nil, is called after each timed host-fed step,
	// outside the clock (bench train times a round of the floor's
	// products there, so that both see the same load). Device-resident
	// steps are queued, so it is not called between them.
	Between func()
}

// Result is the timing of one model on one engine.
type Result struct {
	Model    string `json:"model"`
	Params   int    `json:"params"`
	Batch    int    `json:"batch"`
	Steps    int    `json:"steps"`
	Resident bool   `json:"resident"`
	// Mode says how the engine ran the steps, when it says (the GPU
	// engine: CUDA graph or kernel by kernel, and why).
	Mode string `json:"mode,omitempty"`
	// StepMS is the mean wall time of a timed step in milliseconds.
	StepMS float64 `json:"step_ms"`
	// MedianMS and MinMS are the median and fastest wall time of a timed
	// step (host-fed engines, whose steps are timed one by one; zero for
	// a device-resident engine, whose steps are queued and timed
	// together).
	MedianMS float64 `json:"median_ms,omitempty"`
	MinMS    float64 `json:"min_ms,omitempty"`
	// FirstLoss and LastLoss are the mean total losses of the warm-up and
	// of the timed steps (a sanity check that training moves).
	FirstLoss float64 `json:"first_loss"`
	LastLoss  float64 `json:"last_loss"`
	// BytesPerStep is the HBM floor's traffic (see FloorBytes) and
	// FLOPPerStep the compute floor's work (see StepFLOP).
	BytesPerStep int64 `json:"bytes_per_step"`
	FLOPPerStep  int64 `json:"flop_per_step"`
	// FloorMS is the least time a step can take on this machine, by
	// FloorBasis: "hbm" (GPU) is BytesPerStep over the copy bandwidth,
	// "sgemm" (CPU) the step's matrix products at the best rate the BLAS
	// reached on their shapes in this run (GEMMs, at SGEMMGFLOPs overall).
	// Zero when not measured.
	FloorMS     float64    `json:"floor_ms,omitempty"`
	FloorBasis  string     `json:"floor_basis,omitempty"`
	SGEMMGFLOPs float64    `json:"sgemm_gflops,omitempty"`
	GEMMs       []GEMMTime `json:"gemms,omitempty"`
	// FloorFraction is FloorMS over our step time (1 = at the floor);
	// OursOverFloor its inverse (the CPU goal: at most 2) and
	// OursOverFloorMin the same with the fastest step. Our step time is
	// MedianMS when measured, else StepMS.
	FloorFraction    float64 `json:"floor_fraction,omitempty"`
	OursOverFloor    float64 `json:"ours_over_floor,omitempty"`
	OursOverFloorMin float64 `json:"ours_over_floor_min,omitempty"`
	// Peer is the same step timed by another framework in the same run
	// (the numpy peer on the CPU); PeerOverOurs is its median over ours
	// (above 1: we are faster) and PeerOverOursMin the same for the
	// fastest steps.
	Peer            *PeerResult `json:"peer,omitempty"`
	PeerOverOurs    float64     `json:"peer_over_ours,omitempty"`
	PeerOverOursMin float64     `json:"peer_over_ours_min,omitempty"`
}

// OursMS is our step time the ratios use: the median step when measured,
// else the mean.
func (r *Result) OursMS() float64 {
	if r.MedianMS > 0 {
		return r.MedianMS
	}
	return r.StepMS
}

// FloorBytes is the least memory traffic of one training step with fp32
// weights and fp32 Adam state: per parameter, the forward reads the weight
// (4 bytes), the backward writes the gradient and Adam reads it back (8),
// and Adam reads and writes the weight and both moments (24) — 36 bytes.
// Activations (batch 32) are a fraction of a percent of that and are left
// out, so the floor is a true lower bound.
func FloorBytes(c model.Config) int64 {
	return 36 * int64(ParamCount(c))
}

// ParamCount returns the number of parameters of c's model.
func ParamCount(c model.Config) int {
	n := 0
	for _, s := range model.Specs(c) {
		k := 1
		for _, d := range s.Shape {
			k *= d
		}
		n += k
	}
	return n
}

// SetFloor fills the HBM floor from a copy bandwidth in GB/s (10⁹ bytes
// per second, read plus write).
func (r *Result) SetFloor(gbps float64) {
	if !(gbps > 0) || r.StepMS <= 0 {
		return
	}
	r.FloorBasis = "hbm"
	r.setFloorMS(float64(r.BytesPerStep) / (gbps * 1e9) * 1e3)
}

// SetGEMMFloor fills the compute floor from a measurement of the step's
// matrix products (MeasureGEMMs of StepGEMMs).
func (r *Result) SetGEMMFloor(f GEMMFloor) {
	if !(f.MS > 0) || r.StepMS <= 0 {
		return
	}
	r.FloorBasis = "sgemm"
	r.SGEMMGFLOPs = f.GFLOPs
	r.GEMMs = f.Times
	r.setFloorMS(f.MS)
}

func (r *Result) setFloorMS(ms float64) {
	r.FloorMS = ms
	r.FloorFraction = ms / r.OursMS()
	r.OursOverFloor = r.OursMS() / ms
	if r.MinMS > 0 {
		r.OursOverFloorMin = r.MinMS / ms
	}
}

// SetPeer records a peer's timing of the same step and the ratios.
func (r *Result) SetPeer(p PeerResult) {
	r.Peer = &p
	if ours := r.OursMS(); ours > 0 {
		r.PeerOverOurs = p.MedianMS / ours
	}
	if r.MinMS > 0 {
		r.PeerOverOursMin = p.MinMS / r.MinMS
	}
}

// Data is a synthetic training split.
type Data struct {
	N                int
	X, Y, Imp, WA    []float32
	TagVecs          []float32
	d, t, e, perStep int
}

// Synthetic returns n seeded rows for c: ReLU'd Gaussian features, each tag
// present with probability 5 % (at least one per row) with importance in
// {0.2, …, 1}, unit tag vectors and each row's ground-truth WA.
func Synthetic(c model.Config, n int, seed uint64) *Data {
	rng := rand.New(rand.NewPCG(seed, 0x7a6b))
	d := &Data{N: n, d: c.D, t: c.T, e: c.E,
		X: make([]float32, n*c.D), Y: make([]float32, n*c.T), Imp: make([]float32, n*c.T)}
	for i := range d.X {
		d.X[i] = float32(math.Max(0, rng.NormFloat64()))
	}
	for r := 0; r < n; r++ {
		y := d.Y[r*c.T : (r+1)*c.T]
		for j := range y {
			if rng.Float64() < 0.05 {
				y[j] = 1
			}
		}
		y[rng.IntN(c.T)] = 1
		for j := range y {
			if y[j] == 1 {
				d.Imp[r*c.T+j] = float32(1+rng.IntN(5)) / 5
			}
		}
	}
	if c.Kind.HasImportanceMLP() {
		d.TagVecs = make([]float32, c.T*c.E)
		for i := range d.TagVecs {
			d.TagVecs[i] = float32(rng.NormFloat64())
		}
		for t := 0; t < c.T; t++ {
			ops.L2Normalize(d.TagVecs[t*c.E : (t+1)*c.E])
		}
		d.WA = make([]float32, n*c.E)
		model.WeightedAverage(d.WA, d.Y, d.TagVecs, n, c.T, c.E, 0.5)
	}
	return d
}

// Batch returns rows of d gathered into a model.Batch.
func (d *Data) Batch(rows []int32) *model.Batch {
	b := &model.Batch{N: len(rows),
		X: make([]float32, 0, len(rows)*d.d), Y: make([]float32, 0, len(rows)*d.t),
		Imp: make([]float32, 0, len(rows)*d.t)}
	for _, r := range rows {
		b.X = append(b.X, d.X[int(r)*d.d:int(r+1)*d.d]...)
		b.Y = append(b.Y, d.Y[int(r)*d.t:int(r+1)*d.t]...)
		b.Imp = append(b.Imp, d.Imp[int(r)*d.t:int(r+1)*d.t]...)
		if d.WA != nil {
			b.WA = append(b.WA, d.WA[int(r)*d.e:int(r+1)*d.e]...)
		}
	}
	return b
}

// order yields batches of row indices, reshuffling at each epoch.
type order struct {
	rng   *rand.Rand
	perm  []int32
	batch int
	pos   int
}

func newOrder(n, batch int, seed uint64) *order {
	o := &order{rng: rand.New(rand.NewPCG(seed, 0x0bde)), perm: make([]int32, n), batch: batch, pos: n}
	for i := range o.perm {
		o.perm[i] = int32(i)
	}
	return o
}

func (o *order) next() []int32 {
	if o.pos+o.batch > len(o.perm) {
		o.rng.Shuffle(len(o.perm), func(i, j int) { o.perm[i], o.perm[j] = o.perm[j], o.perm[i] })
		o.pos = 0
	}
	b := o.perm[o.pos : o.pos+o.batch]
	o.pos += o.batch
	return b
}

// Run builds a fresh trainer for c with f, trains it Warmup + Steps steps
// of c.Batch rows on synthetic data and returns the time of the timed
// steps: each timed alone for a host-fed trainer (mean, median, fastest),
// all together for a device-resident one (mean). progress, if not nil, is
// called after each step with (done, total).
func Run(f model.Factory, c model.Config, o Options, progress func(done, total int)) (res Result, err error) {
	if err := c.Validate(); err != nil {
		return res, fmt.Errorf("bench %s: %w", c.Kind, err)
	}
	if o.Steps <= 0 || o.Warmup < 0 {
		return res, fmt.Errorf("bench %s: %d steps after %d warm-up steps: want steps > 0, warm-up ≥ 0", c.Kind, o.Steps, o.Warmup)
	}
	if o.Rows < c.Batch {
		o.Rows = c.Batch
	}
	tr, err := f(c, model.NewState(c))
	if err != nil {
		return res, fmt.Errorf("bench %s: build trainer: %w", c.Kind, err)
	}
	defer func() {
		if cerr := tr.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("bench %s: close trainer: %w", c.Kind, cerr)
		}
	}()
	data := Synthetic(c, o.Rows, o.Seed)
	ord := newOrder(o.Rows, c.Batch, o.Seed)
	res = Result{Model: string(c.Kind), Params: ParamCount(c), Batch: c.Batch, Steps: o.Steps,
		BytesPerStep: FloorBytes(c), FLOPPerStep: StepFLOP(c)}
	total := o.Warmup + o.Steps

	rt, ok := tr.(model.ResidentTrainer)
	if ok {
		switch err := rt.SetTrainingSet(data.X, data.Y, data.Imp, data.N, data.TagVecs); {
		case errors.Is(err, model.ErrNoRoom):
			// Timed host-fed below, and the result says why.
			ok = false
			res.Mode = fmt.Sprintf("host-fed (%v)", err)
		case err != nil:
			return res, fmt.Errorf("bench %s: upload training split: %w", c.Kind, err)
		}
	}
	if ok {
		res.Resident = true
		run := func(steps, done int) (model.Losses, error) {
			for i := 0; i < steps; i++ {
				if err := rt.StepRows(ord.next()); err != nil {
					return model.Losses{}, err
				}
				if progress != nil {
					progress(done+i+1, total)
				}
			}
			l, _, err := rt.Sync()
			return l, err
		}
		l, err := run(o.Warmup, 0)
		if err != nil {
			return res, fmt.Errorf("bench %s: warm-up: %w", c.Kind, err)
		}
		res.FirstLoss = l.Total
		t0 := time.Now()
		l, err = run(o.Steps, o.Warmup)
		if err != nil {
			return res, fmt.Errorf("bench %s: timed steps: %w", c.Kind, err)
		}
		res.StepMS = float64(time.Since(t0).Nanoseconds()) / 1e6 / float64(o.Steps)
		res.LastLoss = l.Total
		if m, ok := tr.(interface{ GraphMode() string }); ok {
			res.Mode = m.GraphMode()
		}
		return res, checkLoss(c, res)
	}

	// Host-fed trainers: batches are gathered before the clock starts.
	batches := make([]*model.Batch, total)
	for i := range batches {
		batches[i] = data.Batch(ord.next())
	}
	var sum float64
	for i := 0; i < o.Warmup; i++ {
		l, err := tr.Step(batches[i])
		if err != nil {
			return res, fmt.Errorf("bench %s: warm-up step %d: %w", c.Kind, i, err)
		}
		sum += l.Total
		if progress != nil {
			progress(i+1, total)
		}
	}
	if o.Warmup > 0 {
		res.FirstLoss = sum / float64(o.Warmup)
	}
	sum = 0
	ms := make([]float64, 0, o.Steps)
	for i := o.Warmup; i < total; i++ {
		t0 := time.Now()
		l, err := tr.Step(batches[i])
		ms = append(ms, float64(time.Since(t0).Nanoseconds())/1e6)
		if err != nil {
			return res, fmt.Errorf("bench %s: step %d: %w", c.Kind, i, err)
		}
		sum += l.Total
		if progress != nil {
			progress(i+1, total)
		}
		if o.Between != nil {
			o.Between()
		}
	}
	for _, v := range ms {
		res.StepMS += v / float64(o.Steps)
	}
	res.MinMS = slices.Min(ms)
	res.MedianMS = median(ms)
	res.LastLoss = sum / float64(o.Steps)
	return res, checkLoss(c, res)
}

// ErrDiverged is wrapped when a bench run's loss is not finite.
var ErrDiverged = errors.New("loss is not finite")

func checkLoss(c model.Config, r Result) error {
	for _, v := range []float64{r.FirstLoss, r.LastLoss} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("bench %s: %w (%v)", c.Kind, ErrDiverged, v)
		}
	}
	return nil
}
