// Package viz draws the pictures tagimp-gpu writes for people: training
// curves (loss and validation metrics per epoch, from a run's CSV) and tag
// clouds.
//
// A tag cloud shows the tags predicted for one image with a font size that
// follows each tag's importance, the picture the paper uses to motivate
// importance. LayoutCloud measures every word with the Go Regular font
// (golang.org/x/image/font/gofont) and places the words from the most to the
// least important along a spiral from the centre so that no two overlap;
// the layout is then drawn as a PNG (rasterised with the same font) or
// written as an SVG. Data comes from the predict and demo commands; the
// files go where their --cloud flag says.
package viz
