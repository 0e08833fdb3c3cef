package imageprep

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"tagimp/internal/fuzzcheck"
)

// FuzzDecodeBytes: no image file (JPEG, PNG, or anything else under an
// image name) panics, hangs or allocates beyond the bound; headers that
// claim more than the pixel limit are refused before decoding. Seeds: two
// of the real COCO JPEGs (the smallest), a greyscale JPEG and small PNGs.
func FuzzDecodeBytes(f *testing.F) {
	m := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 7)
	}
	var b bytes.Buffer
	png.Encode(&b, m)
	f.Add(b.Bytes())
	b.Reset()
	g := image.NewGray(image.Rect(0, 0, 9, 9))
	g.Set(3, 3, color.Gray{200})
	jpeg.Encode(&b, g, nil)
	f.Add(b.Bytes())
	b.Reset()
	jpeg.Encode(&b, m, &jpeg.Options{Quality: 50})
	f.Add(b.Bytes())
	f.Add([]byte("<html>not an image</html>"))
	if dir, ok := fuzzcheck.SharedData("coco/val2017"); ok {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		sort.Slice(paths, func(i, j int) bool { return size(paths[i]) < size(paths[j]) })
		for _, p := range paths[:min(2, len(paths))] {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// 640×640 pixels at most: a small input may claim a large image,
		// and the limit is what keeps its decoding bounded.
		fuzzcheck.Check(t, len(b), func() {
			img, err := DecodeBytes(b, 640*640)
			if err == nil && img.Bounds().Dx()*img.Bounds().Dy() > 640*640 {
				t.Errorf("decoded %v past the pixel limit", img.Bounds())
			}
		})
	})
}

func size(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 1 << 62
	}
	return st.Size()
}
