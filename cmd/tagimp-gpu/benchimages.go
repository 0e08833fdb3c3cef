package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"tagimp/bench"
	"tagimp/data/imageprep"
)

// benchImagesCommand is `bench images`, a subcommand of `bench`.
var benchImagesCommand = &cli.Command{
	Name:  "images",
	Usage: "time JPEG decoding, decode+preprocess and CPU fc7 in images/s, beside PIL and PyTorch",
	Description: `Times the image front door over the JPEG/PNG files of a folder (read into memory
first; the disk is not timed), each in images/s on one core ("per core", one
goroutine) and on --threads goroutines ("total"), fastest of --rounds rounds:

  decode              ours (` + imageprep.JPEGDecoder + `) at full size and at the DCT scale
                      the preprocessing uses, and Go's image/jpeg (the decoder before)
  decode+preprocess   ours (decode + the fused resize/normalisation), at full size
                      and DCT-scaled (the default of features), and the path before
                      (image/jpeg + golang.org/x/image/draw + normalisation)
  fc7                 VGG16 to fc7 on the CPU, batch --fc7-batch of the folder's
                      images (seeded random weights: the time does not depend on
                      them), on the BLAS threads; per core = total / threads

with the peers in the same run and table where /usr/bin/python3 has them:
bench/peers/images_pil.py (PIL decode, with and without draft(), and torchvision's
preprocessing in numpy; per core = one process, total = --threads processes) and
bench/peers/fc7_torch.py (PyTorch VGG16 to fc7 in NCHW and channels_last, on the
same thread count). The load average is printed with the numbers.

Examples:
   tagimp-gpu bench images
   tagimp-gpu bench images --dir ~/coco/val2017 --limit 200 --threads 16 --fc7-batch 0
   OPENBLAS_NUM_THREADS=2 tagimp-gpu bench images --fc7-batch 16 --json`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "dir", Usage: "folder of images (default: the shared COCO images, ../shared/data/coco/val2017 beside the repository)"},
		&cli.IntFlag{Name: "limit", Value: 100, Usage: "use at most this many files of the folder (sorted by name)"},
		&cli.IntFlag{Name: "size", Value: 224, Usage: "output height and width"},
		&cli.BoolFlag{Name: "center-crop", Usage: "resize the short side to size·256/224 and crop the centre (torchvision's evaluation transform)"},
		&cli.IntFlag{Name: "threads", Usage: "goroutines (and PIL processes) of the total column (default: one per CPU)"},
		&cli.IntFlag{Name: "rounds", Value: 5, Usage: "rounds per measurement; the fastest counts"},
		&cli.IntFlag{Name: "min-images", Value: 60, Usage: "images per round at least (the files are cycled)"},
		&cli.IntFlag{Name: "fc7-batch", Value: 8, Usage: "batch of the fc7 stage; 0 skips fc7 (ours and PyTorch's)"},
		&cli.StringFlag{Name: "peer", Value: "auto", Usage: "auto (run the PIL and PyTorch peers where installed) or none"},
		&cli.StringFlag{Name: "python", Value: bench.DefaultPython, Usage: "interpreter of the peers"},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON object instead of a table"},
	},
	Action: benchImages,
}

// benchImagesReport is what `bench images --json` prints.
type benchImagesReport struct {
	Dir        string           `json:"dir"`
	Files      int              `json:"files"`
	Preprocess string           `json:"preprocess"`
	Threads    int              `json:"threads"`
	CPUs       int              `json:"cpus"`
	LoadBefore []float64        `json:"load_avg_before,omitempty"`
	LoadAfter  []float64        `json:"load_avg_after,omitempty"`
	Rows       []bench.ImageRow `json:"rows"`
	Skipped    []string         `json:"skipped,omitempty"`
}

func benchImages(c *cli.Context) error {
	dir := c.String("dir")
	if dir == "" {
		wd, _ := os.Getwd()
		dir = defaultCOCODir(wd)
		if dir == "" {
			return fmt.Errorf("bench images: no --dir given and no ../shared/data/coco/val2017 beside the repository: pass --dir FOLDER of JPEGs")
		}
	}
	var files []string
	for _, pat := range []string{"*.jpg", "*.jpeg", "*.JPG", "*.JPEG", "*.png", "*.PNG"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	if n := c.Int("limit"); n > 0 && len(files) > n {
		files = files[:n]
	}
	if len(files) == 0 {
		return fmt.Errorf("bench images: no .jpg/.jpeg/.png files in %s", dir)
	}
	threads := c.Int("threads")
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	prep := imageprep.Config{Mode: imageprep.Torchvision, Size: c.Int("size"), CenterCrop: c.Bool("center-crop")}
	if err := prep.Validate(); err != nil {
		return fmt.Errorf("bench images: %w", err)
	}
	b := bench.ImageBench{Files: files, Prep: prep, Threads: threads, Rounds: c.Int("rounds"), MinImages: c.Int("min-images"), FC7Batch: c.Int("fc7-batch")}
	rep := benchImagesReport{Dir: dir, Files: len(files), Preprocess: prep.String(), Threads: threads, CPUs: runtime.NumCPU(), LoadBefore: loadAvg()}
	rows, err := b.Ours()
	if err != nil {
		return err
	}
	rep.Rows = rows
	switch p := c.String("peer"); p {
	case "none":
	case "auto", "":
		exe, _ := os.Executable()
		wd, _ := os.Getwd()
		peers, skipped, err := b.ImagePeers(c.Context, c.String("python"), bench.FindPeersDir(exe, wd))
		if err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, peers...)
		rep.Skipped = skipped
	default:
		return fmt.Errorf("--peer %q: want auto or none", p)
	}
	rep.LoadAfter = loadAvg()
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", " ")
		return enc.Encode(rep)
	}
	return printBenchImages(c.App.Writer, rep)
}

// defaultCOCODir finds ../shared/data/coco/val2017 beside the repository
// that holds wd, or "".
func defaultCOCODir(wd string) string {
	for d := wd; d != ""; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, "..", "shared", "data", "coco", "val2017")
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				return filepath.Clean(p)
			}
		}
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	return ""
}

func printBenchImages(out io.Writer, rep benchImagesReport) error {
	fmt.Fprintf(out, "%d images from %s; %s; %d threads, %d CPUs; load average (1/5/15 min) %s before, %s after\n",
		rep.Files, rep.Dir, rep.Preprocess, rep.Threads, rep.CPUs, fmtLoad(rep.LoadBefore), fmtLoad(rep.LoadAfter))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "stage\timplementation\timages/s per core\timages/s total\tthreads\t")
	for _, r := range rep.Rows {
		fmt.Fprintf(w, "%s\t%s\t%.1f\t%.1f\t%d\t\n", r.Stage, r.Impl, r.PerCore, r.Total, r.Threads)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(out, "skipped: %s\n", strings.TrimSpace(s))
	}
	fmt.Fprintln(out, "each figure is the fastest of the rounds; fc7 per core = total / threads")
	return nil
}
