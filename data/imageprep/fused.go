package imageprep

import (
	"math"
	"sync"
)

// Scratch buffers reused between images (decoded pixels, the horizontal
// pass): allocating them fresh costs page faults and clearing that show up
// as a third of the decoding time.
var (
	bytePool  sync.Pool // *[]uint8
	floatPool sync.Pool // *[]float32
)

// getBytes returns a buffer of n bytes (contents undefined) from bytePool.
func getBytes(n int) *[]uint8 {
	if p, ok := bytePool.Get().(*[]uint8); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]uint8, n)
	return &b
}

// getFloats returns a buffer of n float32 (contents undefined) from floatPool.
func getFloats(n int) *[]float32 {
	if p, ok := floatPool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]float32, n)
	return &b
}

// rgbImage is an opaque 8-bit image in packed RGB order (3 bytes a pixel,
// rows of 3·w bytes, no padding): what the JPEG decoder writes and what the
// fused resize reads.
type rgbImage struct {
	w, h int
	pix  []uint8
	// pooled, when set, is the bytePool buffer pix lives in: release
	// returns it.
	pooled *[]uint8
	// scale is the DCT scale k of a JPEG decoded at k/8 (1…8); 0 or 8
	// means full size.
	scale int
}

// release returns the image's pixel buffer to bytePool when it came from
// there; the image must not be used afterwards.
func (m *rgbImage) release() {
	if m.pooled != nil {
		bytePool.Put(m.pooled)
		m.pooled, m.pix = nil, nil
	}
}

// filter is a resampling filter along one axis, computed as
// golang.org/x/image/draw's Kernel.Scale computes it for BiLinear (the
// triangle kernel, broadened by the scale factor when shrinking, weights
// normalised to sum to 1): output index i reads source indices
// lo[i] … lo[i]+n[i]-1 with weights w[off[i]:off[i]+n[i]].
type filter struct {
	lo, n, off []int
	w          []float32
}

// newFilter makes the filter that maps a source extent of span samples
// (sw of them stored; span < sw when a DCT-scaled decode rounded its size
// up and the last sample is only partly image) onto dw output samples,
// keeping only the outputs first … first+count-1 (a crop).
func newFilter(dw int, span float64, sw, first, count int) filter {
	scale := span / float64(dw)
	halfWidth, argScale := 1.0, 1.0
	if scale > 1 {
		halfWidth *= scale
		argScale = 1 / scale
	}
	f := filter{lo: make([]int, count), n: make([]int, count), off: make([]int, count)}
	for k := 0; k < count; k++ {
		x := first + k
		center := (float64(x)+0.5)*scale - 0.5
		i := max(int(math.Floor(center-halfWidth)), 0)
		j := min(int(math.Ceil(center+halfWidth)), sw)
		f.off[k] = len(f.w)
		total := 0.0
		var ws []float64
		lo := -1
		for c := i; c < j; c++ {
			t := math.Abs((center - float64(c)) * argScale)
			if t >= 1 {
				if lo >= 0 {
					break // the triangle's support is contiguous
				}
				continue
			}
			if lo < 0 {
				lo = c
			}
			ws = append(ws, 1-t)
			total += 1 - t
		}
		if lo < 0 { // cannot happen for dw, sw ≥ 1; keep the filter well formed
			lo, ws, total = min(max(int(center+0.5), 0), sw-1), []float64{1}, 1
		}
		f.lo[k], f.n[k] = lo, len(ws)
		for _, v := range ws {
			f.w = append(f.w, float32(v/total))
		}
	}
	return f
}

// levelTable maps an 8-bit level to the normalised value of each output
// channel (in the mode's channel order, with the index of the RGB sample it
// reads).
func (c Config) levelTable() (tab [3][256]float32, src [3]int) {
	for v := 0; v < 256; v++ {
		fv := float32(v)
		if c.Mode == Caffe {
			tab[0][v] = fv - CaffeMeanBGR[0]
			tab[1][v] = fv - CaffeMeanBGR[1]
			tab[2][v] = fv - CaffeMeanBGR[2]
			continue
		}
		for ch := 0; ch < 3; ch++ {
			tab[ch][v] = (fv/255 - TorchvisionMean[ch]) / TorchvisionStd[ch]
		}
	}
	if c.Mode == Caffe {
		return tab, [3]int{2, 1, 0}
	}
	return tab, [3]int{0, 1, 2}
}

// fusedTensor resizes img (an image whose full-resolution size was
// origW×origH; img may be a DCT-scaled version of it) with the antialiased
// bilinear filter, rounds to 8-bit levels as data/imageprep's reference
// path (x/image/draw into an *image.RGBA) does, and writes the normalised
// CHW tensor into dst (c.Len() values), in one separable pass: horizontal
// over the source rows the kept output rows need, then vertical, then the
// level → value table. It does no allocation beyond two small filters and
// one float32 row buffer of Size·3·(rows needed).
func (c Config) fusedTensor(dst []float32, img rgbImage, origW, origH int) {
	s := c.Size
	rw, rh, ox, oy := c.geometry(origW, origH)
	// A decode at DCT scale k/8 holds the image in w·k/8 samples (rounded
	// up); map that exact extent, not the rounded one.
	spanW, spanH := float64(img.w), float64(img.h)
	if img.scale > 0 && img.scale < 8 {
		spanW, spanH = float64(origW*img.scale)/8, float64(origH*img.scale)/8
	}
	hf := newFilter(rw, spanW, img.w, ox, s)
	vf := newFilter(rh, spanH, img.h, oy, s)
	rowLo := vf.lo[0]
	rowHi := vf.lo[s-1] + vf.n[s-1]
	for k := 0; k < s; k++ {
		rowLo = min(rowLo, vf.lo[k])
		rowHi = max(rowHi, vf.lo[k]+vf.n[k])
	}
	// Horizontal pass: tmp row r holds output columns 0…s-1 (RGB) of source
	// row rowLo+r, in 8-bit units.
	stride := 3 * s
	tmpBuf := getFloats((rowHi-rowLo)*stride + stride + 3*img.w)
	defer floatPool.Put(tmpBuf)
	all := *tmpBuf
	tmp, acc, rowf := all[:(rowHi-rowLo)*stride], all[(rowHi-rowLo)*stride:(rowHi-rowLo+1)*stride], all[(rowHi-rowLo+1)*stride:]
	for y := rowLo; y < rowHi; y++ {
		// Each source sample feeds several outputs: convert the row once.
		src := img.pix[y*3*img.w : (y+1)*3*img.w]
		for i, v := range src {
			rowf[i] = float32(v)
		}
		out := tmp[(y-rowLo)*stride : (y-rowLo+1)*stride]
		for x := 0; x < s; x++ {
			lo, n, off := hf.lo[x], hf.n[x], hf.off[x]
			ws := hf.w[off : off+n]
			px := rowf[3*lo : 3*(lo+n)]
			var r, g, b float32
			for t, w := range ws {
				p := px[3*t : 3*t+3]
				r += p[0] * w
				g += p[1] * w
				b += p[2] * w
			}
			out[3*x], out[3*x+1], out[3*x+2] = r, g, b
		}
	}
	// Vertical pass, quantisation and normalisation.
	tab, srcCh := c.levelTable()
	plane := s * s
	for y := 0; y < s; y++ {
		lo, n, off := vf.lo[y], vf.n[y], vf.off[y]
		clear(acc)
		for t, w := range vf.w[off : off+n] {
			row := tmp[(lo+t-rowLo)*stride : (lo+t-rowLo+1)*stride]
			for k, v := range row {
				acc[k] += v * w
			}
		}
		for ch := 0; ch < 3; ch++ {
			o := dst[ch*plane+y*s : ch*plane+(y+1)*s]
			t := &tab[ch]
			sc := srcCh[ch]
			for x := range o {
				o[x] = t[level(acc[3*x+sc])]
			}
		}
	}
}

// level rounds a filtered value v (in 8-bit units) to an 8-bit level the way
// x/image/draw's RGBA destination does: to 16 bits, rounding, then the high
// byte.
func level(v float32) uint8 {
	i := int32(v*257 + 0.5)
	if i <= 0 {
		return 0
	}
	if i >= 0xffff {
		return 0xff
	}
	return uint8(i >> 8)
}
