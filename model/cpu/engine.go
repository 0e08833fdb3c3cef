package cpu

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"tagimp/model"
	"tagimp/model/ops"
)

// Engine is the CPU model.Trainer. Build one with New.
type Engine struct {
	c    model.Config
	dt   tensor.Dtype
	b    int // fixed batch size of the graphs
	step int64
	ps   []*param

	// inputs of the training graph, refilled in place every step
	x, m1, y, wb, imp, wm, x2, m2 *tensor.Dense
	// scratch in float32 for masks and Model 2's input
	mask1, mask2, in2 []float32

	tg   *G.ExprGraph
	tvm  G.VM
	trw  *rewinder
	lTag G.Value
	lImp G.Value
	lI2  G.Value

	fg          *G.ExprGraph
	fvm         G.VM
	frw         *rewinder
	fx          *tensor.Dense
	fProb, fImp *G.Node
	ig          *G.ExprGraph
	ivm         G.VM
	irw         *rewinder
	ix2         *tensor.Dense
	iOut        *G.Node
	closed      bool
	adamWorkers int
}

// param is one parameter: its value (internal layout), the node standing
// for it in the training graph, its gradient node and Adam's moments.
type param struct {
	name  string
	shape []int // external shape: [out, in] or [out]
	val   *tensor.Dense
	node  *G.Node
	grad  *G.Node
	m, v  any // []float32 or []float64, internal layout
}

// New returns a CPU engine for c starting from st (model.NewState(c) for a
// fresh model). It is a model.Factory.
func New(c model.Config, st *model.State) (model.Trainer, error) {
	return newEngine(c, st, tensor.Float32)
}

// newEngine builds the engine computing in dt (Float32, or Float64 for
// gradient checks).
func newEngine(c model.Config, st *model.State, dt tensor.Dtype) (*Engine, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cpu engine: %w", err)
	}
	if err := st.Check(c); err != nil {
		return nil, fmt.Errorf("cpu engine: %w", err)
	}
	e := &Engine{c: c, dt: dt, b: c.Batch, step: st.Step, adamWorkers: runtime.GOMAXPROCS(0)}
	for i, t := range st.Params.Tensors {
		p := &param{name: t.Name, shape: t.Shape}
		rows, cols := internalShape(t.Shape)
		p.val = tensor.New(tensor.Of(dt), tensor.WithShape(rows, cols))
		toInternal(p.val, t.Data, t.Shape)
		mt := tensor.New(tensor.Of(dt), tensor.WithShape(rows, cols))
		vt := tensor.New(tensor.Of(dt), tensor.WithShape(rows, cols))
		toInternal(mt, st.M.Tensors[i].Data, t.Shape)
		toInternal(vt, st.V.Tensors[i].Data, t.Shape)
		p.m, p.v = mt.Data(), vt.Data()
		e.ps = append(e.ps, p)
	}
	if err := e.buildTrain(); err != nil {
		return nil, fmt.Errorf("cpu engine: training graph: %w", err)
	}
	if err := e.buildForward(); err != nil {
		return nil, fmt.Errorf("cpu engine: inference graph: %w", err)
	}
	if c.Kind == model.Model2 {
		if err := e.buildImp2(); err != nil {
			return nil, fmt.Errorf("cpu engine: importance graph: %w", err)
		}
	}
	return e, nil
}

// internalShape returns the stored shape of an external one: a weight
// [out, in] is stored [in, out], a bias [out] as [1, out].
func internalShape(ext []int) (rows, cols int) {
	if len(ext) == 1 {
		return 1, ext[0]
	}
	return ext[1], ext[0]
}

// toInternal copies the float32 external-layout src into t.
func toInternal(t *tensor.Dense, src []float32, ext []int) {
	switch d := t.Data().(type) {
	case []float32:
		transposeInto(d, src, ext)
	case []float64:
		tmp := make([]float32, len(src))
		transposeInto(tmp, src, ext)
		for i, v := range tmp {
			d[i] = float64(v)
		}
	}
}

// transposeInto writes src ([out, in]) into dst as [in, out]; vectors are
// copied.
func transposeInto(dst, src []float32, ext []int) {
	if len(ext) == 1 {
		copy(dst, src)
		return
	}
	transpose(dst, src, ext[0], ext[1])
}

// transpose writes the rows×cols matrix src into dst as cols×rows, in
// tiles so that both sides stay in cache.
func transpose(dst, src []float32, rows, cols int) {
	const tile = 64
	for r0 := 0; r0 < rows; r0 += tile {
		r1 := min(r0+tile, rows)
		for c0 := 0; c0 < cols; c0 += tile {
			c1 := min(c0+tile, cols)
			for r := r0; r < r1; r++ {
				row := src[r*cols : r*cols+c1]
				for c := c0; c < c1; c++ {
					dst[c*rows+r] = row[c]
				}
			}
		}
	}
}

// fromInternal returns the external-layout float32 copy of data (a
// []float32 or []float64 in internal layout).
func fromInternal(data any, ext []int) []float32 {
	n := 1
	for _, d := range ext {
		n *= d
	}
	f := make([]float32, n)
	switch d := data.(type) {
	case []float32:
		copy(f, d)
	case []float64:
		for i, v := range d {
			f[i] = float32(v)
		}
	}
	if len(ext) == 1 {
		return f
	}
	dst := make([]float32, n)
	transpose(dst, f, ext[1], ext[0])
	return dst
}

// fill copies the first len(src) values of src into t and zeroes the rest
// (the padding rows).
func fill(t *tensor.Dense, src []float32) {
	switch d := t.Data().(type) {
	case []float32:
		n := copy(d, src)
		clear(d[n:])
	case []float64:
		for i, v := range src {
			d[i] = float64(v)
		}
		clear(d[len(src):])
	}
}

// fillWeights is fill for loss weights, which are computed in float64 so
// that the float64 engine sees them exactly.
func fillWeights(t *tensor.Dense, w []float64) {
	switch d := t.Data().(type) {
	case []float32:
		for i, v := range w {
			d[i] = float32(v)
		}
		clear(d[len(w):])
	case []float64:
		n := copy(d, w)
		clear(d[n:])
	}
}

// read returns the first n values of t as float32.
func read(t tensor.Tensor, n int) []float32 {
	out := make([]float32, n)
	switch d := t.Data().(type) {
	case []float32:
		copy(out, d[:n])
	case []float64:
		for i := range out {
			out[i] = float32(d[i])
		}
	}
	return out
}

func scalar(v G.Value) float64 {
	switch s := v.Data().(type) {
	case float32:
		return float64(s)
	case float64:
		return s
	}
	return math.NaN()
}

func (e *Engine) matrix(g *G.ExprGraph, name string, rows, cols int, v *tensor.Dense) *G.Node {
	return G.NewMatrix(g, e.dt, G.WithShape(rows, cols), G.WithName(name), G.WithValue(v))
}

func (e *Engine) input(g *G.ExprGraph, name string, rows, cols int) (*G.Node, *tensor.Dense) {
	t := tensor.New(tensor.Of(e.dt), tensor.WithShape(rows, cols))
	return e.matrix(g, name, rows, cols, t), t
}

// linear returns x·W + b, b broadcast over the rows.
func linear(x, w, b *G.Node) (*G.Node, error) {
	xw, err := G.Mul(x, w)
	if err != nil {
		return nil, err
	}
	return G.BroadcastAdd(xw, b, nil, []byte{0})
}

// nodes binds every parameter to a node in g.
func (e *Engine) nodes(g *G.ExprGraph) map[string]*G.Node {
	m := map[string]*G.Node{}
	for _, p := range e.ps {
		r, c := p.val.Shape()[0], p.val.Shape()[1]
		m[p.name] = e.matrix(g, p.name, r, c, p.val)
	}
	return m
}

// buildTrain builds the training graph:
//
//	h    = relu(x·W1 + b1) ⊙ m1
//	Ltag = Σ wb ⊙ (softplus(zt) − y ⊙ zt),     zt = h·Wt + bt
//	Limp = Σ wm ⊙ (σ(h·Wi + bi) − imp)²          (model1, model2)
//	h2   = relu(x2·V1 + c1) ⊙ m2                  (model2)
//	Li2  = Σ wm ⊙ (σ(h2·V2 + c2) − imp)²
//
// with wb = 1/(n·T) on real rows, 0 on padding, and wm the same or (mask
// "true") y / Σy.
func (e *Engine) buildTrain() (err error) {
	c, B := e.c, e.b
	g := G.NewGraph()
	n := e.nodes(g)
	var x, m1, y, wb, imp, wm *G.Node
	x, e.x = e.input(g, "x", B, c.D)
	m1, e.m1 = e.input(g, "mask1", B, c.H)
	y, e.y = e.input(g, "y", B, c.T)
	wb, e.wb = e.input(g, "wb", B, c.T)
	e.mask1 = make([]float32, B*c.H)

	// G.Must panics on a graph-construction error (a shape mismatch);
	// turn that into an error.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	must := func(n *G.Node, err error) *G.Node { return G.Must(n, err) }

	pre := must(linear(x, n["fc1.weight"], n["fc1.bias"]))
	h := must(G.HadamardProd(must(G.Rectify(pre)), m1))
	zt := must(linear(h, n["tag.weight"], n["tag.bias"]))
	bce := must(G.Sub(must(G.Softplus(zt)), must(G.HadamardProd(y, zt))))
	lTag := must(G.Sum(must(G.HadamardProd(wb, bce))))
	roots := G.Nodes{G.Read(lTag, &e.lTag)}
	cost := lTag
	if c.Kind.HasImportanceHead() {
		imp, e.imp = e.input(g, "imp", B, c.T)
		wm, e.wm = e.input(g, "wm", B, c.T)
		si := must(G.Sigmoid(must(linear(h, n["imp.weight"], n["imp.bias"]))))
		lImp := must(G.Sum(must(G.HadamardProd(wm, must(G.Square(must(G.Sub(si, imp))))))))
		roots = append(roots, G.Read(lImp, &e.lImp))
		cost = must(G.Add(cost, lImp))
	}
	if c.Kind.HasImportanceMLP() {
		var x2, m2 *G.Node
		x2, e.x2 = e.input(g, "x2", B, c.D+c.E)
		m2, e.m2 = e.input(g, "mask2", B, c.H2)
		e.mask2 = make([]float32, B*c.H2)
		e.in2 = make([]float32, B*(c.D+c.E))
		pre2 := must(linear(x2, n["imp2.fc1.weight"], n["imp2.fc1.bias"]))
		h2 := must(G.HadamardProd(must(G.Rectify(pre2)), m2))
		s2 := must(G.Sigmoid(must(linear(h2, n["imp2.out.weight"], n["imp2.out.bias"]))))
		lI2 := must(G.Sum(must(G.HadamardProd(wm, must(G.Square(must(G.Sub(s2, imp))))))))
		roots = append(roots, G.Read(lI2, &e.lI2))
		cost = must(G.Add(cost, lI2))
	}
	wrt := make(G.Nodes, len(e.ps))
	for i, p := range e.ps {
		p.node = n[p.name]
		wrt[i] = p.node
	}
	grads, err := G.Grad(cost, wrt...)
	if err != nil {
		return err
	}
	for i, p := range e.ps {
		p.grad = grads[i]
	}
	// Run only what the losses and the parameter gradients need: the
	// symbolic product rule also builds the gradients of the inputs (for
	// x, a 32×4096×4096 product per step), which nothing reads.
	e.tg = g.ExactSubgraphRoots(append(roots, grads...)...)
	e.tvm = G.NewTapeMachine(e.tg)
	e.trw = newRewinder(e.tvm, e.tg)
	return nil
}

// buildForward builds the inference graph of the trunk and its heads (no
// dropout): prob = σ(relu(x·W1+b1)·Wt+bt), imp likewise with Wi, bi.
func (e *Engine) buildForward() (err error) {
	c, B := e.c, e.b
	g := G.NewGraph()
	n := e.nodes(g)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	must := func(n *G.Node, err error) *G.Node { return G.Must(n, err) }
	var x *G.Node
	x, e.fx = e.input(g, "x", B, c.D)
	h := must(G.Rectify(must(linear(x, n["fc1.weight"], n["fc1.bias"]))))
	e.fProb = must(G.Sigmoid(must(linear(h, n["tag.weight"], n["tag.bias"]))))
	if c.Kind.HasImportanceHead() {
		e.fImp = must(G.Sigmoid(must(linear(h, n["imp.weight"], n["imp.bias"]))))
	}
	e.fg = g
	e.fvm = G.NewTapeMachine(g)
	e.frw = newRewinder(e.fvm, g)
	return nil
}

// buildImp2 builds the inference graph of Model 2's importance MLP.
func (e *Engine) buildImp2() (err error) {
	c, B := e.c, e.b
	g := G.NewGraph()
	n := e.nodes(g)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	must := func(n *G.Node, err error) *G.Node { return G.Must(n, err) }
	var x2 *G.Node
	x2, e.ix2 = e.input(g, "x2", B, c.D+c.E)
	h2 := must(G.Rectify(must(linear(x2, n["imp2.fc1.weight"], n["imp2.fc1.bias"]))))
	e.iOut = must(G.Sigmoid(must(linear(h2, n["imp2.out.weight"], n["imp2.out.bias"]))))
	e.ig = g
	e.ivm = G.NewTapeMachine(g)
	e.irw = newRewinder(e.ivm, g)
	return nil
}

func (e *Engine) checkBatch(n int) error {
	if e.closed {
		return fmt.Errorf("cpu engine: used after Close")
	}
	if n < 1 || n > e.b {
		return fmt.Errorf("cpu engine: batch of %d rows, want 1 to %d", n, e.b)
	}
	return nil
}

// prepare fills the training graph's inputs for b at the current step.
func (e *Engine) prepare(b *model.Batch) error {
	c, n := e.c, b.N
	if err := e.checkBatch(n); err != nil {
		return err
	}
	if len(b.X) < n*c.D || len(b.Y) < n*c.T {
		return fmt.Errorf("cpu engine: batch of %d rows has %d feature and %d tag values, want %d and %d", n, len(b.X), len(b.Y), n*c.D, n*c.T)
	}
	if c.Kind.HasImportanceHead() && len(b.Imp) < n*c.T {
		return fmt.Errorf("cpu engine: batch of %d rows has %d importance values, want %d", n, len(b.Imp), n*c.T)
	}
	if c.Kind == model.Model2 && len(b.WA) < n*c.E {
		return fmt.Errorf("cpu engine: batch of %d rows has %d WA values, want %d", n, len(b.WA), n*c.E)
	}
	seed, step, p := uint64(c.Seed), uint64(e.step), float32(c.Dropout)
	fill(e.x, b.X[:n*c.D])
	fill(e.y, b.Y[:n*c.T])
	ops.FillDropoutMask(e.mask1, seed, ops.DropoutStream(step, 0), p)
	fill(e.m1, e.mask1)
	w := make([]float64, n*c.T)
	for i := range w {
		w[i] = 1 / float64(n*c.T)
	}
	fillWeights(e.wb, w)
	if !c.Kind.HasImportanceHead() {
		return nil
	}
	fill(e.imp, b.Imp[:n*c.T])
	if c.ImpLossMask == model.MaskTrue {
		count := 0
		for _, v := range b.Y[:n*c.T] {
			if v > 0 {
				count++
			}
		}
		for i, v := range b.Y[:n*c.T] {
			w[i] = 0
			if v > 0 {
				w[i] = 1 / float64(count)
			}
		}
	}
	fillWeights(e.wm, w)
	if c.Kind == model.Model2 {
		model.Imp2Input(e.in2, b.X, b.WA, n, c.D, c.E)
		fill(e.x2, e.in2[:n*(c.D+c.E)])
		ops.FillDropoutMask(e.mask2, seed, ops.DropoutStream(step, 1), p)
		fill(e.m2, e.mask2)
	}
	return nil
}

// run executes the training graph on the prepared inputs: losses and
// gradients, no update.
func (e *Engine) run() (model.Losses, error) {
	defer e.trw.rewind()
	if err := e.tvm.RunAll(); err != nil {
		return model.Losses{}, fmt.Errorf("cpu engine: step %d: %w", e.step, err)
	}
	l := model.Losses{Tag: scalar(e.lTag)}
	if e.c.Kind.HasImportanceHead() {
		l.Imp = scalar(e.lImp)
	}
	if e.c.Kind.HasImportanceMLP() {
		l.Imp2 = scalar(e.lI2)
	}
	l.Total = l.Tag + l.Imp + l.Imp2
	return l, nil
}

// Step trains on one batch: forward, backward, Adam. Non-finite losses are
// returned without updating the parameters.
func (e *Engine) Step(b *model.Batch) (model.Losses, error) {
	if err := e.prepare(b); err != nil {
		return model.Losses{}, err
	}
	l, err := e.run()
	if err != nil {
		return l, err
	}
	if !l.Finite() {
		return l, nil
	}
	e.adam()
	e.step++
	return l, nil
}

// adam applies one Adam update to every parameter, splitting the work over
// the available cores. In float32 it is ops.Adam, the bit-exact twin of the
// GPU kernel, with the bias corrections of ops.AdamBiasCorrections.
func (e *Engine) adam() {
	c := e.c
	t := int(e.step + 1)
	var wg sync.WaitGroup
	for _, p := range e.ps {
		g := p.grad.Value().Data()
		switch pv := p.val.Data().(type) {
		case []float32:
			ac := ops.AdamConfig{LR: float32(c.LR), Beta1: float32(c.Beta1), Beta2: float32(c.Beta2), Eps: float32(c.Eps)}
			bc1, bc2 := ops.AdamBiasCorrections(ac.Beta1, ac.Beta2, t)
			m, v, gr := p.m.([]float32), p.v.([]float32), g.([]float32)
			parallel(&wg, e.adamWorkers, len(pv), func(lo, hi int) {
				adam32(pv[lo:hi], gr[lo:hi], m[lo:hi], v[lo:hi], ac, bc1, bc2)
			})
		case []float64:
			bc1 := 1 - math.Pow(c.Beta1, float64(t))
			bc2 := 1 - math.Pow(c.Beta2, float64(t))
			m, v, gr := p.m.([]float64), p.v.([]float64), g.([]float64)
			parallel(&wg, e.adamWorkers, len(pv), func(lo, hi int) {
				adam64(pv[lo:hi], gr[lo:hi], m[lo:hi], v[lo:hi], c, bc1, bc2)
			})
		}
	}
	wg.Wait()
}

// parallel splits [0, n) into at most workers chunks of at least 64k
// elements and runs f on each in its own goroutine, counted in wg.
func parallel(wg *sync.WaitGroup, workers, n int, f func(lo, hi int)) {
	const minChunk = 1 << 16
	chunks := max(1, min(workers, n/minChunk))
	for k := 0; k < chunks; k++ {
		lo, hi := k*n/chunks, (k+1)*n/chunks
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
}

// adam64 is Adam in float64 (the gradient-check engine), the same formula
// as ops.Adam: m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// p −= (lr/bc1) · m / (sqrt(v)/sqrt(bc2) + eps).
func adam64(p, g, m, v []float64, c model.Config, bc1, bc2 float64) {
	step, sbc2 := c.LR/bc1, math.Sqrt(bc2)
	for i := range p {
		gi := g[i]
		m[i] = c.Beta1*m[i] + (1-c.Beta1)*gi
		v[i] = c.Beta2*v[i] + (1-c.Beta2)*gi*gi
		p[i] -= step * m[i] / (math.Sqrt(v[i])/sbc2 + c.Eps)
	}
}

// Forward returns the tag probabilities and importance-head output of n ≤
// Config.Batch rows (for the Baseline the importance is the probability).
func (e *Engine) Forward(x []float32, n int) (prob, imp []float32, err error) {
	c := e.c
	if err := e.checkBatch(n); err != nil {
		return nil, nil, err
	}
	if len(x) < n*c.D {
		return nil, nil, fmt.Errorf("cpu engine: %d feature values for %d rows of width %d", len(x), n, c.D)
	}
	fill(e.fx, x[:n*c.D])
	defer e.frw.rewind()
	if err := e.fvm.RunAll(); err != nil {
		return nil, nil, fmt.Errorf("cpu engine: forward: %w", err)
	}
	prob = read(e.fProb.Value().(tensor.Tensor), n*c.T)
	if c.Kind.HasImportanceHead() {
		imp = read(e.fImp.Value().(tensor.Tensor), n*c.T)
	} else {
		imp = append([]float32(nil), prob...)
	}
	return prob, imp, nil
}

// Importance2 returns Model 2's importance MLP output for n ≤ Config.Batch
// rows of features x and L2-normalised WA rows wa.
func (e *Engine) Importance2(x, wa []float32, n int) ([]float32, error) {
	c := e.c
	if c.Kind != model.Model2 {
		return nil, fmt.Errorf("cpu engine: %s has no importance MLP", c.Kind)
	}
	if err := e.checkBatch(n); err != nil {
		return nil, err
	}
	if len(x) < n*c.D || len(wa) < n*c.E {
		return nil, fmt.Errorf("cpu engine: %d feature and %d WA values for %d rows, want %d and %d", len(x), len(wa), n, n*c.D, n*c.E)
	}
	model.Imp2Input(e.in2, x, wa, n, c.D, c.E)
	fill(e.ix2, e.in2[:n*(c.D+c.E)])
	defer e.irw.rewind()
	if err := e.ivm.RunAll(); err != nil {
		return nil, fmt.Errorf("cpu engine: importance MLP: %w", err)
	}
	return read(e.iOut.Value().(tensor.Tensor), n*c.T), nil
}

// State returns a copy of the parameters and Adam moments in the external
// layout, and the step counter.
func (e *Engine) State() (*model.State, error) {
	if e.closed {
		return nil, fmt.Errorf("cpu engine: used after Close")
	}
	st := &model.State{Params: &model.Params{}, M: &model.Params{}, V: &model.Params{}, Step: e.step}
	for _, p := range e.ps {
		sh := append([]int(nil), p.shape...)
		st.Params.Tensors = append(st.Params.Tensors, &model.Tensor{Name: p.name, Shape: sh, Data: fromInternal(p.val.Data(), p.shape)})
		st.M.Tensors = append(st.M.Tensors, &model.Tensor{Name: p.name, Shape: sh, Data: fromInternal(p.m, p.shape)})
		st.V.Tensors = append(st.V.Tensors, &model.Tensor{Name: p.name, Shape: sh, Data: fromInternal(p.v, p.shape)})
	}
	return st, nil
}

// Close releases the graphs and tensors.
func (e *Engine) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	for _, vm := range []G.VM{e.tvm, e.fvm, e.ivm} {
		if vm != nil {
			vm.Close()
		}
	}
	e.ps = nil
	e.tg, e.fg, e.ig = nil, nil, nil
	return nil
}
