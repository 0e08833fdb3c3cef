//go:build gpu

package gpu

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"tagimp/data/imageprep"
)

// batchDevice is the device half of the fc7 pipeline: a few slots, each
// holding one batch on its way through (pinned staging memory, a copy to
// the device, preprocessing, the network, the rows copied back). Every
// method except host is called by the pipeline's owner goroutine, the one
// the CUDA context is current on; host's memory is written by the
// goroutine that submits the batch.
type batchDevice interface {
	// slots is the number of batches that can be in flight at once.
	slots() int
	// reserve makes slot s able to stage bytes (s is not in flight).
	reserve(s int, bytes int64) error
	// host is slot s's staging memory (at least what reserve asked for).
	host(s int) []byte
	// launch queues slot s's batch: n images in its first bytes staged
	// bytes. It returns without waiting for the device.
	launch(s, n int, bytes int64) error
	// done reports without blocking whether slot s's batch has finished;
	// wait blocks until it has. An error means the batch failed.
	done(s int) (bool, error)
	wait(s int) error
	// rows are the n result rows of slot s's finished batch (valid until
	// the slot is launched again).
	rows(s, n int) []float32
}

// pipePoll is how often the owner looks at the oldest batch in flight
// while no new batch arrives: well below one batch's device time (≥ 1 ms).
const pipePoll = 100 * time.Microsecond

// pipeline runs batches through a batchDevice with several in flight:
// while the device computes batch k, batch k+1's bytes are staged by the
// submitting goroutine and copied on their own stream, and batch k−1's
// rows go back. Slots are handed out in the order they free up; each
// batch's rows come back through its own channel. run must be called on
// the owner goroutine; submit and call from any goroutine.
type pipeline struct {
	dev    batchDevice
	reqs   chan pipeReq
	free   chan int
	closed chan struct{}
	// maxImages bounds the images of one batch.
	maxImages int
}

type pipeReqKind int

const (
	reqReserve pipeReqKind = iota // reserve slot for bytes; reply on errc
	reqLaunch                     // launch slot; the rows go to res
	reqCall                       // run fn with nothing in flight; reply on errc
)

type pipeReq struct {
	kind    pipeReqKind
	slot, n int
	bytes   int64
	fn      func() error
	errc    chan error
	res     chan batchResult
}

type flight struct {
	slot, n int
	res     chan batchResult
}

// newPipeline makes a pipeline over dev with every slot free.
func newPipeline(dev batchDevice, maxImages int) *pipeline {
	p := &pipeline{dev: dev, reqs: make(chan pipeReq), free: make(chan int, dev.slots()),
		closed: make(chan struct{}), maxImages: maxImages}
	for s := 0; s < dev.slots(); s++ {
		p.free <- s
	}
	return p
}

// run serves requests until close, then finishes the batches in flight.
// It is the only goroutine that calls p.dev (except dev.host).
func (p *pipeline) run() {
	var inflight []flight
	// retire hands back the oldest batch if it has finished (or, with
	// block, once it has) and reports whether it did.
	retire := func(block bool) bool {
		if len(inflight) == 0 {
			return false
		}
		f := inflight[0]
		var err error
		if block {
			err = p.dev.wait(f.slot)
		} else {
			var ok bool
			if ok, err = p.dev.done(f.slot); !ok && err == nil {
				return false
			}
		}
		var r batchResult
		if r.err = err; err == nil {
			r.out = append([]float32(nil), p.dev.rows(f.slot, f.n)...)
		}
		f.res <- r
		p.free <- f.slot
		inflight = inflight[1:]
		return true
	}
	poll := time.NewTimer(pipePoll)
	defer poll.Stop()
	for {
		var r pipeReq
		if len(inflight) == 0 {
			select {
			case r = <-p.reqs:
			case <-p.closed:
				return
			}
		} else {
			poll.Reset(pipePoll)
			select {
			case r = <-p.reqs:
			case <-poll.C:
				for retire(false) {
				}
				continue
			case <-p.closed:
				for retire(true) {
				}
				return
			}
		}
		switch r.kind {
		case reqReserve:
			r.errc <- p.dev.reserve(r.slot, r.bytes)
		case reqLaunch:
			if err := p.dev.launch(r.slot, r.n, r.bytes); err != nil {
				r.res <- batchResult{err: err}
				p.free <- r.slot
				break
			}
			inflight = append(inflight, flight{r.slot, r.n, r.res})
			if len(inflight) == p.dev.slots() {
				retire(true) // nobody can submit until a slot frees
			}
		case reqCall:
			for retire(true) {
			}
			r.errc <- r.fn()
		}
		for retire(false) {
		}
	}
}

// send hands r to the owner, or fails once the pipeline is closed.
func (p *pipeline) send(r pipeReq) error {
	select {
	case p.reqs <- r:
		return nil
	case <-p.closed:
		return errPipelineClosed
	}
}

// call runs fn on the owner goroutine once every batch in flight has
// finished (the synchronous paths: tests, benchmarks).
func (p *pipeline) call(fn func() error) error {
	errc := make(chan error, 1)
	if err := p.send(pipeReq{kind: reqCall, fn: fn, errc: errc}); err != nil {
		return err
	}
	return <-errc
}

// close stops the owner after the batches in flight; later submissions
// fail. Call it once.
func (p *pipeline) close() { close(p.closed) }

// rawBytes is the staged size of a batch of raw images: their descriptors
// (imageprep.RawDescBytes each), then their pixels.
func rawBytes(raws []imageprep.Raw) int64 {
	n := int64(len(raws)) * imageprep.RawDescBytes
	for _, r := range raws {
		n += int64(len(r.Pix))
	}
	return n
}

// packRaws writes raws into buf as rawBytes lays them out: the
// descriptors first, with their offsets made relative to the pixel area
// that follows them, then each image's planes back to back.
func packRaws(buf []byte, raws []imageprep.Raw) {
	descs := int64(len(raws)) * imageprep.RawDescBytes
	off := int64(0)
	for i, r := range raws {
		d := r.Desc.Shifted(off)
		putRawDesc(buf[int64(i)*imageprep.RawDescBytes:], d)
		copy(buf[descs+off:], r.Pix)
		off += int64(len(r.Pix))
	}
}

// putRawDesc writes d as struct tg_prep_src: 16 little-endian int64.
func putRawDesc(b []byte, d imageprep.RawDesc) {
	f := [16]int64{d.Off, d.Kind, d.W, d.H, d.Stride, d.CbOff, d.CrOff, d.CStride,
		d.SubX, d.SubY, d.RW, d.RH, d.OX, d.OY, d.AlphaWeighted, d.Span8}
	for i, v := range f {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
}

// errPipelineClosed is returned by submissions after Close.
var errPipelineClosed = errors.New("fc7 on the GPU: extractor closed")

// submit stages raws into a free slot (waiting for one) and queues them;
// the returned function waits for their rows. It may be called from any
// goroutine, by several at once.
func (p *pipeline) submit(raws []imageprep.Raw) (func() ([]float32, error), error) {
	if len(raws) == 0 || len(raws) > p.maxImages {
		return nil, fmt.Errorf("fc7 on the GPU: a batch of %d images, want 1..%d", len(raws), p.maxImages)
	}
	var s int
	select {
	case s = <-p.free:
	case <-p.closed:
		return nil, errPipelineClosed
	}
	bytes := rawBytes(raws)
	errc := make(chan error, 1)
	if err := p.send(pipeReq{kind: reqReserve, slot: s, bytes: bytes, errc: errc}); err != nil {
		return nil, err
	}
	if err := <-errc; err != nil {
		p.free <- s
		return nil, err
	}
	// The slot is ours until launched: its pinned memory is written here,
	// on the submitting goroutine, while the device works on other slots.
	packRaws(p.dev.host(s), raws)
	res := make(chan batchResult, 1)
	if err := p.send(pipeReq{kind: reqLaunch, slot: s, n: len(raws), bytes: bytes, res: res}); err != nil {
		return nil, err
	}
	return func() ([]float32, error) {
		r := <-res
		return r.out, r.err
	}, nil
}

// batchResult is what a batch gives back: its rows, or why it failed.
type batchResult struct {
	out []float32
	err error
}
