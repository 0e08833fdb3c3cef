package imageprep

import (
	"errors"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFusedMatchesReference checks the bound for the fused resize +
// normalisation against the reference path (x/image/draw's BiLinear into an
// *image.RGBA, then normalisation) on the same decoded image: at most one
// level of 255 for 99.9 % of the values and a mean |Δ| ≤ 0.3, for both
// modes, with and without the centre crop, on the golden COCO images (every
// run) and the shared real ones (where present). Measured: 0 for all but
// float rounding ties, max 1.
func TestFusedMatchesReference(t *testing.T) {
	paths := goldenAndSharedImages()
	for _, cfg := range []Config{
		{Mode: Caffe, Size: 224}, {Mode: Caffe, Size: 224, CenterCrop: true},
		{Mode: Torchvision, Size: 224}, {Mode: Caffe, Size: 37, CenterCrop: true},
	} {
		t.Run(cfg.String(), func(t *testing.T) {
			var got, want []uint8
			for _, p := range paths {
				img, err := Decode(p, 0)
				if err != nil {
					t.Fatal(err)
				}
				a, b := make([]float32, cfg.Len()), make([]float32, cfg.Len())
				b0 := img.Bounds()
				cfg.fusedTensor(a, rgbFrom(img), b0.Dx(), b0.Dy())
				if err := cfg.Tensor(b, img); err != nil {
					t.Fatal(err)
				}
				got = append(got, tensorLevels(cfg, a)...)
				want = append(want, tensorLevels(cfg, b)...)
			}
			s := compareLevels(got, want)
			t.Logf("fused vs reference over %d images: mean |Δ| %.4f levels, 99.9%% ≤ %d, max %d", len(paths), s.mean, s.p999, s.max)
			if s.mean > 0.3 || s.p999 > 1 {
				t.Fatalf("fused resize differs from the reference: mean %.4f (bound 0.3), 99.9%% ≤ %d (bound 1)", s.mean, s.p999)
			}
		})
	}
}

// tensorLevels turns a CHW tensor of either mode back into 8-bit levels.
func tensorLevels(cfg Config, x []float32) []uint8 {
	if cfg.Mode == Caffe {
		return levelsOf(x, cfg.Size)
	}
	plane := cfg.Size * cfg.Size
	out := make([]uint8, len(x))
	for ch := 0; ch < 3; ch++ {
		for i := 0; i < plane; i++ {
			v := (x[ch*plane+i]*TorchvisionStd[ch] + TorchvisionMean[ch]) * 255
			out[3*i+ch] = uint8(min(max(v+0.5, 0), 255))
		}
	}
	return out
}

// sharedImages returns the shared real COCO images (../shared/data next to
// the repository root), or nil when absent: the golden images suffice then.
func sharedImages() []string {
	paths, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "coco", "val2017", "*.jpg"))
	return paths
}

// goldenAndSharedImages lists the golden COCO images (every run), then the
// shared real ones (where present).
func goldenAndSharedImages() []string {
	var paths []string
	for _, n := range goldenImages {
		paths = append(paths, filepath.Join(goldenDir, n))
	}
	return append(paths, sharedImages()...)
}

// TestFusedSmallAndOdd covers sources smaller than the output (upscaling),
// one-pixel images and extreme aspect ratios against the reference.
func TestFusedSmallAndOdd(t *testing.T) {
	for _, sz := range [][2]int{{1, 1}, {3, 2}, {7, 300}, {300, 7}, {224, 224}, {225, 223}} {
		img := image.NewRGBA(image.Rect(0, 0, sz[0], sz[1]))
		for y := 0; y < sz[1]; y++ {
			for x := 0; x < sz[0]; x++ {
				img.Set(x, y, color.RGBA{uint8(x * 37), uint8(y * 11), uint8((x ^ y) * 5), 255})
			}
		}
		for _, crop := range []bool{false, true} {
			cfg := Config{Mode: Caffe, Size: 16, CenterCrop: crop}
			a, b := make([]float32, cfg.Len()), make([]float32, cfg.Len())
			cfg.fusedTensor(a, rgbFrom(img), sz[0], sz[1])
			if err := cfg.Tensor(b, img); err != nil {
				t.Fatal(err)
			}
			if s := compareLevels(levelsOf(a, 16), levelsOf(b, 16)); s.max > 1 {
				t.Errorf("%v crop=%v: fused vs reference max |Δ| %d levels", sz, crop, s.max)
			}
		}
	}
}

// TestDCTScaledLoad checks what DCT-scaled decoding does on real photos:
// LoadFile (scaled) stays close to FullDecode (measured mean |Δ| 0.3–1.1
// levels on the golden images), and both still reject bad files the same way.
func TestDCTScaledLoad(t *testing.T) {
	for _, n := range goldenImages {
		p := filepath.Join(goldenDir, n)
		for _, crop := range []bool{false, true} {
			cfg := Config{Mode: Caffe, Size: 224, CenterCrop: crop}
			scaled := fusedLevels(t, cfg, p)
			cfg.FullDecode = true
			full := fusedLevels(t, cfg, p)
			s := compareLevels(scaled, full)
			t.Logf("%s crop=%v: DCT-scaled vs full decode: mean |Δ| %.3f levels, 99%% ≤ %d", n, crop, s.mean, s.p99)
			if s.mean > 1.5 || s.p99 > 12 {
				t.Errorf("%s crop=%v: DCT-scaled decode too far from full decode: mean %.3f, 99%% ≤ %d", n, crop, s.mean, s.p99)
			}
			if libjpeg && s.mean == 0 {
				t.Errorf("%s crop=%v: DCT-scaled decode identical to full decode: no scaling happened", n, crop)
			}
		}
	}
}

// corruptHuffman returns a valid JPEG whose first Huffman table claims more
// codes than a table can hold.
func corruptHuffman(t *testing.T) []byte {
	data := encJPEG(t, solid(image.NewRGBA(image.Rect(0, 0, 32, 32)), color.RGBA{50, 90, 200, 255}))
	i := strings.Index(string(data), "\xff\xc4")
	if i < 0 {
		t.Fatal("no DHT in encoded JPEG")
	}
	out := append([]byte(nil), data...)
	for k := 0; k < 16; k++ {
		out[i+5+k] = 0xff // 16 code lengths of 255 codes each
	}
	return out
}

// TestDecodeCorrupt: damaged JPEGs give an error naming the file (libjpeg's
// error_exit jumps back instead of exiting the process), and the decoder
// keeps working afterwards.
func TestDecodeCorrupt(t *testing.T) {
	dir := t.TempDir()
	good := encJPEG(t, solid(image.NewRGBA(image.Rect(0, 0, 64, 48)), color.RGBA{9, 99, 199, 255}))
	noSOF := append([]byte{0xff, 0xd8, 0xff, 0xda, 0, 2}, good[2:]...)
	cases := []struct {
		name string
		data []byte
	}{
		{"bad-huffman.jpg", corruptHuffman(t)},
		{"sos-first.jpg", noSOF},
		{"soi-only.jpg", []byte{0xff, 0xd8}},
		{"garbage-after-soi.jpg", append([]byte{0xff, 0xd8}, []byte(strings.Repeat("garbage ", 40))...)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.name, tc.data)
			for _, full := range []bool{false, true} {
				_, err := Config{Mode: Torchvision, Size: 8, FullDecode: full}.LoadFile(p)
				if err == nil {
					t.Fatal("corrupt JPEG accepted")
				}
				if !strings.Contains(err.Error(), p) {
					t.Fatalf("error %q does not name the file", err)
				}
				if libjpeg && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
					t.Fatalf("err = %v, want ErrCorrupt or ErrTruncated", err)
				}
			}
			if _, err := Decode(p, 0); err == nil {
				t.Fatal("Decode accepted a corrupt JPEG")
			}
		})
	}
	// The decoder still works after all those errors.
	p := writeFile(t, dir, "good.jpg", good)
	if _, err := Default.LoadFile(p); err != nil {
		t.Fatal(err)
	}
}

// TestDecodeProgressiveLoad loads the progressive golden JPEG through the
// whole path, scaled and full.
func TestDecodeProgressiveLoad(t *testing.T) {
	p := filepath.Join(goldenDir, "progressive.jpg")
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		cfg := Config{Mode: Caffe, Size: 48, CenterCrop: true, FullDecode: full}
		x, err := cfg.LoadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := x[0], x[0]
		for _, v := range x {
			lo, hi = min(lo, v), max(hi, v)
		}
		if hi-lo < 50 {
			t.Fatalf("full=%v: values span only [%v, %v]", full, lo, hi)
		}
	}
}

func TestDecoderName(t *testing.T) {
	scaled, full := Default.Decoder(), Config{Mode: Torchvision, Size: 224, FullDecode: true}.Decoder()
	if libjpeg {
		if scaled != "libjpeg-turbo dct-scaled" || full != "libjpeg-turbo full" {
			t.Fatalf("Decoder() = %q / %q", scaled, full)
		}
	} else if scaled != "image/jpeg" || full != "image/jpeg" {
		t.Fatalf("Decoder() = %q / %q", scaled, full)
	}
}
