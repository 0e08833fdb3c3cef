package imageprep

import (
	"fmt"
	"image"

	xdraw "golang.org/x/image/draw"
)

// Preprocessing modes: where the network's weights came from.
const (
	// Torchvision: RGB, v/255, minus the ImageNet mean, divided by its std.
	Torchvision = "torchvision"
	// Caffe: BGR, 0–255, minus the per-channel mean (Caffe and Keras VGG16).
	Caffe = "caffe"
)

// The normalisation constants of each mode, in the mode's channel order
// (RGB for torchvision, BGR for caffe).
var (
	TorchvisionMean = [3]float32{0.485, 0.456, 0.406}
	TorchvisionStd  = [3]float32{0.229, 0.224, 0.225}
	CaffeMeanBGR    = [3]float32{103.939, 116.779, 123.68}
)

// Config says how an image becomes a network input.
type Config struct {
	// Mode is Torchvision or Caffe; it must match the origin of the weights.
	Mode string
	// Size is the output height and width (224 for VGG16, as in the paper).
	Size int
	// CenterCrop resizes the shorter side to Size·256/224 (256 for 224),
	// keeping the aspect ratio, and crops the centre Size×Size, like
	// torchvision's Resize(256)+CenterCrop(224). When false the whole image
	// is resized to Size×Size (the paper's way; the aspect ratio changes).
	CenterCrop bool
	// MaxPixels is the largest width×height accepted; 0 means
	// DefaultMaxPixels.
	MaxPixels int
	// FullDecode decodes JPEGs at full size before resizing. When false
	// (the default) and the decoder is libjpeg-turbo, a JPEG is decoded at
	// the smallest DCT scale k/8 whose output is still at least the resize
	// target (Size×Size, or the resized image before the centre crop) and
	// the resize does the rest: 2–4× less decoding for COCO-sized images, at
	// the price of a slightly different image (see DCTScalingNote).
	FullDecode bool
}

// DCTScalingNote says what decoding at a DCT scale changes, for --help
// texts; model/vgg16's TestDCTScalingFC7 re-measures it (run it with -v for
// the shared real images too).
const DCTScalingNote = `JPEGs are decoded by ` + JPEGDecoder + `. With libjpeg-turbo a JPEG is
decoded at the smallest DCT scale k/8 whose output still covers the resize
target (for 640x480 COCO images: 320x240 for 224x224, 400x300 with
--center-crop), then resized: decode + preprocessing is about 2.5x faster than
at full size. The pixels differ from a full decode (mean 0.3-1.1 levels of
255 on COCO images), and so does fc7: measured on 18 real COCO images through
VGG16 (seeded random weights), the relative L2 error of fc7 against full
decoding is 2.6 % on average, 5.0 % at most (3.2 % and 6.0 % with
--center-crop); for scale, swapping decoders (image/jpeg vs libjpeg-turbo,
both full size) changes fc7 by 0.6 %. Pass --full-decode to decode at full
size, as PIL and torchvision do.`

// DCTNoteMean and DCTNoteMax are the mean and largest relative L2 error of
// fc7 that DCTScalingNote states (the larger of the two modes).
const DCTNoteMean, DCTNoteMax = 0.032, 0.060

// Default is the paper's preprocessing for torchvision weights: 224×224,
// whole image resized, torchvision normalisation.
var Default = Config{Mode: Torchvision, Size: 224}

// Validate reports an error when the mode or size is not usable.
func (c Config) Validate() error {
	if c.Mode != Torchvision && c.Mode != Caffe {
		return fmt.Errorf("preprocessing mode %q: want %q (torchvision weights) or %q (Caffe/Keras weights)", c.Mode, Torchvision, Caffe)
	}
	if c.Size <= 0 {
		return fmt.Errorf("image size %d: want a positive size such as 224", c.Size)
	}
	return nil
}

// String describes the preprocessing in one line, for manifests and run
// metadata, e.g. "torchvision resize 224x224" or
// "caffe resize-short 256 center-crop 224".
func (c Config) String() string {
	if c.CenterCrop {
		return fmt.Sprintf("%s resize-short %d center-crop %d", c.Mode, c.cropResize(), c.Size)
	}
	return fmt.Sprintf("%s resize %dx%d", c.Mode, c.Size, c.Size)
}

// Decoder names how this config decodes JPEGs, for manifests:
// "libjpeg-turbo dct-scaled", "libjpeg-turbo full" or "image/jpeg".
func (c Config) Decoder() string {
	switch {
	case !libjpeg:
		return JPEGDecoder
	case c.FullDecode:
		return JPEGDecoder + " full"
	}
	return JPEGDecoder + " dct-scaled"
}

// Len is the number of float32 values one preprocessed image has: 3·Size·Size.
func (c Config) Len() int { return 3 * c.Size * c.Size }

func (c Config) cropResize() int { return c.Size * 256 / 224 }

// LoadFile decodes the image at path and returns it preprocessed: 3·Size·Size
// float32 values in CHW order. Errors name the file (see Decode).
func (c Config) LoadFile(path string) ([]float32, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	out := make([]float32, c.Len())
	if err := c.load(out, path); err != nil {
		return nil, err
	}
	return out, nil
}

// LoadFileInto is LoadFile writing into dst (c.Len() values).
func (c Config) LoadFileInto(dst []float32, path string) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if len(dst) != c.Len() {
		return fmt.Errorf("tensor buffer holds %d values, want 3×%d×%d = %d", len(dst), c.Size, c.Size, c.Len())
	}
	return c.load(dst, path)
}

// load reads, decodes (at a DCT scale unless FullDecode) and preprocesses
// the file at path into dst in one fused resize + normalisation pass.
func (c Config) load(dst []float32, path string) error {
	buf, err := readImageFile(path)
	if err != nil {
		return err
	}
	if err := c.TensorBytes(dst, buf); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// TensorBytes decodes the JPEG or PNG image in buf and writes its
// preprocessed CHW tensor into dst (c.Len() values); it is LoadFile for an
// image in memory, and its errors do not name a file.
func (c Config) TensorBytes(dst []float32, buf []byte) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if len(dst) != c.Len() {
		return fmt.Errorf("tensor buffer holds %d values, want 3×%d×%d = %d", len(dst), c.Size, c.Size, c.Len())
	}
	img, w, h, err := c.decode(buf)
	if err != nil {
		return err
	}
	c.fusedTensor(dst, img, w, h)
	img.release()
	return nil
}

// Tensor resizes img as the config says and writes the normalised CHW values
// into dst, which must hold c.Len() values. Alpha is ignored: pass an opaque
// image (Decode returns one). It is the reference path: Resize
// (golang.org/x/image/draw into an *image.RGBA), then normalisation, which
// the device preprocessing and the fused path of LoadFile and TensorBytes
// (at most one level of 255 apart, tested) are checked against.
func (c Config) Tensor(dst []float32, img image.Image) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if len(dst) != c.Len() {
		return fmt.Errorf("tensor buffer holds %d values, want 3×%d×%d = %d", len(dst), c.Size, c.Size, c.Len())
	}
	c.normalize(dst, c.Resize(img))
	return nil
}

// Resize returns img resized (and centre-cropped when CenterCrop is set) to a
// Size×Size RGBA image with an antialiased bilinear filter.
func (c Config) Resize(img image.Image) *image.RGBA {
	s := c.Size
	dst := image.NewRGBA(image.Rect(0, 0, s, s))
	sr := img.Bounds()
	dr := dst.Bounds()
	if c.CenterCrop {
		rw, rh, ox, oy := c.geometry(sr.Dx(), sr.Dy())
		dr = image.Rect(-ox, -oy, rw-ox, rh-oy)
	}
	// Scale maps sr onto dr and clips to dst's bounds: the crop costs
	// nothing beyond the pixels kept.
	xdraw.BiLinear.Scale(dst, dr, img, sr, xdraw.Src, nil)
	return dst
}

// normalize writes the CHW float32 tensor of a Size×Size RGBA image into dst
// (c.Len() values) with the mode's channel order and constants.
func (c Config) normalize(dst []float32, img *image.RGBA) {
	s := c.Size
	plane := s * s
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	if c.Mode == Caffe {
		b, g, r = dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	}
	for y := 0; y < s; y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*s]
		for x := 0; x < s; x++ {
			i := y*s + x
			pr, pg, pb := float32(row[4*x]), float32(row[4*x+1]), float32(row[4*x+2])
			if c.Mode == Caffe {
				b[i] = pb - CaffeMeanBGR[0]
				g[i] = pg - CaffeMeanBGR[1]
				r[i] = pr - CaffeMeanBGR[2]
				continue
			}
			r[i] = (pr/255 - TorchvisionMean[0]) / TorchvisionStd[0]
			g[i] = (pg/255 - TorchvisionMean[1]) / TorchvisionStd[1]
			b[i] = (pb/255 - TorchvisionMean[2]) / TorchvisionStd[2]
		}
	}
}

// decode decodes buf as the CPU path and LoadRaw do: at the DCT scale
// that still covers the resize target, unless FullDecode.
func (c Config) decode(buf []byte) (rgbImage, int, int, error) {
	var target func(w, h int) (int, int)
	if !c.FullDecode {
		target = func(w, h int) (int, int) {
			rw, rh, _, _ := c.geometry(w, h)
			return rw, rh
		}
	}
	return decodeRGB(buf, c.MaxPixels, target)
}

// DecodeOnly decodes the image in buf as TensorBytes would (at a DCT scale
// unless FullDecode) and drops the pixels: the decoding half of
// TensorBytes, for benchmarks.
func (c Config) DecodeOnly(buf []byte) error {
	img, _, _, err := c.decode(buf)
	img.release()
	return err
}

// DecodeStdlib decodes buf with the standard library's decoders only
// (image/jpeg, image/png), as Decode did before libjpeg-turbo: the
// reference path, kept for comparisons and benchmarks.
func DecodeStdlib(buf []byte, maxPixels int) (image.Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: zero bytes; re-download or remove the file", ErrEmpty)
	}
	return decodeGo(buf, maxPixels)
}

// ReferenceTensorBytes is TensorBytes the way data/imageprep first did it:
// DecodeStdlib, then Tensor.
func (c Config) ReferenceTensorBytes(dst []float32, buf []byte) error {
	img, err := DecodeStdlib(buf, c.MaxPixels)
	if err != nil {
		return err
	}
	return c.Tensor(dst, img)
}
