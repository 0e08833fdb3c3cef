package viz

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteCurves(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "curves.png")
	x := []float64{1, 2, 3}
	err := WriteCurves(path, "model1",
		Panel{Title: "training loss", YLabel: "loss", Series: []Series{{"total", x, []float64{0.9, 0.5, 0.4}}, {"tag", x, []float64{0.7, 0.4, 0.3}}}},
		Panel{Title: "validation", YLabel: "value", Series: []Series{{"mAP", x, []float64{0.3, 0.5, 0.6}}}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < b.Dx() {
		t.Errorf("image %v: want a tall figure of two panels", b)
	}
	for _, tc := range []struct {
		name   string
		panels []Panel
	}{
		{"none", nil},
		{"ragged", []Panel{{Series: []Series{{"a", x, []float64{1}}}}}},
	} {
		bad := filepath.Join(dir, tc.name+".png")
		if err := WriteCurves(bad, "", tc.panels...); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		if _, err := os.Stat(bad); err == nil {
			t.Errorf("%s: a file was written", tc.name)
		}
	}
}
