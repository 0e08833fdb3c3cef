package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"tagimp/bench"
)

// benchGPU holds what the GPU build adds to `bench train` (set by
// device_gpu.go): a device-to-device copy bandwidth probe in GB/s and the
// device's name. The engines come from factoryFor, as for train.
var benchGPU struct {
	copyBandwidth func() (float64, error)
	deviceName    func() string
}

func init() {
	register(&cli.Command{
		Name:  "bench",
		Usage: "time the engines",
		Description: `Benchmarks of the compute engines on synthetic data at the paper's shapes.

   tagimp-gpu bench train --device gpu --json   (what scripts/gpu-check.sh runs)`,
		Subcommands: []*cli.Command{{
			Name:  "train",
			Usage: "time training steps (batch 32, D = H = H2 = 4096, T = 116, E = 300, Adam)",
			Description: `Times one training step (forward, losses, backward, Adam update) of each model
at the paper's shapes on synthetic data, after warm-up steps, and prints the
mean step time. On the GPU the training split lives on the device (as in real
training) and the table adds the HBM floor: the bytes a step must move at
least (per parameter: weight read, gradient written and read, weight and both
Adam moments read and written — 36 bytes) over the device-to-device copy
bandwidth measured in the same run, and the fraction of that floor reached
(1.00 = at the floor).

Examples:
   tagimp-gpu bench train --device cpu --model baseline --steps 3
   tagimp-gpu bench train --device gpu --json > ours.json
   python3 bench/peers/mlp_torch.py --json > torch.json   (the PyTorch peer)`,
			Flags: []cli.Flag{
				deviceFlag(),
				&cli.StringFlag{Name: "model", Value: "all", Usage: "baseline, model1, model2 or all (comma-separated list allowed)"},
				&cli.IntFlag{Name: "steps", Usage: "timed steps per model (default 200 on the GPU, 3 on the CPU)"},
				&cli.IntFlag{Name: "warmup", Value: -1, Usage: "untimed steps before timing (default 20 on the GPU, 1 on the CPU)"},
				&cli.IntFlag{Name: "tags", Value: 116, Usage: "T, the number of tags (116 in the paper)"},
				&cli.IntFlag{Name: "batch", Value: 32, Usage: "mini-batch size (32 in the paper)"},
				&cli.IntFlag{Name: "rows", Value: 4096, Usage: "synthetic training rows (kept on the device on the GPU)"},
				&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the synthetic data and row order"},
				&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of a table"},
			},
			Action: benchTrain,
		}},
	})
}

// benchReport is the JSON that `bench train --json` prints.
type benchReport struct {
	Device           string         `json:"device"`
	DeviceName       string         `json:"device_name"`
	CopyBandwidthGBs float64        `json:"copy_bandwidth_gbs,omitempty"`
	Results          []bench.Result `json:"results"`
}

func benchTrain(c *cli.Context) error {
	dev, err := resolveDevice(c)
	if err != nil {
		return err
	}
	kinds, err := parseModels(c.String("model"))
	if err != nil {
		return err
	}
	o := bench.Options{Steps: c.Int("steps"), Warmup: c.Int("warmup"), Rows: c.Int("rows"), Seed: c.Uint64("seed")}
	rep := benchReport{Device: dev, DeviceName: "CPU (gorgonia)"}
	factory, err := factoryFor(dev)
	if err != nil {
		return err
	}
	if dev == "gpu" {
		if benchGPU.deviceName == nil || benchGPU.copyBandwidth == nil {
			return fmt.Errorf("bench: this binary has no GPU engine: build it with the gpu tag (make kernels && make build)")
		}
		rep.DeviceName = benchGPU.deviceName()
		if o.Steps == 0 {
			o.Steps = 200
		}
		if o.Warmup < 0 {
			o.Warmup = 20
		}
		if rep.CopyBandwidthGBs, err = benchGPU.copyBandwidth(); err != nil {
			return fmt.Errorf("bench: copy bandwidth: %w", err)
		}
	}
	if o.Steps == 0 {
		o.Steps = 3
	}
	if o.Warmup < 0 {
		o.Warmup = 1
	}
	for _, k := range kinds {
		cfg := bench.Shapes(k, c.Int("tags"))
		cfg.Batch = c.Int("batch")
		var progress func(done, total int)
		if !c.Bool("json") {
			bar := newProgress(o.Warmup+o.Steps, string(k)+" steps")
			progress = func(done, total int) { _ = bar.Set(done) }
		}
		r, err := bench.Run(factory, cfg, o, progress)
		if err != nil {
			return err
		}
		r.SetFloor(rep.CopyBandwidthGBs)
		rep.Results = append(rep.Results, r)
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", " ")
		return enc.Encode(rep)
	}
	return printBench(c.App.Writer, rep)
}

func printBench(out io.Writer, rep benchReport) error {
	fmt.Fprintf(out, "training step on %s (%s)", rep.Device, rep.DeviceName)
	if rep.CopyBandwidthGBs > 0 {
		fmt.Fprintf(out, ", copy bandwidth %.0f GB/s", rep.CopyBandwidthGBs)
	}
	fmt.Fprintln(out)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "model\tparams\tbatch\tsteps\tms/step\tfloor ms\tof floor\tloss first→last\t")
	for _, r := range rep.Results {
		floor, frac := "-", "-"
		if r.FloorMS > 0 {
			floor, frac = fmt.Sprintf("%.4f", r.FloorMS), fmt.Sprintf("%.2f", r.FloorFraction)
		}
		first := "-"
		if r.FirstLoss != 0 {
			first = fmt.Sprintf("%.4f", r.FirstLoss)
		}
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%.4f\t%s\t%s\t%s→%.4f\t\n", r.Model, r.Params, r.Batch, r.Steps, r.StepMS, floor, frac, first, r.LastLoss)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Results {
		if r.Mode != "" {
			fmt.Fprintf(out, "%s: %s\n", r.Model, r.Mode)
		}
	}
	return nil
}
