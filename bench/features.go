package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"tagimp/data/features"
	"tagimp/data/imageprep"
)

// FeatureExtractor is what BenchFeatures times: features.Extractor (the CPU
// VGG16 or the GPU one).
type FeatureExtractor interface {
	Extract(x []float32, n int) ([]float32, error)
	Dim() int
}

// FeaturesConfig describes a `bench features` run.
type FeaturesConfig struct {
	// Paths are the JPEG files of the decode and end-to-end parts.
	Paths []string
	// Prep is the preprocessing (imageprep.Default: 224×224 torchvision).
	Prep imageprep.Config
	// Extractor is the network; Batch the images per Extract call.
	Extractor FeatureExtractor
	Batch     int
	// Workers decode in parallel (≤ 0: one per CPU).
	Workers int
	// Iters is the number of timed compute-only batches (after one warm-up).
	Iters int
	// ComputeTime, when set (the GPU), times one batch already on the
	// device; otherwise compute-only calls Extract on a synthetic batch in
	// host memory.
	ComputeTime func(iters int) (time.Duration, error)
	// RawExtractor, when set (the GPU), takes decoded images and
	// preprocesses them on the device with several batches in flight: then
	// decoding alone without the resize (imageprep LoadRaw) and the run of
	// `features --device gpu` itself (features.Build into a temporary
	// folder: decode, stage, copy, compute, write shards) are timed too.
	RawExtractor features.RawExtractor
}

// FeaturesResult is one `bench features` table.
type FeaturesResult struct {
	Batch  int `json:"batch"`
	Images int `json:"images"`
	// ComputeIPS is images/s of the network alone; DecodeIPS of decoding
	// and preprocessing alone (all workers); EndToEndIPS from JPEG files to
	// fc7 rows in host memory.
	ComputeIPS  float64 `json:"compute_images_per_s"`
	DecodeIPS   float64 `json:"decode_images_per_s"`
	EndToEndIPS float64 `json:"end_to_end_images_per_s"`
	// Wait is the fraction of the end-to-end time the network was not
	// computing: 1 − (images / ComputeIPS) / end-to-end time.
	Wait float64 `json:"compute_waits_fraction"`
	// Bottleneck names the slowest stage: "compute" or "decode".
	Bottleneck string `json:"bottleneck"`
	// With RawExtractor: images/s of decoding alone without the resize
	// (what crosses to the device), of the features command's pipeline
	// end to end, the fraction of that run the network waited
	// (1 − (images / ComputeIPS) / time), the bytes staged and copied to
	// the device per second, and the bottleneck of that pipeline; zero
	// otherwise.
	RawDecodeIPS   float64 `json:"raw_decode_images_per_s,omitempty"`
	RawEndToEndIPS float64 `json:"raw_end_to_end_images_per_s,omitempty"`
	RawWait        float64 `json:"raw_compute_waits_fraction,omitempty"`
	RawCopyMBps    float64 `json:"raw_copy_mb_per_s,omitempty"`
	RawBottleneck  string  `json:"raw_bottleneck,omitempty"`
}

// Features measures compute only, decode+preprocess only and end to end
// in one run, in that order.
func Features(ctx context.Context, c FeaturesConfig) (FeaturesResult, error) {
	r := FeaturesResult{Batch: c.Batch, Images: len(c.Paths)}
	if c.Batch <= 0 || c.Extractor == nil || len(c.Paths) == 0 {
		return r, errors.New("bench features: need a batch size, an extractor and at least one image")
	}
	if err := c.Prep.Validate(); err != nil {
		return r, err
	}
	iters := max(c.Iters, 1)
	// 1. Compute only.
	if c.ComputeTime != nil {
		per, err := c.ComputeTime(iters)
		if err != nil {
			return r, fmt.Errorf("compute only: %w", err)
		}
		r.ComputeIPS = float64(c.Batch) / per.Seconds()
	} else {
		x := make([]float32, c.Batch*c.Prep.Len())
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		if _, err := c.Extractor.Extract(x, c.Batch); err != nil {
			return r, fmt.Errorf("compute only: %w", err)
		}
		t0 := time.Now()
		for i := 0; i < iters; i++ {
			if _, err := c.Extractor.Extract(x, c.Batch); err != nil {
				return r, fmt.Errorf("compute only: %w", err)
			}
		}
		r.ComputeIPS = float64(iters*c.Batch) / time.Since(t0).Seconds()
	}
	// 2. Decode and preprocess only.
	t0 := time.Now()
	_, errs, err := c.Prep.LoadBatch(ctx, c.Paths, c.Workers, nil)
	if err != nil {
		return r, err
	}
	for i, e := range errs {
		if e != nil {
			return r, fmt.Errorf("decode %s: %w", c.Paths[i], e)
		}
	}
	r.DecodeIPS = float64(len(c.Paths)) / time.Since(t0).Seconds()
	// 3. End to end: decoding runs ahead (imageprep.Stream) while a batch
	// is computed.
	t0 = time.Now()
	n := c.Prep.Len()
	x := make([]float32, 0, c.Batch*n)
	k := 0
	flush := func() error {
		if k == 0 {
			return nil
		}
		_, err := c.Extractor.Extract(x, k)
		x, k = x[:0], 0
		return err
	}
	for res := range c.Prep.Stream(ctx, c.Paths, c.Workers) {
		if res.Err != nil {
			return r, res.Err
		}
		x = append(x, res.Data...)
		if k++; k == c.Batch {
			if err := flush(); err != nil {
				return r, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if err := flush(); err != nil {
		return r, err
	}
	e2e := time.Since(t0).Seconds()
	r.EndToEndIPS = float64(len(c.Paths)) / e2e
	r.Wait = max(0, 1-(float64(len(c.Paths))/r.ComputeIPS)/e2e)
	r.Bottleneck = "compute"
	if r.DecodeIPS < r.ComputeIPS {
		r.Bottleneck = "decode"
	}
	if c.RawExtractor == nil {
		return r, nil
	}
	// 4. Raw decode only, then the features command's own pipeline.
	t0 = time.Now()
	bytes, err := decodeRaws(ctx, c)
	if err != nil {
		return r, err
	}
	r.RawDecodeIPS = float64(len(c.Paths)) / time.Since(t0).Seconds()
	tmp, err := os.MkdirTemp("", "tagimp-bench-features-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	images := make([]features.Image, len(c.Paths))
	dir := filepath.Dir(c.Paths[0])
	for i, p := range c.Paths {
		if filepath.Dir(p) != dir {
			return r, fmt.Errorf("bench features: %s is not in %s (the pipelined run reads one folder)", p, dir)
		}
		images[i] = features.Image{ID: int64(i), File: filepath.Base(p)}
	}
	t0 = time.Now()
	sum, err := features.Build(ctx, features.Config{Out: tmp, ImagesDir: dir, Images: images,
		LoadRaw: c.Prep.LoadRaw, RawExtractor: c.RawExtractor, Batch: c.Batch, Workers: c.Workers,
		ShardSize: len(images), Meta: features.Meta{Backbone: "bench"}})
	if err != nil {
		return r, err
	}
	if sum.Failed > 0 {
		return r, fmt.Errorf("bench features: %d images failed in the pipelined run (see %s)", sum.Failed, sum.ManifestPath)
	}
	sec := time.Since(t0).Seconds()
	r.RawEndToEndIPS = float64(len(c.Paths)) / sec
	r.RawWait = max(0, 1-(float64(len(c.Paths))/r.ComputeIPS)/sec)
	r.RawCopyMBps = float64(bytes) / sec / 1e6
	r.RawBottleneck = "compute"
	if r.RawDecodeIPS < r.ComputeIPS {
		r.RawBottleneck = "decode"
	}
	return r, nil
}

// decodeRaws decodes c.Paths on c.Workers goroutines as the features
// command does for the GPU (LoadRaw: DCT-scaled, not resized) and returns
// the bytes that would be staged and copied to the device.
func decodeRaws(ctx context.Context, c FeaturesConfig) (int64, error) {
	workers := c.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var next, total atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(c.Paths) {
					return
				}
				raw, err := c.Prep.LoadRaw(c.Paths[i])
				if err != nil {
					errs <- err
					return
				}
				total.Add(int64(len(raw.Pix)) + imageprep.RawDescBytes)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return total.Load(), ctx.Err()
}
