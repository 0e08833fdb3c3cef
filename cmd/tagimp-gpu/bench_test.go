package main

import (
	"encoding/json"
	"strings"
	"testing"

	"tagimp/bench"
	"tagimp/model"
)

func TestBenchTrain(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, out string)
	}{
		{
			name: "json on the CPU",
			args: []string{"--device", "cpu", "--model", "baseline", "--steps", "1", "--warmup", "1", "--rows", "32", "--json"},
			check: func(t *testing.T, out string) {
				var rep benchReport
				if err := json.Unmarshal([]byte(out), &rep); err != nil {
					t.Fatalf("output is not JSON: %v\n%s", err, out)
				}
				if rep.Device != "cpu" || len(rep.Results) != 1 {
					t.Fatalf("report %+v", rep)
				}
				r := rep.Results[0]
				c := bench.Shapes(model.Baseline, 116)
				if r.Model != "baseline" || r.Batch != 32 || r.Steps != 1 || !(r.StepMS > 0) ||
					r.Params != bench.ParamCount(c) || r.BytesPerStep != bench.FloorBytes(c) || r.FloorMS != 0 {
					t.Errorf("result %+v", r)
				}
			},
		},
		{
			name: "table",
			args: []string{"--device", "cpu", "--model", "baseline", "--steps", "1", "--warmup", "0", "--rows", "32", "--tags", "7"},
			check: func(t *testing.T, out string) {
				if !strings.Contains(out, "training step on cpu") || !strings.Contains(out, "baseline") || !strings.Contains(out, "ms/step") {
					t.Errorf("table:\n%s", out)
				}
			},
		},
		{name: "unknown model", args: []string{"--device", "cpu", "--model", "model3"}, wantErr: "unknown model"},
		{name: "gpu without one", args: []string{"--device", "gpu"}, wantErr: "GPU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "gpu without one" && gpuAvailable() == nil {
				t.Skip("this binary has a usable GPU")
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
