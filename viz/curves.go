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

// Series is one named curve: Y[i] is its value at X[i] (an epoch, unless
// the panel's XLabel says otherwise).
type Series struct {
	Name string
	X, Y []float64
}

// Panel is one chart of a curves figure.
type Panel struct {
	Title, YLabel string
	// XLabel names the x axis; "" means "epoch".
	XLabel string
	Series []Series
}

// legendWidth is the strip right of each chart that holds its legend, so
// that the legend never covers a curve.
const legendWidth = 2.3 * vg.Inch

// WriteCurves draws the panels one above the other, sharing the x axis,
// each with its legend in a strip to its right (outside the chart, so it
// covers no curve), and writes them as a PNG to path (atomically). Training writes
// RUN/<model>-curves.png this way after every epoch: training losses on
// top, validation metrics below.
func WriteCurves(path, title string, panels ...Panel) error {
	if len(panels) == 0 {
		return fmt.Errorf("curves %s: nothing to draw", path)
	}
	plots := make([][]*plot.Plot, len(panels))
	legends := make([]plot.Legend, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.Title
		if i == 0 && title != "" {
			p.Title.Text = title + " — " + pn.Title
		}
		p.X.Label.Text = pn.XLabel
		if p.X.Label.Text == "" {
			p.X.Label.Text = "epoch"
		}
		p.Y.Label.Text = pn.YLabel
		p.Add(plotter.NewGrid())
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
		// The legend is drawn beside the chart, not inside it.
		legends[i] = p.Legend
		legends[i].Top, legends[i].Left = true, true
		p.Legend = plot.NewLegend()
		plots[i] = []*plot.Plot{p}
	}
	const w, h = 10 * vg.Inch, 5 * vg.Inch
	img := vgimg.New(w, h*vg.Length(len(panels)))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, draw.Crop(dc, 0, -legendWidth, 0, 0))
	for i := range plots {
		cv := canvases[i][0]
		plots[i][0].Draw(cv)
		strip := cv
		strip.Min.X, strip.Max.X = w-legendWidth+vg.Millimeter, w-vg.Millimeter*2
		strip.Max.Y -= vg.Millimeter * 8 // level with the chart, below its title
		legends[i].Draw(strip)
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}
