package vgg16

import (
	"sync"
	"time"
)

// convChunkCols is how many output pixels (GEMM columns) one im2col + SGEMM
// step of a convolution covers: the first layers (224×224, 112×112) run in
// bands of rows, so the patch matrix stays ~10 MB instead of 115 MB and is
// still in cache when the SGEMM reads it.
const convChunkCols = 4096

// im2colRows writes the 3×3, padding-1, stride-1 patches of output rows
// [y0, y1) of a c×h×w image into cols, a (c·9)×((y1-y0)·w) row-major
// matrix: row (ch·9 + ky·3 + kx), column ((y-y0)·w + x) holds
// in[ch, y+ky-1, x+kx-1], or 0 outside the image. This is the layout of a
// torch conv weight [out, in, 3, 3] seen as out×(in·9).
func im2colRows(cols, in []float32, c, h, w, y0, y1 int) {
	hw := h * w
	n := (y1 - y0) * w
	for ch := 0; ch < c; ch++ {
		src := in[ch*hw : (ch+1)*hw]
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				row := cols[(ch*9+ky*3+kx)*n : (ch*9+ky*3+kx+1)*n]
				dx := kx - 1
				x0, x1 := max(0, -dx), min(w, w-dx) // valid output columns
				for y := y0; y < y1; y++ {
					out := row[(y-y0)*w : (y-y0+1)*w]
					sy := y + ky - 1
					if sy < 0 || sy >= h {
						clear(out)
						continue
					}
					if x0 > 0 {
						out[0] = 0
					}
					if x1 < w {
						out[w-1] = 0
					}
					copy(out[x0:x1], src[sy*w+x0+dx:sy*w+x1+dx])
				}
			}
		}
	}
}

// im2colRowsParallel is im2colRows split by input channel over `workers`
// goroutines; each channel's rows of cols are independent.
func im2colRowsParallel(cols, in []float32, c, h, w, y0, y1, workers int) {
	hw, n := h*w, (y1-y0)*w
	if workers <= 1 || c < 2 || c*n < 1<<16 {
		im2colRows(cols, in, c, h, w, y0, y1)
		return
	}
	workers = min(workers, c)
	var wg sync.WaitGroup
	for k := 0; k < workers; k++ {
		c0, c1 := c*k/workers, c*(k+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			im2colRows(cols[c0*9*n:c1*9*n], in[c0*hw:c1*hw], c1-c0, h, w, y0, y1)
		}()
	}
	wg.Wait()
}

// convRows is the number of image rows per im2col + SGEMM step for an
// image w pixels wide when a step covers about chunkCols output pixels.
func convRows(h, w, chunkCols int) int {
	return max(1, min(h, chunkCols/w))
}

// conv3x3 computes out = ReLU(W·im2col(in) + b) for one image: in is
// cin×h×w, weight is [cout, cin, 3, 3], out is cout×h×w. It runs in bands
// of convRows(h, w, chunkCols) rows; cols is scratch of at least
// cin·9·w·convRows(h, w, chunkCols) values. When t is not nil the time
// spent in im2col and in SGEMM (with bias and ReLU) is added to it.
func conv3x3(out, in, weight, bias, cols []float32, cin, cout, h, w, chunkCols, workers int, t *Timing) {
	hw := h * w
	k := cin * 9
	start := time.Now()
	out = out[:cout*hw]
	for o := 0; o < cout; o++ {
		row := out[o*hw : (o+1)*hw]
		for i := range row {
			row[i] = bias[o]
		}
	}
	var tIm2col time.Duration
	rows := convRows(h, w, chunkCols)
	for y0 := 0; y0 < h; y0 += rows {
		y1 := min(h, y0+rows)
		n := (y1 - y0) * w
		t0 := time.Now()
		im2colRowsParallel(cols[:k*n], in, cin, h, w, y0, y1, workers)
		tIm2col += time.Since(t0)
		// Output columns y0·w … y1·w-1 of every channel: leading dimension hw.
		sgemm(false, cout, n, k, weight, k, cols, n, 1, out[y0*w:], hw)
	}
	relu(out)
	if t != nil {
		t.Im2col += tIm2col
		t.ConvGEMM += time.Since(start) - tIm2col
	}
}

// maxPool2 is a 2×2, stride-2 max-pool of a c×h×w image into c×(h/2)×(w/2)
// (odd edges dropped, as torch's floor mode does).
func maxPool2(out, in []float32, c, h, w int) {
	oh, ow := h/2, w/2
	for ch := 0; ch < c; ch++ {
		src := in[ch*h*w : (ch+1)*h*w]
		dst := out[ch*oh*ow : (ch+1)*oh*ow]
		for y := 0; y < oh; y++ {
			r0 := src[2*y*w : 2*y*w+w]
			r1 := src[(2*y+1)*w : (2*y+1)*w+w]
			d := dst[y*ow : (y+1)*ow]
			for x := range d {
				d[x] = max(r0[2*x], r0[2*x+1], r1[2*x], r1[2*x+1])
			}
		}
	}
}

// linear computes out = x·Wᵀ + b for n rows: x is n×in, weight [out, in]
// (torch's layout), out n×outDim; with ReLU when relu is set.
func linear(out, x, weight, bias []float32, n, in, outDim int, doReLU bool) {
	for r := 0; r < n; r++ {
		copy(out[r*outDim:(r+1)*outDim], bias)
	}
	sgemm(true, n, outDim, in, x, in, weight, in, 1, out[:n*outDim], outDim)
	if doReLU {
		relu(out[:n*outDim])
	}
}

func relu(x []float32) {
	for i, v := range x {
		if v < 0 {
			x[i] = 0
		}
	}
}
