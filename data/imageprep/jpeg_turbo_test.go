//go:build cgo && !nolibjpeg

package imageprep

import "testing"

func TestDCTScale(t *testing.T) {
	fixed := func(w, h int) func(int, int) (int, int) { return func(int, int) (int, int) { return w, h } }
	cases := []struct {
		w, h, tw, th, want int
	}{
		{640, 480, 224, 224, 4},   // 320×240
		{640, 480, 341, 256, 5},   // 400×300 (crop: short side 256)
		{333, 500, 224, 224, 6},   // 250×375
		{224, 224, 224, 224, 8},   // already the target
		{100, 100, 224, 224, 8},   // smaller than the target: full size
		{4000, 3000, 224, 224, 1}, // 500×375
		{1792, 1344, 224, 224, 2}, // 1/8 would give 224×168
	}
	for _, c := range cases {
		if got := dctScale(c.w, c.h, fixed(c.tw, c.th)); got != c.want {
			t.Errorf("dctScale(%d×%d → %d×%d) = %d, want %d", c.w, c.h, c.tw, c.th, got, c.want)
		}
	}
}
