package imageprep

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tagimp/internal/realdata"
)

// solid fills a w×h image of the kind made by mk with colour c.
func solid(img interface {
	image.Image
	Set(x, y int, c color.Color)
}, c color.Color) image.Image {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func encPNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encJPEG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func rgbOf(c color.Color) [3]uint8 {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]uint8{n.R, n.G, n.B}
}

func TestDecodeColourModels(t *testing.T) {
	dir := t.TempDir()
	rect := image.Rect(0, 0, 16, 16)
	cyan := color.CMYK{C: 200, M: 30, Y: 60, K: 40}
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{10, 200, 90, 255}}
	cases := []struct {
		name string
		data []byte
		want [3]uint8
		tol  int
	}{
		{"rgb.jpg", encJPEG(t, solid(image.NewRGBA(rect), color.RGBA{200, 40, 90, 255})), [3]uint8{200, 40, 90}, 3},
		{"grey.jpg", encJPEG(t, solid(image.NewGray(rect), color.Gray{Y: 77})), [3]uint8{77, 77, 77}, 1},
		{"cmyk.jpg", cmykJPEG(cyan), rgbOf(cyan), 1},
		{"ycck.jpg", ycckJPEG(cyan), rgbOf(cyan), 3},
		{"rgb.png", encPNG(t, solid(image.NewRGBA(rect), color.RGBA{1, 2, 250, 255})), [3]uint8{1, 2, 250}, 0},
		{"rgb16.png", encPNG(t, solid(image.NewRGBA64(rect), color.RGBA64{0x1234, 0xff00, 0x8080, 0xffff})), [3]uint8{0x12, 0xff, 0x80}, 0},
		{"grey16.png", encPNG(t, solid(image.NewGray16(rect), color.Gray16{Y: 0xabcd})), [3]uint8{0xab, 0xab, 0xab}, 0},
		{"paletted.png", encPNG(t, solid(image.NewPaletted(rect, pal), pal[1])), [3]uint8{10, 200, 90}, 0},
		// Alpha is dropped like PIL's convert("RGB"): the stored colour stays.
		{"alpha.png", encPNG(t, solid(image.NewNRGBA(rect), color.NRGBA{120, 60, 30, 128})), [3]uint8{120, 60, 30}, 0},
		{"alpha16.png", encPNG(t, solid(image.NewNRGBA64(rect), color.NRGBA64{0x4000, 0x8000, 0xc000, 0x1000})), [3]uint8{0x40, 0x80, 0xc0}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.name, tc.data)
			img, err := Decode(p, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := rgbOf(img.At(8, 8))
			for i := range got {
				if d := int(got[i]) - int(tc.want[i]); d > tc.tol || d < -tc.tol {
					t.Fatalf("pixel = %v, want %v (±%d)", got, tc.want, tc.tol)
				}
			}
			if _, _, _, a := img.At(3, 3).RGBA(); a != 0xffff {
				t.Fatalf("alpha = %#x, want opaque", a)
			}
			// The full path: a solid image stays solid after resizing, and
			// the torchvision normalisation of its colour comes out.
			cfg := Config{Mode: Torchvision, Size: 8}
			x, err := cfg.LoadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for ch := 0; ch < 3; ch++ {
				want := (float32(got[ch])/255 - TorchvisionMean[ch]) / TorchvisionStd[ch]
				for i := 0; i < 64; i++ {
					if v := x[ch*64+i]; math.Abs(float64(v-want)) > 1e-5 {
						t.Fatalf("channel %d value %d = %v, want %v", ch, i, v, want)
					}
				}
			}
		})
	}
}

func TestNormalizeModes(t *testing.T) {
	img := solid(image.NewRGBA(image.Rect(0, 0, 4, 4)), color.RGBA{10, 100, 200, 255})
	cases := []struct {
		mode string
		want [3]float32 // per output channel, in the mode's order
	}{
		{Torchvision, [3]float32{(10.0/255 - 0.485) / 0.229, (100.0/255 - 0.456) / 0.224, (200.0/255 - 0.406) / 0.225}},
		{Caffe, [3]float32{200 - 103.939, 100 - 116.779, 10 - 123.68}},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			cfg := Config{Mode: tc.mode, Size: 2}
			dst := make([]float32, cfg.Len())
			if err := cfg.Tensor(dst, img); err != nil {
				t.Fatal(err)
			}
			for ch := 0; ch < 3; ch++ {
				for i := 0; i < 4; i++ {
					if v := dst[ch*4+i]; math.Abs(float64(v-tc.want[ch])) > 1e-4 {
						t.Fatalf("channel %d = %v, want %v", ch, v, tc.want[ch])
					}
				}
			}
		})
	}
	if err := (Config{Mode: "keras", Size: 224}).Validate(); err == nil || !strings.Contains(err.Error(), "caffe") {
		t.Fatalf("bad mode: err = %v, want one naming the valid modes", err)
	}
	if err := (Config{Mode: Caffe, Size: 2}).Tensor(make([]float32, 5), img); err == nil {
		t.Fatal("short buffer accepted")
	}
}

// bands makes a 64×32 image: red x<16, green 16≤x<48, blue x≥48.
func bands() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 64, 32))
	for y := 0; y < 32; y++ {
		for x := 0; x < 64; x++ {
			c := color.RGBA{0, 255, 0, 255}
			if x < 16 {
				c = color.RGBA{255, 0, 0, 255}
			} else if x >= 48 {
				c = color.RGBA{0, 0, 255, 255}
			}
			img.Set(x, y, c)
		}
	}
	return img
}

func TestResizeAndCrop(t *testing.T) {
	cases := []struct {
		name        string
		crop        bool
		left, right [3]uint8
	}{
		// Whole image squeezed: the outer bands survive at the edges.
		{"resize", false, [3]uint8{255, 0, 0}, [3]uint8{0, 0, 255}},
		// Shorter side to 18, width 36, centre 16 kept: green only.
		{"center-crop", true, [3]uint8{0, 255, 0}, [3]uint8{0, 255, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := Config{Mode: Torchvision, Size: 16, CenterCrop: tc.crop}.Resize(bands())
			if b := out.Bounds(); b.Dx() != 16 || b.Dy() != 16 {
				t.Fatalf("size %v", b)
			}
			if got := rgbOf(out.At(0, 8)); got != tc.left {
				t.Errorf("left = %v, want %v", got, tc.left)
			}
			if got := rgbOf(out.At(15, 8)); got != tc.right {
				t.Errorf("right = %v, want %v", got, tc.right)
			}
		})
	}
	if s := (Config{Mode: Caffe, Size: 224, CenterCrop: true}).String(); s != "caffe resize-short 256 center-crop 224" {
		t.Errorf("String() = %q", s)
	}
}

// pngHeader is a PNG signature and IHDR chunk claiming w×h RGB pixels, with
// nothing after it.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	binary.Write(&b, binary.BigEndian, uint32(13))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// hugeJPEG is a valid small JPEG whose SOF0 header is patched to claim
// 30000×30000 pixels.
func hugeJPEG(t *testing.T) []byte {
	data := encJPEG(t, solid(image.NewRGBA(image.Rect(0, 0, 8, 8)), color.White))
	i := bytes.Index(data, []byte{0xff, 0xc0})
	if i < 0 {
		t.Fatal("no SOF0 in encoded JPEG")
	}
	binary.BigEndian.PutUint16(data[i+5:], 30000)
	binary.BigEndian.PutUint16(data[i+7:], 30000)
	return data
}

func TestDecodeBadInput(t *testing.T) {
	dir := t.TempDir()
	good := encJPEG(t, solid(image.NewRGBA(image.Rect(0, 0, 64, 64)), color.RGBA{9, 9, 9, 255}))
	goodPNG := encPNG(t, solid(image.NewRGBA(image.Rect(0, 0, 64, 64)), color.RGBA{9, 9, 9, 255}))
	cases := []struct {
		name string
		data []byte
		max  int
		want error
	}{
		{"empty.jpg", nil, 0, ErrEmpty},
		{"text.jpg", []byte("<html><body>404 Not Found</body></html>\n"), 0, ErrFormat},
		{"truncated.jpg", good[:len(good)/2], 0, ErrTruncated},
		{"header-only.jpg", good[:20], 0, ErrTruncated},
		{"truncated.png", goodPNG[:len(goodPNG)-30], 0, ErrTruncated},
		{"huge.png", pngHeader(30000, 30000), 0, ErrTooLarge},
		{"huge.jpg", hugeJPEG(t), 0, ErrTooLarge},
		{"over-limit.jpg", good, 64*64 - 1, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, dir, tc.name, tc.data)
			_, err := Config{Mode: Torchvision, Size: 8, MaxPixels: tc.max}.LoadFile(p)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
	if _, err := Decode(filepath.Join(dir, "missing.jpg"), 0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: err = %v", err)
	}
}

func TestStreamAndBatch(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	bad := map[int]bool{}
	for i := 0; i < 9; i++ {
		data := encPNG(t, solid(image.NewRGBA(image.Rect(0, 0, 12, 10)), color.RGBA{uint8(20 * i), 7, 200, 255}))
		if i%4 == 1 {
			data = data[:len(data)/3]
			bad[i] = true
		}
		paths = append(paths, writeFile(t, dir, filepath.Base(t.Name())+string(rune('a'+i))+".png", data))
	}
	cfg := Config{Mode: Caffe, Size: 6}
	calls := 0
	data, errs, err := cfg.LoadBatch(context.Background(), paths, 3, func(done, total int) {
		calls++
		if done != calls || total != len(paths) {
			t.Errorf("progress(%d, %d) on call %d", done, total, calls)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != len(paths) {
		t.Errorf("progress called %d times, want %d", calls, len(paths))
	}
	for i, p := range paths {
		if bad[i] != (errs[i] != nil) {
			t.Fatalf("image %d: err = %v, bad = %v", i, errs[i], bad[i])
		}
		if bad[i] {
			continue
		}
		want, err := cfg.LoadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got := data[i*cfg.Len() : (i+1)*cfg.Len()]
		for j := range want {
			if got[j] != want[j] {
				t.Fatalf("image %d value %d = %v, want %v", i, j, got[j], want[j])
			}
		}
	}
	// Stream keeps the input order.
	i := 0
	for r := range cfg.Stream(context.Background(), paths, 2) {
		if r.Index != i || r.Path != paths[i] {
			t.Fatalf("result %d has index %d path %s", i, r.Index, r.Path)
		}
		i++
	}
	if i != len(paths) {
		t.Fatalf("stream gave %d results, want %d", i, len(paths))
	}
	// A cancelled context stops the batch with an error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := cfg.LoadBatch(ctx, paths, 2, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

func TestRealImages(t *testing.T) {
	paths := realdata.Images(t)
	for _, cfg := range []Config{Default, {Mode: Caffe, Size: 224, CenterCrop: true}} {
		data, errs, err := cfg.LoadBatch(context.Background(), paths, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range errs {
			if e != nil {
				t.Fatalf("%s: %v", paths[i], e)
			}
		}
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: non-finite value", cfg)
			}
			lo, hi = min(lo, v), max(hi, v)
		}
		// torchvision values lie in [-2.12, 2.64]; caffe's in [-123.68, 151.1].
		wantLo, wantHi := float32(-2.2), float32(2.7)
		if cfg.Mode == Caffe {
			wantLo, wantHi = -124, 152
		}
		if lo < wantLo || hi > wantHi || hi-lo < (wantHi-wantLo)/2 {
			t.Fatalf("%s: values in [%v, %v], want a spread inside [%v, %v]", cfg, lo, hi, wantLo, wantHi)
		}
	}
}

// BenchmarkDecodeJPEG measures JPEG decoding (to an opaque image) of the real
// COCO images on one goroutine: images/s per core.
func BenchmarkDecodeJPEG(b *testing.B) {
	bufs := readRealImages(b)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeBytes(bufs[i%len(bufs)], 0); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpuTime()-cpu0)
}

// BenchmarkLoadFile measures the whole per-image path on one goroutine:
// read, decode, resize to 224×224, normalise.
func BenchmarkLoadFile(b *testing.B) {
	paths := realdata.Images(b)
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := Default.LoadFile(paths[i%len(paths)]); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpuTime()-cpu0)
}

// readRealImages reads the real COCO images' files into memory, for the
// benchmarks that decode from memory.
func readRealImages(b *testing.B) [][]byte {
	paths := realdata.Images(b)
	bufs := make([][]byte, len(paths))
	for i, p := range paths {
		var err error
		if bufs[i], err = os.ReadFile(p); err != nil {
			b.Fatal(err)
		}
	}
	return bufs
}

// reportRates reports images per wall-clock second and, where measured, per
// CPU-second (one image per loop iteration).
func reportRates(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "images/cpu-s")
	}
}

// BenchmarkTensorBytes measures the default path (DCT-scaled decode + fused
// resize + normalisation) of the real COCO images on one goroutine, from
// memory, and BenchmarkDecodeOnly its decoding half.
func BenchmarkTensorBytes(b *testing.B) { benchBytes(b, false) }

func BenchmarkDecodeOnly(b *testing.B) { benchBytes(b, true) }

// BenchmarkReferenceBytes is the path before libjpeg-turbo and the fused
// resize (image/jpeg, x/image/draw, normalisation) on the same images, for
// comparison in the same run.
func BenchmarkReferenceBytes(b *testing.B) {
	bufs := readRealImages(b)
	dst := make([]float32, Default.Len())
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := Default.ReferenceTensorBytes(dst, bufs[i%len(bufs)]); err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpuTime()-cpu0)
}

func benchBytes(b *testing.B, decodeOnly bool) {
	bufs := readRealImages(b)
	dst := make([]float32, Default.Len())
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		var err error
		if decodeOnly {
			err = Default.DecodeOnly(bufs[i%len(bufs)])
		} else {
			err = Default.TensorBytes(dst, bufs[i%len(bufs)])
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRates(b, cpuTime()-cpu0)
}

// BenchmarkRawBytes measures what `features --device gpu` does on the CPU
// per image (RawBytes: DCT-scaled decode, packed for the device, no
// resize) on the real COCO images from memory, one goroutine; compare
// BenchmarkTensorBytes (the CPU path) and BenchmarkDecodeOnly in the same
// run.
func BenchmarkRawBytes(b *testing.B) {
	bufs := readRealImages(b)
	b.ResetTimer()
	cpu0 := cpuTime()
	var bytes int64
	for i := 0; i < b.N; i++ {
		r, err := Default.RawBytes(bufs[i%len(bufs)])
		if err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(r.Pix))
		r.Release() // as features.Build does once the batch is staged
	}
	reportRates(b, cpuTime()-cpu0)
	b.ReportMetric(float64(bytes)/float64(b.N)/1e3, "kB/image")
}
