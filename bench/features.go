package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

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
	// RawExtract, when set (the GPU), takes decoded images whose
	// preprocessing runs on the device (imageprep.Raw): then the decode
	// without resize and the end-to-end run through it are timed too.
	RawExtract func(raws []imageprep.Raw) error
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
	// With RawExtract: images/s of decoding alone without the resize
	// (what crosses to the device), and end to end with the preprocessing
	// on the device; 0 otherwise.
	RawDecodeIPS   float64 `json:"raw_decode_images_per_s,omitempty"`
	RawEndToEndIPS float64 `json:"raw_end_to_end_images_per_s,omitempty"`
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
	if c.RawExtract == nil {
		return r, nil
	}
	// 4. Raw decode only, then end to end with the device preprocessing.
	t0 = time.Now()
	if err := decodeRaws(ctx, c, func([]imageprep.Raw) error { return nil }); err != nil {
		return r, err
	}
	r.RawDecodeIPS = float64(len(c.Paths)) / time.Since(t0).Seconds()
	t0 = time.Now()
	if err := decodeRaws(ctx, c, c.RawExtract); err != nil {
		return r, err
	}
	r.RawEndToEndIPS = float64(len(c.Paths)) / time.Since(t0).Seconds()
	return r, nil
}

// decodeRaws decodes c.Paths on c.Workers goroutines into imageprep.Raw
// and hands them to use in batches of c.Batch (in completion order).
func decodeRaws(ctx context.Context, c FeaturesConfig, use func([]imageprep.Raw) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := c.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	jobs := make(chan string)
	type result struct {
		raw imageprep.Raw
		err error
	}
	results := make(chan result, 2*workers)
	go func() {
		defer close(jobs)
		for _, p := range c.Paths {
			select {
			case jobs <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				img, err := imageprep.Decode(p, c.Prep.MaxPixels)
				var raw imageprep.Raw
				if err == nil {
					raw, err = c.Prep.Raw(img)
				}
				select {
				case results <- result{raw, err}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	batch := make([]imageprep.Raw, 0, c.Batch)
	for res := range results {
		if res.err != nil {
			return res.err
		}
		if batch = append(batch, res.raw); len(batch) == c.Batch {
			if err := use(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return use(batch)
	}
	return nil
}
