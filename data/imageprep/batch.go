package imageprep

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// Result is one preprocessed image from Stream.
type Result struct {
	// Index is the image's position in the paths passed to Stream.
	Index int
	// Path is the file it came from.
	Path string
	// Data holds 3·Size·Size CHW values; nil when Err is set.
	Data []float32
	// Err says why this image failed (it names the file); the others go on.
	Err error
}

// Stream loads paths with `workers` goroutines (≤ 0: one per CPU) and sends
// one Result per path on the returned channel, in the order of paths. At most
// 2·workers images are decoded ahead of the consumer, so memory stays bounded
// however long paths is. An image that fails yields a Result with Err set and
// the stream goes on. The channel is closed after the last image, or early
// when ctx is cancelled (check ctx.Err() after the loop); a consumer that
// stops reading early must cancel ctx to release the workers. The config
// must be valid (see Validate); otherwise every Result carries that error.
func (c Config) Stream(ctx context.Context, paths []string, workers int) <-chan Result {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make(chan Result, workers)
	cfgErr := c.Validate()
	slots := make([]chan Result, len(paths))
	for i := range slots {
		slots[i] = make(chan Result, 1)
	}
	ahead := make(chan struct{}, 2*workers)
	jobs := make(chan int)
	go func() {
		defer close(jobs)
		for i := range paths {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
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
			for i := range jobs {
				r := Result{Index: i, Path: paths[i], Err: cfgErr}
				if cfgErr == nil {
					r.Data, r.Err = c.LoadFile(paths[i])
				}
				slots[i] <- r
			}
		}()
	}
	go func() {
		defer close(out)
		defer wg.Wait()
		for i := range paths {
			var r Result
			select {
			case r = <-slots[i]:
			case <-ctx.Done():
				return
			}
			select {
			case out <- r:
			case <-ctx.Done():
				return
			}
			<-ahead
		}
	}()
	return out
}

// LoadBatch loads paths in parallel (see Stream) into one contiguous slice of
// len(paths)·c.Len() values, image i at [i·c.Len(), (i+1)·c.Len()). errs[i]
// is non-nil when image i failed (its values are left zero); the other images
// are loaded regardless. progress, when not nil, is called after each image.
// The returned error is set only when the config is invalid or ctx is
// cancelled.
func (c Config) LoadBatch(ctx context.Context, paths []string, workers int, progress func(done, total int)) ([]float32, []error, error) {
	if err := c.Validate(); err != nil {
		return nil, nil, err
	}
	n := c.Len()
	data := make([]float32, len(paths)*n)
	errs := make([]error, len(paths))
	done := 0
	for r := range c.Stream(ctx, paths, workers) {
		if r.Err != nil {
			errs[r.Index] = r.Err
		} else {
			copy(data[r.Index*n:(r.Index+1)*n], r.Data)
		}
		done++
		if progress != nil {
			progress(done, len(paths))
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("load %d images: stopped after %d: %w", len(paths), done, err)
	}
	return data, errs, nil
}
