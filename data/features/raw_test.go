package features

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"tagimp/data/imageprep"
)

// fakeRawExtractor is a RawExtractor as the GPU is one: it takes decoded
// RGBA images, "preprocesses" them as fakeLoad does (v/255 per channel),
// runs fakeExtractor's network on another goroutine after a random delay,
// and checks that Build never has more than InFlight batches outstanding.
type fakeRawExtractor struct {
	net      fakeExtractor
	inFlight int
	failAt   int // batch number whose wait fails (0: none)

	mu          sync.Mutex
	outstanding int
	maxOut      int
	batches     int
	rng         *rand.Rand
	t           *testing.T
}

func (f *fakeRawExtractor) Dim() int      { return f.net.Dim() }
func (f *fakeRawExtractor) InFlight() int { return f.inFlight }

func (f *fakeRawExtractor) SubmitRaw(raws []imageprep.Raw) (func() ([]float32, error), error) {
	per := 3 * side * side
	x := make([]float32, 0, len(raws)*per)
	for _, r := range raws {
		if r.Desc.Kind != imageprep.RawRGBA || r.Desc.W != side || r.Desc.H != side {
			return nil, fmt.Errorf("fake raw extractor: unexpected image %+v", r.Desc)
		}
		img := make([]float32, per)
		for i := 0; i < side*side; i++ {
			for c := 0; c < 3; c++ {
				img[c*side*side+i] = float32(r.Pix[4*i+c]) / 255
			}
		}
		x = append(x, img...)
	}
	f.mu.Lock()
	f.batches++
	batch := f.batches
	f.outstanding++
	f.maxOut = max(f.maxOut, f.outstanding)
	if f.outstanding > f.inFlight {
		f.t.Errorf("%d batches outstanding, InFlight is %d", f.outstanding, f.inFlight)
	}
	delay := time.Duration(f.rng.IntN(3)) * time.Millisecond
	f.mu.Unlock()
	type result struct {
		out []float32
		err error
	}
	res := make(chan result, 1)
	n := len(raws)
	go func() {
		time.Sleep(delay)
		out, err := f.net.Extract(x, n)
		if batch == f.failAt {
			err = errors.New("fake device fault")
		}
		res <- result{out, err}
	}()
	return func() ([]float32, error) {
		r := <-res
		f.mu.Lock()
		f.outstanding--
		f.mu.Unlock()
		return r.out, r.err
	}, nil
}

// TestBuildRaw: the pipelined path (LoadRaw + RawExtractor, several
// batches in flight, rows coming back late) writes the same shard bytes
// as the synchronous path, lists the same failures (a file that is not an
// image, a missing file, a NaN row) in image order, and keeps going after
// them; a batch that fails on the device stops the run with an error that
// names its images, and the rerun resumes.
func TestBuildRaw(t *testing.T) {
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 38))
	prep := imageprep.Config{Mode: imageprep.Torchvision, Size: side}

	syncOut := filepath.Join(t.TempDir(), "sync")
	syncSum := build(t, testConfig(syncOut, imgDir, images, &fakeExtractor{}))

	rawOut := filepath.Join(t.TempDir(), "raw")
	rx := &fakeRawExtractor{inFlight: 3, rng: rand.New(rand.NewPCG(1, 2)), t: t}
	cfg := testConfig(rawOut, imgDir, images, nil)
	cfg.Load, cfg.LoadRaw, cfg.RawExtractor = nil, prep.LoadRaw, rx
	rawSum := build(t, cfg)

	if rawSum.Rows != syncSum.Rows || rawSum.Failed != syncSum.Failed || rawSum.Computed != syncSum.Computed {
		t.Errorf("pipelined run %+v, synchronous %+v", rawSum, syncSum)
	}
	npys, _ := filepath.Glob(filepath.Join(syncOut, "*.npy"))
	if len(npys) != 8 {
		t.Fatalf("%d .npy files in the synchronous cache, want 8 (4 shards)", len(npys))
	}
	for _, p := range npys {
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(rawOut, filepath.Base(p)))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s differs between the pipelined and the synchronous run (%v)", filepath.Base(p), err)
		}
	}
	var failed []int64
	for _, f := range rawSum.Manifest.Failed {
		failed = append(failed, f.ID)
	}
	if !sort.SliceIsSorted(failed, func(i, j int) bool { return failed[i] < failed[j] }) || fmt.Sprint(failed) != fmt.Sprint([]int64{3, 5, nanID}) {
		t.Errorf("failed ids %v, want [3 5 %d] in order", failed, nanID)
	}
	if rx.maxOut < 2 {
		t.Errorf("at most %d batch outstanding: the batches did not overlap", rx.maxOut)
	}

	// A device fault in batch 5 (shard 1) stops the run; the rerun
	// resumes from the finished shard and gives the same bytes.
	failOut := filepath.Join(t.TempDir(), "fail")
	rx = &fakeRawExtractor{inFlight: 2, failAt: 5, rng: rand.New(rand.NewPCG(3, 4)), t: t}
	cfg = testConfig(failOut, imgDir, images, nil)
	cfg.Load, cfg.LoadRaw, cfg.RawExtractor = nil, prep.LoadRaw, rx
	if _, err := Build(t.Context(), cfg); err == nil || !errContains(err, "fake device fault", "extract features of images") {
		t.Fatalf("device fault: %v", err)
	}
	rx.failAt = 0
	sum := build(t, cfg)
	if sum.Reused != 1 || sum.Computed != 3 {
		t.Errorf("rerun after the fault: %+v, want 1 shard kept and 3 computed", sum)
	}
	for _, p := range npys {
		a, _ := os.ReadFile(p)
		b, _ := os.ReadFile(filepath.Join(failOut, filepath.Base(p)))
		if string(a) != string(b) {
			t.Errorf("%s differs after the resumed run", filepath.Base(p))
		}
	}
}

func errContains(err error, subs ...string) bool {
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			return false
		}
	}
	return true
}
