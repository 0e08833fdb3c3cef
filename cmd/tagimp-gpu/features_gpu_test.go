package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tagimp/data/features"
	"tagimp/data/imageprep"
	"tagimp/model/vgg16"
)

// standInGPU is what the GPU build's network looks like to the commands
// (features.RawExtractor with a batch and a plan), computed by the CPU
// network on FromRaw's tensors, so that the features command's GPU wiring
// can run here: requests, plan, resume, device preprocessing.
type standInGPU struct {
	net     *vgg16.Net
	prep    imageprep.Config
	batch   int
	failAt  int // SubmitRaw call that fails (0: none)
	mu      sync.Mutex
	submits int
}

func (g *standInGPU) Dim() int      { return g.net.Dim() }
func (g *standInGPU) Batch() int    { return g.batch }
func (g *standInGPU) InFlight() int { return 2 }
func (g *standInGPU) Extract(x []float32, n int) ([]float32, error) {
	return g.net.FC7(x, n)
}

func (g *standInGPU) SubmitRaw(raws []imageprep.Raw) (func() ([]float32, error), error) {
	g.mu.Lock()
	g.submits++
	fail := g.submits == g.failAt
	g.mu.Unlock()
	if fail {
		return nil, errors.New("stand-in GPU: device fault")
	}
	x := make([]float32, len(raws)*g.prep.Len())
	for i, r := range raws {
		if err := g.prep.FromRaw(x[i*g.prep.Len():(i+1)*g.prep.Len()], r); err != nil {
			return nil, err
		}
	}
	rows, err := g.net.FC7(x, len(raws))
	return func() ([]float32, error) { return rows, err }, nil
}

// useStandInGPU makes --device gpu and auto use a standInGPU; it returns
// the requests the commands made.
func useStandInGPU(t *testing.T, failAt int) *[]gpuRequest {
	var reqs []gpuRequest
	probe, factory := gpuProbe, newGPUExtractor
	t.Cleanup(func() { gpuProbe, newGPUExtractor = probe, factory })
	gpuProbe = func() error { return nil }
	newGPUExtractor = func(net *vgg16.Net, r gpuRequest) (features.Extractor, gpuRun, error) {
		reqs = append(reqs, r)
		g := &standInGPU{net: net, prep: r.Prep, batch: 2, failAt: failAt}
		plan := &features.Plan{Batch: g.batch, ConvAlgos: []int{1, 1, 6, 6, 1, 1, 1, 7, 7, 7, 7, 7, 7}}
		if r.Plan != nil {
			g.batch, plan = r.Plan.Batch, r.Plan
		}
		return g, gpuRun{Device: "stand-in GPU", CuDNN: "cuDNN 9.9.9 (stand-in)", Plan: plan, Release: func() {}}, nil
	}
	return &reqs
}

// TestFeaturesGPUWiring: features --device gpu hands decoded images to the
// GPU network (its own preprocessing), records the GPU, precision and plan
// in the manifest, and after a fault resumes with the recorded plan and
// gives the bytes of an uninterrupted run.
func TestFeaturesGPUWiring(t *testing.T) {
	captions, images := writeCaptionSet(t, 3, 8, 21, 40, 41)
	args := func(out string) []string {
		return []string{"features", "--captions", captions, "--images", images, "--weights", "random:5", "--input-size", "32",
			"--out", out, "--workers", "2", "--device", "gpu", "--shard-size", "2"}
	}
	whole := filepath.Join(t.TempDir(), "whole")
	reqs := useStandInGPU(t, 0)
	if err := runApp(args(whole)...); err != nil {
		t.Fatal(err)
	}
	if len(*reqs) != 1 || (*reqs)[0].Batch != 0 || (*reqs)[0].Plan != nil || (*reqs)[0].Precision != "tf32" || (*reqs)[0].Prep.Size != 32 {
		t.Fatalf("requests %+v, want one for --batch 0 (automatic), tf32, 32×32, no plan", *reqs)
	}
	man, err := features.ReadManifest(filepath.Join(whole, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if man.Precision != "gpu-tf32" || man.Device != "stand-in GPU" || man.Plan == nil || man.Plan.Batch != 2 ||
		!strings.HasSuffix(man.Decoder, ", resized on the device") || man.Rows != 5 {
		t.Fatalf("manifest %+v (plan %v)", man.Meta, man.Plan)
	}

	// A fault in the second batch (the second shard) stops the run; the
	// rerun asks the GPU for the recorded plan and ends with the same bytes.
	part := filepath.Join(t.TempDir(), "part")
	reqs = useStandInGPU(t, 2)
	if err := runApp(args(part)...); err == nil || !strings.Contains(err.Error(), "device fault") {
		t.Fatalf("run with a device fault: %v", err)
	}
	reqs = useStandInGPU(t, 0)
	if err := runApp(args(part)...); err != nil {
		t.Fatal(err)
	}
	if len(*reqs) != 1 || !reflectPlan((*reqs)[0].Plan, man.Plan) {
		t.Fatalf("resumed run asked for %+v, want the recorded plan %v", *reqs, man.Plan)
	}
	for _, f := range []string{"fc7-0of1-00000.npy", "fc7-0of1-00001.npy", "fc7-0of1-00002.npy", "fc7-0of1-00002.ids.npy"} {
		a, _ := os.ReadFile(filepath.Join(whole, f))
		b, err := os.ReadFile(filepath.Join(part, f))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s differs between the resumed and the uninterrupted run (%v)", f, err)
		}
	}

	// Another precision is other features: no plan is carried over, and
	// the cache of tf32 features is not mixed with fp32 ones.
	reqs = useStandInGPU(t, 0)
	err = runApp(append(args(part), "--precision", "fp32")...)
	if err == nil || !strings.Contains(err.Error(), "gpu-fp32") || (*reqs)[0].Plan != nil {
		t.Errorf("fp32 run into a tf32 cache: %v (request %+v)", err, *reqs)
	}
}

func reflectPlan(a, b *features.Plan) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
