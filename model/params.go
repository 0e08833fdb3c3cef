package model

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
)

// Tensor is one named parameter: float32, row-major. Linear weights are
// stored [out, in] as in PyTorch (y = x·Wᵀ + b).
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// Size returns the number of elements the shape holds.
func (t *Tensor) Size() int { return shapeSize(t.Shape) }

func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Spec names one parameter tensor, its shape and its fan-in (the "in" of
// the Linear layer it belongs to, which sets the init range).
type Spec struct {
	Name  string
	Shape []int
	FanIn int
}

// Specs returns the parameters of c.Kind in their fixed order (the order
// of checkpoints and of the engines' parameter lists):
//
//	fc1.weight [H,D], fc1.bias [H], tag.weight [T,H], tag.bias [T],
//	imp.weight [T,H], imp.bias [T]                       (model1, model2)
//	imp2.fc1.weight [H2,D+E], imp2.fc1.bias [H2],
//	imp2.out.weight [T,H2], imp2.out.bias [T]            (model2)
func Specs(c Config) []Spec {
	s := []Spec{
		{"fc1.weight", []int{c.H, c.D}, c.D},
		{"fc1.bias", []int{c.H}, c.D},
		{"tag.weight", []int{c.T, c.H}, c.H},
		{"tag.bias", []int{c.T}, c.H},
	}
	if c.Kind.HasImportanceHead() {
		s = append(s,
			Spec{"imp.weight", []int{c.T, c.H}, c.H},
			Spec{"imp.bias", []int{c.T}, c.H})
	}
	if c.Kind.HasImportanceMLP() {
		s = append(s,
			Spec{"imp2.fc1.weight", []int{c.H2, c.D + c.E}, c.D + c.E},
			Spec{"imp2.fc1.bias", []int{c.H2}, c.D + c.E},
			Spec{"imp2.out.weight", []int{c.T, c.H2}, c.H2},
			Spec{"imp2.out.bias", []int{c.T}, c.H2})
	}
	return s
}

// Params is an ordered list of named parameter tensors.
type Params struct {
	Tensors []*Tensor
}

// Zeros returns parameters of c's shapes filled with zeros.
func Zeros(c Config) *Params {
	p := &Params{}
	for _, s := range Specs(c) {
		p.Tensors = append(p.Tensors, &Tensor{Name: s.Name, Shape: append([]int(nil), s.Shape...), Data: make([]float32, shapeSize(s.Shape))})
	}
	return p
}

// Init returns parameters initialised like PyTorch's nn.Linear: weight and
// bias uniform in [-1/sqrt(in), 1/sqrt(in)). Each tensor draws from its own
// PCG stream keyed by (c.Seed, its name), so the values do not depend on
// which other tensors exist.
func Init(c Config) *Params {
	p := Zeros(c)
	for i, s := range Specs(c) {
		h := fnv.New64a()
		h.Write([]byte(s.Name))
		rng := rand.New(rand.NewPCG(uint64(c.Seed), h.Sum64()))
		bound := 1 / math.Sqrt(float64(s.FanIn))
		d := p.Tensors[i].Data
		for j := range d {
			d[j] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return p
}

// Get returns the tensor called name, or nil.
func (p *Params) Get(name string) *Tensor {
	for _, t := range p.Tensors {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Clone returns a deep copy of p.
func (p *Params) Clone() *Params {
	q := &Params{}
	for _, t := range p.Tensors {
		q.Tensors = append(q.Tensors, &Tensor{Name: t.Name, Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)})
	}
	return q
}

// Count returns the total number of parameters.
func (p *Params) Count() int {
	n := 0
	for _, t := range p.Tensors {
		n += len(t.Data)
	}
	return n
}

// Check verifies that p holds exactly c's tensors with c's shapes and only
// finite values.
func (p *Params) Check(c Config) error {
	specs := Specs(c)
	if len(p.Tensors) != len(specs) {
		return fmt.Errorf("parameters: %d tensors, %s needs %d", len(p.Tensors), c.Kind, len(specs))
	}
	for i, s := range specs {
		t := p.Tensors[i]
		if t.Name != s.Name {
			return fmt.Errorf("parameters: tensor %d is %q, %s needs %q there", i, t.Name, c.Kind, s.Name)
		}
		if !slices.Equal(t.Shape, s.Shape) {
			return fmt.Errorf("parameters: %s has shape %v, config needs %v", s.Name, t.Shape, s.Shape)
		}
		if len(t.Data) != shapeSize(s.Shape) {
			return fmt.Errorf("parameters: %s holds %d values, shape %v needs %d", s.Name, len(t.Data), s.Shape, shapeSize(s.Shape))
		}
		for j, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("parameters: %s[%d] is %v: %w", s.Name, j, v, ErrNonFinite)
			}
		}
	}
	return nil
}
