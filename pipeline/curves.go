package pipeline

import (
	"path/filepath"

	"tagimp/model"
	"tagimp/viz"
)

// CurvesPath returns RUN/<model>-curves.png.
func CurvesPath(dir string, kind model.Kind) string {
	return filepath.Join(dir, string(kind)+"-curves.png")
}

// WriteCurves draws a run's training losses and validation metrics into
// CurvesPath(dir, kind).
func WriteCurves(dir string, m *model.Meta) error {
	var x, total, tag, imp, imp2, mapI, mapC, jac, mae, mse []float64
	for _, h := range m.History {
		x = append(x, float64(h.Epoch))
		total, tag, imp, imp2 = append(total, h.Loss.Total), append(tag, h.Loss.Tag), append(imp, h.Loss.Imp), append(imp2, h.Loss.Imp2)
		mapI, mapC, jac = append(mapI, h.Val.MAPImage), append(mapC, h.Val.MAPClass), append(jac, h.Val.Jaccard)
		mae, mse = append(mae, h.Val.MAE), append(mse, h.Val.MSE)
	}
	loss := viz.Panel{Title: "training loss", YLabel: "loss", Series: []viz.Series{{Name: "total", X: x, Y: total}, {Name: "tag BCE", X: x, Y: tag}}}
	if m.Config.Kind.HasImportanceHead() {
		loss.Series = append(loss.Series, viz.Series{Name: "importance MSE", X: x, Y: imp})
	}
	if m.Config.Kind.HasImportanceMLP() {
		loss.Series = append(loss.Series, viz.Series{Name: "importance MLP MSE", X: x, Y: imp2})
	}
	split := "test"
	if n := len(m.History); n > 0 && m.History[n-1].Split != "" {
		split = m.History[n-1].Split
	}
	val := viz.Panel{Title: "metrics on the " + split + " split", YLabel: "metric", Series: []viz.Series{
		{Name: "mAP per image", X: x, Y: mapI}, {Name: "mAP per class", X: x, Y: mapC}, {Name: "Jaccard", X: x, Y: jac},
		{Name: "importance MAE", X: x, Y: mae}, {Name: "importance MSE", X: x, Y: mse}}}
	return viz.WriteCurves(CurvesPath(dir, m.Config.Kind), string(m.Config.Kind), loss, val)
}
