package vgg16

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestConcurrentFC7 runs one network from several goroutines at once (as
// tag's parallel batches do: the oneDNN engine then gives each run a trunk
// of its own) and checks each result equals the same batch run alone.
func TestConcurrentFC7(t *testing.T) {
	n, err := NewRandomConfig(small(), 11)
	if err != nil {
		t.Fatal(err)
	}
	const runs, batch = 4, 2
	rng := rand.New(rand.NewPCG(1, 2))
	in := make([][]float32, runs)
	want := make([][]float32, runs)
	for i := range in {
		in[i] = make([]float32, batch*n.Config().InputLen())
		for j := range in[i] {
			in[i][j] = rng.Float32()*2 - 1
		}
		if want[i], err = n.FC7(in[i], batch); err != nil {
			t.Fatal(err)
		}
	}
	got := make([][]float32, runs)
	errs := make([]error, runs)
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for i := range in {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = n.FC7(in[i], batch)
			}()
		}
		wg.Wait()
		for i := range in {
			if errs[i] != nil {
				t.Fatalf("round %d, run %d: %v", round, i, errs[i])
			}
			if !slices.Equal(got[i], want[i]) {
				t.Fatalf("round %d, run %d (engine %s): concurrent fc7 differs from the run alone", round, i, n.ConvEngine())
			}
		}
	}
}
