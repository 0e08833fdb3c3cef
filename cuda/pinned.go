//go:build gpu

package cuda

/*
#include <cuda.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// HostBuffer is page-locked ("pinned") host memory: the device copies it
// by DMA, so copies from and to it can be asynchronous and overlap
// kernels. It is allocated portable (usable with every context) and may be
// read and written from any goroutine; only its allocation and release
// need the context. The zero HostBuffer is empty.
type HostBuffer struct {
	p     unsafe.Pointer
	bytes int64
}

// AllocHost allocates bytes of pinned host memory (cuMemHostAlloc).
func (c *Context) AllocHost(bytes int64) (HostBuffer, error) {
	if err := c.check("allocate pinned host memory"); err != nil {
		return HostBuffer{}, err
	}
	if bytes <= 0 {
		return HostBuffer{}, fmt.Errorf("pinned host allocation of %d bytes: size must be positive", bytes)
	}
	var p unsafe.Pointer
	if err := curesult(fmt.Sprintf("allocate %d bytes (%.1f MiB) of pinned host memory (cuMemHostAlloc)", bytes, float64(bytes)/(1<<20)),
		C.cuMemHostAlloc(&p, C.size_t(bytes), C.CU_MEMHOSTALLOC_PORTABLE)); err != nil {
		return HostBuffer{}, err
	}
	return HostBuffer{p: p, bytes: bytes}, nil
}

// FreeHost releases a HostBuffer from AllocHost and empties it.
func (c *Context) FreeHost(h *HostBuffer) error {
	if h == nil || h.p == nil {
		return nil
	}
	if err := c.check("free pinned host memory"); err != nil {
		return err
	}
	if err := cu.MemFreeHost(h.p); err != nil {
		return fmt.Errorf("free %d bytes of pinned host memory: %w", h.bytes, err)
	}
	*h = HostBuffer{}
	return nil
}

// Len is the size in bytes.
func (h HostBuffer) Len() int64 { return h.bytes }

// Bytes is the memory as a byte slice (valid until FreeHost).
func (h HostBuffer) Bytes() []byte {
	if h.p == nil {
		return nil
	}
	return unsafe.Slice((*byte)(h.p), h.bytes)
}

// Float32s is the memory as float32 values (valid until FreeHost).
func (h HostBuffer) Float32s() []float32 {
	if h.p == nil {
		return nil
	}
	return unsafe.Slice((*float32)(h.p), h.bytes/4)
}

// SliceBytes returns the view of bytes [off, off+n) of b.
func (b Buffer) SliceBytes(off, n int64) (Buffer, error) {
	if off < 0 || n < 0 || off+n > b.bytes {
		return Buffer{}, fmt.Errorf("device buffer view of bytes [%d, %d) out of range: buffer holds %d bytes", off, off+n, b.bytes)
	}
	return Buffer{ptr: b.ptr + cu.DevicePtr(off), bytes: n}, nil
}

// UploadAsync queues a copy of the first n bytes of src to dst on stream s
// and returns at once; src must stay untouched until the copy has run (an
// Event recorded on s after it says when).
func (c *Context) UploadAsync(dst Buffer, src HostBuffer, n int64, s *Stream) error {
	if err := c.check("queue a copy host→device"); err != nil {
		return err
	}
	if n < 0 || n > src.bytes || n > dst.bytes {
		return fmt.Errorf("queue a copy of %d bytes host→device: pinned buffer holds %d, device buffer %d", n, src.bytes, dst.bytes)
	}
	if n == 0 {
		return nil
	}
	if err := cu.MemcpyHtoDAsync(dst.ptr, src.p, n, s.cu()); err != nil {
		return fmt.Errorf("queue a copy of %d bytes host→device: %w", n, err)
	}
	return nil
}

// DownloadAsync queues a copy of the first n bytes of src into dst on
// stream s and returns at once; dst holds them once the stream has reached
// the copy.
func (c *Context) DownloadAsync(dst HostBuffer, src Buffer, n int64, s *Stream) error {
	if err := c.check("queue a copy device→host"); err != nil {
		return err
	}
	if n < 0 || n > src.bytes || n > dst.bytes {
		return fmt.Errorf("queue a copy of %d bytes device→host: device buffer holds %d, pinned buffer %d", n, src.bytes, dst.bytes)
	}
	if n == 0 {
		return nil
	}
	if err := cu.MemcpyDtoHAsync(dst.p, src.ptr, n, s.cu()); err != nil {
		return fmt.Errorf("queue a copy of %d bytes device→host: %w", n, err)
	}
	return nil
}

// NewSyncEvent creates an event for ordering and completion only (no
// timing, which makes recording and waiting cheaper).
func (c *Context) NewSyncEvent() (*Event, error) {
	if err := c.check("create a CUDA event"); err != nil {
		return nil, err
	}
	e, err := cu.MakeEvent(cu.DisableTiming)
	if err != nil {
		return nil, fmt.Errorf("create a CUDA event: %w", err)
	}
	return &Event{c: c, e: e}, nil
}

// WaitEvent makes the work queued on s after this call wait until e (as
// last recorded) has completed, without blocking the host.
func (s *Stream) WaitEvent(e *Event) error {
	if s == nil {
		return errors.New("stream wait for an event: the legacy default stream is not used by this package's pipelines")
	}
	if err := s.c.check("stream wait for an event"); err != nil {
		return err
	}
	if err := s.s.Wait(e.e, 0); err != nil {
		return fmt.Errorf("stream wait for an event (cuStreamWaitEvent): %w", err)
	}
	return nil
}

// Done reports, without blocking, whether the work before e's last record
// has completed. An error says that work failed.
func (e *Event) Done() (bool, error) {
	if err := e.c.check("query CUDA event"); err != nil {
		return false, err
	}
	err := e.e.Query()
	if err == nil {
		return true, nil
	}
	if errors.Is(err, cu.NotReady) {
		return false, nil
	}
	return false, fmt.Errorf("query CUDA event: %w (a kernel or copy before it failed)", err)
}
