//go:build gpu && !emu

package gpu

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"tagimp/cuda"
	"tagimp/cuda/dnn"
	"tagimp/data/imageprep"
	"tagimp/model/vgg16"
)

// ExtractorOptions configures NewFC7Extractor.
type ExtractorOptions struct {
	// Batch is the number of images of one device batch; 0 chooses it
	// from the free device memory (AutoBatch), at most MaxBatch.
	Batch    int
	MaxBatch int // default 256
	// Precision of the network (default TF32).
	Precision Precision
	// Prep is the preprocessing SubmitRaw applies on the device (default
	// imageprep.Default).
	Prep imageprep.Config
	// Slots is the number of batches in flight (default 3: one staged,
	// one computed, one coming back).
	Slots int
	// Algos, when set, are the convolutions' algorithms to use instead of
	// measuring them (VGGOptions.Algos): a resumed run's recorded choice.
	Algos []int
}

// FC7Extractor computes fc7 rows on the GPU (the extractor of `features
// --device gpu`). The CUDA context is current on one OS thread only, so
// all device work is done by one goroutine that owns the context on its
// locked thread; every method may be called from any goroutine.
//
// SubmitRaw is the fast path: decoded 8-bit images are staged in pinned
// memory by the caller, copied on their own stream, preprocessed on the
// device (tg_prep) and run while the next batch is staged and copied.
// Extract, ExtractRaw and ComputeTime are synchronous (tests, benchmarks).
type FC7Extractor struct {
	p      *pipeline
	done   chan struct{}
	once   sync.Once
	dim    int
	batch  int
	slots  int
	info   string
	cudnn  string
	device string
	algos  []int
	v      *VGG16 // used only inside p.call functions (the owner goroutine)
	ctx    *cuda.Context
}

// NewFC7Extractor opens GPU 0, uploads net and prepares VGG16 and the
// pipeline. An out-of-memory error halves the batch (with a message) until
// it fits.
func NewFC7Extractor(net *vgg16.Net, o ExtractorOptions) (*FC7Extractor, error) {
	if o.Precision == "" {
		o.Precision = TF32
	}
	if o.Prep == (imageprep.Config{}) {
		o.Prep = imageprep.Default
	}
	if o.Slots <= 0 {
		o.Slots = 3
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	if err := o.Prep.Validate(); err != nil {
		return nil, err
	}
	e := &FC7Extractor{done: make(chan struct{}), dim: net.Config().FC, slots: o.Slots}
	ready := make(chan error, 1)
	go e.serve(net, o, ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return e, nil
}

func (e *FC7Extractor) serve(net *vgg16.Net, o ExtractorOptions, ready chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(e.done)
	ctx, err := cuda.Open(0)
	if err != nil {
		ready <- err
		return
	}
	defer ctx.Close()
	batch := o.Batch
	if batch <= 0 {
		free, _, err := ctx.MemInfo()
		if err != nil {
			ready <- err
			return
		}
		batch = AutoBatch(free, WeightBytes(net.Config(), o.Precision)+vggReserveBytes,
			DeviceBytesPerImage(net.Config(), o.Precision)+int64(o.Slots)*stagedBytesPerImage, o.MaxBatch)
		fmt.Fprintf(os.Stderr, "fc7 on the GPU: batch %d from %.1f GiB of free device memory\n", batch, float64(free)/(1<<30))
	}
	// Out of memory lowers the batch (halving, down to 1) with a message
	// instead of ending the run.
	var v *VGG16
	var slots *vggSlots
	algos := make([]dnn.Algo, len(o.Algos))
	for i, a := range o.Algos {
		algos[i] = dnn.Algo(a)
	}
	for {
		v, err = NewVGG16(ctx, net, VGGOptions{Batch: batch, Precision: o.Precision, Algos: algos})
		if err == nil {
			if slots, err = newVGGSlots(ctx, v, o.Slots, o.Prep); err != nil {
				v.Close()
			}
		}
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
	defer slots.close()
	e.batch, e.v, e.ctx = batch, v, ctx
	for _, a := range v.Algos() {
		e.algos = append(e.algos, int(a))
	}
	e.info = v.Describe()
	e.cudnn = v.CuDNN().String()
	e.device = ctx.Info().Name
	e.p = newPipeline(slots, batch)
	ready <- nil
	e.p.run()
}

// outOfMemory reports a device allocation that failed for lack of memory,
// in the driver or inside cuDNN.
func outOfMemory(err error) bool { return cuda.IsOutOfMemory(err) || dnn.IsAllocFailed(err) }

// SubmitRaw queues decoded images (at most Batch) and returns at once,
// after staging their 8-bit planes in pinned memory; wait returns their
// fc7 rows. At most InFlight batches are on their way at a time: a
// further SubmitRaw waits for a slot.
func (e *FC7Extractor) SubmitRaw(raws []imageprep.Raw) (wait func() ([]float32, error), err error) {
	return e.p.submit(raws)
}

// InFlight is the number of batches that can be on their way at once.
func (e *FC7Extractor) InFlight() int { return e.slots }

// Extract returns the fc7 rows of the n preprocessed images in x (copied,
// run and copied back batch by batch, synchronously).
func (e *FC7Extractor) Extract(x []float32, n int) ([]float32, error) {
	if n <= 0 || len(x)%n != 0 {
		return nil, fmt.Errorf("fc7 on the GPU: %d values for %d images", len(x), n)
	}
	var out []float32
	err := e.p.call(func() error {
		per := len(x) / n
		for i := 0; i < n; i += e.batch {
			k := min(e.batch, n-i)
			rows, err := e.v.FC7Host(x[i*per:(i+k)*per], k)
			if err != nil {
				return err
			}
			out = append(out, rows...)
		}
		return nil
	})
	return out, err
}

// ExtractRaw returns the fc7 rows of decoded images preprocessed on the
// device with prep, synchronously, batch by batch (FC7Raw).
func (e *FC7Extractor) ExtractRaw(raws []imageprep.Raw, prep imageprep.Config) ([]float32, error) {
	var out []float32
	err := e.p.call(func() error {
		for i := 0; i < len(raws); i += e.batch {
			rows, err := e.v.FC7Raw(raws[i:min(i+e.batch, len(raws))], prep)
			if err != nil {
				return err
			}
			out = append(out, rows...)
		}
		return nil
	})
	return out, err
}

// ComputeTime is the mean device time of one full batch (Batch images,
// already on the device) over iters batches after a warm-up: compute only.
func (e *FC7Extractor) ComputeTime(iters int) (time.Duration, error) {
	var per time.Duration
	err := e.p.call(func() error {
		if err := e.ctx.Fill32(e.v.Input(), 0.5, e.v.Stream()); err != nil {
			return err
		}
		var err error
		per, err = e.v.Timed(max(iters, 1))
		return err
	})
	return per, err
}

// Batch is the number of images of one device batch.
func (e *FC7Extractor) Batch() int { return e.batch }

// ConvAlgorithms are the convolutions' cuDNN algorithms, in layer order
// (what ExtractorOptions.Algos takes to repeat them).
func (e *FC7Extractor) ConvAlgorithms() []int { return append([]int(nil), e.algos...) }

// Dim is fc7's width (4096).
func (e *FC7Extractor) Dim() int { return e.dim }

// Describe is the layers' algorithm choice (VGG16.Describe).
func (e *FC7Extractor) Describe() string { return e.info }

// CuDNN names the cuDNN library in use; Device the GPU.
func (e *FC7Extractor) CuDNN() string  { return e.cudnn }
func (e *FC7Extractor) Device() string { return e.device }

// Close finishes the batches in flight, releases the GPU and waits until
// it is released. Later calls fail.
func (e *FC7Extractor) Close() {
	e.once.Do(func() {
		e.p.close()
		<-e.done
	})
}
