package demo

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/gonum/stat"
)

func TestValidate(t *testing.T) {
	base := DefaultConfig()
	tests := []struct {
		name string
		edit func(*Config)
		ok   bool
	}{
		{"default", func(*Config) {}, true},
		{"no images", func(c *Config) { c.Images = 0 }, false},
		{"tiny", func(c *Config) { c.Size = 8 }, false},
		{"no captions", func(c *Config) { c.Captions = 0 }, false},
		{"min above max", func(c *Config) { c.MinObjects = 3; c.MaxObjects = 2 }, false},
		{"too many kinds", func(c *Config) { c.MaxObjects = len(catalog) + 1 }, false},
		{"all kinds", func(c *Config) { c.MaxObjects = len(catalog) }, true},
	}
	for _, tt := range tests {
		c := base
		tt.edit(&c)
		err := c.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Images = 30
	a, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Generate(cfg)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatal("same seed gave different sets")
	}
	cfg.Seed++
	c, _ := Generate(cfg)
	jc, _ := json.Marshal(c)
	if bytes.Equal(ja, jc) {
		t.Fatal("different seeds gave the same set")
	}
}

// Captions name only what the image holds, and every caption names at least
// one object.
func TestCaptionsNameWhatIsThere(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Images = 200
	images, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	all := append(Nouns(), Scenes()...)
	for _, im := range images {
		if len(im.Captions) != cfg.Captions {
			t.Fatalf("image %d: %d captions, want %d", im.ID, len(im.Captions), cfg.Captions)
		}
		truth := im.Truth()
		for _, c := range im.Captions {
			words := words(c)
			named := 0
			for _, n := range all {
				if words[n] {
					if _, ok := truth[n]; !ok {
						t.Errorf("image %d: caption %q names %q which is not in the image", im.ID, c, n)
					}
					if n != im.Scene {
						named++
					}
				}
			}
			if named == 0 {
				t.Errorf("image %d: caption %q names no object", im.ID, c)
			}
			if !strings.HasSuffix(c, ".") || strings.ToUpper(c[:1]) != c[:1] {
				t.Errorf("caption %q is not a sentence", c)
			}
		}
	}
}

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r < 'a' || r > 'z' }) {
		m[w] = true
	}
	return m
}

// The share of captions that mention an object tracks its mention
// probability, which is mostly decided by size (what even random VGG16
// features keep): importance is learnable.
func TestImportanceFollowsSalience(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Images = 400
	images, _ := Generate(cfg)
	var xs, ys, sizes []float64
	for _, im := range images {
		for _, o := range im.Objects {
			n := 0
			for _, c := range im.Captions {
				if words(c)[o.Noun] {
					n++
				}
			}
			xs = append(xs, o.Mention)
			ys = append(ys, float64(n)/float64(len(im.Captions)))
			sizes = append(sizes, o.R)
		}
	}
	if r := stat.Correlation(xs, ys, nil); r < 0.6 {
		t.Errorf("correlation of mention probability and importance = %.2f, want > 0.6", r)
	}
	if r := stat.Correlation(sizes, ys, nil); r < 0.6 {
		t.Errorf("correlation of size and importance = %.2f, want > 0.6", r)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Images = 6
	cfg.Size = 48
	calls := 0
	set, err := Write(dir, cfg, func(done, total int) {
		calls++
		if total != cfg.Images || done < 1 || done > total {
			t.Errorf("progress(%d, %d)", done, total)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != cfg.Images {
		t.Errorf("progress called %d times, want %d", calls, cfg.Images)
	}
	var caps struct {
		Images []struct {
			ID       int64  `json:"id"`
			FileName string `json:"file_name"`
		} `json:"images"`
		Annotations []struct {
			ImageID int64  `json:"image_id"`
			Caption string `json:"caption"`
		} `json:"annotations"`
	}
	b, err := os.ReadFile(filepath.Join(dir, CaptionsFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &caps); err != nil {
		t.Fatal(err)
	}
	if len(caps.Images) != cfg.Images || len(caps.Annotations) != cfg.Images*cfg.Captions {
		t.Fatalf("captions.json: %d images, %d captions", len(caps.Images), len(caps.Annotations))
	}
	first, _ := os.ReadFile(filepath.Join(dir, ImagesDir, caps.Images[0].FileName))
	m, err := png.Decode(bytes.NewReader(first))
	if err != nil {
		t.Fatalf("decode image: %v", err)
	}
	if m.Bounds().Dx() != cfg.Size || m.Bounds().Dy() != cfg.Size {
		t.Errorf("image is %v, want %d×%d", m.Bounds(), cfg.Size, cfg.Size)
	}
	if set.ImageByID(caps.Images[0].ID) == nil {
		t.Error("ImageByID did not find the first image")
	}
	// A second run writes the same bytes.
	dir2 := t.TempDir()
	if _, err := Write(dir2, cfg, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{CaptionsFile, InstancesFile, filepath.Join(ImagesDir, caps.Images[0].FileName)} {
		x, _ := os.ReadFile(filepath.Join(dir, name))
		y, _ := os.ReadFile(filepath.Join(dir2, name))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
}

// Objects differ in colour from one another, so even a weak feature
// extractor can tell them apart: check every kind is drawn somewhere.
func TestRenderDrawsObjects(t *testing.T) {
	for _, k := range catalog {
		im := Image{ID: 1, Scene: "field", Objects: []Object{{Noun: k.noun, X: 0.5, Y: 0.5, R: 0.3}}}
		m := Render(&im, 64)
		bg := Render(&Image{ID: 1, Scene: "field"}, 64)
		diff := 0
		for i := range m.Pix {
			if m.Pix[i] != bg.Pix[i] {
				diff++
			}
		}
		if diff < 64*64/20 {
			t.Errorf("%s: only %d bytes differ from the empty scene", k.noun, diff)
		}
	}
}
