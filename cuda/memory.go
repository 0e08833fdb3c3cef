//go:build gpu

package cuda

import (
	"errors"
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// Buffer is a range of device memory. The zero Buffer is the null pointer
// (kernels take it as "absent" where they allow NULL). Buffers are values:
// Slice32 makes views that share the allocation; only the Buffer returned by
// Alloc may be freed.
type Buffer struct {
	ptr   cu.DevicePtr
	bytes int64
}

// Ptr returns the device address (0 for the null Buffer).
func (b Buffer) Ptr() uint64 { return uint64(b.ptr) }

// Bytes returns the size in bytes.
func (b Buffer) Bytes() int64 { return b.bytes }

// Len32 returns the size in float32 elements.
func (b Buffer) Len32() int { return int(b.bytes / 4) }

// IsNull reports whether b is the null Buffer.
func (b Buffer) IsNull() bool { return b.ptr == 0 }

// Slice32 returns the view of float32 elements [off, off+n).
func (b Buffer) Slice32(off, n int) (Buffer, error) {
	if off < 0 || n < 0 || int64(off+n)*4 > b.bytes {
		return Buffer{}, fmt.Errorf("device buffer view [%d, %d) out of range: buffer holds %d float32", off, off+n, b.bytes/4)
	}
	return Buffer{ptr: b.ptr + cu.DevicePtr(off*4), bytes: int64(n) * 4}, nil
}

// Alloc allocates bytes of device memory (contents undefined). Out of
// memory is reported with the size asked and the memory free.
func (c *Context) Alloc(bytes int64) (b Buffer, err error) {
	defer guard("cuMemAlloc", &err)
	if err := c.check("allocate device memory"); err != nil {
		return Buffer{}, err
	}
	if bytes <= 0 {
		return Buffer{}, fmt.Errorf("device allocation of %d bytes: size must be positive", bytes)
	}
	p, err := cu.MemAlloc(bytes)
	if err != nil {
		free, total, ierr := cu.MemInfo()
		if ierr != nil {
			return Buffer{}, fmt.Errorf("allocate %d bytes (%.1f MiB) on GPU %d: %w", bytes, float64(bytes)/(1<<20), c.info.Ordinal, err)
		}
		return Buffer{}, fmt.Errorf("allocate %d bytes (%.1f MiB) on GPU %d: %w (%.1f MiB free of %.1f MiB)",
			bytes, float64(bytes)/(1<<20), c.info.Ordinal, err, float64(free)/(1<<20), float64(total)/(1<<20))
	}
	return Buffer{ptr: p, bytes: bytes}, nil
}

// AllocF32 allocates n float32 elements.
func (c *Context) AllocF32(n int) (Buffer, error) { return c.Alloc(int64(n) * 4) }

// Free releases a Buffer returned by Alloc and sets it to null.
func (c *Context) Free(b *Buffer) error {
	if b == nil || b.ptr == 0 {
		return nil
	}
	if err := c.check("free device memory"); err != nil {
		return err
	}
	if err := cu.MemFree(b.ptr); err != nil {
		return fmt.Errorf("free %d bytes of device memory: %w", b.bytes, err)
	}
	*b = Buffer{}
	return nil
}

// Upload copies src into the first len(src) elements of dst (synchronous).
func (c *Context) Upload(dst Buffer, src []float32) error {
	if err := c.check("copy host→device"); err != nil {
		return err
	}
	if int64(len(src))*4 > dst.bytes {
		return fmt.Errorf("upload %d float32 into a device buffer of %d", len(src), dst.bytes/4)
	}
	if len(src) == 0 {
		return nil
	}
	if err := cu.MemcpyHtoD(dst.ptr, unsafe.Pointer(&src[0]), int64(len(src))*4); err != nil {
		return fmt.Errorf("copy %d bytes host→device: %w", len(src)*4, err)
	}
	return nil
}

// UploadBytes copies raw host bytes into dst (synchronous).
func (c *Context) UploadBytes(dst Buffer, src []byte) error {
	if err := c.check("copy host→device"); err != nil {
		return err
	}
	if int64(len(src)) > dst.bytes {
		return fmt.Errorf("upload %d bytes into a device buffer of %d", len(src), dst.bytes)
	}
	if len(src) == 0 {
		return nil
	}
	if err := cu.MemcpyHtoD(dst.ptr, unsafe.Pointer(&src[0]), int64(len(src))); err != nil {
		return fmt.Errorf("copy %d bytes host→device: %w", len(src), err)
	}
	return nil
}

// UploadI32 copies int32 values into dst (synchronous): row indices for
// Kernels.GatherRows.
func (c *Context) UploadI32(dst Buffer, src []int32) error {
	if len(src) == 0 {
		return nil
	}
	return c.UploadBytes(dst, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 4*len(src)))
}

// UploadU32 copies 32-bit words into dst (synchronous): a step state
// (ops.StepState.Words) for the graph-mode kernels.
func (c *Context) UploadU32(dst Buffer, src []uint32) error {
	if len(src) == 0 {
		return nil
	}
	return c.UploadBytes(dst, unsafe.Slice((*byte)(unsafe.Pointer(&src[0])), 4*len(src)))
}

// DownloadU32 copies the first len(dst) 32-bit words of src to dst, as
// Download does for float32.
func (c *Context) DownloadU32(dst []uint32, src Buffer) error {
	if err := c.check("copy device→host"); err != nil {
		return err
	}
	if int64(len(dst))*4 > src.bytes {
		return fmt.Errorf("download %d words from a device buffer of %d", len(dst), src.bytes/4)
	}
	if len(dst) == 0 {
		return nil
	}
	if err := cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), src.ptr, int64(len(dst))*4); err != nil {
		return fmt.Errorf("copy %d bytes device→host: %w (an earlier kernel may have failed)", len(dst)*4, err)
	}
	return nil
}

// Download copies the first len(dst) elements of src to dst. It waits for
// all work on the device first (cuMemcpyDtoH synchronises with the legacy
// default stream; call Stream.Synchronize first for a non-blocking stream).
func (c *Context) Download(dst []float32, src Buffer) error {
	if err := c.check("copy device→host"); err != nil {
		return err
	}
	if int64(len(dst))*4 > src.bytes {
		return fmt.Errorf("download %d float32 from a device buffer of %d", len(dst), src.bytes/4)
	}
	if len(dst) == 0 {
		return nil
	}
	if err := cu.MemcpyDtoH(unsafe.Pointer(&dst[0]), src.ptr, int64(len(dst))*4); err != nil {
		return fmt.Errorf("copy %d bytes device→host: %w (an earlier kernel may have failed)", len(dst)*4, err)
	}
	return nil
}

// Copy copies min(dst, src) bytes device→device on stream s (nil: default).
func (c *Context) Copy(dst, src Buffer, s *Stream) error {
	if err := c.check("copy device→device"); err != nil {
		return err
	}
	n := min(dst.bytes, src.bytes)
	if n == 0 {
		return nil
	}
	if err := cu.MemcpyDtoDAsync(dst.ptr, src.ptr, n, s.cu()); err != nil {
		return fmt.Errorf("copy %d bytes device→device: %w", n, err)
	}
	return nil
}

// Fill32 sets every 32-bit word of b to the bits of v on stream s (nil:
// default); Fill32(b, 0, s) zeroes, Fill32(b, float32(math.NaN()), s)
// poisons an output before a test.
func (c *Context) Fill32(b Buffer, v float32, s *Stream) error {
	if err := c.check("fill device memory"); err != nil {
		return err
	}
	if b.bytes < 4 {
		return nil
	}
	bits := *(*uint32)(unsafe.Pointer(&v))
	if err := cu.MemsetD32Async(b.ptr, uint(bits), b.bytes/4, s.cu()); err != nil {
		return fmt.Errorf("fill %d bytes of device memory: %w", b.bytes, err)
	}
	return nil
}

// IsOutOfMemory reports whether err is (or wraps) the driver's
// CUDA_ERROR_OUT_OF_MEMORY.
func IsOutOfMemory(err error) bool { return errors.Is(err, cu.OutOfMemory) }
