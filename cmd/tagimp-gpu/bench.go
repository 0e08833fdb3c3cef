package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"tagimp/bench"
	"tagimp/model/cpu"
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

   tagimp-gpu bench train --device cpu --peer numpy   (ours, the numpy peer and the floor)
   tagimp-gpu bench train --device gpu --json         (what scripts/gpu-check.sh runs)
   tagimp-gpu bench images                            (decoding, preprocessing, CPU fc7 vs PIL/PyTorch)`,
		Subcommands: []*cli.Command{{
			Name:  "train",
			Usage: "time training steps (batch 32, D = H = H2 = 4096, T = 116, E = 300, Adam)",
			Description: `Times one training step (forward, losses, backward, Adam update) of each model
at the paper's shapes on synthetic data, after warm-up steps.

On the CPU each step is timed on its own (median and fastest), and the table
sets beside it:
  floor     the step's matrix products (forward, weight gradients, the heads'
            input gradients; no gradient of the input features) at the best
            rate the BLAS in use reaches on each of their shapes, timed in
            the same run between the model's timed steps: 2.24 GFLOP per step
            for the Baseline, 2.33 for Model 1, 4.73 for Model 2. ours/floor
            is the step time over it (goal: at most 2).
  numpy     with --peer numpy, the same step written with numpy
            (bench/peers/mlp_numpy.py run by /usr/bin/python3, same shapes,
            steps and warm-up, float32), run right after ours model by
            model, with OpenBLAS on as many threads as ours (--threads).
            numpy/ours above 1 means we are faster (goal: at least 1).
The machine's load average is printed with the numbers: on a shared machine
compare the fastest ("min") times, which interference inflates least.

On the GPU the training split lives on the device (as in real training), the
steps are timed together (mean) and the floor is the HBM floor: the bytes a
step must move at least (per parameter: weight read, gradient written and
read, weight and both Adam moments read and written — 36 bytes) over the
device-to-device copy bandwidth measured in the same run. Its peer is
PyTorch, run by scripts/gpu-check.sh (bench/peers/mlp_torch.py).

Examples:
   tagimp-gpu bench train --device cpu --peer numpy
   tagimp-gpu bench train --device cpu --peer numpy --model model1 --steps 20 --json
   OPENBLAS_NUM_THREADS=1 tagimp-gpu bench train --device cpu --peer numpy
   tagimp-gpu bench train --device gpu --json > ours.json`,
			Flags: []cli.Flag{
				deviceFlag(),
				&cli.StringFlag{Name: "model", Value: "all", Usage: "baseline, model1, model2 or all (comma-separated list allowed)"},
				&cli.IntFlag{Name: "steps", Usage: "timed steps per model (default 200 on the GPU, 10 on the CPU)"},
				&cli.IntFlag{Name: "warmup", Value: -1, Usage: "untimed steps before timing (default 20 on the GPU, 2 on the CPU)"},
				&cli.IntFlag{Name: "tags", Value: 116, Usage: "T, the number of tags (116 in the paper)"},
				&cli.IntFlag{Name: "batch", Value: 32, Usage: "mini-batch size (32 in the paper)"},
				&cli.IntFlag{Name: "dim", Value: 4096, Usage: "D, the feature width (4096 for fc7); smaller for a quick check"},
				&cli.IntFlag{Name: "hidden", Value: 4096, Usage: "H, the trunk's hidden width (4096 in the paper)"},
				&cli.IntFlag{Name: "hidden2", Value: 4096, Usage: "H2, Model 2's importance MLP hidden width (4096 in the paper)"},
				&cli.IntFlag{Name: "embed", Value: 300, Usage: "E, the word-vector width (300 in the paper)"},
				&cli.IntFlag{Name: "rows", Value: 4096, Usage: "synthetic training rows (kept on the device on the GPU)"},
				&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the synthetic data and row order"},
				&cli.StringFlag{Name: "peer", Value: "none", Usage: "none, or numpy: time the numpy peer of the step in the same run (CPU only)"},
				&cli.StringFlag{Name: "peer-script", Usage: "path of mlp_numpy.py (default: found beside the binary or in the repository, else the copy built in)"},
				&cli.StringFlag{Name: "python", Value: bench.DefaultPython, Usage: "interpreter with numpy for the peer"},
				&cli.IntFlag{Name: "threads", Usage: "BLAS threads for ours and the peer (default: OpenBLAS's own count, OPENBLAS_NUM_THREADS or one per core)"},
				&cli.IntFlag{Name: "gemm-reps", Usage: "timed rounds of the matrix products for the CPU floor, one after each timed step and the rest right after them (default: --steps, at least 20)"},
				&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of a table"},
			},
			Action: benchTrain,
		}, benchImagesCommand, benchFeaturesCommand()},
	})
}

// benchReport is the JSON that `bench train --json` prints.
type benchReport struct {
	Device           string  `json:"device"`
	DeviceName       string  `json:"device_name"`
	CopyBandwidthGBs float64 `json:"copy_bandwidth_gbs,omitempty"`
	// BLASThreads is the thread count of our BLAS, and of the peer's
	// when there is one (PeerInfo says what it reported); GOMAXPROCS
	// bounds our Adam's goroutines.
	BLASThreads int             `json:"blas_threads,omitempty"`
	GOMAXPROCS  int             `json:"gomaxprocs,omitempty"`
	PeerScript  string          `json:"peer_script,omitempty"`
	PeerInfo    *bench.PeerInfo `json:"peer_info,omitempty"`
	// LoadAvg is /proc/loadavg's 1, 5 and 15 minute load before and
	// after the run (the machine may be shared).
	LoadBefore []float64      `json:"load_avg_before,omitempty"`
	LoadAfter  []float64      `json:"load_avg_after,omitempty"`
	Results    []bench.Result `json:"results"`
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
	var peer *bench.NumpyPeer
	switch p := c.String("peer"); p {
	case "none", "":
	case "numpy":
		if dev == "gpu" {
			return fmt.Errorf("--peer numpy is the CPU's peer; the GPU's is PyTorch: run scripts/gpu-check.sh (bench/peers/mlp_torch.py), or use --device cpu")
		}
		script := c.String("peer-script")
		if script == "" {
			exe, _ := os.Executable()
			wd, _ := os.Getwd()
			script = bench.FindNumpyScript(exe, wd)
		}
		peer = &bench.NumpyPeer{Python: c.String("python"), Script: script}
	default:
		return fmt.Errorf("--peer %q: want none or numpy", p)
	}
	o := bench.Options{Steps: c.Int("steps"), Warmup: c.Int("warmup"), Rows: c.Int("rows"), Seed: c.Uint64("seed")}
	rep := benchReport{Device: dev, DeviceName: "CPU (gorgonia, " + cpu.BLAS + ")", LoadBefore: loadAvg()}
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
	} else {
		if n := c.Int("threads"); n > 0 {
			if err := bench.SetBLASThreads(n); err != nil {
				return fmt.Errorf("--threads: %w", err)
			}
		}
		rep.BLASThreads, rep.GOMAXPROCS = bench.BLASThreads(), runtime.GOMAXPROCS(0)
	}
	if o.Steps == 0 {
		o.Steps = 10
	}
	if o.Warmup < 0 {
		o.Warmup = 2
	}
	reps := c.Int("gemm-reps")
	if reps <= 0 {
		reps = max(20, o.Steps)
	}
	if peer != nil {
		peer.Threads = rep.BLASThreads
		rep.PeerScript = peer.ScriptName()
		info, err := peer.Probe(c.Context)
		if err != nil {
			return err
		}
		rep.PeerInfo = &info
	}
	for _, k := range kinds {
		cfg := bench.Shapes(k, c.Int("tags"))
		cfg.Batch, cfg.D, cfg.H, cfg.H2, cfg.E = c.Int("batch"), c.Int("dim"), c.Int("hidden"), c.Int("hidden2"), c.Int("embed")
		mo := o
		var timer *bench.GEMMTimer
		if dev == "cpu" {
			// The floor's products are timed a round after each of our
			// timed steps (so both see the same load), then topped up
			// to --gemm-reps rounds.
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("bench %s: %w", k, err)
			}
			if timer, err = bench.NewGEMMTimer(bench.StepGEMMs(cfg)); err != nil {
				return fmt.Errorf("bench %s: %w", k, err)
			}
			mo.Between = timer.Round
		}
		var progress func(done, total int)
		if !c.Bool("json") {
			bar := newProgress(o.Warmup+o.Steps, string(k)+" steps")
			progress = func(done, total int) { _ = bar.Set(done) }
		}
		r, err := bench.Run(factory, cfg, mo, progress)
		if err != nil {
			return err
		}
		if dev == "gpu" {
			r.SetFloor(rep.CopyBandwidthGBs)
		} else {
			for timer.Rounds() < reps {
				timer.Round()
			}
			floor, err := timer.Floor()
			if err != nil {
				return fmt.Errorf("bench %s: %w", k, err)
			}
			r.SetGEMMFloor(floor)
		}
		if peer != nil {
			pr, err := peer.Run(c.Context, cfg, o)
			if err != nil {
				return err
			}
			r.SetPeer(pr)
		}
		rep.Results = append(rep.Results, r)
	}
	rep.LoadAfter = loadAvg()
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", " ")
		return enc.Encode(rep)
	}
	if dev == "cpu" {
		return printBenchCPU(c.App.Writer, rep)
	}
	return printBench(c.App.Writer, rep)
}

// loadAvg returns the 1, 5 and 15 minute load averages, or nil where
// /proc/loadavg cannot be read.
func loadAvg() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	var l [3]float64
	if _, err := fmt.Sscanf(string(b), "%f %f %f", &l[0], &l[1], &l[2]); err != nil {
		return nil
	}
	return l[:]
}

func fmtLoad(l []float64) string {
	if len(l) != 3 {
		return "?"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2])
}

// printBenchCPU prints the CPU table: ours, the numpy peer and the floor.
func printBenchCPU(out io.Writer, rep benchReport) error {
	fmt.Fprintf(out, "training step on %s; BLAS threads %d", rep.DeviceName, rep.BLASThreads)
	if rep.PeerInfo != nil {
		fmt.Fprintf(out, " (numpy's: %d)", rep.PeerInfo.Threads)
	}
	fmt.Fprintf(out, ", GOMAXPROCS %d, %d CPUs; load average (1/5/15 min) %s before, %s after\n",
		rep.GOMAXPROCS, runtime.NumCPU(), fmtLoad(rep.LoadBefore), fmtLoad(rep.LoadAfter))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "model\tsteps\tours ms med/min\tnumpy ms med/min\tnumpy/ours med/min\tfloor ms\tours/floor med/min\tGFLOP\tSGEMM GFLOP/s\tloss first→last\t")
	for _, r := range rep.Results {
		peer, ratio := "-", "-"
		if p := r.Peer; p != nil {
			peer = fmt.Sprintf("%.1f/%.1f", p.MedianMS, p.MinMS)
			ratio = fmt.Sprintf("%.2f/%.2f", r.PeerOverOurs, r.PeerOverOursMin)
		}
		floor, over := "-", "-"
		if r.FloorMS > 0 {
			floor = fmt.Sprintf("%.1f", r.FloorMS)
			over = fmt.Sprintf("%.2f/%.2f", r.OursOverFloor, r.OursOverFloorMin)
		}
		fmt.Fprintf(w, "%s\t%d\t%.1f/%.1f\t%s\t%s\t%s\t%s\t%.2f\t%.1f\t%.4f→%.4f\t\n", r.Model, r.Steps,
			r.MedianMS, r.MinMS, peer, ratio, floor, over, float64(r.FLOPPerStep)/1e9, r.SGEMMGFLOPs, r.FirstLoss, r.LastLoss)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if p := rep.PeerInfo; p != nil {
		fmt.Fprintf(out, "numpy peer: %s, numpy %s on %s, %d BLAS threads; script: %s\n", p.Python, p.NumpyVersion, p.BLAS, p.Threads, rep.PeerScript)
		if p.Threads != rep.BLASThreads {
			fmt.Fprintf(out, "note: the peer's BLAS uses %d threads, ours %d: the comparison is not like for like\n", p.Threads, rep.BLASThreads)
		}
	}
	fmt.Fprintln(out, "floor: the step's matrix products at the best SGEMM rate measured on each of their shapes in this run; numpy/ours > 1: we are faster")
	fmt.Fprintln(out, "goal (issue 3, item 8): ours/floor ≤ 2 and numpy/ours ≥ 1")
	if len(rep.LoadBefore) == 3 && rep.LoadBefore[0] > float64(runtime.NumCPU())/2 {
		fmt.Fprintf(out, "note: the machine was busy (load %.2f on %d CPUs): times are inflated and noisy; compare the min columns\n", rep.LoadBefore[0], runtime.NumCPU())
	}
	return nil
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
