//go:build gpu && !emu

package gpu

import (
	"fmt"

	"tagimp/cuda"
)

// Probe opens GPU 0, reads what it is and closes it again; the error says
// why there is no usable GPU (no device, no driver).
func Probe() (cuda.DeviceInfo, error) {
	ctx, err := cuda.Open(0)
	if err != nil {
		return cuda.DeviceInfo{}, err
	}
	info := ctx.Info()
	if err := ctx.Close(); err != nil {
		return info, err
	}
	return info, nil
}

// CopyBandwidth measures the device-to-device copy bandwidth of GPU 0 in
// GB/s (10⁹ bytes per second), counting each byte read and written: 2 ×
// size × copies / time, over `copies` copies of a `mib` MiB buffer timed
// with CUDA events after two untimed ones. This is the bandwidth the HBM
// floor of `tagimp-gpu bench train` divides by (the PyTorch peer measures
// it the same way).
func CopyBandwidth(mib, copies int) (gbps float64, err error) {
	if mib <= 0 || copies <= 0 {
		return 0, fmt.Errorf("copy bandwidth: %d MiB × %d copies: both must be positive", mib, copies)
	}
	ctx, err := cuda.Open(0)
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := ctx.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	bytes := int64(mib) << 20
	src, err := ctx.Alloc(bytes)
	if err != nil {
		return 0, fmt.Errorf("copy bandwidth: %w", err)
	}
	defer ctx.Free(&src)
	dst, err := ctx.Alloc(bytes)
	if err != nil {
		return 0, fmt.Errorf("copy bandwidth: %w", err)
	}
	defer ctx.Free(&dst)
	if err := ctx.Fill32(src, 1, nil); err != nil {
		return 0, fmt.Errorf("copy bandwidth: %w", err)
	}
	for i := 0; i < 2; i++ {
		if err := ctx.Copy(dst, src, nil); err != nil {
			return 0, fmt.Errorf("copy bandwidth: %w", err)
		}
	}
	ms, err := ctx.TimeOn(nil, func() error {
		for i := 0; i < copies; i++ {
			if err := ctx.Copy(dst, src, nil); err != nil {
				return fmt.Errorf("copy bandwidth: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if ms <= 0 {
		return 0, fmt.Errorf("copy bandwidth: %d copies of %d MiB took %v ms", copies, mib, ms)
	}
	return 2 * float64(bytes) * float64(copies) / (ms / 1e3) / 1e9, nil
}
