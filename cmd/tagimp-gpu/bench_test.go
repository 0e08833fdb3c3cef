package main

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/bench"
	"tagimp/model"
	"tagimp/model/cpu"
)

// tiny are bench train's shape flags for quick tests.
var tiny = []string{"--dim", "64", "--hidden", "32", "--hidden2", "16", "--embed", "6", "--tags", "7", "--batch", "4", "--rows", "8", "--gemm-reps", "2"}

func tinyConfig(kind model.Kind) model.Config {
	c := bench.Shapes(kind, 7)
	c.D, c.H, c.H2, c.E, c.Batch = 64, 32, 16, 6, 4
	return c
}

// hasNumpy reports why the numpy peer cannot run here ("" when it can).
func hasNumpy(t *testing.T) string {
	t.Helper()
	_, err := bench.NumpyPeer{}.Probe(t.Context())
	if errors.Is(err, bench.ErrNoPython) || errors.Is(err, bench.ErrNoNumpy) {
		return err.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	return ""
}

func TestBenchTrain(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantErr   string
		needNumpy bool
		check     func(t *testing.T, out string)
	}{
		{
			name: "json on the CPU",
			args: append([]string{"--device", "cpu", "--model", "baseline", "--steps", "3", "--warmup", "1", "--json"}, tiny...),
			check: func(t *testing.T, out string) {
				var rep benchReport
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("output is not JSON: %v\n%s", err, out)
				}
				if rep.Device != "cpu" || len(rep.Results) != 1 || rep.BLASThreads < 1 || rep.PeerInfo != nil {
					t.Fatalf("report %+v", rep)
				}
				r := rep.Results[0]
				c := tinyConfig(model.Baseline)
				if r.Model != "baseline" || r.Batch != 4 || r.Steps != 3 || !(r.MinMS > 0) || r.MinMS > r.MedianMS ||
					r.Params != bench.ParamCount(c) || r.FLOPPerStep != bench.StepFLOP(c) || r.Peer != nil {
					t.Errorf("result %+v", r)
				}
				if r.FloorBasis != "sgemm" || !(r.FloorMS > 0) || len(r.GEMMs) != len(bench.StepGEMMs(c)) ||
					r.OursOverFloor != r.MedianMS/r.FloorMS || !(r.SGEMMGFLOPs > 0) {
					t.Errorf("floor of %+v", r)
				}
			},
		},
		{
			name: "table",
			args: append([]string{"--device", "cpu", "--model", "baseline", "--steps", "1", "--warmup", "0"}, tiny...),
			check: func(t *testing.T, out string) {
				for _, s := range []string{"training step on CPU", "BLAS threads", "load average", "baseline", "ours ms med/min", "ours/floor", "goal"} {
					if !strings.Contains(out, s) {
						t.Errorf("table does not say %q:\n%s", s, out)
					}
				}
			},
		},
		{
			name:      "numpy peer, json",
			needNumpy: true,
			args:      append([]string{"--device", "cpu", "--model", "all", "--steps", "2", "--warmup", "1", "--peer", "numpy", "--threads", "1", "--json"}, tiny...),
			check: func(t *testing.T, out string) {
				var rep benchReport
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("output is not JSON: %v\n%s", err, out)
				}
				if rep.BLASThreads != 1 || rep.PeerInfo == nil || !strings.HasSuffix(rep.PeerScript, filepath.FromSlash(bench.NumpyScriptName)) || len(rep.Results) != 3 {
					t.Fatalf("report %+v", rep)
				}
				for _, r := range rep.Results {
					p := r.Peer
					if p == nil || p.Model != r.Model || p.Steps != 2 || p.Dtype != "float32" || p.FLOPPerStep != r.FLOPPerStep ||
						r.PeerOverOurs != p.MedianMS/r.MedianMS || r.PeerOverOursMin != p.MinMS/r.MinMS {
						t.Errorf("%s: peer %+v in %+v", r.Model, p, r)
					}
				}
			},
		},
		{
			name:      "numpy peer, table",
			needNumpy: true,
			args:      append([]string{"--device", "cpu", "--model", "model2", "--steps", "2", "--warmup", "0", "--peer", "numpy"}, tiny...),
			check: func(t *testing.T, out string) {
				for _, s := range []string{"numpy ms med/min", "numpy/ours", "numpy peer: ", "numpy 1.", "model2"} {
					if !strings.Contains(out, s) {
						t.Errorf("table does not say %q:\n%s", s, out)
					}
				}
			},
		},
		{name: "no python", args: append([]string{"--device", "cpu", "--peer", "numpy", "--python", "/nonexistent/python3"}, tiny...), wantErr: "python3-numpy"},
		{name: "missing script", args: append([]string{"--device", "cpu", "--peer", "numpy", "--peer-script", "/nonexistent/mlp_numpy.py"}, tiny...), wantErr: "--peer-script"},
		{name: "unknown peer", args: []string{"--device", "cpu", "--peer", "torch"}, wantErr: "want none or numpy"},
		{name: "bad threads", args: append([]string{"--device", "cpu", "--threads", "1000"}, tiny...), wantErr: "--threads"},
		{name: "unknown model", args: []string{"--device", "cpu", "--model", "model3"}, wantErr: "unknown model"},
		{name: "gpu without one", args: []string{"--device", "gpu"}, wantErr: "GPU"},
	}
	// --threads changes this process's BLAS: put it back for the other
	// tests.
	threads := bench.BLASThreads()
	t.Cleanup(func() { _ = bench.SetBLASThreads(threads) })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "gpu without one" && gpuAvailable() == nil {
				t.Skip("this binary has a usable GPU")
			}
			if tt.needNumpy {
				if why := hasNumpy(t); why != "" {
					t.Skip(why)
				}
			}
			if tt.name == "bad threads" && !strings.Contains(cpu.BLAS, "openblas") {
				t.Skip("only OpenBLAS caps the thread count")
			}
			out, _, err := runCLI(append([]string{"bench", "train"}, tt.args...)...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, out)
		})
	}
}
