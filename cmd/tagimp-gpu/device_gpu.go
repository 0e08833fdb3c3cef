//go:build gpu

package main

import (
	"fmt"
	"sync"

	"tagimp/data/features"
	"tagimp/data/imageprep"
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
	newGPUExtractor = func(net *vgg16.Net, batch int, precision string, prep imageprep.Config) (features.Extractor, string, string, func(), error) {
		prec, err := gpu.ParsePrecision(precision)
		if err != nil {
			return nil, "", "", nil, fmt.Errorf("--precision: %w", err)
		}
		ex, err := gpu.NewFC7Extractor(net, gpu.ExtractorOptions{Batch: batch, Precision: prec, Prep: prep})
		if err != nil {
			return nil, "", "", nil, err
		}
		return ex, ex.Device(), ex.CuDNN(), ex.Close, nil
	}
}
