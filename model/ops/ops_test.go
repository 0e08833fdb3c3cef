package ops

import (
	"math"
	"testing"
)

// TestWeightedAverageHand checks WA on a case computed by hand.
func TestWeightedAverageHand(t *testing.T) {
	vecs := []float32{
		1, 0, // t0
		0, 1, // t1
		3, 4, // t2
	}
	cases := []struct {
		name  string
		probs []float32
		want  []float32
	}{
		// t0 (0.8) and t1 (0.6) pass θ=0.5: WA = ((0.8,0) + (0,0.6)) / 2 = (0.4,0.3); ‖·‖ = 0.5.
		{"two tags", []float32{0.8, 0.6, 0.2}, []float32{0.8, 0.6}},
		// p exactly θ counts (p ≥ θ).
		{"at threshold", []float32{0.5, 0, 0}, []float32{1, 0}},
		// ground truth (p = 1): t2 alone → (3,4)/5.
		{"ground truth", []float32{0, 0, 1}, []float32{0.6, 0.8}},
		// no tag above θ: the zero vector.
		{"none", []float32{0.1, 0.2, 0.49}, []float32{0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := make([]float32, 2)
			WeightedAverage(got, c.probs, vecs, 1, 3, 2, 0.5)
			for i := range got {
				if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestL2Normalize(t *testing.T) {
	x := []float32{3, 4}
	L2Normalize(x)
	if x[0] != 0.6 || x[1] != 0.8 {
		t.Fatalf("got %v", x)
	}
	z := []float32{0, 0}
	L2Normalize(z)
	if z[0] != 0 || z[1] != 0 {
		t.Fatalf("zero vector became %v", z)
	}
}

// TestDropoutRate checks that the mask drops close to p of the elements,
// keeps the rest at 1/(1-p), and that different streams differ.
func TestDropoutRate(t *testing.T) {
	for _, p := range []float32{0.1, 0.5, 0.9} {
		m := make([]float32, 1<<16)
		FillDropoutMask(m, 42, DropoutStream(3, 0), p)
		dropped := 0
		for _, v := range m {
			switch v {
			case 0:
				dropped++
			case 1 / (1 - p):
			default:
				t.Fatalf("p=%v: mask value %v", p, v)
			}
		}
		rate := float64(dropped) / float64(len(m))
		if math.Abs(rate-float64(p)) > 0.01 {
			t.Fatalf("p=%v: dropped %.4f", p, rate)
		}
	}
	a := make([]float32, 256)
	b := make([]float32, 256)
	FillDropoutMask(a, 42, DropoutStream(0, 0), 0.5)
	FillDropoutMask(b, 42, DropoutStream(0, 1), 0.5)
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	if same > 160 {
		t.Fatalf("streams of two layers agree on %d of 256 elements", same)
	}
	if DropoutScale(42, DropoutStream(0, 0), 7, 0.5) != a[7] {
		t.Fatal("DropoutScale disagrees with FillDropoutMask")
	}
}

// TestSplitMix64 checks the finaliser against the reference sequence of
// splitmix64 seeded with 1234567 (state advanced by the golden gamma).
func TestSplitMix64(t *testing.T) {
	want := []uint64{6457827717110365317, 3203168211198807973, 9817491932198370423}
	state := uint64(1234567)
	for i, w := range want {
		if got := SplitMix64(state); got != w {
			t.Fatalf("output %d = %d, want %d", i, got, w)
		}
		state += 0x9E3779B97F4A7C15
	}
}
