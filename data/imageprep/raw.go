package imageprep

import (
	"fmt"
	"image"
	"math"
)

// Pixel layouts of a Raw image (TG_PREP_* in kernels/tagimp_math.h).
const (
	RawRGBA  = 0 // 4 bytes a pixel: R, G, B, A
	RawGray  = 1 // 1 byte a pixel
	RawYCbCr = 2 // a Y plane, then subsampled Cb and Cr planes
	RawRGB   = 3 // 3 bytes a pixel: R, G, B (opaque; resized as RGBA with alpha 255)
)

// RawDesc locates one decoded image in a byte buffer, as the device
// preprocessing kernel reads it: the Go mirror of struct tg_prep_src (16
// little-endian int64, 128 bytes). Offsets are in bytes from the buffer's
// start; see tagimp_math.h for each field.
type RawDesc struct {
	Off, Kind, W, H, Stride, CbOff, CrOff, CStride   int64
	SubX, SubY, RW, RH, OX, OY, AlphaWeighted, Span8 int64
}

// RawDescBytes is the size of a RawDesc (and of struct tg_prep_src).
const RawDescBytes = 128

// Raw is a decoded image in the form the device preprocessing takes: its
// 8-bit planes, without padding, and where they lie. Only these bytes
// cross PCIe; the resize and normalisation happen on the device (or in
// FromRaw, its CPU twin).
type Raw struct {
	Desc RawDesc
	Pix  []byte
	// pooled is the decoder's pooled buffer Pix lives in (RawBytes), for
	// Release.
	pooled *[]uint8
}

// Release hands the pixels of a Raw from LoadRaw or RawBytes back to the
// decoder's buffer pool, once nothing reads them any more (features.Build
// calls it when the extractor has staged the batch); r.Pix is then nil.
// Without it the buffer is left to the garbage collector.
func (r *Raw) Release() {
	if r.pooled != nil {
		bytePool.Put(r.pooled)
	}
	r.pooled, r.Pix = nil, nil
}

// Shifted returns d with its plane offsets moved by off bytes, for a Raw
// appended at offset off of a batch buffer.
func (d RawDesc) Shifted(off int64) RawDesc {
	d.Off += off
	if d.Kind == RawYCbCr {
		d.CbOff += off
		d.CrOff += off
	}
	return d
}

// geometry is the resize target (rw, rh) and the crop offset (ox, oy) into
// it for a w×h source, as Resize computes them.
func (c Config) geometry(w, h int) (rw, rh, ox, oy int) {
	s := c.Size
	if !c.CenterCrop {
		return s, s, 0, 0
	}
	// torchvision Resize(short): the shorter side becomes `short`, the
	// other int(short·long/shorter); CenterCrop: offset int(round((d-s)/2))
	// with Python's round, half to even.
	short := c.cropResize()
	rw, rh = short, short
	if w < h {
		rh = int(float64(short) * float64(h) / float64(w))
	} else {
		rw = int(float64(short) * float64(w) / float64(h))
	}
	ox = int(math.RoundToEven(float64(rw-s) / 2))
	oy = int(math.RoundToEven(float64(rh-s) / 2))
	return rw, rh, ox, oy
}

// rawDesc is the geometry of a w×h decode at DCT scale k/8 (8, or 0 for
// a decoder without scaling: full size) of an origW×origH image: the resize
// target and crop of the full size, and the exact extent (Span8) when
// scaled.
func (c Config) rawDesc(w, h, origW, origH, k int) RawDesc {
	rw, rh, ox, oy := c.geometry(origW, origH)
	d := RawDesc{W: int64(w), H: int64(h), RW: int64(rw), RH: int64(rh), OX: int64(ox), OY: int64(oy), SubX: 1, SubY: 1}
	if k > 0 && k < 8 {
		d.Span8 = int64(origW*k) | int64(origH*k)<<32
	}
	return d
}

// spanX and spanY are the image's extent in source samples (Span8).
func (d *RawDesc) spanX() float64 {
	if s := d.Span8 & 0xffffffff; s != 0 {
		return float64(s) * 0.125
	}
	return float64(d.W)
}

func (d *RawDesc) spanY() float64 {
	if s := d.Span8 >> 32; s != 0 {
		return float64(s) * 0.125
	}
	return float64(d.H)
}

// Raw packs a decoded image (what Decode returns: *image.RGBA, *image.Gray
// or *image.YCbCr, origin at 0,0) for the device preprocessing.
func (c Config) Raw(img image.Image) (Raw, error) {
	b := img.Bounds()
	return c.raw(img, b.Dx(), b.Dy(), 8)
}

// raw is Raw for img decoded at DCT scale k/8 (8: full size) of an
// origW×origH image: the crop geometry comes from the full size and the
// scaler maps the image's exact extent (Span8), as fusedTensor does.
func (c Config) raw(img image.Image, origW, origH, k int) (Raw, error) {
	if err := c.Validate(); err != nil {
		return Raw{}, err
	}
	b := img.Bounds()
	if b.Min != (image.Point{}) {
		return Raw{}, fmt.Errorf("raw image: origin %v, want 0,0 (pass Decode's result)", b.Min)
	}
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return Raw{}, fmt.Errorf("raw image: empty %d×%d image", w, h)
	}
	d := c.rawDesc(w, h, origW, origH, k)
	var pix []byte
	copyPlane := func(src []byte, stride, rowBytes, rows int) {
		for y := 0; y < rows; y++ {
			pix = append(pix, src[y*stride:y*stride+rowBytes]...)
		}
	}
	switch m := img.(type) {
	case *image.RGBA:
		d.Kind, d.Stride, d.AlphaWeighted = RawRGBA, int64(4*w), 1
		pix = make([]byte, 0, 4*w*h)
		copyPlane(m.Pix, m.Stride, 4*w, h)
	case *image.Gray:
		d.Kind, d.Stride = RawGray, int64(w)
		pix = make([]byte, 0, w*h)
		copyPlane(m.Pix, m.Stride, w, h)
	case *image.YCbCr:
		d.Kind, d.Stride = RawYCbCr, int64(w)
		switch m.SubsampleRatio {
		case image.YCbCrSubsampleRatio444:
		case image.YCbCrSubsampleRatio422:
			d.SubX = 2
		case image.YCbCrSubsampleRatio420:
			d.SubX, d.SubY = 2, 2
		case image.YCbCrSubsampleRatio440:
			d.SubY = 2
		case image.YCbCrSubsampleRatio411:
			d.SubX, d.AlphaWeighted = 4, 1 // x/image/draw's generic path
		case image.YCbCrSubsampleRatio410:
			d.SubX, d.SubY, d.AlphaWeighted = 4, 2, 1
		default:
			return Raw{}, fmt.Errorf("raw image: YCbCr subsampling %v not supported", m.SubsampleRatio)
		}
		cw := (w + int(d.SubX) - 1) / int(d.SubX)
		ch := (h + int(d.SubY) - 1) / int(d.SubY)
		pix = make([]byte, 0, w*h+2*cw*ch)
		copyPlane(m.Y, m.YStride, w, h)
		d.CStride, d.CbOff = int64(cw), int64(len(pix))
		copyPlane(m.Cb, m.CStride, cw, ch)
		d.CrOff = int64(len(pix))
		copyPlane(m.Cr, m.CStride, cw, ch)
	default:
		return Raw{}, fmt.Errorf("raw image: %T not supported (pass Decode's result: RGBA, Gray or YCbCr)", img)
	}
	return Raw{Desc: d, Pix: pix}, nil
}

// FromRaw writes the preprocessed CHW tensor of r into dst (c.Len()
// values): the CPU twin of the device kernel tg_prep (kernels/prep.cu), the
// same arithmetic in the same order, and bit for bit what Tensor gives for
// the image r was packed from. r.Desc's offsets are relative to r.Pix.
func (c Config) FromRaw(dst []float32, r Raw) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if len(dst) != c.Len() {
		return fmt.Errorf("tensor buffer holds %d values, want %d", len(dst), c.Len())
	}
	s := c.Size
	plane := s * s
	caffe := c.Mode == Caffe
	mean, std := TorchvisionMean, TorchvisionStd
	if caffe {
		mean = CaffeMeanBGR
	}
	for y := 0; y < s; y++ {
		for x := 0; x < s; x++ {
			rgb := prepPixel(r.Pix, &r.Desc, x, y)
			i := y*s + x
			for k := 0; k < 3; k++ {
				ch := k
				if caffe {
					ch = 2 - k
				}
				dst[k*plane+i] = prepNorm(rgb[ch], caffe, mean[k], std[k])
			}
		}
	}
	return nil
}

// prepAxis is struct tg_prep_axis.
type prepAxis struct {
	center, argScale, inv, invFFFF float64
	lo, hi                         int
}

func (a *prepAxis) weight(c int) float64 {
	t := float64((a.center - float64(c)) * a.argScale)
	if t < 0 {
		t = -t
	}
	if t < 1 {
		return 1 - t
	}
	return 0
}

// newPrepAxis is tg_prep_axis_init: output coordinate d of dsize over
// ssize samples, span of them image.
func newPrepAxis(d, dsize, ssize int, span float64) prepAxis {
	scale := span / float64(dsize)
	half, a := 1.0, prepAxis{argScale: 1}
	if scale > 1 {
		half, a.argScale = scale, 1/scale
	}
	a.center = float64(float64(float64(d)+0.5)*scale) - 0.5
	a.lo = max(int(math.Floor(a.center-half)), 0)
	a.hi = int(math.Ceil(a.center + half))
	if a.hi > ssize {
		a.hi = max(ssize, a.lo)
	}
	total := 0.0
	for c := a.lo; c < a.hi; c++ {
		total += a.weight(c)
	}
	total = 1 / total
	a.inv, a.invFFFF = total, total/0xffff
	return a
}

func clamp16(v int32) uint32 { return uint32(min(max(v, 0), 0xffff)) }

func prepFetch(pix []byte, d *RawDesc, x, y int) [4]uint32 {
	switch d.Kind {
	case RawRGBA:
		p := pix[d.Off+int64(y)*d.Stride+4*int64(x):]
		return [4]uint32{uint32(p[0]) * 0x101, uint32(p[1]) * 0x101, uint32(p[2]) * 0x101, uint32(p[3]) * 0x101}
	case RawRGB:
		p := pix[d.Off+int64(y)*d.Stride+3*int64(x):]
		return [4]uint32{uint32(p[0]) * 0x101, uint32(p[1]) * 0x101, uint32(p[2]) * 0x101, 0xffff}
	case RawGray:
		g := uint32(pix[d.Off+int64(y)*d.Stride+int64(x)]) * 0x101
		return [4]uint32{g, g, g, 0xffff}
	}
	ci := int64(y)/d.SubY*d.CStride + int64(x)/d.SubX
	yy1 := int32(pix[d.Off+int64(y)*d.Stride+int64(x)]) * 0x10101
	cb1 := int32(pix[d.CbOff+ci]) - 128
	cr1 := int32(pix[d.CrOff+ci]) - 128
	return [4]uint32{clamp16((yy1 + 91881*cr1) >> 8), clamp16((yy1 - 22554*cb1 - 46802*cr1) >> 8),
		clamp16((yy1 + 116130*cb1) >> 8), 0xffff}
}

func prepFtou8(f float64) uint8 {
	i := int32(float64(0xffff*f) + 0.5)
	return uint8(min(max(i, 0), 0xffff) >> 8)
}

// prepPixel is tg_prep_pixel: the resized 8-bit R, G, B at (x, y).
func prepPixel(pix []byte, d *RawDesc, x, y int) [3]uint8 {
	ax := newPrepAxis(x+int(d.OX), int(d.RW), int(d.W), d.spanX())
	ay := newPrepAxis(y+int(d.OY), int(d.RH), int(d.H), d.spanY())
	var acc [4]float64
	for sy := ay.lo; sy < ay.hi; sy++ {
		wy := ay.weight(sy)
		if wy == 0 {
			continue
		}
		var hs [4]float64
		for sx := ax.lo; sx < ax.hi; sx++ {
			wx := ax.weight(sx)
			if wx == 0 {
				continue
			}
			v := prepFetch(pix, d, sx, sy)
			for k := range hs {
				hs[k] += float64(float64(v[k]) * wx)
			}
		}
		for k := 0; k < 3; k++ {
			acc[k] += float64(float64(hs[k]*ax.invFFFF) * wy)
		}
		if d.AlphaWeighted != 0 {
			acc[3] += float64(float64(hs[3]*ax.invFFFF) * wy)
		} else {
			acc[3] += wy
		}
	}
	var rgb [3]uint8
	for k := range rgb {
		rgb[k] = prepFtou8(float64(min(acc[k], acc[3]) * ay.inv))
	}
	return rgb
}

// prepNorm is tg_prep_norm.
func prepNorm(v uint8, caffe bool, mean, std float32) float32 {
	f := float32(v)
	if caffe {
		return f - mean
	}
	return (f/255 - mean) / std
}

// LoadRaw decodes the image file at path as LoadFile does (libjpeg-turbo
// at the DCT scale that still covers the target, unless FullDecode) and
// packs it for the device preprocessing, with the crop geometry of the
// full-size image and the exact extent a DCT-scaled decode covers (Span8),
// as LoadFile's fused path takes them. The device then resizes with the
// reference filter's arithmetic (FromRaw's), so the two agree within the
// fused path's bound (TestLoadRawMatchesLoadFile). Errors name the file.
func (c Config) LoadRaw(path string) (Raw, error) {
	if err := c.Validate(); err != nil {
		return Raw{}, err
	}
	buf, err := readImageFile(path)
	if err != nil {
		return Raw{}, err
	}
	r, err := c.RawBytes(buf)
	if err != nil {
		return Raw{}, fmt.Errorf("decode %s: %w", path, err)
	}
	return r, nil
}

// RawBytes is LoadRaw for an image already in memory.
func (c Config) RawBytes(buf []byte) (Raw, error) {
	img, w, h, err := c.decode(buf)
	if err != nil {
		return Raw{}, err
	}
	d := c.rawDesc(img.w, img.h, w, h, img.scale)
	d.Kind, d.Stride, d.AlphaWeighted = RawRGB, int64(3*img.w), 1
	// The decode's buffer becomes the Raw's, no copy; Release returns it to
	// the pool.
	return Raw{Desc: d, Pix: img.pix[: 3*img.w*img.h : 3*img.w*img.h], pooled: img.pooled}, nil
}
