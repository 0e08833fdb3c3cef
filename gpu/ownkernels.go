//go:build gpu && !emu

package gpu

import (
	_ "embed"
	"fmt"
	"unsafe"

	"tagimp/cuda"
)

//go:generate nvcc -ptx -arch=compute_80 -O3 -I../kernels -o kernels.ptx kernels.cu

// kernelsPTX is kernels.cu compiled to PTX (see its header); the driver
// JITs it when a Trainer starts. These kernels belong in kernels/ with the
// others; until they are there, the engine carries them itself.
//
//go:embed kernels.ptx
var kernelsPTX string

// ownKernels are the kernels of kernels.cu loaded into one context.
type ownKernels struct {
	mod                              *cuda.Module
	gather, gatherDev, denseDev, end *cuda.Function
	sms                              int
}

func loadOwnKernels(ctx *cuda.Context) (*ownKernels, error) {
	mod, err := ctx.LoadFatbin(kernelsPTX, "gpu/kernels.ptx")
	if err != nil {
		return nil, err
	}
	k := &ownKernels{mod: mod, sms: max(ctx.Info().SMs, 1)}
	for _, f := range []struct {
		dst  **cuda.Function
		name string
	}{{&k.gather, "tgb_gather_rows"}, {&k.gatherDev, "tgb_gather_rows_dev"},
		{&k.denseDev, "tgb_dense_forward_dev"}, {&k.end, "tgb_step_end"}} {
		if *f.dst, err = mod.Function(f.name); err != nil {
			mod.Unload()
			return nil, err
		}
	}
	return k, nil
}

// gatherGrid is the launch grid of the gather kernels.
func gatherGrid(n, cols int) (cuda.Dim3, error) {
	if n > 65535 {
		return cuda.Dim3{}, fmt.Errorf("gather of %d rows: at most 65535 per launch", n)
	}
	return cuda.Dim3{X: min((cols+255)/256, 32), Y: n}, nil
}

// launchGather queues dst[i, :] = src[rows[i], :] for n rows of cols.
func (k *ownKernels) launchGather(s *cuda.Stream, dst, src, rows cuda.Buffer, n, cols int) error {
	if n <= 0 {
		return nil
	}
	grid, err := gatherGrid(n, cols)
	if err != nil {
		return err
	}
	return k.gather.Launch(grid, cuda.Dim3{X: 256}, 0, s, cuda.Ptr(dst), cuda.Ptr(src), cuda.Ptr(rows), cuda.I32(cols))
}

// launchGatherDev is launchGather with the rows of slot state.slot of a
// chunk of `batch` rows per step.
func (k *ownKernels) launchGatherDev(s *cuda.Stream, dst, src, rows, state cuda.Buffer, batch, cols int) error {
	grid, err := gatherGrid(batch, cols)
	if err != nil {
		return err
	}
	return k.gatherDev.Launch(grid, cuda.Dim3{X: 256}, 0, s,
		cuda.Ptr(dst), cuda.Ptr(src), cuda.Ptr(rows), cuda.Ptr(state), cuda.I32(batch), cuda.I32(cols))
}

// launchDenseDev is DenseForward with the dropout key of (seed, state.step,
// layer) computed on the device.
func (k *ownKernels) launchDenseDev(s *cuda.Stream, Y, bias cuda.Buffer, rows, cols int, a cuda.Act, seed uint64, state cuda.Buffer, layer int, p float32) error {
	n := rows * cols
	if n <= 0 {
		return nil
	}
	grid := cuda.Dim3{X: max(1, min((n+255)/256, 8*k.sms))}
	return k.denseDev.Launch(grid, cuda.Dim3{X: 256}, 0, s,
		cuda.Ptr(Y), cuda.Ptr(bias), cuda.I32(rows), cuda.I32(cols), cuda.I32(int(a)),
		cuda.U64(seed), cuda.Ptr(state), cuda.I32(layer), cuda.F32(p))
}

// launchStepEnd copies the step's losses to its slot (when copyLoss) and
// advances state's slot and step.
func (k *ownKernels) launchStepEnd(s *cuda.Stream, slots, scratch, state cuda.Buffer, copyLoss bool) error {
	c := 0
	if copyLoss {
		c = 1
	}
	return k.end.Launch(cuda.Dim3{X: 1}, cuda.Dim3{X: 1}, 0, s,
		cuda.Ptr(slots), cuda.Ptr(scratch), cuda.Ptr(state), cuda.I32(c))
}

func (k *ownKernels) close() error {
	if k == nil {
		return nil
	}
	return k.mod.Unload()
}

// int32Bytes views rows as their bytes (little-endian, as the device reads
// them).
func int32Bytes(rows []int32) []byte {
	if len(rows) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&rows[0])), 4*len(rows))
}
