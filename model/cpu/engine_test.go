package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"tagimp/model"
	"tagimp/model/ops"
)

// smallConfig returns a tiny configuration of kind for exact checks.
func smallConfig(kind model.Kind, mask string) model.Config {
	c := model.DefaultConfig(kind)
	c.D, c.H, c.T, c.E, c.H2 = 5, 6, 4, 3, 7
	c.Batch = 4
	c.ImpLossMask = mask
	c.Seed = 7
	return c
}

// randomBatch returns n rows of random inputs for c; presence is 0/1 and
// WA is built from it as in training.
func randomBatch(c model.Config, n int, seed uint64) *model.Batch {
	rng := rand.New(rand.NewPCG(seed, 99))
	b := &model.Batch{N: n, X: make([]float32, n*c.D), Y: make([]float32, n*c.T), Imp: make([]float32, n*c.T)}
	for i := range b.X {
		b.X[i] = float32(rng.NormFloat64())
	}
	for i := range b.Y {
		if rng.IntN(2) == 1 {
			b.Y[i] = 1
			b.Imp[i] = float32(1+rng.IntN(5)) / 5
		}
	}
	if c.Kind == model.Model2 {
		vecs := make([]float32, c.T*c.E)
		for i := range vecs {
			vecs[i] = float32(rng.NormFloat64())
		}
		b.WA = make([]float32, n*c.E)
		model.WeightedAverage(b.WA, b.Y, vecs, n, c.T, c.E, c.Threshold)
	}
	return b
}

// refLosses computes the losses of b under st at step in float64 with
// plain loops, independently of gorgonia.
func refLosses(c model.Config, st *model.State, b *model.Batch, step int64) model.Losses {
	get := func(name string) []float32 { return st.Params.Get(name).Data }
	linear := func(x []float64, w, bias []float32, in, out int) []float64 {
		y := make([]float64, out)
		for o := 0; o < out; o++ {
			s := float64(bias[o])
			for i := 0; i < in; i++ {
				s += x[i] * float64(w[o*in+i])
			}
			y[o] = s
		}
		return y
	}
	sig := func(z float64) float64 { return 1 / (1 + math.Exp(-z)) }
	n := b.N
	count := 0
	for _, v := range b.Y[:n*c.T] {
		if v > 0 {
			count++
		}
	}
	wm := func(r, t int) float64 {
		if c.ImpLossMask == model.MaskTrue {
			if b.Y[r*c.T+t] > 0 {
				return 1 / float64(count)
			}
			return 0
		}
		return 1 / float64(n*c.T)
	}
	var l model.Losses
	in2 := make([]float32, n*(c.D+c.E))
	if c.Kind == model.Model2 {
		model.Imp2Input(in2, b.X, b.WA, n, c.D, c.E)
	}
	for r := 0; r < n; r++ {
		x := make([]float64, c.D)
		for i := range x {
			x[i] = float64(b.X[r*c.D+i])
		}
		h := linear(x, get("fc1.weight"), get("fc1.bias"), c.D, c.H)
		for j := range h {
			h[j] = math.Max(h[j], 0) * float64(ops.DropoutScale(uint64(c.Seed), ops.DropoutStream(uint64(step), 0), uint64(r*c.H+j), float32(c.Dropout)))
		}
		zt := linear(h, get("tag.weight"), get("tag.bias"), c.H, c.T)
		for t, z := range zt {
			y := float64(b.Y[r*c.T+t])
			l.Tag += (math.Max(z, 0) - z*y + math.Log1p(math.Exp(-math.Abs(z)))) / float64(n*c.T)
		}
		if c.Kind.HasImportanceHead() {
			zi := linear(h, get("imp.weight"), get("imp.bias"), c.H, c.T)
			for t, z := range zi {
				d := sig(z) - float64(b.Imp[r*c.T+t])
				l.Imp += wm(r, t) * d * d
			}
		}
		if c.Kind == model.Model2 {
			x2 := make([]float64, c.D+c.E)
			for i := range x2 {
				x2[i] = float64(in2[r*(c.D+c.E)+i])
			}
			h2 := linear(x2, get("imp2.fc1.weight"), get("imp2.fc1.bias"), c.D+c.E, c.H2)
			for j := range h2 {
				h2[j] = math.Max(h2[j], 0) * float64(ops.DropoutScale(uint64(c.Seed), ops.DropoutStream(uint64(step), 1), uint64(r*c.H2+j), float32(c.Dropout)))
			}
			z2 := linear(h2, get("imp2.out.weight"), get("imp2.out.bias"), c.H2, c.T)
			for t, z := range z2 {
				d := sig(z) - float64(b.Imp[r*c.T+t])
				l.Imp2 += wm(r, t) * d * d
			}
		}
	}
	l.Total = l.Tag + l.Imp + l.Imp2
	return l
}

var cases = []struct {
	kind model.Kind
	mask string
	n    int
}{
	{model.Baseline, model.MaskAll, 4},
	{model.Baseline, model.MaskAll, 3},
	{model.Model1, model.MaskAll, 3},
	{model.Model1, model.MaskTrue, 4},
	{model.Model2, model.MaskAll, 2},
	{model.Model2, model.MaskTrue, 3},
}

func TestLossesMatchReference(t *testing.T) {
	for _, tc := range cases {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			c := smallConfig(tc.kind, tc.mask)
			st := model.NewState(c)
			st.Step = 5
			e, err := newEngine(c, st, dt)
			if err != nil {
				t.Fatal(err)
			}
			b := randomBatch(c, tc.n, 1)
			if err := e.prepare(b); err != nil {
				t.Fatal(err)
			}
			got, err := e.run()
			if err != nil {
				t.Fatal(err)
			}
			want := refLosses(c, st, b, 5)
			tol := 1e-12
			if dt == tensor.Float32 {
				tol = 1e-5
			}
			for _, p := range [][3]any{{"tag", got.Tag, want.Tag}, {"imp", got.Imp, want.Imp}, {"imp2", got.Imp2, want.Imp2}, {"total", got.Total, want.Total}} {
				g, w := p[1].(float64), p[2].(float64)
				if math.Abs(g-w) > tol*math.Max(1, math.Abs(w)) {
					t.Errorf("%s %s n=%d %v: %s loss %.10g, reference %.10g", tc.kind, tc.mask, tc.n, dt, p[0], g, w)
				}
			}
			if tc.kind == model.Baseline && (got.Imp != 0 || got.Imp2 != 0) {
				t.Errorf("baseline has importance losses %v", got)
			}
			e.Close()
		}
	}
}

// TestGradientCheck compares gorgonia's gradients with central finite
// differences of the loss, in float64, for every parameter element.
func TestGradientCheck(t *testing.T) {
	const h = 1e-6
	for _, tc := range cases {
		c := smallConfig(tc.kind, tc.mask)
		c.Dropout = 0.3 // any p must give the right gradient
		st := model.NewState(c)
		e, err := newEngine(c, st, tensor.Float64)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.prepare(randomBatch(c, tc.n, 2)); err != nil {
			t.Fatal(err)
		}
		loss := func() float64 {
			l, err := e.run()
			if err != nil {
				t.Fatal(err)
			}
			return l.Total
		}
		loss()
		worst := 0.0
		for _, p := range e.ps {
			grad := append([]float64(nil), p.grad.Value().Data().([]float64)...)
			val := p.val.Data().([]float64)
			for i := range val {
				orig := val[i]
				val[i] = orig + h
				lp := loss()
				val[i] = orig - h
				lm := loss()
				val[i] = orig
				num := (lp - lm) / (2 * h)
				diff := math.Abs(num-grad[i]) / math.Max(1e-4, math.Abs(num)+math.Abs(grad[i]))
				worst = math.Max(worst, diff)
				if diff > 1e-5 {
					t.Errorf("%s %s: d loss / d %s[%d]: gorgonia %.9g, finite difference %.9g", tc.kind, tc.mask, p.name, i, grad[i], num)
				}
			}
		}
		t.Logf("%s %s n=%d: worst relative gradient error %.2g", tc.kind, tc.mask, tc.n, worst)
		e.Close()
	}
}

// TestAdamStep checks one Step against Adam computed by hand from the
// engine's own gradients, and that the step counter advances.
func TestAdamStep(t *testing.T) {
	c := smallConfig(model.Model2, model.MaskAll)
	c.LR = 1e-2
	st := model.NewState(c)
	e, err := newEngine(c, st, tensor.Float64)
	if err != nil {
		t.Fatal(err)
	}
	b := randomBatch(c, 3, 3)
	if err := e.prepare(b); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(); err != nil {
		t.Fatal(err)
	}
	grads := map[string][]float32{}
	for _, p := range e.ps {
		grads[p.name] = fromInternal(p.grad.Value().Data(), p.shape)
	}
	if _, err := e.Step(b); err != nil {
		t.Fatal(err)
	}
	after, err := e.State()
	if err != nil {
		t.Fatal(err)
	}
	if after.Step != 1 {
		t.Fatalf("step counter %d after one step, want 1", after.Step)
	}
	for _, p0 := range st.Params.Tensors {
		g := grads[p0.Name]
		p1 := after.Params.Get(p0.Name)
		for i := range p0.Data {
			gi := float64(g[i])
			m := (1 - c.Beta1) * gi
			v := (1 - c.Beta2) * gi * gi
			want := float64(p0.Data[i]) - c.LR*(m/(1-c.Beta1))/(math.Sqrt(v/(1-c.Beta2))+c.Eps)
			if math.Abs(float64(p1.Data[i])-want) > 1e-6 {
				t.Fatalf("%s[%d] after one Adam step: %v, want %v", p0.Name, i, p1.Data[i], want)
			}
			if math.Abs(float64(after.M.Get(p0.Name).Data[i])-m) > 1e-6 {
				t.Fatalf("%s[%d]: first moment %v, want %v", p0.Name, i, after.M.Get(p0.Name).Data[i], m)
			}
		}
	}
}

// TestStateRoundTrip checks that the internal transposed layout is
// invisible from outside.
func TestStateRoundTrip(t *testing.T) {
	for _, k := range model.Kinds {
		c := smallConfig(k, model.MaskAll)
		st := model.NewState(c)
		st.Step = 42
		for i, tn := range st.M.Tensors {
			for j := range tn.Data {
				tn.Data[j] = float32(i*1000 + j)
			}
		}
		tr, err := New(c, st)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tr.State()
		if err != nil {
			t.Fatal(err)
		}
		if got.Step != 42 {
			t.Errorf("%s: step %d, want 42", k, got.Step)
		}
		for i, want := range st.Params.Tensors {
			for j := range want.Data {
				if got.Params.Tensors[i].Data[j] != want.Data[j] || got.M.Tensors[i].Data[j] != st.M.Tensors[i].Data[j] {
					t.Fatalf("%s: %s[%d] changed on the way through the engine", k, want.Name, j)
				}
			}
		}
		tr.Close()
	}
}

// TestForwardMatchesReference checks inference (no dropout) against plain
// loops, for a partial batch, and Model 2's importance MLP.
func TestForwardMatchesReference(t *testing.T) {
	for _, k := range model.Kinds {
		c := smallConfig(k, model.MaskAll)
		c.Dropout = 0 // reference losses without dropout = inference
		st := model.NewState(c)
		tr, err := New(c, st)
		if err != nil {
			t.Fatal(err)
		}
		b := randomBatch(c, 3, 4)
		prob, imp, err := tr.Forward(b.X, b.N)
		if err != nil {
			t.Fatal(err)
		}
		if len(prob) != 3*c.T || len(imp) != 3*c.T {
			t.Fatalf("%s: got %d probabilities and %d importances, want %d", k, len(prob), len(imp), 3*c.T)
		}
		wantP, wantI := refForward(c, st, b.X, 3, "tag", "imp")
		if k == model.Baseline {
			wantI = wantP
		}
		for i := range prob {
			if math.Abs(float64(prob[i])-wantP[i]) > 1e-5 || math.Abs(float64(imp[i])-wantI[i]) > 1e-5 {
				t.Fatalf("%s: entry %d: probability %v importance %v, reference %v %v", k, i, prob[i], imp[i], wantP[i], wantI[i])
			}
		}
		if k == model.Baseline {
			for i := range prob {
				if prob[i] != imp[i] {
					t.Fatalf("baseline importance %v differs from probability %v", imp[i], prob[i])
				}
			}
		}
		if k == model.Model2 {
			q, err := tr.Importance2(b.X, b.WA, b.N)
			if err != nil {
				t.Fatal(err)
			}
			in2 := make([]float32, 3*(c.D+c.E))
			model.Imp2Input(in2, b.X, b.WA, 3, c.D, c.E)
			c2 := c
			c2.D, c2.H = c.D+c.E, c.H2
			want, _ := refForward(c2, st, in2, 3, "imp2.out", "imp2.out")
			if len(q) != len(want) {
				t.Fatalf("importance MLP gave %d values, want %d", len(q), len(want))
			}
			for i := range q {
				if math.Abs(float64(q[i])-want[i]) > 1e-5 {
					t.Fatalf("importance MLP entry %d: %v, reference %v", i, q[i], want[i])
				}
			}
		} else if _, err := tr.Importance2(b.X, make([]float32, 3*c.E), 3); err == nil {
			t.Errorf("%s: Importance2 succeeded without an importance MLP", k)
		}
		tr.Close()
	}
}

// refForward returns σ(relu(x·W1ᵀ+b1)·Wᵀ+b) for the heads a and b, where
// the first layer is fc1 (or imp2.fc1 when a is imp2.out).
func refForward(c model.Config, st *model.State, x []float32, n int, a, b string) (pa, pb []float64) {
	first := "fc1"
	if a == "imp2.out" {
		first = "imp2.fc1"
	}
	w1, b1 := st.Params.Get(first+".weight").Data, st.Params.Get(first+".bias").Data
	head := func(name string, h []float64) []float64 {
		w, bt := st.Params.Get(name+".weight"), st.Params.Get(name+".bias")
		if w == nil {
			return nil
		}
		bias := bt.Data
		out := make([]float64, c.T)
		for o := range out {
			s := float64(bias[o])
			for j, v := range h {
				s += v * float64(w.Data[o*c.H+j])
			}
			out[o] = 1 / (1 + math.Exp(-s))
		}
		return out
	}
	for r := 0; r < n; r++ {
		h := make([]float64, c.H)
		for j := range h {
			s := float64(b1[j])
			for i := 0; i < c.D; i++ {
				s += float64(x[r*c.D+i]) * float64(w1[j*c.D+i])
			}
			h[j] = math.Max(s, 0)
		}
		pa = append(pa, head(a, h)...)
		pb = append(pb, head(b, h)...)
	}
	return pa, pb
}

// TestReproducible checks that two engines from the same state take
// bit-identical steps, and that dropout differs from step to step.
func TestReproducible(t *testing.T) {
	c := smallConfig(model.Model2, model.MaskAll)
	st := model.NewState(c)
	run := func() (*model.State, []model.Losses) {
		tr, err := New(c, st)
		if err != nil {
			t.Fatal(err)
		}
		defer tr.Close()
		b := randomBatch(c, 4, 5)
		var ls []model.Losses
		for i := 0; i < 3; i++ {
			l, err := tr.Step(b)
			if err != nil {
				t.Fatal(err)
			}
			ls = append(ls, l)
		}
		s, err := tr.State()
		if err != nil {
			t.Fatal(err)
		}
		return s, ls
	}
	a, la := run()
	b, lb := run()
	for i := range la {
		if la[i] != lb[i] {
			t.Fatalf("step %d: losses %+v and %+v", i, la[i], lb[i])
		}
	}
	for i, ta := range a.Params.Tensors {
		for j, v := range ta.Data {
			if b.Params.Tensors[i].Data[j] != v {
				t.Fatalf("%s[%d]: %v and %v", ta.Name, j, v, b.Params.Tensors[i].Data[j])
			}
		}
	}
	// With lr tiny, the losses of consecutive steps on the same batch
	// differ only through the dropout masks.
	c.LR = 1e-12
	_, ls := run()
	if ls[0].Tag == ls[1].Tag && ls[1].Tag == ls[2].Tag {
		t.Error("dropout masks are the same at every step")
	}
}
