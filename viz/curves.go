package viz

import (
	"fmt"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"tagimp/data/atomicfile"
)

// Series is one named curve: Y[i] is its value at epoch X[i].
type Series struct {
	Name string
	X, Y []float64
}

// Panel is one chart of a curves figure.
type Panel struct {
	Title, YLabel string
	Series        []Series
}

// WriteCurves draws the panels one above the other, sharing the epoch
// axis, and writes them as a PNG to path (atomically). Training writes
// RUN/<model>-curves.png this way after every epoch: training losses on
// top, validation metrics below.
func WriteCurves(path, title string, panels ...Panel) error {
	if len(panels) == 0 {
		return fmt.Errorf("curves %s: nothing to draw", path)
	}
	plots := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Title
		if i == 0 && title != "" {
			p.Title.Text = title + " — " + pn.Title
		}
		p.X.Label.Text = "epoch"
		p.Y.Label.Text = pn.YLabel
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		var args []any
		for _, s := range pn.Series {
			if len(s.X) != len(s.Y) {
				return fmt.Errorf("curves %s: series %q has %d x and %d y values", path, s.Name, len(s.X), len(s.Y))
			}
			pts := make(plotter.XYs, len(s.X))
			for j := range s.X {
				pts[j].X, pts[j].Y = s.X[j], s.Y[j]
			}
			args = append(args, s.Name, pts)
		}
		if err := plotutil.AddLinePoints(p, args...); err != nil {
			return fmt.Errorf("curves %s: %w", path, err)
		}
		plots[i] = []*plot.Plot{p}
	}
	const w, h = 8 * vg.Inch, 4 * vg.Inch
	img := vgimg.New(w, h*vg.Length(len(panels)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}
