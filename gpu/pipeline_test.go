//go:build gpu

package gpu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"tagimp/data/imageprep"
)

// fakeDevice is a batchDevice whose "device" is one goroutine working
// through launched batches in order, like a CUDA stream, with a delay per
// batch. A batch's rows are computed from its staged bytes, so a slot
// overwritten while in flight, a wrong layout or rows handed to the wrong
// batch all show up as wrong rows. It also checks the pipeline's rules:
// only host is called off the owner goroutine, a slot is never reserved or
// launched while in flight, and call runs with nothing in flight.
type fakeDevice struct {
	t       *testing.T
	owner   atomic.Int64 // goroutine id of the owner, set by the first call
	delay   time.Duration
	failAt  atomic.Int64 // launch number that fails (0: none)
	breakAt atomic.Int64 // batch number whose completion reports a device error

	mu       sync.Mutex
	buf      [][]byte
	out      [][]float32
	busy     []bool
	finished []chan error
	launches int64
	inflight int
	maxIn    int
	queue    chan int
	sum      []uint32
	seq      []int64
}

func newFakeDevice(t *testing.T, slots int, delay time.Duration) *fakeDevice {
	d := &fakeDevice{t: t, delay: delay, buf: make([][]byte, slots), out: make([][]float32, slots),
		busy: make([]bool, slots), finished: make([]chan error, slots), queue: make(chan int, slots),
		sum: make([]uint32, slots), seq: make([]int64, slots)}
	go d.stream()
	return d
}

// fakeRows is what the fake network computes for a staged batch: per
// image, its descriptor's fields and a checksum of its pixels.
func fakeRows(buf []byte, n int) []float32 {
	descs := n * imageprep.RawDescBytes
	var out []float32
	for i := 0; i < n; i++ {
		var f [16]int64
		binary.Read(bytes.NewReader(buf[i*imageprep.RawDescBytes:(i+1)*imageprep.RawDescBytes]), binary.LittleEndian, &f)
		off, w, h := f[0], f[2], f[3]
		pix := buf[int64(descs)+off : int64(descs)+off+w*h]
		out = append(out, float32(w), float32(h), float32(crc32.ChecksumIEEE(pix)%(1<<24)))
	}
	return out
}

// expectRows is fakeRows for raws not yet staged.
func expectRows(raws []imageprep.Raw) []float32 {
	var out []float32
	for _, r := range raws {
		out = append(out, float32(r.Desc.W), float32(r.Desc.H), float32(crc32.ChecksumIEEE(r.Pix)%(1<<24)))
	}
	return out
}

func (d *fakeDevice) stream() {
	for s := range d.queue {
		time.Sleep(d.delay)
		d.mu.Lock()
		n := int(d.out[s][0]) // launch stored n here
		var err error
		if crc32.ChecksumIEEE(d.buf[s]) != d.sum[s] {
			err = fmt.Errorf("slot %d: staged bytes changed while in flight", s)
		} else if d.seq[s] == d.breakAt.Load() {
			err = errors.New("fake device fault")
		} else {
			d.out[s] = fakeRows(d.buf[s], n)
		}
		d.inflight--
		d.busy[s] = false
		c := d.finished[s]
		d.mu.Unlock()
		c <- err
	}
}

func goid() int64 {
	var b [64]byte
	s := b[:runtime.Stack(b[:], false)]
	var id int64
	fmt.Sscanf(string(s), "goroutine %d ", &id)
	return id
}

// onOwner fails the test when called off the owner goroutine.
func (d *fakeDevice) onOwner(what string) {
	id := goid()
	if d.owner.CompareAndSwap(0, id) {
		return
	}
	if o := d.owner.Load(); o != id {
		d.t.Errorf("%s called on goroutine %d, the owner is %d", what, id, o)
	}
}

func (d *fakeDevice) slots() int { return len(d.buf) }

func (d *fakeDevice) reserve(s int, n int64) error {
	d.onOwner("reserve")
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy[s] {
		d.t.Errorf("reserve of slot %d while it is in flight", s)
	}
	if n > 1<<20 {
		return fmt.Errorf("fake: cannot stage %d bytes", n)
	}
	if int64(len(d.buf[s])) < n {
		d.buf[s] = make([]byte, n)
	}
	return nil
}

func (d *fakeDevice) host(s int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy[s] {
		d.t.Errorf("host memory of slot %d written while it is in flight", s)
	}
	return d.buf[s]
}

func (d *fakeDevice) launch(s, n int, bytes int64) error {
	d.onOwner("launch")
	d.mu.Lock()
	defer d.mu.Unlock()
	d.launches++
	if d.launches == d.failAt.Load() {
		return errors.New("fake launch failure")
	}
	if d.busy[s] {
		d.t.Errorf("launch of slot %d while it is in flight", s)
	}
	d.buf[s] = d.buf[s][:bytes]
	d.busy[s], d.sum[s], d.seq[s] = true, crc32.ChecksumIEEE(d.buf[s]), d.launches
	d.out[s] = []float32{float32(n)}
	d.finished[s] = make(chan error, 1)
	d.inflight++
	d.maxIn = max(d.maxIn, d.inflight)
	d.queue <- s
	return nil
}

func (d *fakeDevice) done(s int) (bool, error) {
	d.onOwner("done")
	select {
	case err := <-d.finished[s]:
		d.finished[s] <- err // keep it for wait/rows
		return true, err
	default:
		return false, nil
	}
}

func (d *fakeDevice) wait(s int) error {
	d.onOwner("wait")
	err := <-d.finished[s]
	d.finished[s] <- err
	return err
}

func (d *fakeDevice) rows(s, n int) []float32 {
	d.onOwner("rows")
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.out[s]
}

func randomRaws(r *rand.Rand, n int) []imageprep.Raw {
	raws := make([]imageprep.Raw, n)
	for i := range raws {
		w, h := 1+r.IntN(40), 1+r.IntN(30)
		pix := make([]byte, w*h)
		for j := range pix {
			pix[j] = byte(r.Uint32())
		}
		raws[i] = imageprep.Raw{Desc: imageprep.RawDesc{Kind: imageprep.RawGray, W: int64(w), H: int64(h), Stride: int64(w)}, Pix: pix}
	}
	return raws
}

func startPipeline(t *testing.T, d *fakeDevice, maxImages int) *pipeline {
	p := newPipeline(d, maxImages)
	done := make(chan struct{})
	go func() { defer close(done); p.run() }()
	t.Cleanup(func() {
		p.close()
		<-done
		close(d.queue)
	})
	return p
}

// TestPipelineConcurrentSubmitters runs batches from several goroutines
// through a slow device: every batch gets its own rows, computed from the
// bytes it staged, and batches overlap (more than one in flight).
func TestPipelineConcurrentSubmitters(t *testing.T) {
	d := newFakeDevice(t, 3, 2*time.Millisecond)
	p := startPipeline(t, d, 8)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			var waits []func() ([]float32, error)
			var want [][]float32
			for b := 0; b < 15; b++ {
				raws := randomRaws(r, 1+r.IntN(8))
				w, err := p.submit(raws)
				if err != nil {
					t.Error(err)
					return
				}
				waits, want = append(waits, w), append(want, expectRows(raws))
				if len(waits) > 2 { // a consumer two batches behind, as features.Build is
					checkRows(t, waits[0], want[0])
					waits, want = waits[1:], want[1:]
				}
			}
			for i := range waits {
				checkRows(t, waits[i], want[i])
			}
		}()
	}
	wg.Wait()
	if d.maxIn < 2 {
		t.Errorf("at most %d batch in flight: the pipeline did not overlap batches", d.maxIn)
	}
	t.Logf("%d batches, at most %d in flight", d.launches, d.maxIn)
}

func checkRows(t *testing.T, wait func() ([]float32, error), want []float32) {
	t.Helper()
	got, err := wait()
	if err != nil {
		t.Error(err)
		return
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rows %v, want %v", got, want)
	}
}

// TestPipelineFailures: a launch that fails, a batch the device fails and
// a reservation that fails each fail that batch only, and return its slot.
func TestPipelineFailures(t *testing.T) {
	d := newFakeDevice(t, 2, time.Millisecond)
	d.failAt.Store(2)
	d.breakAt.Store(4)
	p := startPipeline(t, d, 4)
	r := rand.New(rand.NewPCG(3, 4))
	wantErr := map[int]string{1: "fake launch failure", 3: "fake device fault"}
	for b := 0; b < 8; b++ {
		raws := randomRaws(r, 3)
		wait, err := p.submit(raws)
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		got, err := wait()
		if msg, bad := wantErr[b]; bad {
			if err == nil || err.Error() != msg {
				t.Errorf("batch %d: error %v, want %q", b, err, msg)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(expectRows(raws)) {
			t.Errorf("batch %d: rows %v, %v; want %v", b, got, err, expectRows(raws))
		}
	}
	big := []imageprep.Raw{{Desc: imageprep.RawDesc{W: 2048, H: 1024}, Pix: make([]byte, 2048*1024)}}
	if _, err := p.submit(big); err == nil {
		t.Error("a batch too large to stage was accepted")
	}
	if _, err := p.submit(randomRaws(r, 5)); err == nil {
		t.Error("a batch above the batch size was accepted")
	}
	// Both slots must be free again.
	for i := 0; i < 2; i++ {
		wait, err := p.submit(randomRaws(r, 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := wait(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPipelineCallAndClose: call runs with nothing in flight; close
// finishes the batches in flight, and later submissions fail.
func TestPipelineCallAndClose(t *testing.T) {
	d := newFakeDevice(t, 3, 3*time.Millisecond)
	p := newPipeline(d, 4)
	stopped := make(chan struct{})
	go func() { defer close(stopped); p.run() }()
	r := rand.New(rand.NewPCG(5, 6))
	raws := randomRaws(r, 2)
	w1, err := p.submit(raws)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.call(func() error {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.inflight != 0 {
			return fmt.Errorf("call ran with %d batches in flight", d.inflight)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	w2, err := p.submit(raws)
	if err != nil {
		t.Fatal(err)
	}
	p.close()
	<-stopped
	checkRows(t, w1, expectRows(raws))
	checkRows(t, w2, expectRows(raws))
	if _, err := p.submit(raws); !errors.Is(err, errPipelineClosed) {
		t.Errorf("submit after close: %v, want %v", err, errPipelineClosed)
	}
	if err := p.call(func() error { return nil }); !errors.Is(err, errPipelineClosed) {
		t.Errorf("call after close: %v", err)
	}
	close(d.queue)
}

// TestPackRaws: the staged layout is what tg_prep reads: descriptors as
// struct tg_prep_src (the in-memory RawDesc, as PrepRaw uploads it) with
// offsets into the pixel area that follows them.
func TestPackRaws(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	raws := randomRaws(r, 3)
	raws[1].Desc = imageprep.RawDesc{Kind: imageprep.RawYCbCr, W: 5, H: 4, Stride: 5, CbOff: 20, CrOff: 26, CStride: 3,
		SubX: 2, SubY: 2, RW: 224, RH: 224, OX: 1, OY: 2, AlphaWeighted: 0}
	raws[1].Pix = make([]byte, 32)
	buf := make([]byte, rawBytes(raws))
	packRaws(buf, raws)
	off := int64(0)
	for i, raw := range raws {
		d := raw.Desc.Shifted(off)
		mem := unsafe.Slice((*byte)(unsafe.Pointer(&d)), imageprep.RawDescBytes)
		if got := buf[i*imageprep.RawDescBytes : (i+1)*imageprep.RawDescBytes]; !bytes.Equal(got, mem) {
			t.Errorf("descriptor %d: %x, want %x", i, got, mem)
		}
		start := int64(len(raws))*imageprep.RawDescBytes + off
		if !bytes.Equal(buf[start:start+int64(len(raw.Pix))], raw.Pix) {
			t.Errorf("pixels of image %d not at offset %d", i, off)
		}
		off += int64(len(raw.Pix))
	}
}
