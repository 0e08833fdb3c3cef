//go:build !cgo || nolibjpeg

package imageprep

// JPEGDecoder names the JPEG decoder this build uses.
const JPEGDecoder = "image/jpeg"

// libjpeg is true when JPEGs are decoded by libjpeg-turbo; this build
// (-tags nolibjpeg, or no cgo) uses the standard library's image/jpeg.
const libjpeg = false

// decodeJPEG is not reached in this build (libjpeg is false).
func decodeJPEG(buf []byte, maxPixels int, target func(w, h int) (int, int)) (rgbImage, int, int, error) {
	img, err := decodeGo(buf, maxPixels)
	if err != nil {
		return rgbImage{}, 0, 0, err
	}
	b := img.Bounds()
	return rgbFrom(img), b.Dx(), b.Dy(), nil
}
