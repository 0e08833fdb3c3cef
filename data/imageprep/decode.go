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
	// ErrCorrupt: the JPEG data is damaged in a way other than ending early
	// (e.g. a bad Huffman table); the decoder's own message follows. Only
	// the libjpeg-turbo decoder reports it; image/jpeg's errors pass through.
	ErrCorrupt = errors.New("corrupt JPEG data")
)

// Decode reads the JPEG or PNG file at path and returns it as an opaque
// 8-bit image: *image.YCbCr or *image.Gray where the file decodes to one of
// those (both are opaque), otherwise an *image.RGBA with every alpha 255.
// maxPixels ≤ 0 means DefaultMaxPixels. Errors name the file and wrap one of
// ErrEmpty, ErrFormat, ErrTooLarge or ErrTruncated where one applies.
func Decode(path string, maxPixels int) (image.Image, error) {
	buf, err := readImageFile(path)
	if err != nil {
		return nil, err
	}
	img, err := DecodeBytes(buf, maxPixels)
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w", path, err)
	}
	return img, nil
}

// readImageFile reads the file at path after checking its size against
// MaxFileBytes.
func readImageFile(path string) ([]byte, error) {
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
	return buf, nil
}

// isJPEG reports whether buf starts with a JPEG SOI marker.
func isJPEG(buf []byte) bool { return len(buf) >= 2 && buf[0] == 0xff && buf[1] == 0xd8 }

// DecodeBytes is Decode for an image already in memory; its errors do not
// name a file. JPEGs go through JPEGDecoder at full size: with
// libjpeg-turbo the result is an *image.RGBA.
func DecodeBytes(buf []byte, maxPixels int) (image.Image, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: zero bytes; re-download or remove the file", ErrEmpty)
	}
	if libjpeg && isJPEG(buf) {
		img, _, _, err := decodeJPEG(buf, maxPixels, nil)
		if err != nil {
			return nil, err
		}
		out := img.rgba()
		img.release()
		return out, nil
	}
	return decodeGo(buf, maxPixels)
}

// decodeRGB decodes buf into packed RGB. JPEGs go through decodeJPEG, which
// with libjpeg-turbo decodes at the smallest DCT scale whose output is
// still at least target(w, h) for the header's w×h (target nil: full
// size); everything else through the standard library. It returns the
// image and the header's size.
func decodeRGB(buf []byte, maxPixels int, target func(w, h int) (int, int)) (rgbImage, int, int, error) {
	if maxPixels <= 0 {
		maxPixels = DefaultMaxPixels
	}
	if len(buf) == 0 {
		return rgbImage{}, 0, 0, fmt.Errorf("%w: zero bytes; re-download or remove the file", ErrEmpty)
	}
	if libjpeg && isJPEG(buf) {
		return decodeJPEG(buf, maxPixels, target)
	}
	img, err := decodeGo(buf, maxPixels)
	if err != nil {
		return rgbImage{}, 0, 0, err
	}
	b := img.Bounds()
	return rgbFrom(img), b.Dx(), b.Dy(), nil
}

// decodeGo decodes buf (not empty) with the standard library's decoders,
// checking the header's size first.
func decodeGo(buf []byte, maxPixels int) (image.Image, error) {
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

// rgbFrom copies an opaque image (what toOpaque returns) into packed RGB.
func rgbFrom(img image.Image) rgbImage {
	b := img.Bounds()
	out := rgbImage{w: b.Dx(), h: b.Dy(), pix: make([]uint8, 3*b.Dx()*b.Dy())}
	switch m := img.(type) {
	case *image.RGBA:
		for y := 0; y < out.h; y++ {
			src := m.Pix[(y+b.Min.Y-m.Rect.Min.Y)*m.Stride+(b.Min.X-m.Rect.Min.X)*4:]
			dst := out.pix[3*y*out.w : 3*(y+1)*out.w]
			for x := 0; x < out.w; x++ {
				dst[3*x], dst[3*x+1], dst[3*x+2] = src[4*x], src[4*x+1], src[4*x+2]
			}
		}
	case *image.Gray:
		for y := 0; y < out.h; y++ {
			src := m.Pix[(y+b.Min.Y-m.Rect.Min.Y)*m.Stride+(b.Min.X-m.Rect.Min.X):]
			dst := out.pix[3*y*out.w : 3*(y+1)*out.w]
			for x := 0; x < out.w; x++ {
				v := src[x]
				dst[3*x], dst[3*x+1], dst[3*x+2] = v, v, v
			}
		}
	case *image.YCbCr:
		for y := 0; y < out.h; y++ {
			dst := out.pix[3*y*out.w : 3*(y+1)*out.w]
			for x := 0; x < out.w; x++ {
				yi, ci := m.YOffset(b.Min.X+x, b.Min.Y+y), m.COffset(b.Min.X+x, b.Min.Y+y)
				dst[3*x], dst[3*x+1], dst[3*x+2] = color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			}
		}
	default:
		for y := 0; y < out.h; y++ {
			dst := out.pix[3*y*out.w : 3*(y+1)*out.w]
			for x := 0; x < out.w; x++ {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				dst[3*x], dst[3*x+1], dst[3*x+2] = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
			}
		}
	}
	return out
}

// rgba returns the image as an opaque *image.RGBA.
func (m rgbImage) rgba() *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, m.w, m.h))
	for i, j := 0, 0; i < len(m.pix); i, j = i+3, j+4 {
		out.Pix[j], out.Pix[j+1], out.Pix[j+2], out.Pix[j+3] = m.pix[i], m.pix[i+1], m.pix[i+2], 255
	}
	return out
}
