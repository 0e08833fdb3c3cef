package viz

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var demoWords = []CloudWord{
	{"dog", 1.0}, {"ball", 0.8}, {"field", 0.6}, {"house", 0.4}, {"tree", 0.2},
	{"boat", 0.2}, {"car", 0.1}, {"heart", 0.05}, {"star", 0.0},
}

// Heavier words get bigger boxes, and no two boxes overlap.
func TestLayoutCloud(t *testing.T) {
	tests := []struct {
		name  string
		words []CloudWord
		opt   CloudOptions
	}{
		{"default", demoWords, DefaultCloudOptions()},
		{"small canvas shrinks", demoWords, CloudOptions{Width: 160, Height: 100, MinFont: 8, MaxFont: 72}},
		{"titled", demoWords, CloudOptions{Width: 400, Height: 300, MinFont: 10, MaxFont: 60, Title: "image 42"}},
		{"one word", demoWords[:1], DefaultCloudOptions()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LayoutCloud(tt.words, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Words)+len(c.Dropped) != len(tt.words) {
				t.Fatalf("%d placed + %d dropped, want %d", len(c.Words), len(c.Dropped), len(tt.words))
			}
			if len(c.Dropped) > 0 {
				t.Errorf("dropped %v", c.Dropped)
			}
			for i, a := range c.Words {
				if a.Box.Min.X < 0 || a.Box.Min.Y < 0 || a.Box.Max.X > c.Width || a.Box.Max.Y > c.Height {
					t.Errorf("%q box %v leaves the %d×%d canvas", a.Text, a.Box, c.Width, c.Height)
				}
				for _, b := range c.Words[i+1:] {
					if a.Box.Overlaps(b.Box) {
						t.Errorf("%q %v overlaps %q %v", a.Text, a.Box, b.Text, b.Box)
					}
					if a.Weight > b.Weight && (a.FontSize <= b.FontSize || a.Box.Dy() < b.Box.Dy() || a.FontSize > b.FontSize+2 && a.Box.Dy() == b.Box.Dy()) {
						t.Errorf("%q (weight %.2f) font %.1f box h %d not bigger than %q (weight %.2f) font %.1f box h %d",
							a.Text, a.Weight, a.FontSize, a.Box.Dy(), b.Text, b.Weight, b.FontSize, b.Box.Dy())
					}
				}
			}
		})
	}
}

func TestLayoutCloudErrors(t *testing.T) {
	tests := []struct {
		name  string
		words []CloudWord
		opt   CloudOptions
	}{
		{"tiny canvas", demoWords, CloudOptions{Width: 8, Height: 8, MinFont: 10, MaxFont: 20}},
		{"bad fonts", demoWords, CloudOptions{Width: 100, Height: 100, MinFont: 20, MaxFont: 10}},
		{"empty word", []CloudWord{{" ", 1}}, DefaultCloudOptions()},
	}
	for _, tt := range tests {
		if _, err := LayoutCloud(tt.words, tt.opt); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

// The PNG shows ink inside every word's box; the SVG is XML naming every
// word with its size.
func TestWriteCloud(t *testing.T) {
	c, err := LayoutCloud(demoWords, CloudOptions{Width: 480, Height: 300, MinFont: 12, MaxFont: 64, Title: "demo image 7"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pngPath := filepath.Join(dir, "cloud.png")
	if err := WriteCloud(pngPath, c); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(pngPath)
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range c.Words {
		ink := 0
		for y := w.Box.Min.Y; y < w.Box.Max.Y; y++ {
			for x := w.Box.Min.X; x < w.Box.Max.X; x++ {
				if r, g, bl, _ := img.At(x, y).RGBA(); r < 0xf000 || g < 0xf000 || bl < 0xf000 {
					ink++
				}
			}
		}
		if ink < 10 {
			t.Errorf("%q: only %d inked pixels in its box", w.Text, ink)
		}
	}
	svgPath := filepath.Join(dir, "cloud.svg")
	if err := WriteCloud(svgPath, c); err != nil {
		t.Fatal(err)
	}
	s, _ := os.ReadFile(svgPath)
	var doc struct {
		Texts []struct {
			Size string `xml:"font-size,attr"`
			Body string `xml:",chardata"`
		} `xml:"text"`
	}
	if err := xml.Unmarshal(s, &doc); err != nil {
		t.Fatalf("SVG is not XML: %v", err)
	}
	if len(doc.Texts) != len(c.Words)+1 {
		t.Errorf("SVG has %d texts, want %d words + title", len(doc.Texts), len(c.Words))
	}
	for _, w := range c.Words {
		if !strings.Contains(string(s), ">"+w.Text+"<") {
			t.Errorf("SVG lacks %q", w.Text)
		}
	}
	if err := WriteCloud(filepath.Join(dir, "cloud.gif"), c); err == nil {
		t.Error("WriteCloud accepted a .gif name")
	}
}
