//go:build gpu

package cuda

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>
#include <stdio.h>

// tg_cuda_preflight runs before Go's package initialisers, so the reason a
// GPU binary cannot start is said in our words before gorgonia.org/cu's
// init() exits on the same failure.
__attribute__((constructor)) static void tg_cuda_preflight(void)
{
	CUresult r = cuInit(0);
	if (r == CUDA_SUCCESS)
		return;
	const char *name = "?", *msg = "?";
	cuGetErrorName(r, &name);
	cuGetErrorString(r, &msg);
	if (r == CUDA_ERROR_NO_DEVICE)
		fprintf(stderr, "tagimp-gpu (GPU build): no CUDA GPU is visible (%s: %s); check nvidia-smi and CUDA_VISIBLE_DEVICES, or use the plain build for the CPU\n", name, msg);
	else
		fprintf(stderr, "tagimp-gpu (GPU build): the NVIDIA driver did not initialise (%s: %s); check that the driver is installed and loaded (nvidia-smi), or use the plain build for the CPU\n", name, msg);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"

	"gorgonia.org/cu"
)

// ErrNoDevice says that the driver works but sees no CUDA GPU.
var ErrNoDevice = errors.New("no CUDA GPU found (cuDeviceGetCount = 0; check nvidia-smi and CUDA_VISIBLE_DEVICES)")

// ErrNotCurrent is wrapped by the error of every call made from a goroutine
// whose OS thread does not have the Context current (see Context).
var ErrNotCurrent = errors.New("the CUDA context is not current on the calling goroutine's OS thread")

// Context is one GPU with its primary context.
//
// A CUDA context is current per OS thread, and Go moves goroutines between
// threads, so the rule is: a goroutine that calls the package is bound to
// the context. Open binds the goroutine that opens it; another goroutine
// calls Bind first and Unbind when done (Bind locks the goroutine to its
// thread and pushes the context there; Unbind pops it and unlocks). Every
// entry point (allocation, copies, launches, streams, events, graphs,
// cuBLAS) checks with cuCtxGetCurrent that the context is current on the
// calling thread and otherwise returns an error wrapping ErrNotCurrent that
// names the fix, instead of the driver's CUDA_ERROR_INVALID_CONTEXT or,
// worse, work in another context. The check is sound because a thread has
// the context current only while a goroutine locked to it is bound: Unbind
// and Close pop the context before they unlock the thread.
//
// go test runs every TestXxx, subtest and BenchmarkXxx on a goroutine of
// its own: a context opened in TestMain must be bound in each of them.
type Context struct {
	dev  cu.Device
	ctx  cu.CUContext
	info DeviceInfo
}

// DeviceInfo describes the opened GPU.
type DeviceInfo struct {
	Ordinal        int
	Name           string
	SMs            int   // multiprocessors
	Major, Minor   int   // compute capability
	TotalMem       int64 // bytes
	DriverVersion  int   // e.g. 12040 for 12.4
	MaxSharedBlock int   // bytes of shared memory per block (default limit)
}

// String says what the device is, for logs.
func (d DeviceInfo) String() string {
	return fmt.Sprintf("GPU %d: %s (sm_%d%d, %d SMs, %.1f GiB, driver CUDA %d.%d)",
		d.Ordinal, d.Name, d.Major, d.Minor, d.SMs, float64(d.TotalMem)/(1<<30),
		d.DriverVersion/1000, d.DriverVersion%1000/10)
}

// guard turns a panic inside gorgonia.org/cu into an error.
func guard(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: gorgonia.org/cu panicked: %v", what, r)
	}
}

// Open opens GPU `ordinal` (0 for the first), retains its primary context
// (the one cuBLAS and the CUDA runtime share) and binds the calling
// goroutine to it (see Context) until Close.
func Open(ordinal int) (c *Context, err error) {
	defer guard("open GPU", &err)
	n, err := cu.NumDevices()
	if err != nil {
		return nil, fmt.Errorf("count CUDA devices: %w (is the NVIDIA driver loaded? try nvidia-smi)", err)
	}
	if n == 0 {
		return nil, ErrNoDevice
	}
	if ordinal < 0 || ordinal >= n {
		return nil, fmt.Errorf("GPU %d asked for, but the driver sees %d GPU(s) (ordinals 0..%d)", ordinal, n, n-1)
	}
	dev, err := cu.GetDevice(ordinal)
	if err != nil {
		return nil, fmt.Errorf("get GPU %d: %w", ordinal, err)
	}
	ctx, err := dev.RetainPrimaryCtx()
	if err != nil {
		return nil, fmt.Errorf("retain the primary context of GPU %d: %w", ordinal, err)
	}
	runtime.LockOSThread()
	if err := cu.PushCurrentCtx(ctx); err != nil {
		runtime.UnlockOSThread()
		dev.ReleasePrimaryCtx()
		return nil, fmt.Errorf("make the context of GPU %d current: %w", ordinal, err)
	}
	c = &Context{dev: dev, ctx: ctx}
	if c.info, err = c.readInfo(ordinal); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Context) readInfo(ordinal int) (DeviceInfo, error) {
	d := DeviceInfo{Ordinal: ordinal, DriverVersion: cu.Version()}
	var err error
	if d.Name, err = c.dev.Name(); err != nil {
		return d, fmt.Errorf("GPU %d name: %w", ordinal, err)
	}
	if d.TotalMem, err = c.dev.TotalMem(); err != nil {
		return d, fmt.Errorf("GPU %d memory size: %w", ordinal, err)
	}
	for _, a := range []struct {
		attr cu.DeviceAttribute
		dst  *int
	}{
		{cu.MultiprocessorCount, &d.SMs},
		{cu.ComputeCapabilityMajor, &d.Major},
		{cu.ComputeCapabilityMinor, &d.Minor},
		{cu.MaxSharedMemoryPerBlock, &d.MaxSharedBlock},
	} {
		if *a.dst, err = c.dev.Attribute(a.attr); err != nil {
			return d, fmt.Errorf("GPU %d attribute %v: %w", ordinal, a.attr, err)
		}
	}
	return d, nil
}

// Info describes the device.
func (c *Context) Info() DeviceInfo { return c.info }

// Bind binds the calling goroutine to the context: it locks the goroutine
// to its OS thread and pushes the context there. Pair every Bind with an
// Unbind in the same goroutine (defer c.Unbind(), or t.Cleanup in a test);
// Binds nest.
func (c *Context) Bind() error {
	if c == nil || c.dev < 0 {
		return errors.New("bind a CUDA context: the context is closed")
	}
	runtime.LockOSThread()
	if err := cu.PushCurrentCtx(c.ctx); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("bind the context of GPU %d: %w", c.info.Ordinal, err)
	}
	return nil
}

// Unbind undoes the calling goroutine's last Bind: it pops the context from
// the thread (restoring what was current before) and unlocks the thread.
func (c *Context) Unbind() error {
	if err := c.check("unbind"); err != nil {
		return err
	}
	if _, err := cu.PopCurrentCtx(); err != nil {
		return fmt.Errorf("unbind the context of GPU %d: %w", c.info.Ordinal, err)
	}
	runtime.UnlockOSThread()
	return nil
}

// check returns nil when the context is open and current on the calling
// thread, else an error that says what was called and how to fix it. Every
// entry point of the package calls it first (cuCtxGetCurrent reads a
// thread-local: tens of nanoseconds).
func (c *Context) check(what string) error {
	if c == nil || c.dev < 0 {
		return fmt.Errorf("%s: the CUDA context is closed", what)
	}
	cur, err := cu.CurrentContext()
	if err != nil {
		return fmt.Errorf("%s on GPU %d: cuCtxGetCurrent: %w", what, c.info.Ordinal, err)
	}
	if cur != c.ctx {
		return fmt.Errorf("%s on GPU %d: %w: call the package from the goroutine that opened the context, or call (*cuda.Context).Bind in this goroutine first and Unbind when done (go test runs each Test, subtest and Benchmark on its own goroutine)",
			what, c.info.Ordinal, ErrNotCurrent)
	}
	return nil
}

// Synchronize waits until the device has finished all work.
func (c *Context) Synchronize() error {
	if err := c.check("synchronize"); err != nil {
		return err
	}
	if err := cu.Synchronize(); err != nil {
		return fmt.Errorf("synchronize GPU %d: %w (an earlier kernel or copy failed)", c.info.Ordinal, err)
	}
	return nil
}

// MemInfo returns the free and total device memory in bytes.
func (c *Context) MemInfo() (free, total int64, err error) {
	if err := c.check("memory info"); err != nil {
		return 0, 0, err
	}
	free, total, err = cu.MemInfo()
	if err != nil {
		return 0, 0, fmt.Errorf("GPU %d memory info: %w", c.info.Ordinal, err)
	}
	return free, total, nil
}

// Close synchronizes, unbinds the calling goroutine (which must be bound,
// normally the one that called Open) and releases the primary context.
// Buffers, streams, modules and cuBLAS handles must be released before, and
// every other goroutine bound with Bind must have called Unbind.
func (c *Context) Close() error {
	if c == nil || c.dev < 0 {
		return nil
	}
	if err := c.check("close"); err != nil {
		return err
	}
	serr := cu.Synchronize()
	_, perr := cu.PopCurrentCtx()
	runtime.UnlockOSThread()
	rerr := c.dev.ReleasePrimaryCtx()
	c.dev = -1
	switch {
	case serr != nil:
		return fmt.Errorf("close GPU %d: pending work failed: %w", c.info.Ordinal, serr)
	case perr != nil:
		return fmt.Errorf("close GPU %d: pop the context: %w", c.info.Ordinal, perr)
	case rerr != nil:
		return fmt.Errorf("close GPU %d: release the primary context: %w", c.info.Ordinal, rerr)
	}
	return nil
}
