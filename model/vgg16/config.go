package vgg16

import (
	"fmt"
	"strconv"
)

// Config is the shape of a VGG-style network. VGG16 is the default; tests
// use narrower, smaller variants so that they run in milliseconds.
type Config struct {
	// Blocks holds, for each block, the output channels of its 3×3
	// convolutions; a 2×2 max-pool closes every block.
	Blocks [][]int
	// FC is the width of fc6 and fc7 (4096).
	FC int
	// Classes is fc8's output count (1000 for ImageNet).
	Classes int
	// InputSize is the input height and width (224). The classifier's input
	// is last-block channels × (InputSize/2^len(Blocks))², which for 224 is
	// torchvision's 512·7·7 = 25088 (its adaptive 7×7 average pool is the
	// identity at that size).
	InputSize int
}

// VGG16 returns the configuration of VGG16 (configuration D of Simonyan
// and Zisserman), as torchvision builds it.
func VGG16() Config {
	return Config{
		Blocks:    [][]int{{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}},
		FC:        4096,
		Classes:   1000,
		InputSize: 224,
	}
}

// Validate reports an error for a configuration that cannot be built.
func (c Config) Validate() error {
	if len(c.Blocks) == 0 || c.FC <= 0 || c.Classes < 0 {
		return fmt.Errorf("vgg config %+v: need at least one block, FC > 0 and Classes ≥ 0", c)
	}
	for i, b := range c.Blocks {
		if len(b) == 0 {
			return fmt.Errorf("vgg config: block %d has no convolutions", i)
		}
		for _, ch := range b {
			if ch <= 0 {
				return fmt.Errorf("vgg config: block %d has %d channels", i, ch)
			}
		}
	}
	if s := c.InputSize >> len(c.Blocks); s <= 0 || s<<len(c.Blocks) != c.InputSize {
		return fmt.Errorf("vgg config: input size %d is not a multiple of 2^%d", c.InputSize, len(c.Blocks))
	}
	return nil
}

// InputLen is the number of float32 values of one input image: 3·S·S.
func (c Config) InputLen() int { return 3 * c.InputSize * c.InputSize }

// FlatDim is the classifier's input width (25088 for VGG16).
func (c Config) FlatDim() int {
	last := c.Blocks[len(c.Blocks)-1]
	s := c.InputSize >> len(c.Blocks)
	return last[len(last)-1] * s * s
}

// ParamSpec names one parameter tensor and gives its shape.
type ParamSpec struct {
	Name  string
	Shape []int
}

// Params lists the parameters in torchvision's order and naming:
// features.{i}.weight [out,in,3,3] and .bias [out] for each convolution, i
// counting torchvision's nn.Sequential layers (conv, ReLU, …, pool), then
// classifier.0 (fc6), classifier.3 (fc7) and classifier.6 (fc8), weights
// [out,in]. withFC8 includes fc8.
func (c Config) Params(withFC8 bool) []ParamSpec {
	var ps []ParamSpec
	idx, in := 0, 3
	for _, b := range c.Blocks {
		for _, out := range b {
			name := "features." + strconv.Itoa(idx)
			ps = append(ps,
				ParamSpec{name + ".weight", []int{out, in, 3, 3}},
				ParamSpec{name + ".bias", []int{out}})
			in = out
			idx += 2 // conv, ReLU
		}
		idx++ // max-pool
	}
	ps = append(ps,
		ParamSpec{"classifier.0.weight", []int{c.FC, c.FlatDim()}},
		ParamSpec{"classifier.0.bias", []int{c.FC}},
		ParamSpec{"classifier.3.weight", []int{c.FC, c.FC}},
		ParamSpec{"classifier.3.bias", []int{c.FC}})
	if withFC8 {
		ps = append(ps,
			ParamSpec{"classifier.6.weight", []int{c.Classes, c.FC}},
			ParamSpec{"classifier.6.bias", []int{c.Classes}})
	}
	return ps
}

// FLOPs is the number of floating-point operations (2 per multiply-add) of
// one image's forward pass up to fc7.
func (c Config) FLOPs() float64 {
	var f float64
	s, in := c.InputSize, 3
	for _, b := range c.Blocks {
		for _, out := range b {
			f += 2 * float64(s*s) * float64(out) * float64(in*9)
			in = out
		}
		s /= 2
	}
	return f + 2*float64(c.FlatDim())*float64(c.FC) + 2*float64(c.FC)*float64(c.FC)
}
