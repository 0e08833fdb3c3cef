//go:build gpu && !emu

package gpu

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"

	"tagimp/cuda"
	"tagimp/cuda/dnn"
	"tagimp/data/imageprep"
	"tagimp/model/vgg16"
)

// FC7Extractor computes fc7 rows on the GPU for preprocessed images (the
// features.Extractor of `features --device gpu`). The CUDA context is
// current on one OS thread only, so every call is handed to a goroutine
// that owns the context on its locked thread; Extract may be called from
// any goroutine (one call at a time is served, in order).
//
// This is the synchronous path: images are decoded and preprocessed on the
// CPU (imageprep), copied, run and copied back batch by batch.
type FC7Extractor struct {
	reqs   chan extractReq
	done   chan struct{}
	dim    int
	batch  int
	info   string
	cudnn  string
	device string
}

type extractReq struct {
	x    []float32
	n    int
	raws []imageprep.Raw // ExtractRaw
	prep imageprep.Config
	resp chan extractResp
}

type extractResp struct {
	out []float32
	per time.Duration
	err error
}

// NewFC7Extractor opens GPU 0, uploads net and prepares VGG16 for batch
// images at precision prec.
func NewFC7Extractor(net *vgg16.Net, batch int, prec Precision) (*FC7Extractor, error) {
	e := &FC7Extractor{reqs: make(chan extractReq), done: make(chan struct{}), dim: net.Config().FC, batch: batch}
	ready := make(chan error, 1)
	go e.serve(net, batch, prec, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return e, nil
}

func (e *FC7Extractor) serve(net *vgg16.Net, batch int, prec Precision, ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(e.done)
	ctx, err := cuda.Open(0)
	if err != nil {
		ready <- err
		return
	}
	defer ctx.Close()
	// Out of memory lowers the batch (halving, down to 1) with a message
	// instead of ending the run.
	var v *VGG16
	for {
		v, err = NewVGG16(ctx, net, VGGOptions{Batch: batch, Precision: prec})
		if err == nil || batch == 1 || !outOfMemory(err) {
			break
		}
		fmt.Fprintf(os.Stderr, "fc7 on the GPU: batch %d does not fit (%v); trying %d\n", batch, err, batch/2)
		batch /= 2
	}
	if err != nil {
		ready <- err
		return
	}
	defer v.Close()
	e.batch = batch
	e.info = v.Describe()
	e.cudnn = v.CuDNN().String()
	e.device = ctx.Info().Name
	ready <- nil
	for r := range e.reqs {
		var resp extractResp
		if r.raws != nil {
			for i := 0; i < len(r.raws) && resp.err == nil; i += batch {
				var rows []float32
				rows, resp.err = v.FC7Raw(r.raws[i:min(i+batch, len(r.raws))], r.prep)
				resp.out = append(resp.out, rows...)
			}
			r.resp <- resp
			continue
		}
		if r.x == nil { // ComputeTime: -n timed batches on a synthetic input
			if resp.err = ctx.Fill32(v.Input(), 0.5, v.Stream()); resp.err == nil {
				resp.per, resp.err = v.Timed(-r.n)
			}
			r.resp <- resp
			continue
		}
		for i := 0; i < r.n && resp.err == nil; i += batch {
			k := min(batch, r.n-i)
			per := len(r.x) / r.n
			var rows []float32
			rows, resp.err = v.FC7Host(r.x[i*per:(i+k)*per], k)
			resp.out = append(resp.out, rows...)
		}
		r.resp <- resp
	}
}

// outOfMemory reports a device allocation that failed for lack of memory,
// in the driver or inside cuDNN.
func outOfMemory(err error) bool { return cuda.IsOutOfMemory(err) || dnn.IsAllocFailed(err) }

// Extract returns the fc7 rows of the n preprocessed images in x.
func (e *FC7Extractor) Extract(x []float32, n int) ([]float32, error) {
	if e.reqs == nil {
		return nil, errors.New("fc7 on the GPU: extractor closed")
	}
	if n <= 0 || len(x)%n != 0 {
		return nil, fmt.Errorf("fc7 on the GPU: %d values for %d images", len(x), n)
	}
	resp := make(chan extractResp)
	e.reqs <- extractReq{x: x, n: n, resp: resp}
	r := <-resp
	return r.out, r.err
}

// ExtractRaw returns the fc7 rows of decoded images, preprocessed on the
// device (only their 8-bit planes cross PCIe): what FC7Raw does, batch by
// batch.
func (e *FC7Extractor) ExtractRaw(raws []imageprep.Raw, prep imageprep.Config) ([]float32, error) {
	if e.reqs == nil {
		return nil, errors.New("fc7 on the GPU: extractor closed")
	}
	if len(raws) == 0 {
		return nil, nil
	}
	resp := make(chan extractResp)
	e.reqs <- extractReq{raws: raws, prep: prep, resp: resp}
	r := <-resp
	return r.out, r.err
}

// ComputeTime is the mean device time of one full batch (Batch images,
// already on the device) over iters batches after a warm-up: compute only.
func (e *FC7Extractor) ComputeTime(iters int) (time.Duration, error) {
	if e.reqs == nil {
		return 0, errors.New("fc7 on the GPU: extractor closed")
	}
	resp := make(chan extractResp)
	e.reqs <- extractReq{n: -max(iters, 1), resp: resp}
	r := <-resp
	return r.per, r.err
}

// Batch is the number of images of one device batch.
func (e *FC7Extractor) Batch() int { return e.batch }

// Dim is fc7's width (4096).
func (e *FC7Extractor) Dim() int { return e.dim }

// Describe is the layers' algorithm choice (VGG16.Describe).
func (e *FC7Extractor) Describe() string { return e.info }

// CuDNN names the cuDNN library in use; Device the GPU.
func (e *FC7Extractor) CuDNN() string  { return e.cudnn }
func (e *FC7Extractor) Device() string { return e.device }

// Close releases the GPU and waits until it is released.
func (e *FC7Extractor) Close() {
	if e.reqs != nil {
		close(e.reqs)
		e.reqs = nil
		<-e.done
	}
}
