package metrics

import (
	"math"
	"testing"
)

// PerTag by hand on three images and two tags, and its mean AP equals
// Evaluate's per-class mAP.
func TestPerTag(t *testing.T) {
	presence := []uint8{1, 0, 0, 1, 1, 0}
	importance := []float32{0.8, 0, 0, 0.4, 0.6, 0}
	prob := []float32{0.9, 0.2, 0.1, 0.3, 0.5, 0.4}
	pred := []float32{0.7, 0, 0, 0.6, 0.2, 0}
	got, err := PerTag(presence, importance, prob, pred, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Tag 0: ranking 0.9 (pos), 0.5 (pos), 0.1 → AP 1; errors 0.1 and 0.4.
	// Tag 1: ranking 0.4 (neg), 0.3 (pos), 0.2 → AP 1/2; error 0.2.
	want := []TagScore{{0, 2, 1, 0.25, 0.085}, {1, 1, 0.5, 0.2, 0.04}}
	for j, w := range want {
		g := got[j]
		if g.Positives != w.Positives || math.Abs(g.AP-w.AP) > 1e-9 || math.Abs(g.MAE-w.MAE) > 1e-6 || math.Abs(g.MSE-w.MSE) > 1e-6 {
			t.Errorf("tag %d: %+v, want %+v", j, g, w)
		}
	}
	rep, err := Evaluate(presence, importance, prob, pred, 3, 2, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if m := (got[0].AP + got[1].AP) / 2; math.Abs(m-rep.MAPClass) > 1e-9 {
		t.Errorf("mean AP %v, MAPClass %v", m, rep.MAPClass)
	}
}
