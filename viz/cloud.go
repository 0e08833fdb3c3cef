package viz

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"

	"tagimp/data/atomicfile"
)

// CloudWord is one word to place, with its weight (an importance, >= 0).
type CloudWord struct {
	Text   string
	Weight float64
}

// CloudOptions sets the canvas and the range of font sizes.
type CloudOptions struct {
	Width, Height    int     // canvas in pixels
	MinFont, MaxFont float64 // font size in pixels of the lightest and the heaviest word
	Title            string  // optional caption drawn in the top-left corner
}

// DefaultCloudOptions returns a 640×400 canvas with fonts from 12 to 72 px.
func DefaultCloudOptions() CloudOptions {
	return CloudOptions{Width: 640, Height: 400, MinFont: 12, MaxFont: 72}
}

// PlacedWord is a word with its font size and the box it occupies: Box.Min
// is the top-left corner, the text's baseline is at Baseline.
type PlacedWord struct {
	Text     string
	Weight   float64
	FontSize float64
	Box      image.Rectangle
	Baseline int
	Color    color.RGBA
}

// Cloud is a finished layout.
type Cloud struct {
	Width, Height int
	Title         string
	Words         []PlacedWord // in placement order: heaviest first
	Scale         float64      // largest font size used / MaxFont (1 = no shrinking was needed)
	Dropped       []string     // words that did not fit even at the smallest font size
}

// palette of readable colours on white.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {214, 39, 40, 255}, {44, 160, 44, 255}, {148, 103, 189, 255},
	{255, 127, 14, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {23, 190, 207, 255},
	{127, 127, 127, 255}, {188, 189, 34, 255},
}

var (
	fontOnce sync.Once
	goFont   *opentype.Font
	fontErr  error
)

func regular() (*opentype.Font, error) {
	fontOnce.Do(func() {
		goFont, fontErr = opentype.Parse(goregular.TTF)
	})
	return goFont, fontErr
}

func face(size float64) (font.Face, error) {
	f, err := regular()
	if err != nil {
		return nil, fmt.Errorf("viz: parse Go Regular font: %w", err)
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
}

// minReadable is the smallest font size, in pixels, LayoutCloud shrinks to.
const minReadable = 6

// padFor is the empty margin kept around a word of the given font size, in
// pixels, so that neighbours read as separate words.
func padFor(size float64) int { return 2 + int(size/10) }

// measure returns the box size of text at size px and the distance from the
// box top to the baseline.
func measure(text string, size float64) (w, h, ascent int, err error) {
	fc, err := face(size)
	if err != nil {
		return 0, 0, 0, err
	}
	defer fc.Close()
	m := fc.Metrics()
	adv := font.MeasureString(fc, text)
	ascent = m.Ascent.Ceil()
	pad := padFor(size)
	return adv.Ceil() + 2*pad, ascent + m.Descent.Ceil() + 2*pad, ascent + pad, nil
}

// fontSize maps a weight to a font size: linear in weight/maxWeight, so the
// most important word gets MaxFont and a weight of zero gets MinFont.
func fontSize(w, maxW float64, opt CloudOptions) float64 {
	if maxW <= 0 {
		return opt.MinFont
	}
	return opt.MinFont + (opt.MaxFont-opt.MinFont)*math.Max(0, w)/maxW
}

// LayoutCloud places words on the canvas, heaviest first, each at the first
// free spot along a spiral from the centre. When a word finds no free spot
// the largest font size shrinks by 15% (down to 1.5× the smallest, then both
// shrink) and the layout starts again, so the order of sizes is kept; Scale
// says how much the largest size shrank. Once the smallest size would fall
// below 6 px, words that still find no spot are listed in Dropped. Words with empty text or a NaN weight are refused.
func LayoutCloud(words []CloudWord, opt CloudOptions) (*Cloud, error) {
	if opt.Width < 16 || opt.Height < 16 {
		return nil, fmt.Errorf("viz: cloud canvas %d×%d is too small: use at least 16×16", opt.Width, opt.Height)
	}
	if opt.MinFont <= 0 || opt.MaxFont < opt.MinFont {
		return nil, fmt.Errorf("viz: font sizes %g..%g: need 0 < min <= max", opt.MinFont, opt.MaxFont)
	}
	ws := make([]CloudWord, len(words))
	copy(ws, words)
	maxW := 0.0
	for _, w := range ws {
		if strings.TrimSpace(w.Text) == "" {
			return nil, fmt.Errorf("viz: a cloud word has empty text")
		}
		if math.IsNaN(w.Weight) || math.IsInf(w.Weight, 0) {
			return nil, fmt.Errorf("viz: word %q has weight %v: weights must be finite", w.Text, w.Weight)
		}
		maxW = math.Max(maxW, w.Weight)
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Weight > ws[j].Weight })
	cur := opt
	for {
		final := cur.MaxFont <= cur.MinFont*1.5 && cur.MinFont*0.85 < minReadable
		c, ok, err := tryLayout(ws, maxW, cur, final)
		if err != nil {
			return nil, err
		}
		if ok {
			c.Title = opt.Title
			c.Scale = cur.MaxFont / opt.MaxFont
			return c, nil
		}
		if cur.MaxFont > cur.MinFont*1.5 {
			cur.MaxFont = math.Max(cur.MaxFont*0.85, cur.MinFont*1.5)
		} else {
			cur.MinFont *= 0.85
			cur.MaxFont *= 0.85
		}
	}
}

// tryLayout places all words at the given scale. With final set it drops
// what does not fit instead of failing.
func tryLayout(ws []CloudWord, maxW float64, opt CloudOptions, final bool) (*Cloud, bool, error) {
	c := &Cloud{Width: opt.Width, Height: opt.Height}
	top := 0
	if opt.Title != "" {
		top = 20 // keep the title's line free
	}
	free := image.Rect(0, top, opt.Width, opt.Height)
	for i, w := range ws {
		size := fontSize(w.Weight, maxW, opt)
		bw, bh, asc, err := measure(w.Text, size)
		if err != nil {
			return nil, false, err
		}
		box, ok := spiral(bw, bh, free, c.Words)
		if !ok {
			if !final {
				return nil, false, nil
			}
			c.Dropped = append(c.Dropped, w.Text)
			continue
		}
		c.Words = append(c.Words, PlacedWord{
			Text: w.Text, Weight: w.Weight, FontSize: size, Box: box,
			Baseline: box.Min.Y + asc, Color: palette[i%len(palette)],
		})
	}
	return c, true, nil
}

// spiral walks an Archimedean spiral from the centre of area and returns the
// first w×h box inside area that overlaps no placed word.
func spiral(w, h int, area image.Rectangle, placed []PlacedWord) (image.Rectangle, bool) {
	if w > area.Dx() || h > area.Dy() {
		return image.Rectangle{}, false
	}
	cx := float64(area.Min.X+area.Max.X) / 2
	cy := float64(area.Min.Y+area.Max.Y) / 2
	aspect := float64(area.Dx()) / float64(area.Dy())
	maxR := math.Hypot(float64(area.Dx()), float64(area.Dy()))
	for t := 0.0; ; t += 0.05 {
		r := 1.5 * t
		if r > maxR {
			return image.Rectangle{}, false
		}
		x := int(math.Round(cx + r*math.Cos(t)*aspect - float64(w)/2))
		y := int(math.Round(cy + r*math.Sin(t) - float64(h)/2))
		box := image.Rect(x, y, x+w, y+h)
		if !box.In(area) {
			continue
		}
		clear := true
		for _, p := range placed {
			if box.Overlaps(p.Box) {
				clear = false
				break
			}
		}
		if clear {
			return box, true
		}
	}
}

// PNG draws the cloud in black-on-white-ish colours as a PNG image.
func (c *Cloud) PNG(w io.Writer) error {
	img := image.NewRGBA(image.Rect(0, 0, c.Width, c.Height))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	if c.Title != "" {
		if err := drawText(img, c.Title, 13, 4, 15, color.RGBA{90, 90, 90, 255}); err != nil {
			return err
		}
	}
	for _, pw := range c.Words {
		if err := drawText(img, pw.Text, pw.FontSize, pw.Box.Min.X+padFor(pw.FontSize), pw.Baseline, pw.Color); err != nil {
			return err
		}
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("viz: encode cloud PNG: %w", err)
	}
	return nil
}

func drawText(img draw.Image, text string, size float64, x, baseline int, col color.RGBA) error {
	fc, err := face(size)
	if err != nil {
		return err
	}
	defer fc.Close()
	d := font.Drawer{Dst: img, Src: image.NewUniform(col), Face: fc, Dot: fixed.P(x, baseline)}
	d.DrawString(text)
	return nil
}

// SVG writes the cloud as an SVG document. Positions and sizes are those of
// the layout (measured with Go Regular, which the document names first).
func (c *Cloud) SVG(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`+"\n", c.Width, c.Height, c.Width, c.Height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	family := `font-family="Go, 'Go Regular', 'DejaVu Sans', Arial, sans-serif"`
	if c.Title != "" {
		fmt.Fprintf(&b, `<text x="4" y="15" %s font-size="13" fill="#5a5a5a">%s</text>`+"\n", family, escape(c.Title))
	}
	for _, pw := range c.Words {
		fmt.Fprintf(&b, `<text x="%d" y="%d" %s font-size="%.1f" fill="#%02x%02x%02x" data-weight="%.4f">%s</text>`+"\n",
			pw.Box.Min.X+padFor(pw.FontSize), pw.Baseline, family, pw.FontSize, pw.Color.R, pw.Color.G, pw.Color.B, pw.Weight, escape(pw.Text))
	}
	b.WriteString("</svg>\n")
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("viz: write cloud SVG: %w", err)
	}
	return nil
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// WriteCloud writes the cloud to path as PNG or SVG, chosen by the file
// extension (.png or .svg), atomically.
func WriteCloud(path string, c *Cloud) error {
	var write func(io.Writer) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".png":
		write = c.PNG
	case ".svg":
		write = c.SVG
	default:
		return fmt.Errorf("viz: cloud file %s: name it .png or .svg", path)
	}
	if err := atomicfile.WriteFile(path, write); err != nil {
		return fmt.Errorf("viz: write %s: %w", path, err)
	}
	return nil
}
