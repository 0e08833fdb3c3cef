//go:build cgo && !nolibjpeg

package imageprep

/*
#cgo LDFLAGS: -Wl,-Bstatic -ljpeg -Wl,-Bdynamic
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

// tagimp_jpeg is one decoder: libjpeg's state, its error manager with the
// jmp_buf that error_exit jumps back to (libjpeg's default error_exit calls
// exit()), the first message and whether the data ended early.
typedef struct {
	struct jpeg_decompress_struct d;
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
	int eof;       // JWRN_JPEG_EOF: the source ran out and libjpeg padded with an EOI
	int hitMarker; // JWRN_HIT_MARKER: entropy data ended early
	int created;
} tagimp_jpeg;

static void tagimp_error_exit(j_common_ptr c) {
	tagimp_jpeg *t = (tagimp_jpeg *)c->client_data;
	(*c->err->format_message)(c, t->msg);
	longjmp(t->jb, 1);
}

// Warnings are recorded, never printed; trace messages are dropped.
static void tagimp_emit_message(j_common_ptr c, int level) {
	tagimp_jpeg *t = (tagimp_jpeg *)c->client_data;
	if (level >= 0) return;
	if (c->err->msg_code == JWRN_JPEG_EOF) t->eof = 1;
	if (c->err->msg_code == JWRN_HIT_MARKER) t->hitMarker = 1;
	if (t->msg[0] == 0) (*c->err->format_message)(c, t->msg);
	c->err->num_warnings++;
}

static void tagimp_output_message(j_common_ptr c) { (void)c; }

static tagimp_jpeg *tagimp_new(void) {
	return (tagimp_jpeg *)calloc(1, sizeof(tagimp_jpeg));
}

static void tagimp_free(tagimp_jpeg *t) {
	if (t->created) jpeg_destroy_decompress(&t->d);
	free(t);
}

// tagimp_header reads the header of the n bytes at buf (which must stay
// valid until tagimp_free). 0: ok; 1: error, message in t->msg.
static int tagimp_header(tagimp_jpeg *t, const unsigned char *buf, unsigned long n) {
	t->d.err = jpeg_std_error(&t->pub);
	t->pub.error_exit = tagimp_error_exit;
	t->pub.emit_message = tagimp_emit_message;
	t->pub.output_message = tagimp_output_message;
	if (setjmp(t->jb)) return 1;
	jpeg_create_decompress(&t->d);
	t->created = 1;
	t->d.client_data = t;
	jpeg_mem_src(&t->d, buf, n);
	jpeg_read_header(&t->d, TRUE);
	return 0;
}

// tagimp_setup asks for RGB (or CMYK for 4-component files) at scale
// num/8 and computes the output size into t->d.output_width/height.
static int tagimp_setup(tagimp_jpeg *t, int num) {
	if (setjmp(t->jb)) return 1;
	t->d.scale_num = num;
	t->d.scale_denom = 8;
	if (t->d.jpeg_color_space == JCS_CMYK || t->d.jpeg_color_space == JCS_YCCK) {
		t->d.out_color_space = JCS_CMYK;
	} else {
		t->d.out_color_space = JCS_RGB;
	}
	jpeg_calc_output_dimensions(&t->d);
	return 0;
}

// cmykToRGB is image/color's CMYKToRGB applied to the inverted samples
// that Adobe CMYK and YCCK JPEGs store (image/jpeg's reading of them), so
// that both decoders give the same colours.
static inline unsigned char cmyk1(unsigned int raw, unsigned int rawK) {
	unsigned int c = 255 - raw, k = 255 - rawK;
	unsigned int w = 0xffff - k * 0x101;
	unsigned int r = (0xffff - c * 0x101) * w / 0xffff;
	return (unsigned char)(r >> 8);
}

// tagimp_decode decodes into out (output_width·output_height·3 bytes,
// packed RGB).
static int tagimp_decode(tagimp_jpeg *t, unsigned char *out) {
	if (setjmp(t->jb)) return 1;
	jpeg_start_decompress(&t->d);
	JDIMENSION w = t->d.output_width;
	size_t stride = (size_t)w * 3;
	if (t->d.out_color_space == JCS_CMYK) {
		JSAMPARRAY row = (*t->d.mem->alloc_sarray)((j_common_ptr)&t->d, JPOOL_IMAGE, w * 4, 1);
		while (t->d.output_scanline < t->d.output_height) {
			unsigned char *o = out + (size_t)t->d.output_scanline * stride;
			jpeg_read_scanlines(&t->d, row, 1);
			const unsigned char *p = row[0];
			for (JDIMENSION x = 0; x < w; x++, p += 4, o += 3) {
				o[0] = cmyk1(p[0], p[3]);
				o[1] = cmyk1(p[1], p[3]);
				o[2] = cmyk1(p[2], p[3]);
			}
		}
	} else {
		JSAMPROW rows[16];
		while (t->d.output_scanline < t->d.output_height) {
			JDIMENSION y = t->d.output_scanline;
			int k = 0;
			for (; k < 16 && y + k < t->d.output_height; k++) rows[k] = out + (size_t)(y + k) * stride;
			jpeg_read_scanlines(&t->d, rows, k);
		}
	}
	jpeg_finish_decompress(&t->d);
	return 0;
}

static unsigned tagimp_width(tagimp_jpeg *t) { return t->d.image_width; }
static unsigned tagimp_height(tagimp_jpeg *t) { return t->d.image_height; }
static unsigned tagimp_out_width(tagimp_jpeg *t) { return t->d.output_width; }
static unsigned tagimp_out_height(tagimp_jpeg *t) { return t->d.output_height; }
static int tagimp_components(tagimp_jpeg *t) { return t->d.num_components; }
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// JPEGDecoder names the JPEG decoder this build uses.
const JPEGDecoder = "libjpeg-turbo"

// libjpeg is true when JPEGs are decoded by libjpeg-turbo.
const libjpeg = true

// decodeJPEG decodes the JPEG in buf with libjpeg-turbo at the smallest
// scale k/8 (k = 1…8) whose output is at least target(w, h) for the
// header's w×h (full size when target is nil or no smaller scale is that
// large), after checking the header's size against maxPixels. It returns
// the decoded image and the header's size. libjpeg's fatal errors come back
// as errors (its error_exit longjmps back into the C function that called
// it; the process never exits) and a premature end of data is an error, as
// with image/jpeg.
func decodeJPEG(buf []byte, maxPixels int, target func(w, h int) (int, int)) (rgbImage, int, int, error) {
	t := C.tagimp_new()
	if t == nil {
		return rgbImage{}, 0, 0, errors.New("libjpeg: out of memory")
	}
	defer C.tagimp_free(t)
	// libjpeg keeps a pointer to buf between the calls below: pin it.
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	fail := func() error {
		msg := C.GoString(&t.msg[0])
		if t.eof != 0 || t.hitMarker != 0 {
			return fmt.Errorf("%w: %d bytes end before the image data does (libjpeg: %s); re-download the file", ErrTruncated, len(buf), msg)
		}
		return fmt.Errorf("%w (libjpeg: %s)", ErrCorrupt, msg)
	}
	if C.tagimp_header(t, (*C.uchar)(unsafe.Pointer(&buf[0])), C.ulong(len(buf))) != 0 {
		return rgbImage{}, 0, 0, fail()
	}
	w, h := int(C.tagimp_width(t)), int(C.tagimp_height(t))
	if w <= 0 || h <= 0 {
		return rgbImage{}, 0, 0, fmt.Errorf("jpeg header gives %d×%d pixels: %w", w, h, ErrFormat)
	}
	if int64(w)*int64(h) > int64(maxPixels) {
		return rgbImage{}, 0, 0, fmt.Errorf("%w: jpeg header claims %d×%d pixels, more than the limit of %d pixels; shrink the image first",
			ErrTooLarge, w, h, maxPixels)
	}
	if n := C.tagimp_components(t); n != 1 && n != 3 && n != 4 {
		return rgbImage{}, 0, 0, fmt.Errorf("%w: %d colour components (want 1, 3 or 4)", ErrCorrupt, n)
	}
	k := 8
	if target != nil {
		k = dctScale(w, h, target)
	}
	if C.tagimp_setup(t, C.int(k)) != 0 {
		return rgbImage{}, 0, 0, fail()
	}
	img := rgbImage{w: int(C.tagimp_out_width(t)), h: int(C.tagimp_out_height(t)), scale: k}
	img.pooled = getBytes(3 * img.w * img.h)
	img.pix = *img.pooled
	if C.tagimp_decode(t, (*C.uchar)(unsafe.Pointer(&img.pix[0]))) != 0 || t.eof != 0 || t.hitMarker != 0 {
		img.release()
		return rgbImage{}, 0, 0, fail()
	}
	return img, w, h, nil
}

// dctScale is the smallest k in 1…8 for which libjpeg's output at scale
// k/8, ⌈w·k/8⌉×⌈h·k/8⌉, is at least target(w, h); 8 when none is smaller.
func dctScale(w, h int, target func(w, h int) (int, int)) int {
	minW, minH := target(w, h)
	for k := 1; k < 8; k++ {
		if (w*k+7)/8 >= minW && (h*k+7)/8 >= minH {
			return k
		}
	}
	return 8
}
