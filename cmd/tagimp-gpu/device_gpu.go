//go:build gpu

package main

import (
	"fmt"
	"os"
	"sync"

	"tagimp/data/features"
	"tagimp/gpu"
	"tagimp/model/vgg16"
)

// The GPU build wires package gpu into the commands: train's engine
// (gpuTrainerFactory, used by --device gpu and by auto when a GPU is
// present), bench's engine and its copy-bandwidth probe, and the probe
// behind resolveDevice.
func init() {
	gpuTrainerFactory = gpu.New
	benchGPU.copyBandwidth = func() (float64, error) { return gpu.CopyBandwidth(1024, 10) }
	benchGPU.deviceName = func() string {
		info, err := gpu.Probe()
		if err != nil {
			return "GPU (unknown: " + err.Error() + ")"
		}
		return info.String()
	}
}

var (
	probeOnce sync.Once
	probeErr  error
)

// gpuAvailable reports why no GPU can be used (nil when one can). The
// probe opens GPU 0 once per process.
func gpuAvailable() error {
	probeOnce.Do(func() {
		if _, err := gpu.Probe(); err != nil {
			probeErr = fmt.Errorf("no usable GPU: %w (use --device cpu)", err)
		}
	})
	return probeErr
}

func init() {
	newGPUExtractor = func(net *vgg16.Net, r gpuRequest) (features.Extractor, gpuRun, error) {
		prec, err := gpu.ParsePrecision(r.Precision)
		if err != nil {
			return nil, gpuRun{}, fmt.Errorf("--precision: %w", err)
		}
		o := gpu.ExtractorOptions{Batch: r.Batch, Precision: prec, Prep: r.Prep}
		if p := r.Plan; p != nil && (r.Batch == 0 || r.Batch == p.Batch) {
			o.Batch, o.Algos = p.Batch, p.ConvAlgos
			fmt.Fprintf(os.Stderr, "features: resuming with the recorded GPU plan (%s)\n", p)
		}
		ex, err := gpu.NewFC7Extractor(net, o)
		if err != nil {
			return nil, gpuRun{}, err
		}
		plan := &features.Plan{Batch: ex.Batch(), ConvAlgos: ex.ConvAlgorithms()}
		return ex, gpuRun{Device: ex.Device(), CuDNN: ex.CuDNN(), Plan: plan, Release: ex.Close}, nil
	}
}
