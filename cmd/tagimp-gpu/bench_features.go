package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"tagimp/bench"
	"tagimp/data/features"
	"tagimp/data/imageprep"
	"tagimp/model/vgg16"
	"tagimp/tagger"
)

func benchFeaturesCommand() *cli.Command {
	return &cli.Command{
		Name:  "features",
		Usage: "time VGG16 fc7 extraction: compute only, decode+preprocess only, end to end from JPEG",
		Description: `Times, in one run and one table, for the images of --images (JPEG files):
  compute     the network alone: on the GPU one batch already on the device
              (CUDA events, after a warm-up), on the CPU Extract of a synthetic batch
  decode      decoding and preprocessing alone, on --workers goroutines
  end-to-end  from the JPEG files to fc7 rows in host memory (decoding runs ahead
              of the network), and the fraction of that time the network waited
On the GPU also: decoding alone without the resize, and the features command's
own pipeline end to end (features.Build into a temporary folder: decoding on
--workers cores, staging in pinned memory, copies on their own stream, resize and
normalisation on the device, several batches in flight), with the fraction of its
time the network waited and the bytes per second copied to the device.
The slower of compute and decode is named the bottleneck. The load average is
printed with the numbers. The torchvision peer (bench/peers/vgg_torch.py, same
batch and precision) is run beside it by scripts/gpu-check.sh.

Examples:
   tagimp-gpu bench features --device cpu --images ../shared/data/coco/val2017 --batch 2
   tagimp-gpu bench features --device gpu --images val2017/ --batch 64 --precision tf32 --json`,
		Flags: []cli.Flag{
			deviceFlag(),
			&cli.StringFlag{Name: "images", Usage: "(required) folder of JPEG files to decode (all *.jpg in it)"},
			&cli.StringFlag{Name: "weights", Value: "random:1", Usage: "VGG16 weights (.pth, .npz or random:SEED; the time does not depend on them)"},
			&cli.IntFlag{Name: "batch", Value: 16, Usage: "images per forward pass (on the GPU 0: the most that fits in its free memory)"},
			&cli.StringFlag{Name: "precision", Value: "tf32", Usage: "GPU arithmetic: tf32, fp32, bf16 or fp16 (see features --help)"},
			&cli.IntFlag{Name: "workers", Value: runtime.NumCPU(), Usage: "decoding goroutines"},
			&cli.IntFlag{Name: "iters", Value: 10, Usage: "timed compute-only batches"},
			&cli.IntFlag{Name: "repeat", Value: 1, Usage: "use the images this many times (a larger end-to-end run from a small folder)"},
			&cli.BoolFlag{Name: "center-crop", Usage: "resize-256/center-crop-224 preprocessing"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of the table"},
		},
		Action: runBenchFeatures,
	}
}

func runBenchFeatures(c *cli.Context) error {
	dir := c.String("images")
	if dir == "" {
		return fmt.Errorf("bench features: --images not set (a folder of JPEG files)")
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.jpg"))
	if err != nil || len(paths) == 0 {
		return fmt.Errorf("bench features: --images %s holds no *.jpg files", dir)
	}
	sort.Strings(paths)
	if k := c.Int("repeat"); k > 1 {
		one := paths
		for i := 1; i < k; i++ {
			paths = append(paths, one...)
		}
	}
	if c.Int("batch") < 0 || c.Int("iters") <= 0 {
		return fmt.Errorf("bench features: --batch must be 0 (automatic) or positive, --iters positive")
	}
	weights := c.String("weights")
	seed, random, err := tagger.ParseRandomWeights(weights)
	if err != nil {
		return err
	}
	var net *vgg16.Net
	if random {
		net = vgg16.NewRandom(seed)
	} else if net, err = vgg16.Load(weights); err != nil {
		return err
	}
	cfg := bench.FeaturesConfig{Paths: paths, Batch: c.Int("batch"), Workers: c.Int("workers"), Iters: c.Int("iters"),
		Prep: imageprep.Config{Mode: net.Preprocess(), Size: net.Config().InputSize, CenterCrop: c.Bool("center-crop")}}
	ex, device, release, err := featureExtractorMeta(c, net, cfg.Prep, &features.Meta{})
	if err != nil {
		return err
	}
	defer release()
	cfg.Extractor = ex
	if dev, ok := ex.(interface {
		ComputeTime(int) (time.Duration, error)
	}); ok {
		cfg.ComputeTime = dev.ComputeTime
	}
	if rx, ok := ex.(features.RawExtractor); ok {
		cfg.RawExtractor = rx
	}
	if b, ok := ex.(interface{ Batch() int }); ok {
		cfg.Batch = b.Batch() // --batch 0, or lowered after an out-of-memory error
	} else if cfg.Batch == 0 {
		cfg.Batch = cpuBatch
	}
	r, err := bench.Features(c.Context, cfg)
	if err != nil {
		return err
	}
	load := fmt.Sprint(loadAvg())
	if c.Bool("json") {
		return json.NewEncoder(os.Stdout).Encode(struct {
			Device string `json:"device"`
			Load   string `json:"load_average"`
			bench.FeaturesResult
		}{device, load, r})
	}
	fmt.Printf("VGG16 to fc7 on %s, batch %d, %d images, %s; load average %s\n", device, r.Batch, r.Images, cfg.Prep, load)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "stage\timages/s\t")
	fmt.Fprintf(w, "compute only\t%.1f\t\n", r.ComputeIPS)
	fmt.Fprintf(w, "decode+preprocess only\t%.1f\t\n", r.DecodeIPS)
	fmt.Fprintf(w, "end to end from JPEG\t%.1f\t\n", r.EndToEndIPS)
	if r.RawEndToEndIPS > 0 {
		fmt.Fprintf(w, "decode only, preprocessing on the device\t%.1f\t\n", r.RawDecodeIPS)
		fmt.Fprintf(w, "features pipeline end to end (device preprocessing, %d batches in flight)\t%.1f\t\n", ex.(features.RawExtractor).InFlight(), r.RawEndToEndIPS)
	}
	w.Flush()
	fmt.Printf("host preprocessing: the network waited for input %.0f%% of the end-to-end time; bottleneck: %s\n", 100*r.Wait, r.Bottleneck)
	if r.RawEndToEndIPS > 0 {
		fmt.Printf("features pipeline: the network waited %.0f%% of the time; %.0f MB/s of decoded images copied to the device; bottleneck: %s\n",
			100*r.RawWait, r.RawCopyMBps, r.RawBottleneck)
	}
	return nil
}
