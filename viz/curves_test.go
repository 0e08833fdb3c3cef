package viz

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot/vg"
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

// The legends sit beside the charts: the charts are pixel for pixel the
// same with and without legend entries, and the legend strip holds ink.
func TestCurvesLegendOutsideChart(t *testing.T) {
	dir := t.TempDir()
	x := []float64{1, 2, 3, 4}
	// Curves through every corner of the chart, where a legend inside it
	// would sit.
	panel := func(named bool) Panel {
		name := func(s string) string {
			if named {
				return s
			}
			return ""
		}
		return Panel{Title: "validation", YLabel: "metric", Series: []Series{
			{name("mAP per image"), x, []float64{1, 0, 0, 1}}, {name("importance MSE"), x, []float64{0, 1, 1, 0}}}}
	}
	read := func(name string, named bool) image.Image {
		path := filepath.Join(dir, name)
		if err := WriteCurves(path, "m", panel(named)); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	with, without := read("with.png", true), read("without.png", false)
	b := with.Bounds()
	strip := b.Max.X - int(float64(b.Dx())*float64(legendWidth)/float64(10*vg.Inch))
	diffChart, inkStrip := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r1, g1, b1, _ := with.At(x, y).RGBA()
			r2, g2, b2, _ := without.At(x, y).RGBA()
			if x < strip && (r1 != r2 || g1 != g2 || b1 != b2) {
				diffChart++
			}
			if x >= strip && (r1 != r2 || g1 != g2 || b1 != b2) {
				inkStrip++
			}
		}
	}
	if diffChart != 0 {
		t.Errorf("the legend changes %d pixels of the chart", diffChart)
	}
	if inkStrip < 100 {
		t.Errorf("the legend strip holds %d pixels of legend: no legend drawn", inkStrip)
	}
}
