//go:build gpu

package cuda

import (
	"errors"
	"fmt"
	"math"
	"unsafe"

	"gorgonia.org/cu"
)

// Module is a loaded kernel image.
type Module struct {
	c    *Context
	m    cu.Module
	what string
}

// LoadFatbin loads a fatbin (or cubin or PTX) image; what names it in errors.
func (c *Context) LoadFatbin(image, what string) (m *Module, err error) {
	defer guard("load "+what, &err)
	if err := c.check("load " + what); err != nil {
		return nil, err
	}
	mod, err := cu.LoadData(image)
	if err != nil {
		if errors.Is(err, cu.NoBinaryForGpu) || errors.Is(err, cu.InvalidPtx) {
			return nil, fmt.Errorf("load %s on %s: %w: the image holds sm_80 and sm_90 code and compute_90 PTX; add this GPU's architecture to kernels/CMakeLists.txt (TAGIMP_ARCH_FLAGS) or update the driver, then `make kernels` and rebuild", what, c.info, err)
		}
		return nil, fmt.Errorf("load %s on %s: %w", what, c.info, err)
	}
	return &Module{c: c, m: mod, what: what}, nil
}

// Function looks up an extern "C" kernel by name.
func (m *Module) Function(name string) (*Function, error) {
	if err := m.c.check("look up kernel " + name); err != nil {
		return nil, err
	}
	f, err := m.m.Function(name)
	if err != nil {
		return nil, fmt.Errorf("kernel %s in %s: %w (is kernels/ newer than the embedded fatbin? run `make kernels` and rebuild)", name, m.what, err)
	}
	return &Function{c: m.c, f: f, name: name}, nil
}

// Unload releases the module.
func (m *Module) Unload() error {
	if m == nil {
		return nil
	}
	if err := m.c.check("unload " + m.what); err != nil {
		return err
	}
	if err := m.m.Unload(); err != nil {
		return fmt.Errorf("unload %s: %w", m.what, err)
	}
	return nil
}

// Dim3 is a grid or block shape; zero Y or Z count as 1.
type Dim3 struct{ X, Y, Z int }

func (d Dim3) norm() Dim3 {
	if d.Y == 0 {
		d.Y = 1
	}
	if d.Z == 0 {
		d.Z = 1
	}
	return d
}

// Arg is one kernel argument, held in 8 bytes as the driver reads it
// (gorgonia.org/cu copies 8 bytes per argument; the kernel reads as many as
// its parameter's size, from the low end). Make them with Ptr, I32, I64,
// U64 and F32, in the kernel's parameter order.
type Arg uint64

// Ptr passes a device pointer (the null Buffer passes NULL).
func Ptr(b Buffer) Arg { return Arg(b.ptr) }

// I32 passes an int parameter.
func I32(v int) Arg { return Arg(uint32(int32(v))) }

// I64 passes a long long parameter.
func I64(v int64) Arg { return Arg(uint64(v)) }

// U64 passes an unsigned long long parameter.
func U64(v uint64) Arg { return Arg(v) }

// F32 passes a float parameter.
func F32(v float32) Arg { return Arg(math.Float32bits(v)) }

// Function is one kernel of a Module.
type Function struct {
	c    *Context
	f    cu.Function
	name string
}

// Name returns the kernel's name.
func (f *Function) Name() string { return f.name }

// Launch queues the kernel on stream s (nil: default stream). Launch errors
// (bad shape, too much shared memory) come back here; faults inside the
// kernel come back from the next synchronising call.
func (f *Function) Launch(grid, block Dim3, sharedBytes int, s *Stream, args ...Arg) (err error) {
	defer guard("launch "+f.name, &err)
	if err := f.c.check("launch " + f.name); err != nil {
		return err
	}
	grid, block = grid.norm(), block.norm()
	if grid.X <= 0 || block.X <= 0 {
		return fmt.Errorf("launch %s: empty shape grid %+v block %+v", f.name, grid, block)
	}
	vals := make([]uint64, len(args))
	ptrs := make([]unsafe.Pointer, len(args))
	for i, a := range args {
		vals[i] = uint64(a)
		ptrs[i] = unsafe.Pointer(&vals[i])
	}
	if err := f.f.Launch(grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, s.cu(), ptrs); err != nil {
		return fmt.Errorf("launch %s (grid %d×%d×%d, block %d×%d×%d, %d B shared): %w",
			f.name, grid.X, grid.Y, grid.Z, block.X, block.Y, block.Z, sharedBytes, err)
	}
	return nil
}
