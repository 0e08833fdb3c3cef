package imageprep

import (
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"tagimp/data/npy"
	"tagimp/internal/realdata"
)

// pilScript resizes each image with PIL the way torchvision's transforms do
// (convert("RGB"); Resize((S,S)) or Resize(256)+CenterCrop(224), bilinear
// with antialiasing) and saves the uint8 results as one [N,S,S,3] .npy.
const pilScript = `
import sys, numpy as np
from PIL import Image
out, crop, paths = sys.argv[1], sys.argv[2] == '1', sys.argv[3:]
res = []
for p in paths:
    im = Image.open(p).convert('RGB')
    if crop:
        w, h = im.size
        if w < h:
            im = im.resize((256, int(256 * h / w)), Image.BILINEAR)
        else:
            im = im.resize((int(256 * w / h), 256), Image.BILINEAR)
        w, h = im.size
        top, left = int(round((h - 224) / 2.0)), int(round((w - 224) / 2.0))
        im = im.crop((left, top, left + 224, top + 224))
    else:
        im = im.resize((224, 224), Image.BILINEAR)
    res.append(np.asarray(im, dtype=np.uint8))
np.save(out, np.stack(res))
`

// TestMatchesPIL compares the resize (and crop) with PIL's, which is what
// torchvision's pretrained weights saw. On PNG copies of the COCO images
// (same pixels for both decoders) the results must agree to within a level;
// on the JPEGs the decoders (Go's and libjpeg's) may differ a little more.
// Measured: mean |diff| ≈ 0.24 levels (PNG) and 0.28 (JPEG), 99% ≤ 1.
func TestMatchesPIL(t *testing.T) {
	const python = "/usr/bin/python3"
	if exec.Command(python, "-c", "import PIL, numpy").Run() != nil {
		t.Skip("no /usr/bin/python3 with PIL and numpy")
	}
	jpegs := realdata.Images(t)
	if len(jpegs) > 6 {
		jpegs = jpegs[:6]
	}
	dir := t.TempDir()
	var pngs []string
	for _, p := range jpegs {
		img, err := Decode(p, 0)
		if err != nil {
			t.Fatal(err)
		}
		rgba := image.NewRGBA(img.Bounds())
		for y := 0; y < rgba.Rect.Dy(); y++ {
			for x := 0; x < rgba.Rect.Dx(); x++ {
				rgba.Set(x, y, img.At(x, y))
			}
		}
		q := filepath.Join(dir, filepath.Base(p)+".png")
		f, err := os.Create(q)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, rgba); err != nil {
			t.Fatal(err)
		}
		f.Close()
		pngs = append(pngs, q)
	}
	cases := []struct {
		name          string
		paths         []string
		crop          bool
		maxMean, maxP float64 // mean |diff| and 99th-percentile |diff| in levels
	}{
		{"png-resize", pngs, false, 0.4, 1},
		{"png-crop", pngs, true, 0.4, 1},
		{"jpeg-resize", jpegs, false, 0.6, 2},
		{"jpeg-crop", jpegs, true, 0.6, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".npy")
			crop := "0"
			if tc.crop {
				crop = "1"
			}
			args := append([]string{"-c", pilScript, out, crop}, tc.paths...)
			if b, err := exec.Command(python, args...).CombinedOutput(); err != nil {
				t.Fatalf("PIL: %v\n%s", err, b)
			}
			ref, err := npy.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Mode: Torchvision, Size: 224, CenterCrop: tc.crop}
			var hist [256]int
			var sum float64
			n := 0
			for i, p := range tc.paths {
				img, err := Decode(p, 0)
				if err != nil {
					t.Fatal(err)
				}
				got := cfg.Resize(img)
				want := ref.U8[i*224*224*3 : (i+1)*224*224*3]
				for y := 0; y < 224; y++ {
					for x := 0; x < 224; x++ {
						for c := 0; c < 3; c++ {
							d := int(got.Pix[y*got.Stride+4*x+c]) - int(want[(y*224+x)*3+c])
							if d < 0 {
								d = -d
							}
							hist[d]++
							sum += float64(d)
							n++
						}
					}
				}
			}
			mean := sum / float64(n)
			p99, acc := 0, 0
			for d, c := range hist {
				acc += c
				if float64(acc) >= 0.99*float64(n) {
					p99 = d
					break
				}
			}
			t.Logf("%s: mean |diff| %.3f levels, 99th percentile %d, over %d values", tc.name, mean, p99, n)
			if mean > tc.maxMean || float64(p99) > tc.maxP || math.IsNaN(mean) {
				t.Fatalf("differs from PIL: mean %.3f (max %.1f), p99 %d (max %.0f)", mean, tc.maxMean, p99, tc.maxP)
			}
		})
	}
}

// TestCMYKMatchesPIL decodes a CMYK JPEG written by PIL (libjpeg, Adobe
// inverted CMYK, as Photoshop writes them) and compares it with PIL's own
// convert("RGB").
func TestCMYKMatchesPIL(t *testing.T) {
	const python = "/usr/bin/python3"
	if exec.Command(python, "-c", "import PIL, numpy").Run() != nil {
		t.Skip("no /usr/bin/python3 with PIL and numpy")
	}
	dir := t.TempDir()
	jpg, ref := filepath.Join(dir, "cmyk.jpg"), filepath.Join(dir, "rgb.npy")
	script := `
import sys, numpy as np
from PIL import Image
y, x = np.mgrid[0:48, 0:64]
a = np.stack([x * 4, y * 5, (x + y) * 2, (x * y) % 200], axis=-1).astype(np.uint8)
Image.fromarray(a, 'CMYK').save(sys.argv[1], quality=100)
np.save(sys.argv[2], np.asarray(Image.open(sys.argv[1]).convert('RGB'), dtype=np.uint8))
`
	if b, err := exec.Command(python, "-c", script, jpg, ref).CombinedOutput(); err != nil {
		t.Fatalf("PIL: %v\n%s", err, b)
	}
	want, err := npy.ReadFile(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(jpg, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.RGBA); !ok {
		t.Fatalf("decoded %T, want the converted *image.RGBA", img)
	}
	var sum float64
	worst := 0
	for y := 0; y < 48; y++ {
		for x := 0; x < 64; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			for c, v := range []uint32{r >> 8, g >> 8, b >> 8} {
				d := int(v) - int(want.U8[(y*64+x)*3+c])
				d = max(d, -d)
				worst = max(worst, d)
				sum += float64(d)
			}
		}
	}
	mean := sum / (48 * 64 * 3)
	t.Logf("CMYK: mean |diff| %.3f levels, max %d", mean, worst)
	if mean > 1 || worst > 8 {
		t.Fatalf("CMYK decode differs from PIL: mean %.3f, max %d", mean, worst)
	}
}
