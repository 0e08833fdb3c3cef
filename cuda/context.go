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

// Context is one GPU with its primary context made current on the OS thread
// of the goroutine that opened it.
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
// (the one cuBLAS and the CUDA runtime share) and makes it current on the
// calling goroutine's OS thread, which stays locked to that goroutine until
// Close.
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
	if err := cu.SetCurrentContext(ctx); err != nil {
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

// Bind locks the calling goroutine to its OS thread and makes the context
// current there; use it before calling the package from another goroutine.
func (c *Context) Bind() error {
	runtime.LockOSThread()
	if err := cu.SetCurrentContext(c.ctx); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("bind the context of GPU %d: %w", c.info.Ordinal, err)
	}
	return nil
}

// Synchronize waits until the device has finished all work.
func (c *Context) Synchronize() error {
	if err := cu.Synchronize(); err != nil {
		return fmt.Errorf("synchronize GPU %d: %w (an earlier kernel or copy failed)", c.info.Ordinal, err)
	}
	return nil
}

// MemInfo returns the free and total device memory in bytes.
func (c *Context) MemInfo() (free, total int64, err error) {
	free, total, err = cu.MemInfo()
	if err != nil {
		return 0, 0, fmt.Errorf("GPU %d memory info: %w", c.info.Ordinal, err)
	}
	return free, total, nil
}

// Close synchronizes, releases the primary context and unlocks the OS
// thread. Buffers, streams and modules must be released before.
func (c *Context) Close() error {
	if c == nil || c.dev < 0 {
		return nil
	}
	serr := cu.Synchronize()
	rerr := c.dev.ReleasePrimaryCtx()
	c.dev = -1
	runtime.UnlockOSThread()
	if serr != nil {
		return fmt.Errorf("close GPU %d: pending work failed: %w", c.info.Ordinal, serr)
	}
	if rerr != nil {
		return fmt.Errorf("close GPU %d: release the primary context: %w", c.info.Ordinal, rerr)
	}
	return nil
}
