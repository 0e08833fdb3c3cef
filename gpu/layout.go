//go:build gpu

package gpu

import (
	"fmt"

	"tagimp/model"
)

// layout places every parameter tensor of a model in one flat float32
// buffer, in the order of model.Specs. The gradient and both Adam moments
// use the same layout in buffers of their own, so tensor i sits at
// offsets[i] in all four and one Adam launch covers them all.
type layout struct {
	specs   []model.Spec
	offsets []int
	sizes   []int
	total   int
}

func newLayout(c model.Config) *layout {
	l := &layout{specs: model.Specs(c)}
	for _, s := range l.specs {
		n := 1
		for _, d := range s.Shape {
			n *= d
		}
		// Keep every tensor 256-byte aligned (64 floats): cuBLAS and the
		// vectorised kernels like aligned operands.
		l.total = (l.total + 63) &^ 63
		l.offsets = append(l.offsets, l.total)
		l.sizes = append(l.sizes, n)
		l.total += n
	}
	return l
}

// offset returns the offset of the tensor called name.
func (l *layout) offset(name string) int {
	for i, s := range l.specs {
		if s.Name == name {
			return l.offsets[i]
		}
	}
	// Names come from model.Specs and this package's constants; a miss is a
	// programming error caught by the tests of every model.
	return -1
}

// flatten packs p (checked against the layout's specs) into a flat slice.
func (l *layout) flatten(p *model.Params) ([]float32, error) {
	if len(p.Tensors) != len(l.specs) {
		return nil, fmt.Errorf("parameters: %d tensors, want %d", len(p.Tensors), len(l.specs))
	}
	flat := make([]float32, l.total)
	for i, t := range p.Tensors {
		if t.Name != l.specs[i].Name || len(t.Data) != l.sizes[i] {
			return nil, fmt.Errorf("parameters: tensor %d is %q with %d values, want %q with %d", i, t.Name, len(t.Data), l.specs[i].Name, l.sizes[i])
		}
		copy(flat[l.offsets[i]:], t.Data)
	}
	return flat, nil
}

// unflatten splits a flat slice into named tensors.
func (l *layout) unflatten(flat []float32) *model.Params {
	p := &model.Params{}
	for i, s := range l.specs {
		p.Tensors = append(p.Tensors, &model.Tensor{
			Name:  s.Name,
			Shape: append([]int(nil), s.Shape...),
			Data:  append([]float32(nil), flat[l.offsets[i]:l.offsets[i]+l.sizes[i]]...),
		})
	}
	return p
}
