package imageprep

import (
	"bytes"
	"image/color"
)

// encodeJPEG4 writes a baseline JPEG with four full-resolution components
// and an Adobe APP14 marker: the kind of CMYK (transform 0) or YCCK
// (transform 2) file Photoshop writes, which Go's encoder cannot produce.
// Every 8×8 block is flat, so only DC coefficients are coded and the decoder
// reproduces the stored samples exactly. samples[c] is component c's value
// for the whole w×h image (w, h multiples of 8).
func encodeJPEG4(w, h int, samples [4]uint8, transform byte) []byte {
	var b bytes.Buffer
	seg := func(marker byte, payload ...byte) {
		b.Write([]byte{0xff, marker, byte((len(payload) + 2) >> 8), byte(len(payload) + 2)})
		b.Write(payload)
	}
	b.Write([]byte{0xff, 0xd8})
	seg(0xee, append([]byte("Adobe"), 0, 100, 0, 0, 0, 0, transform)...)
	dqt := make([]byte, 65)
	for i := 1; i < 65; i++ {
		dqt[i] = 1
	}
	seg(0xdb, dqt...)
	sof := []byte{8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 4}
	for c := 1; c <= 4; c++ {
		sof = append(sof, byte(c), 0x11, 0)
	}
	seg(0xc0, sof...)
	// DC table: categories 0–11, all with 4-bit codes 0000…1011.
	dc := []byte{0x00, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	for s := 0; s < 12; s++ {
		dc = append(dc, byte(s))
	}
	seg(0xc4, dc...)
	// AC table: only EOB (0x00), code "0".
	seg(0xc4, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00)
	seg(0xda, 4, 1, 0x00, 2, 0x00, 3, 0x00, 4, 0x00, 0, 63, 0)

	var acc uint32
	var nbits uint
	put := func(v uint32, n uint) {
		for i := int(n) - 1; i >= 0; i-- {
			acc = acc<<1 | (v>>uint(i))&1
			nbits++
			if nbits == 8 {
				b.WriteByte(byte(acc))
				if byte(acc) == 0xff {
					b.WriteByte(0)
				}
				acc, nbits = 0, 0
			}
		}
	}
	var prev [4]int
	for blk := 0; blk < (w/8)*(h/8); blk++ {
		for c := 0; c < 4; c++ {
			dcv := 8 * (int(samples[c]) - 128)
			diff := dcv - prev[c]
			prev[c] = dcv
			s, mag := uint(0), diff
			if mag < 0 {
				mag = -mag
			}
			for mag>>s != 0 {
				s++
			}
			put(uint32(s), 4)
			if s > 0 {
				v := diff
				if v < 0 {
					v += 1<<s - 1
				}
				put(uint32(v), s)
			}
			put(0, 1) // EOB
		}
	}
	for nbits != 0 {
		put(1, 1)
	}
	b.Write([]byte{0xff, 0xd9})
	return b.Bytes()
}

// cmykJPEG encodes a solid CMYK colour as an Adobe CMYK JPEG (samples stored
// inverted, as Adobe does).
func cmykJPEG(c color.CMYK) []byte {
	return encodeJPEG4(16, 16, [4]uint8{255 - c.C, 255 - c.M, 255 - c.Y, 255 - c.K}, 0)
}

// ycckJPEG encodes a solid CMYK colour as an Adobe YCCK JPEG: C, M, Y coded
// as if they were R, G, B in YCbCr, K stored inverted.
func ycckJPEG(c color.CMYK) []byte {
	y, cb, cr := color.RGBToYCbCr(c.C, c.M, c.Y)
	return encodeJPEG4(16, 16, [4]uint8{y, cb, cr, 255 - c.K}, 2)
}
