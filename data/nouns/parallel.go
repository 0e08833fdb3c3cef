package nouns

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// NounsAll returns Nouns of every caption, in caption order, using workers
// goroutines (GOMAXPROCS when workers < 1). The result does not depend on
// the number of workers. progress, when not nil, is called from the calling
// goroutine with the number of captions done so far and the total.
func (t *Tagger) NounsAll(captions []string, workers int, progress func(done, total int)) [][]string {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([][]string, len(captions))
	const chunk = 256
	var next, done atomic.Int64
	var wg sync.WaitGroup
	finished := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := t.getScorer()
			defer t.putScorer(sc)
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= len(captions) {
					return
				}
				end := min(start+chunk, len(captions))
				for i := start; i < end; i++ {
					out[i] = sc.nouns(captions[i])
				}
				done.Add(int64(end - start))
			}
		}()
	}
	go func() { wg.Wait(); close(finished) }()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	if progress != nil {
		progress(0, len(captions))
	}
	for {
		select {
		case <-finished:
			if progress != nil {
				progress(len(captions), len(captions))
			}
			return out
		case <-ticker.C:
			if progress != nil {
				progress(int(done.Load()), len(captions))
			}
		}
	}
}
