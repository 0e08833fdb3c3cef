package model_test

import (
	"math"
	"os"
	"strings"
	"testing"

	"tagimp/model"
)

func TestConfigValidate(t *testing.T) {
	ok := model.DefaultConfig(model.Model2)
	ok.T = 116
	if err := ok.Validate(); err != nil {
		t.Fatalf("paper config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*model.Config)
		want string
	}{
		{"kind", func(c *model.Config) { c.Kind = "model3" }, "unknown model"},
		{"tags", func(c *model.Config) { c.T = 0 }, "tag count T is 0"},
		{"width", func(c *model.Config) { c.E = 0 }, "word-vector width E"},
		{"dropout", func(c *model.Config) { c.Dropout = 1 }, "dropout 1"},
		{"lr", func(c *model.Config) { c.LR = 0 }, "learning rate"},
		{"beta", func(c *model.Config) { c.Beta2 = 1 }, "betas"},
		{"threshold", func(c *model.Config) { c.Threshold = 0 }, "threshold"},
		{"mask", func(c *model.Config) { c.ImpLossMask = "some" }, "importance loss mask"},
		{"batch", func(c *model.Config) { c.Batch = 0 }, "batch is 0"},
	} {
		c := ok
		tc.edit(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	b := model.DefaultConfig(model.Baseline)
	b.T, b.E, b.H2 = 5, 0, 0
	if err := b.Validate(); err != nil {
		t.Errorf("baseline needs no word vectors: %v", err)
	}
}

func TestSpecsAndInit(t *testing.T) {
	c := model.DefaultConfig(model.Model2)
	c.D, c.H, c.T, c.E, c.H2 = 10, 8, 3, 4, 6
	want := map[string][]int{
		"fc1.weight": {8, 10}, "fc1.bias": {8}, "tag.weight": {3, 8}, "tag.bias": {3},
		"imp.weight": {3, 8}, "imp.bias": {3},
		"imp2.fc1.weight": {6, 14}, "imp2.fc1.bias": {6}, "imp2.out.weight": {3, 6}, "imp2.out.bias": {3},
	}
	p := model.Init(c)
	if len(p.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d", len(p.Tensors), len(want))
	}
	for _, s := range model.Specs(c) {
		tn := p.Get(s.Name)
		w := want[s.Name]
		if tn == nil || len(tn.Shape) != len(w) || tn.Shape[0] != w[0] {
			t.Fatalf("%s: %+v, want shape %v", s.Name, tn, w)
		}
		bound := 1 / math.Sqrt(float64(s.FanIn))
		var sum float64
		for _, v := range tn.Data {
			if math.Abs(float64(v)) > bound {
				t.Fatalf("%s: %v outside ±%v", s.Name, v, bound)
			}
			sum += math.Abs(float64(v))
		}
		if sum == 0 {
			t.Errorf("%s is all zero", s.Name)
		}
	}
	// Seeded: same seed same values; the trunk does not depend on the kind.
	c1 := c
	c1.Kind = model.Baseline
	q := model.Init(c1)
	if q.Get("fc1.weight").Data[5] != p.Get("fc1.weight").Data[5] || q.Get("imp.weight") != nil {
		t.Error("init is not keyed by seed and name only")
	}
	c.Seed = 2
	if model.Init(c).Get("fc1.weight").Data[5] == p.Get("fc1.weight").Data[5] {
		t.Error("another seed gave the same values")
	}
	bad := p.Clone()
	bad.Tensors[1].Data[0] = float32(math.NaN())
	c.Seed = 1
	if err := bad.Check(c); err == nil || !strings.Contains(err.Error(), "fc1.bias[0] is NaN") {
		t.Errorf("NaN parameter: %v", err)
	}
}

func TestCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	r := smallRun(t, dir, model.Model1, 1)
	if _, err := model.Train(r); err != nil {
		t.Fatal(err)
	}
	if _, _, err := model.LoadCheckpoint(dir, model.Model2, false); !model.IsNotExist(err) {
		t.Errorf("missing checkpoint: %v", err)
	}
	_, _, mPath := model.CheckpointPaths(dir, model.Model1)
	b, _ := os.ReadFile(mPath)
	os.WriteFile(mPath, []byte(strings.Replace(string(b), `"step": 16`, `"step": 3`, 1)), 0o644)
	if _, _, err := model.LoadCheckpoint(dir, model.Model1, true); err == nil || !strings.Contains(err.Error(), "inconsistent") {
		t.Errorf("step mismatch: %v", err)
	}
	os.WriteFile(mPath, []byte("{"), 0o644)
	if _, err := model.ReadMeta(dir, model.Model1); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged metadata: %v", err)
	}
}

// fakeTrainer returns fixed probabilities and records Model 2's input.
type fakeTrainer struct {
	prob []float32
	wa   []float32
}

func (f *fakeTrainer) Step(*model.Batch) (model.Losses, error) { return model.Losses{}, nil }
func (f *fakeTrainer) Forward(x []float32, n int) ([]float32, []float32, error) {
	return f.prob[:n*2], make([]float32, n*2), nil
}
func (f *fakeTrainer) Importance2(x, wa []float32, n int) ([]float32, error) {
	f.wa = append(f.wa, wa[:n*2]...)
	return []float32{0.25, 0.75}, nil
}
func (f *fakeTrainer) State() (*model.State, error) { return nil, nil }
func (f *fakeTrainer) Close() error                 { return nil }

// TestPredictModel2WA checks that Model 2's importance at test time is fed
// the WA of the tags predicted ≥ θ, weighted by their probabilities.
func TestPredictModel2WA(t *testing.T) {
	c := model.DefaultConfig(model.Model2)
	c.D, c.T, c.E, c.Batch = 1, 2, 2, 1
	vecs := []float32{1, 0, 0, 1} // tag 0 → (1,0), tag 1 → (0,1)
	cases := []struct {
		prob []float32
		want []float32
	}{
		{[]float32{0.9, 0.3}, []float32{1, 0}},                   // only tag 0 ≥ 0.5
		{[]float32{0.6, 0.8}, []float32{0.6, 0.8}},               // (0.6, 0.8)/2 normalised
		{[]float32{0.1, 0.2}, []float32{0, 0}},                   // nothing predicted: zero vector
		{[]float32{0.5, 0.5}, []float32{0.70710677, 0.70710677}}, // θ itself counts
	}
	for _, tc := range cases {
		f := &fakeTrainer{prob: tc.prob}
		_, imp, err := model.Predict(f, c, vecs, []float32{1}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if imp[0] != 0.25 || imp[1] != 0.75 {
			t.Errorf("importance %v does not come from the importance MLP", imp)
		}
		for i := range tc.want {
			if math.Abs(float64(f.wa[i]-tc.want[i])) > 1e-6 {
				t.Errorf("prob %v: WA %v, want %v", tc.prob, f.wa, tc.want)
				break
			}
		}
	}
}
