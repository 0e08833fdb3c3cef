package features

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// side is the size of the generated test images.
const side = 8

// nanID is the image whose (special) colour makes fakeExtractor return NaN.
const nanID = 7

// writeImages writes PNGs for ids into dir (colour from the id), plus
// the broken cases: id 3 is a text file named .png, id 5 is missing.
func writeImages(t *testing.T, dir string, ids []int64) []Image {
	t.Helper()
	var list []Image
	for _, id := range ids {
		name := fmt.Sprintf("%012d.png", id)
		list = append(list, Image{ID: id, File: name})
		path := filepath.Join(dir, name)
		switch id {
		case 3:
			if err := os.WriteFile(path, []byte("this is not an image\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		case 5:
			continue
		}
		img := image.NewRGBA(image.Rect(0, 0, side, side))
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				c := color.RGBA{uint8(id * 37), uint8(x * 30), uint8(y*20 + int(id)), 255}
				if id == nanID {
					c = color.RGBA{255, 0, 255, 255}
				}
				img.Set(x, y, c)
			}
		}
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return list
}

func ids(lo, hi int64) []int64 {
	var out []int64
	for i := lo; i < hi; i++ {
		out = append(out, i)
	}
	return out
}

// fakeLoad decodes a PNG into 3×side×side CHW floats in [0, 1].
func fakeLoad(path string) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", filepath.Base(path), err)
	}
	x := make([]float32, 3*side*side)
	for y := 0; y < side; y++ {
		for xx := 0; xx < side; xx++ {
			r, g, b, _ := img.At(xx, y).RGBA()
			x[0*side*side+y*side+xx] = float32(r) / 65535
			x[1*side*side+y*side+xx] = float32(g) / 65535
			x[2*side*side+y*side+xx] = float32(b) / 65535
		}
	}
	return x, nil
}

// fakeExtractor gives per-channel means and maxima (dim 6), NaN for
// magenta images, and counts the images it saw.
type fakeExtractor struct {
	seen   atomic.Int64
	onCall func(n int64) // called with the running image count
}

func (e *fakeExtractor) Dim() int { return 6 }

func (e *fakeExtractor) Extract(x []float32, n int) ([]float32, error) {
	per := 3 * side * side
	if len(x) != n*per {
		return nil, fmt.Errorf("fake extractor: %d values for %d images", len(x), n)
	}
	out := make([]float32, 0, 6*n)
	for i := 0; i < n; i++ {
		img := x[i*per : (i+1)*per]
		var feat [6]float32
		for c := 0; c < 3; c++ {
			var sum, mx float32
			for _, v := range img[c*side*side : (c+1)*side*side] {
				sum += v
				mx = max(mx, v)
			}
			feat[c], feat[3+c] = sum/float32(side*side), mx
		}
		if feat[0] == 1 && feat[1] == 0 && feat[2] == 1 {
			feat[4] = float32(math.NaN())
		}
		out = append(out, feat[:]...)
	}
	total := e.seen.Add(int64(n))
	if e.onCall != nil {
		e.onCall(total)
	}
	return out, nil
}

var testMeta = Meta{Backbone: "test-means", Weights: "random:1", WeightsSHA256: "ab12", Preprocess: "torchvision", ImageSize: side}

func testConfig(out, imagesDir string, images []Image, ex Extractor) Config {
	return Config{Out: out, ImagesDir: imagesDir, Images: images, Load: fakeLoad, Extractor: ex,
		Meta: testMeta, ShardSize: 10, Batch: 4, Workers: 3}
}

func build(t *testing.T, cfg Config) *Summary {
	t.Helper()
	s, err := Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameFiles fails unless dirs a and b hold the same file names with the
// same bytes.
func sameFiles(t *testing.T, a, b string) {
	t.Helper()
	ea, _ := os.ReadDir(a)
	eb, _ := os.ReadDir(b)
	if len(ea) != len(eb) {
		t.Fatalf("%s has %d files, %s has %d", a, len(ea), b, len(eb))
	}
	for i := range ea {
		if ea[i].Name() != eb[i].Name() {
			t.Fatalf("file %d: %s vs %s", i, ea[i].Name(), eb[i].Name())
		}
		x, _ := os.ReadFile(filepath.Join(a, ea[i].Name()))
		y, _ := os.ReadFile(filepath.Join(b, eb[i].Name()))
		if string(x) != string(y) {
			t.Errorf("%s differs between the two runs", ea[i].Name())
		}
	}
}

func nanValue() float64 { return math.NaN() }
