package vgg16

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// NewRandom returns VGG16 (with fc8) with seeded random weights: He
// initialisation (normal, std √(2/fan_in)) for every weight, zero biases.
// Activations keep their scale through the network, so fc7 features are
// informative enough for the demo. The same seed gives the same weights on
// every machine.
func NewRandom(seed int64) *Net {
	n, err := NewRandomConfig(VGG16(), seed)
	if err != nil {
		// VGG16() is a valid configuration; this cannot happen.
		return nil
	}
	return n
}

// randomChunk is the number of values drawn from one RNG stream; chunks are
// filled in parallel, each from its own stream, so the result does not
// depend on the number of workers.
const randomChunk = 1 << 20

// NewRandomConfig is NewRandom for any configuration.
func NewRandomConfig(cfg Config, seed int64) (*Net, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	specs := cfg.Params(cfg.Classes > 0)
	byName := make(map[string]Param, len(specs))
	type job struct {
		data   []float32
		std    float64
		stream uint64
	}
	var jobs []job
	for i, s := range specs {
		p := Param{Name: s.Name, Shape: s.Shape, Data: make([]float32, prod(s.Shape))}
		byName[s.Name] = p
		if len(s.Shape) == 1 {
			continue // biases stay zero
		}
		std := math.Sqrt(2 / float64(prod(s.Shape[1:])))
		for c := 0; c*randomChunk < len(p.Data); c++ {
			end := min(len(p.Data), (c+1)*randomChunk)
			jobs = append(jobs, job{data: p.Data[c*randomChunk : end], std: std, stream: uint64(i)<<32 | uint64(c)})
		}
	}
	work := make(chan job)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				r := rand.New(rand.NewPCG(uint64(seed), j.stream))
				for k := range j.data {
					j.data[k] = float32(r.NormFloat64() * j.std)
				}
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	n, err := newNet(cfg, byName)
	if err != nil {
		return nil, err
	}
	n.source = fmt.Sprintf("random(seed=%d)", seed)
	n.sha = paramsSHA256(n.params)
	return n, nil
}
