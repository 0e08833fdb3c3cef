// Package fuzzcheck holds what the project's native Go fuzz targets share:
// a check that one input neither allocates more than a stated bound nor
// runs longer than a time limit (a panic fails the target by itself), and
// the seed files of the shared real data.
//
// Every reader of untrusted files has a target (go test -fuzz=Fuzz...):
// COCO captions (data/coco), word vectors (data/wordvec), .npy and .npz
// (data/npy), torch .pth (model/vgg16), images (data/imageprep), the
// feature manifest (data/features) and the checkpoint JSON (model). Their
// seeds run with every go test; .ci/fuzz.sh fuzzes each for a bounded time.
package fuzzcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// Limit is the allocation bound for one input of n bytes: 64 MiB plus 64
// bytes per input byte. A reader may not trust sizes its input claims (a
// .npy header saying [10^11], a word2vec header saying 10^9 words) and
// allocate before the data is there.
func Limit(n int) uint64 { return 64<<20 + 64*uint64(n) }

// Timeout is the most one input may take.
const Timeout = 10 * time.Second

// Check runs f on one input of n bytes and fails t when f allocates more
// than Limit(n) bytes in total or takes longer than Timeout.
func Check(t *testing.T, n int, f func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	done := make(chan struct{})
	start := time.Now()
	// A panic in this goroutine would end the fuzzing process without a
	// report ("fuzzing process hung or terminated unexpectedly"), so it is
	// caught here and failed in the test's goroutine, where the fuzzing
	// engine records and minimizes the input.
	var panicked string
	go func() {
		defer close(done)
		defer func() {
			if r := recover(); r != nil {
				panicked = fmt.Sprintf("%v\n%s", r, debug.Stack())
			}
		}()
		f()
	}()
	select {
	case <-done:
	case <-time.After(Timeout):
		t.Fatalf("input of %d bytes still running after %v", n, Timeout)
	}
	if panicked != "" {
		t.Fatalf("input of %d bytes panicked: %s", n, panicked)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > Limit(n) {
		t.Fatalf("input of %d bytes allocated %d bytes, more than the bound %d (took %v)", n, got, Limit(n), time.Since(start))
	}
}

// SharedData returns the path of a file under the shared real data
// (../shared/data beside the repository root), and false when it is absent
// (a user's clone): seeds from it are then left out.
func SharedData(rel string) (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		return "", false
	}
	return p, true
}
