package imageprep

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"testing"

	"tagimp/internal/realdata"
)

// testImages returns images of every kind Decode returns (RGBA with any
// alpha, Gray, YCbCr with each subsampling), at sizes that shrink, enlarge,
// and are odd, thin or a single pixel.
func testImages(r *rand.Rand) []image.Image {
	sizes := [][2]int{{1, 1}, {7, 5}, {31, 17}, {64, 64}, {3, 90}, {257, 121}, {500, 333}}
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411,
		image.YCbCrSubsampleRatio410}
	fill := func(b []byte) {
		for i := range b {
			b[i] = uint8(r.IntN(256))
		}
	}
	var out []image.Image
	for i, sz := range sizes {
		rect := image.Rect(0, 0, sz[0], sz[1])
		rgba := image.NewRGBA(rect)
		fill(rgba.Pix)
		if i%2 == 0 { // opaque, as Decode's RGBA images are
			for j := 3; j < len(rgba.Pix); j += 4 {
				rgba.Pix[j] = 255
			}
		}
		gray := image.NewGray(rect)
		fill(gray.Pix)
		out = append(out, rgba, gray)
		for _, ratio := range ratios {
			y := image.NewYCbCr(rect, ratio)
			fill(y.Y)
			fill(y.Cb)
			fill(y.Cr)
			out = append(out, y)
		}
	}
	return out
}

func prepConfigs() []Config {
	var cs []Config
	for _, mode := range []string{Torchvision, Caffe} {
		for _, crop := range []bool{false, true} {
			for _, size := range []int{24, 224} {
				cs = append(cs, Config{Mode: mode, Size: size, CenterCrop: crop})
			}
		}
	}
	return cs
}

// sameBits reports the first index where a and b differ in bits.
func sameBits(a, b []float32) (int, bool) {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i, false
		}
	}
	return -1, true
}

// TestFromRawMatchesTensor: the device kernel's Go twin, on the packed
// planes, gives the CPU path's tensor bit for bit (the bound is zero: both
// compute the same float64 operations in the same order, and round to 8
// bits and normalise in float32 the same way).
func TestFromRawMatchesTensor(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	imgs := testImages(r)
	for _, c := range prepConfigs() {
		if c.Size == 224 && testing.Short() {
			continue
		}
		want := make([]float32, c.Len())
		got := make([]float32, c.Len())
		for _, img := range imgs {
			name := fmt.Sprintf("%s %T %v", c, img, img.Bounds().Size())
			if y, ok := img.(*image.YCbCr); ok {
				name += " " + y.SubsampleRatio.String()
			}
			if err := c.Tensor(want, img); err != nil {
				t.Fatal(err)
			}
			raw, err := c.Raw(img)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := c.FromRaw(got, raw); err != nil {
				t.Fatal(err)
			}
			if i, ok := sameBits(want, got); !ok {
				t.Errorf("%s: value %d = %v, CPU path %v", name, i, got[i], want[i])
			}
		}
	}
}

// TestFromRawRealImages: the same on the real COCO images, both crop
// settings, as Decode returns them.
func TestFromRawRealImages(t *testing.T) {
	paths := realdata.Images(t)
	for _, crop := range []bool{false, true} {
		c := Config{Mode: Torchvision, Size: 224, CenterCrop: crop}
		want := make([]float32, c.Len())
		got := make([]float32, c.Len())
		for _, p := range paths {
			img, err := Decode(p, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Tensor(want, img); err != nil {
				t.Fatal(err)
			}
			raw, err := c.Raw(img)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.FromRaw(got, raw); err != nil {
				t.Fatal(err)
			}
			if i, ok := sameBits(want, got); !ok {
				t.Errorf("%s (%s, %T): value %d = %v, CPU path %v", p, c, img, i, got[i], want[i])
			}
		}
	}
}

func TestRawRejects(t *testing.T) {
	c := Default
	if _, err := c.Raw(image.NewNRGBA(image.Rect(0, 0, 2, 2))); err == nil {
		t.Error("NRGBA accepted; Decode never returns one and the scaler's math differs for it")
	}
	if _, err := c.Raw(image.NewGray(image.Rect(1, 1, 3, 3))); err == nil {
		t.Error("image with a non-zero origin accepted")
	}
	d := RawDesc{Off: 1, CbOff: 2, CrOff: 3, Kind: RawYCbCr}.Shifted(10)
	if d.Off != 11 || d.CbOff != 12 || d.CrOff != 13 {
		t.Errorf("Shifted = %+v", d)
	}
}

// TestRawRGBMatchesRGBA: RawBytes packs a full-size decode as RawRGB (3
// bytes a pixel); the scaler reads it as the RGBA path with alpha 255, so
// FromRaw gives Tensor's bits for the same pixels as an RGBA image (what
// Decode returns with libjpeg-turbo; image/jpeg's YCbCr converted as the
// CPU path converts it otherwise).
func TestRawRGBMatchesRGBA(t *testing.T) {
	paths := realdata.Images(t)
	for _, crop := range []bool{false, true} {
		c := Config{Mode: Torchvision, Size: 224, CenterCrop: crop, FullDecode: true}
		want := make([]float32, c.Len())
		got := make([]float32, c.Len())
		for _, p := range paths[:5] {
			img, err := Decode(p, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Tensor(want, rgbFrom(img).rgba()); err != nil {
				t.Fatal(err)
			}
			raw, err := c.LoadRaw(p)
			if err != nil {
				t.Fatal(err)
			}
			if JPEGDecoder == "libjpeg-turbo" && (raw.Desc.Kind != RawRGB || len(raw.Pix) != 3*int(raw.Desc.W*raw.Desc.H)) {
				t.Fatalf("%s: kind %d, %d bytes for %d×%d, want RawRGB", p, raw.Desc.Kind, len(raw.Pix), raw.Desc.W, raw.Desc.H)
			}
			if err := c.FromRaw(got, raw); err != nil {
				t.Fatal(err)
			}
			if i, ok := sameBits(want, got); !ok {
				t.Errorf("%s (%s): value %d = %v, RGBA path %v", p, c, i, got[i], want[i])
			}
		}
	}
}
