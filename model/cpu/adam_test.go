package cpu

import (
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/model/ops"
)

// TestAdamKernelBitExact checks adam32 against ops.Adam (the twin of the
// GPU kernel) bit for bit, over many steps and awkward values.
func TestAdamKernelBitExact(t *testing.T) {
	const n = 10007 // not a multiple of any vector width
	rng := rand.New(rand.NewPCG(1, 1))
	mk := func() []float32 { return make([]float32, n) }
	p1, m1, v1, p2, m2, v2, g := mk(), mk(), mk(), mk(), mk(), mk(), mk()
	for i := range p1 {
		p1[i] = float32(rng.NormFloat64())
		p2[i] = p1[i]
	}
	c := ops.AdamConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	for step := 1; step <= 20; step++ {
		for i := range g {
			g[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(12)-8)))
		}
		g[0], g[1] = 0, float32(math.SmallestNonzeroFloat32)
		bc1, bc2 := ops.AdamBiasCorrections(c.Beta1, c.Beta2, step)
		ops.Adam(p1, g, m1, v1, c, bc1, bc2)
		adam32(p2, g, m2, v2, c, bc1, bc2)
		for i := range p1 {
			if math.Float32bits(p1[i]) != math.Float32bits(p2[i]) || math.Float32bits(m1[i]) != math.Float32bits(m2[i]) || math.Float32bits(v1[i]) != math.Float32bits(v2[i]) {
				t.Fatalf("%s, step %d, element %d: p %v/%v m %v/%v v %v/%v (ops.Adam/adam32)", adamKernel, step, i, p1[i], p2[i], m1[i], m2[i], v1[i], v2[i])
			}
		}
	}
}

func BenchmarkAdam(b *testing.B) {
	const n = 4096 * 4096
	p, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range g {
		g[i] = float32(i%17) * 1e-3
	}
	c := ops.AdamConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	for _, k := range []struct {
		name string
		f    func(p, g, m, v []float32, c ops.AdamConfig, bc1, bc2 float32)
	}{{"ops.Adam", ops.Adam}, {"adam32", adam32}} {
		b.Run(k.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				k.f(p, g, m, v, c, 0.1, 0.001)
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/4096²")
		})
	}
}
