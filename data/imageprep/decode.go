package imageprep

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // registers the JPEG decoder
	_ "image/png"  // registers the PNG decoder
	"io"
	"os"
	"strings"
)

// DefaultMaxPixels is the largest image, in pixels (width × height), that
// Decode accepts when Config.MaxPixels is zero: 64 Mpx, e.g. 8192×8192.
// Decoding such an image takes about 256 MB; COCO images are ~0.3 Mpx.
const DefaultMaxPixels = 64 << 20

// MaxFileBytes is the largest file Decode reads (256 MiB).
const MaxFileBytes = 256 << 20

// Errors returned (wrapped, with the file name) by Decode and Config.LoadFile.
// Test for them with errors.Is.
var (
	// ErrTooLarge: the header claims more pixels than the limit; nothing was
	// allocated for the pixels.
	ErrTooLarge = errors.New("image too large")
	// ErrEmpty: the file has zero bytes.
	ErrEmpty = errors.New("empty file")
	// ErrFormat: the bytes are not a JPEG or PNG image (e.g. an HTML error
	// page or text saved under an image name).
	ErrFormat = errors.New("not a JPEG or PNG image")
	// ErrTruncated: the file ends before the image data does.
	ErrTruncated = errors.New("truncated image")
)

// Decode reads the JPEG or PNG file at path and returns it as an opaque
// 8-bit image: *image.YCbCr or *image.Gray where the file decodes to one of
// those (both are opaque), otherwise an *image.RGBA with every alpha 255.
// maxPixels ≤ 0 means DefaultMaxPixels. Errors name the file and wrap one of
// ErrEmpty, ErrFormat, ErrTooLarge or ErrTruncated where one applies.
func Decode(path string, maxPixels int) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat image %s: %w", path, err)
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("decode %s: %w: file is %d bytes, more than the %d-byte limit", path, ErrTooLarge, st.Size(), MaxFileBytes)
	}
	buf, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	img, err := DecodeBytes(buf, maxPixels)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}

// DecodeBytes is Decode for an image already in memory; its errors do not
// name a file.
func DecodeBytes(buf []byte, maxPixels int) (image.Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: zero bytes; re-download or remove the file", ErrEmpty)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		return nil, classify(buf, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%s header gives %d×%d pixels: %w", format, cfg.Width, cfg.Height, ErrFormat)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(maxPixels) {
		return nil, fmt.Errorf("%w: %s header claims %d×%d pixels, more than the limit of %d pixels; shrink the image first",
			ErrTooLarge, format, cfg.Width, cfg.Height, maxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(buf))
	if err != nil {
		return nil, classify(buf, err)
	}
	return toOpaque(img), nil
}

// classify turns a decoder error into one wrapping ErrFormat or ErrTruncated
// where it is one of those.
func classify(buf []byte, err error) error {
	switch {
	case errors.Is(err, image.ErrFormat):
		head := buf
		if len(head) > 16 {
			head = head[:16]
		}
		return fmt.Errorf("%w (file starts with %q); it may be an HTML page or text saved under an image name", ErrFormat, head)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || truncatedMessage(err.Error()):
		return fmt.Errorf("%w: %d bytes end before the image data does (%v); re-download the file", ErrTruncated, len(buf), err)
	}
	return err
}

// truncatedMessage reports whether a decoder's message means the data ended
// early (image/png and image/jpeg say so in FormatError text).
func truncatedMessage(msg string) bool {
	for _, m := range []string{"not enough pixel data", "short Huffman data", "missing SOS marker", "no IDAT chunk"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// toOpaque returns img as an opaque 8-bit image of straight (not
// premultiplied) colour. JPEG's *image.YCbCr and *image.Gray are returned as
// they are; everything else (CMYK, 16-bit, paletted, with alpha) becomes an
// *image.RGBA whose alpha is dropped like PIL's convert("RGB"): each pixel
// keeps its stored colour whatever its transparency.
func toOpaque(img image.Image) image.Image {
	switch m := img.(type) {
	case *image.YCbCr, *image.Gray:
		return m
	}
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	switch m := img.(type) {
	case *image.NRGBA:
		for y := 0; y < b.Dy(); y++ {
			src := m.Pix[y*m.Stride : y*m.Stride+4*b.Dx()]
			out := dst.Pix[y*dst.Stride : y*dst.Stride+4*b.Dx()]
			for i := 0; i < len(src); i += 4 {
				out[i], out[i+1], out[i+2], out[i+3] = src[i], src[i+1], src[i+2], 255
			}
		}
	case *image.CMYK:
		draw.Draw(dst, dst.Bounds(), m, b.Min, draw.Src)
	default:
		for y := 0; y < b.Dy(); y++ {
			out := dst.Pix[y*dst.Stride:]
			for x := 0; x < b.Dx(); x++ {
				c := color.NRGBA64Model.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA64)
				out[4*x] = uint8(c.R >> 8)
				out[4*x+1] = uint8(c.G >> 8)
				out[4*x+2] = uint8(c.B >> 8)
				out[4*x+3] = 255
			}
		}
	}
	return dst
}
