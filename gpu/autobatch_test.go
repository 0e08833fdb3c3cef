//go:build gpu

package gpu

import "testing"

func TestAutoBatch(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		free, fixed, per int64
		max, want        int
	}{
		{free: 100 * gib, fixed: 2 * gib, per: 30 << 20, max: 256, want: 256}, // plenty: the cap
		{free: 10 * gib, fixed: 2 * gib, per: 30 << 20, max: 256, want: 232},  // (10 − 1 − 2) GiB / 30 MiB = 238.9 → 238 → 232
		{free: 2 * gib, fixed: 2 * gib, per: 30 << 20, max: 256, want: 1},     // nothing left: 1, and the run halves from there
		{free: 3 * gib, fixed: 2 * gib, per: 300 << 20, max: 256, want: 2},    // 0.7 GiB / 300 MiB = 2 (below 8: not rounded)
		{free: 100 * gib, fixed: 0, per: 0, max: 256, want: 1},                // no estimate
		{free: 100 * gib, fixed: 0, per: 1 << 20, max: 20, want: 16},          // cap 20, multiple of 8
	} {
		if got := AutoBatch(tc.free, tc.fixed, tc.per, tc.max); got != tc.want {
			t.Errorf("AutoBatch(free %d MiB, fixed %d MiB, %d MiB/image, max %d) = %d, want %d",
				tc.free>>20, tc.fixed>>20, tc.per>>20, tc.max, got, tc.want)
		}
	}
}
