package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"tagimp/data/coco"
	"tagimp/data/features"
	"tagimp/data/imageprep"
	"tagimp/gpu"
	"tagimp/model/vgg16"
	"tagimp/tagger"
)

// newGPUExtractor, when set by the GPU build, runs the network on the GPU
// as r asks. It is nil in the plain build: --device gpu then fails with a
// clear message and --device auto uses the CPU.
var newGPUExtractor func(net *vgg16.Net, r gpuRequest) (features.Extractor, gpuRun, error)

// gpuRequest is what a command asks of the GPU network.
type gpuRequest struct {
	Batch     int              // images a batch; 0: the most that fits in the free device memory
	Precision string           // gpu.ParsePrecision
	Prep      imageprep.Config // applied on the device to decoded images (features.RawExtractor)
	// Plan, when set, is a resumed cache's choices (batch, convolution
	// algorithms), repeated so that the rerun writes the same bytes; a
	// --batch of another size overrides it.
	Plan *features.Plan
}

// gpuRun says what the GPU network runs on and chose: the GPU's name and
// the cuDNN in use (recorded in the manifest), its plan, and a function
// that releases the GPU.
type gpuRun struct {
	Device, CuDNN string
	Plan          *features.Plan
	Release       func()
}

// cpuBatch is the batch of the CPU network when --batch is 0 (automatic).
const cpuBatch = 16

func init() {
	register(&cli.Command{
		Name:      "features",
		Usage:     "compute VGG16 fc7 features of a caption file's images into a resumable, sharded cache",
		ArgsUsage: " ",
		Description: `Runs every image named in --captions (a COCO captions JSON) through VGG16 and
stores fc7 (4096 float32 after its ReLU) in --out:
   fc7-KofN-SSSSS.npy       [rows, 4096] float32, one shard file per --shard-size images
   fc7-KofN-SSSSS.ids.npy   [rows] int64 image ids of those rows
   manifest.json            weights and their SHA-256, preprocessing, image size,
                            shard files with row counts and SHA-256, and the images
                            that failed (unreadable, truncated, too large) with why
numpy reads every file (np.load). Train, eval and predict read the folder.

Resumable: each shard is written to a temporary file and renamed, and the manifest
is rewritten after every shard. When a run is killed, run the same command again:
finished shards are checked and kept, the rest computed; the result is byte-identical
to an uninterrupted run. An image that fails to decode is listed in the manifest and
the run goes on; a missing images folder or weights file stops it at once.

One run per part: a second run of the same part into --out while the first is
running is refused, naming it (a lock per part; other parts may share the folder).

Several machines: --shard K/N computes the images whose id mod N == K (manifest
manifest-KofN.json). Without --shard, a Slurm array (SLURM_ARRAY_TASK_ID and
SLURM_ARRAY_TASK_COUNT, contiguous --array) or a Kubernetes Indexed Job
(JOB_COMPLETION_INDEX with --shard-count = completions) picks its part itself.
Then join the parts with "tagimp-gpu features merge --out DIR PART...".

Weights: torchvision's vgg16-397923af.pth (tagimp-gpu fetch vgg16-torchvision), an
.npz in model/vgg16's layout, or random:SEED for seeded random weights (demo and
tests; the manifest says so). The preprocessing follows the weights (torchvision
for .pth) unless --preprocess says otherwise.

On the GPU (--device gpu, or auto on a machine with one): --workers cores decode the
JPEGs and only their 8-bit pixels cross PCIe; the resize and normalisation run on
the device (within one 8-bit level of the CPU path's), and decoding, copying and
computing overlap, three batches in flight. --batch 0 (default) takes the largest
batch that fits in the free device memory (at most 256); an out-of-memory error
halves it with a message and the run goes on. If the GPU, its driver or cuDNN is
missing, --device auto says so in one line and computes on the CPU; --device gpu
stops. Time each stage with "tagimp-gpu bench features --device gpu".

Decoding: ` + imageprep.DCTScalingNote + `

Example:
   tagimp-gpu features --captions annotations/captions_train2014.json \
      --images train2014/ --weights vgg16-397923af.pth --out fc7-train2014`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "captions", Usage: "(required) COCO captions JSON whose images to process"},
			&cli.StringFlag{Name: "images", Usage: "(required) folder holding the images: DIR/file_name for each image of the caption file (without file_name: the file whose name ends in the image id)"},
			&cli.StringFlag{Name: "weights", Usage: "(required) VGG16 weights: torchvision .pth, .npz, or random:SEED"},
			&cli.StringFlag{Name: "out", Usage: "(required) cache folder to write (created; an earlier run there is resumed)"},
			deviceFlag(),
			&cli.IntFlag{Name: "batch", Usage: "images per forward pass; 0 (default): 16 on the CPU, on the GPU the most that fits in its free memory (at most 256; an out-of-memory error halves it)"},
			&cli.StringFlag{Name: "precision", Value: "tf32", Usage: "GPU arithmetic: tf32 (cuDNN and cuBLAS on TF32 tensor cores, PyTorch's default for cuDNN), fp32 (no tensor cores), bf16 or fp16 (convolutions and pools on channels-last bfloat16 / IEEE half tensors with float32 accumulation, as PyTorch's autocast with channels_last; fc6/fc7 in TF32); the CPU path is always FP32, the reference. Features of another precision are other features (recorded in the manifest; train refuses to mix them). Deviation of fc7 from the CPU path: not yet measured on a GPU (scripts/gpu-check.sh prints it, TestVGG16FC7)"},
			&cli.IntFlag{Name: "workers", Value: runtime.NumCPU(), Usage: "image decoding goroutines"},
			&cli.StringFlag{Name: "shard", Usage: "compute only part K/N of the images (id mod N == K), e.g. 0/4"},
			&cli.IntFlag{Name: "shard-count", Usage: "number of parts N for JOB_COMPLETION_INDEX (Kubernetes) or to override SLURM_ARRAY_TASK_COUNT"},
			&cli.IntFlag{Name: "shard-size", Value: 1000, Usage: "images per shard file"},
			&cli.StringFlag{Name: "preprocess", Usage: "torchvision or caffe; default: what the weights expect"},
			&cli.IntFlag{Name: "input-size", Value: 224, Usage: "with --weights random:SEED: the network's input size (tests, demos; real weights use 224)"},
			&cli.BoolFlag{Name: "center-crop", Usage: "resize the short side to 256 and crop 224 (torchvision style) instead of resizing the whole image to 224x224 (the paper)"},
			&cli.BoolFlag{Name: "full-decode", Usage: "decode JPEGs at full size before resizing, as PIL/torchvision do (slower); default: at the DCT scale that still covers the target (see above)"},
		},
		Action: runFeatures,
		Subcommands: []*cli.Command{{
			Name:      "merge",
			Usage:     "check and join feature caches computed in parts (--shard K/N) on several machines",
			ArgsUsage: "PART_DIR...",
			Description: `Joins the parts of a split "tagimp-gpu features" run into DIR/manifest.json.
Every part must be complete and computed with the same weights and preprocessing,
and no image id may appear twice. Shard files are verified against their SHA-256
and hard-linked (or copied) into --out; --out may be the folder the parts share.
Parts of the split that were not given are reported.

Example:
   tagimp-gpu features merge --out fc7-train2014 part0/ part1/ part2/ part3/`,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Usage: "folder of the joined cache (required)"},
			},
			Action: runFeaturesMerge,
		}},
	})
}

func runFeatures(c *cli.Context) error {
	if c.NArg() > 0 {
		return fmt.Errorf("features: unexpected argument %q (did you mean \"features merge\"?)", c.Args().First())
	}
	// Checked here rather than with Required, which urfave/cli would also
	// apply to "features merge".
	var unset []string
	for _, f := range []string{"captions", "images", "weights", "out"} {
		if c.String(f) == "" {
			unset = append(unset, "--"+f)
		}
	}
	if len(unset) > 0 {
		return fmt.Errorf("features: %s not set (see tagimp-gpu features --help)", strings.Join(unset, ", "))
	}
	if err := positive(c, "workers", "shard-size"); err != nil {
		return err
	}
	if c.Int("batch") < 0 {
		return fmt.Errorf("--batch %d: want 0 (automatic) or a positive number of images", c.Int("batch"))
	}
	// Checked up front: with --device auto a bad value would otherwise only
	// show as a fall-back to the CPU.
	if _, err := gpu.ParsePrecision(c.String("precision")); err != nil {
		return fmt.Errorf("--precision: %w", err)
	}
	captions, imagesDir, weights := c.String("captions"), c.String("images"), c.String("weights")
	if st, err := os.Stat(imagesDir); err != nil || !st.IsDir() {
		return fmt.Errorf("--images %s: no such folder; pass the folder that holds the caption file's images", imagesDir)
	}
	seed, random, err := tagger.ParseRandomWeights(weights)
	if err != nil {
		return err
	}
	if !random {
		if _, err := os.Stat(weights); err != nil {
			return fmt.Errorf("--weights %s: %w; download the torchvision weights with `tagimp-gpu fetch vgg16-torchvision`, or use random:SEED", weights, err)
		}
	}
	shard, err := pickShard(c)
	if err != nil {
		return err
	}
	images, err := captionImages(captions, imagesDir)
	if err != nil {
		return err
	}

	var net *vgg16.Net
	meta := features.Meta{Backbone: "vgg16-fc7"}
	if random {
		cfg := vgg16.VGG16()
		cfg.InputSize = c.Int("input-size")
		if net, err = vgg16.NewRandomConfig(cfg, seed); err != nil {
			return fmt.Errorf("--input-size %d: %w", cfg.InputSize, err)
		}
		meta.Weights = "random:" + strconv.FormatInt(seed, 10)
	} else {
		if c.IsSet("input-size") {
			return fmt.Errorf("--input-size: only with --weights random:SEED (the weights %s fix the input size)", weights)
		}
		fmt.Fprintf(os.Stderr, "loading VGG16 weights %s\n", weights)
		if net, err = vgg16.Load(weights); err != nil {
			return err
		}
		meta.Weights = filepath.Base(weights)
	}
	meta.WeightsSHA256 = net.SHA256()
	prep := imageprep.Config{Mode: net.Preprocess(), Size: net.Config().InputSize, CenterCrop: c.Bool("center-crop"), FullDecode: c.Bool("full-decode")}
	if p := c.String("preprocess"); p != "" && p != prep.Mode {
		if !random {
			return fmt.Errorf("--preprocess %s: the weights %s expect %s preprocessing; other preprocessing gives wrong features", p, weights, prep.Mode)
		}
		prep.Mode = p
	}
	if err := prep.Validate(); err != nil {
		return err
	}
	meta.Preprocess, meta.CenterCrop, meta.ImageSize, meta.Decoder = prep.Mode, prep.CenterCrop, prep.Size, prep.Decoder()

	prior := priorPlan(c.String("out"), shard, c.String("precision"))
	ex, device, run, err := featureExtractorPlan(c, net, prep, &meta, prior)
	if err != nil {
		return err
	}
	defer run.Release()
	cfg := features.Config{
		Out: c.String("out"), ImagesDir: imagesDir, Images: images, Meta: meta, Shard: shard,
		ShardSize: c.Int("shard-size"), Batch: c.Int("batch"), Workers: c.Int("workers"), Plan: run.Plan,
	}
	// The GPU takes decoded 8-bit images and preprocesses them itself, with
	// several batches on their way (decoding, copying and computing overlap).
	cfg.UseExtractor(ex, prep)
	if cfg.Batch == 0 {
		cfg.Batch = cpuBatch
	}
	fmt.Fprintf(os.Stderr, "features: %d images in %s, part %s, weights %s (sha256 %.12s), %s, device %s, batch %d\n",
		len(images), captions, shard, meta.Weights, meta.WeightsSHA256, prep, device, cfg.Batch)

	bar := newProgress(-1, "images")
	cfg.Progress = progressFunc(bar)
	sum, err := features.Build(c.Context, cfg)
	bar.Finish()
	if err != nil {
		return err
	}
	if sum.PlanChanged != "" {
		fmt.Fprintf(os.Stderr, "warning: %s; their rows may differ in the last bits from what this run would have written (same device, precision and plan give the same bytes)\n", sum.PlanChanged)
	}
	for i, f := range sum.Manifest.Failed {
		if i == 5 {
			fmt.Fprintf(os.Stderr, "  … and %d more (see the manifest)\n", len(sum.Manifest.Failed)-5)
			break
		}
		fmt.Fprintf(os.Stderr, "  failed: id %d %s: %s\n", f.ID, f.File, f.Reason)
	}
	fmt.Printf("%s: %d images of part %s, %d feature rows, %d failed; %d shards computed, %d kept from an earlier run\n",
		sum.ManifestPath, sum.Images, shard, sum.Rows, sum.Failed, sum.Computed, sum.Reused)
	if shard.N > 1 {
		fmt.Printf("when every part is done: tagimp-gpu features merge --out DIR %s ...\n", c.String("out"))
	}
	return nil
}

func runFeaturesMerge(c *cli.Context) error {
	ins, err := interspersedArgs(c)
	if err != nil {
		return err
	}
	if c.String("out") == "" || len(ins) == 0 {
		return fmt.Errorf("features merge: want --out DIR and the part folders to join, e.g. features merge --out fc7 part0/ part1/")
	}
	sum, err := features.Merge(c.String("out"), ins)
	if err != nil {
		return err
	}
	fmt.Println(sum)
	if len(sum.Missing) > 0 {
		fmt.Fprintf(os.Stderr, "warning: parts %s were not given; their images have no features\n", strings.Join(sum.Missing, ", "))
	}
	return nil
}

// pickShard reads --shard, else the job array's environment.
func pickShard(c *cli.Context) (features.Shard, error) {
	if s := c.String("shard"); s != "" {
		return features.ParseShard(s)
	}
	s, found, err := features.ShardFromEnv(os.Getenv, c.Int("shard-count"))
	if err != nil {
		return features.Shard{}, err
	}
	if found {
		fmt.Fprintf(os.Stderr, "features: part %s from the job array's environment\n", s)
	}
	return s, nil
}

// featureExtractor picks the CPU or GPU network for --device (demo,
// predict: a GPU stays held until the process ends).
func featureExtractor(c *cli.Context, net *vgg16.Net) (features.Extractor, string, error) {
	prep := imageprep.Config{Mode: net.Preprocess(), Size: net.Config().InputSize}
	ex, device, _, err := featureExtractorMeta(c, net, prep, &features.Meta{})
	return ex, device, err
}

// pipelineExtractor is pipeline.Engines.NewExtractor for --device: the
// preprocessing comes from what the pipeline recorded in meta. A GPU stays
// held until the process ends.
func pipelineExtractor(c *cli.Context) func(*vgg16.Net, *features.Meta) (features.Extractor, string, error) {
	return func(net *vgg16.Net, meta *features.Meta) (features.Extractor, string, error) {
		prep := imageprep.Config{Mode: meta.Preprocess, Size: meta.ImageSize, CenterCrop: meta.CenterCrop}
		ex, device, _, err := featureExtractorMeta(c, net, prep, meta)
		return ex, device, err
	}
}

// featureExtractorMeta picks the CPU or GPU network for --device and
// records the GPU's precision, name and cuDNN in meta; release frees the
// GPU.
func featureExtractorMeta(c *cli.Context, net *vgg16.Net, prep imageprep.Config, meta *features.Meta) (features.Extractor, string, func(), error) {
	ex, device, run, err := featureExtractorPlan(c, net, prep, meta, nil)
	return ex, device, run.Release, err
}

// featureExtractorPlan is featureExtractorMeta that repeats a resumed
// cache's GPU plan (prior, or nil) and returns the plan it runs with (nil
// on the CPU) in run.
func featureExtractorPlan(c *cli.Context, net *vgg16.Net, prep imageprep.Config, meta *features.Meta, prior *features.Plan) (features.Extractor, string, gpuRun, error) {
	none := gpuRun{Release: func() {}}
	device, err := resolveDevice(c)
	if err != nil {
		return nil, "", none, err
	}
	if device == "gpu" {
		if newGPUExtractor == nil {
			if c.String("device") == "gpu" {
				return nil, "", none, fmt.Errorf("--device gpu: this build has no GPU VGG16 for features; use --device cpu")
			}
			return net, "cpu (no GPU VGG16 in this build)", none, nil
		}
		prec := c.String("precision")
		if prec == "" {
			prec = "tf32" // commands without --precision
		}
		ex, run, err := newGPUExtractor(net, gpuRequest{Batch: c.Int("batch"), Precision: prec, Prep: prep, Plan: prior})
		if err != nil {
			if c.String("device") == "gpu" {
				return nil, "", none, err
			}
			fmt.Fprintf(os.Stderr, "warning: --device auto: the GPU path is unusable (%v); computing on the CPU\n", err)
			return net, "cpu (GPU unusable)", none, nil
		}
		meta.Precision, meta.Device, meta.CuDNN = "gpu-"+prec, run.Device, run.CuDNN
		return ex, "gpu " + run.Device + ", " + prec + ", " + run.CuDNN, run, nil
	}
	return net, "cpu", none, nil
}

// priorPlan is the GPU plan recorded by an earlier run of this part into
// out at precision prec, or nil.
func priorPlan(out string, shard features.Shard, prec string) *features.Plan {
	m, err := features.ReadManifest(filepath.Join(out, features.ManifestName(shard)))
	if err != nil || m.Plan == nil || m.Precision != "gpu-"+prec || len(m.Shards) == 0 {
		return nil
	}
	return m.Plan
}

// captionImages lists the images of a COCO caption file with their files
// in imagesDir: imagesDir/file_name as the caption file names them, or,
// for a caption file without file_name, the file whose name ends in the
// image id.
func captionImages(captions, imagesDir string) ([]features.Image, error) {
	bar := newProgress(-1, "caption bytes")
	caps, err := coco.Read(captions, progressFunc(bar))
	bar.Finish()
	if err != nil {
		return nil, err
	}
	images, missing, err := features.MatchCaptionFiles(imagesDir, caps.IDs, caps.FileNames)
	if err != nil {
		return nil, err
	}
	if missing == len(images) && len(images) > 0 && caps.HasFileNames() {
		return nil, fmt.Errorf("--images %s holds none of the files %s names (e.g. %s); pass the folder that holds them (e.g. train2014/ for captions_train2014.json)", imagesDir, captions, images[0].File)
	}
	if missing == len(images) && len(images) > 0 {
		return nil, fmt.Errorf("--images %s holds no image file for any of the %d images of %s; is it the matching folder (e.g. train2014/ for captions_train2014.json)?", imagesDir, len(images), captions)
	}
	if missing > 0 {
		fmt.Fprintf(os.Stderr, "warning: %d of %d images of %s have no file in %s; they will be listed as failed\n", missing, len(images), captions, imagesDir)
	}
	return images, nil
}
