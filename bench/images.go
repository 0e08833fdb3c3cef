package bench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"tagimp/data/imageprep"
	"tagimp/model/vgg16"
)

//go:embed peers/images_pil.py
var pilScript []byte

//go:embed peers/fc7_torch.py
var torchFC7Script []byte

// ImageRow is one line of `bench images`: a stage done by one
// implementation, in images per second on one core and on Threads.
type ImageRow struct {
	Stage string `json:"stage"` // "decode", "decode+preprocess" or "fc7"
	Impl  string `json:"impl"`
	// PerCore is images/s on one goroutine (one process for the PIL
	// peer); for fc7 it is Total/Threads.
	PerCore float64 `json:"per_core"`
	// Total is images/s on Threads goroutines (processes for PIL; BLAS or
	// intra-op threads for fc7).
	Total   float64 `json:"total"`
	Threads int     `json:"threads"`
}

// ImageBench times the image front door over a set of files.
type ImageBench struct {
	// Files are the images (read into memory first: disk is not timed).
	Files []string
	// Prep is the preprocessing (its FullDecode is ignored: both are run).
	Prep imageprep.Config
	// Threads is the goroutine count of the "total" column.
	Threads int
	// Rounds is how many times each measurement is taken; the fastest
	// counts (the machine may be shared).
	Rounds int
	// MinImages is the least number of images one round decodes (the
	// files are cycled).
	MinImages int
	// FC7Batch is the batch of the fc7 stage; 0 skips it.
	FC7Batch int
}

// loadFiles reads the files.
func (b ImageBench) loadFiles() ([][]byte, error) {
	if len(b.Files) == 0 {
		return nil, errors.New("bench images: no image files")
	}
	bufs := make([][]byte, len(b.Files))
	for i, p := range b.Files {
		var err error
		if bufs[i], err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("bench images: %w", err)
		}
	}
	return bufs, nil
}

// rate runs fn over n images (the files cycled) on workers goroutines,
// Rounds times, and returns images/s of the fastest round.
func (b ImageBench) rate(bufs [][]byte, workers int, fn func(dst []float32, buf []byte) error) (float64, error) {
	n := max(len(bufs), b.MinImages)
	best := time.Duration(1<<63 - 1)
	for r := 0; r < max(b.Rounds, 1); r++ {
		var wg sync.WaitGroup
		errs := make([]error, workers)
		t0 := time.Now()
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				dst := make([]float32, b.Prep.Len())
				for i := w; i < n; i += workers {
					if err := fn(dst, bufs[i%len(bufs)]); err != nil {
						errs[w] = fmt.Errorf("%s: %w", b.Files[i%len(bufs)], err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return 0, err
		}
		best = min(best, time.Since(t0))
	}
	return float64(n) / best.Seconds(), nil
}

// Ours times our decoding and preprocessing (libjpeg-turbo with and without
// DCT scaling, and the image/jpeg + x/image reference path), then fc7.
func (b ImageBench) Ours() ([]ImageRow, error) {
	bufs, err := b.loadFiles()
	if err != nil {
		return nil, err
	}
	scaled, full := b.Prep, b.Prep
	scaled.FullDecode, full.FullDecode = false, true
	type impl struct {
		stage, name string
		fn          func(dst []float32, buf []byte) error
	}
	impls := []impl{
		{"decode", "ours " + imageprep.JPEGDecoder + " full", func(_ []float32, buf []byte) error { return full.DecodeOnly(buf) }},
		{"decode", "ours " + imageprep.JPEGDecoder + " DCT-scaled", func(_ []float32, buf []byte) error { return scaled.DecodeOnly(buf) }},
		{"decode", "image/jpeg (before)", func(_ []float32, buf []byte) error {
			_, err := imageprep.DecodeStdlib(buf, b.Prep.MaxPixels)
			return err
		}},
		{"decode+preprocess", "ours full + fused resize", full.TensorBytes},
		{"decode+preprocess", "ours DCT-scaled + fused resize (default)", scaled.TensorBytes},
		{"decode+preprocess", "image/jpeg + x/image/draw (before)", b.Prep.ReferenceTensorBytes},
	}
	var rows []ImageRow
	for _, im := range impls {
		one, err := b.rate(bufs, 1, im.fn)
		if err != nil {
			return nil, err
		}
		all, err := b.rate(bufs, max(b.Threads, 1), im.fn)
		if err != nil {
			return nil, err
		}
		rows = append(rows, ImageRow{Stage: im.stage, Impl: im.name, PerCore: one, Total: all, Threads: max(b.Threads, 1)})
	}
	if b.FC7Batch > 0 {
		r, err := b.fc7(bufs)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r...)
	}
	return rows, nil
}

// fc7 times VGG16 (seeded random weights: the time does not depend on the
// values) to fc7 on a batch of preprocessed images from the folder, with
// each convolution engine of the build (vgg16.ConvEngines).
func (b ImageBench) fc7(bufs [][]byte) ([]ImageRow, error) {
	net := vgg16.NewRandom(1)
	if net == nil {
		return nil, errors.New("bench images: VGG16 could not be built")
	}
	cfg := b.Prep
	if cfg.Size != net.Config().InputSize {
		return nil, fmt.Errorf("bench images: fc7 needs %d-pixel inputs, not %d", net.Config().InputSize, cfg.Size)
	}
	x := make([]float32, b.FC7Batch*cfg.Len())
	for i := 0; i < b.FC7Batch; i++ {
		if err := cfg.TensorBytes(x[i*cfg.Len():(i+1)*cfg.Len()], bufs[i%len(bufs)]); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Files[i%len(bufs)], err)
		}
	}
	var rows []ImageRow
	th := BLASThreads()
	for _, engine := range vgg16.ConvEngines {
		if err := net.SetConvEngine(engine); err != nil {
			return nil, err
		}
		if _, err := net.FC7(x, b.FC7Batch); err != nil { // warm-up (builds oneDNN's primitives)
			return nil, err
		}
		best := time.Duration(1<<63 - 1)
		for r := 0; r < max(b.Rounds, 1); r++ {
			t0 := time.Now()
			if _, err := net.FC7(x, b.FC7Batch); err != nil {
				return nil, err
			}
			best = min(best, time.Since(t0))
		}
		total := float64(b.FC7Batch) / best.Seconds()
		impl := "ours VGG16 CPU, " + net.ConvEngine() + " convolutions, " + vgg16.BLAS + " FC"
		rows = append(rows, ImageRow{Stage: "fc7", Impl: impl, PerCore: total / float64(th), Total: total, Threads: th})
	}
	return rows, nil
}

// ImagePeers runs the PIL and PyTorch peers (bench/peers/images_pil.py,
// fc7_torch.py) with python over the same files and settings. A peer whose
// Python module is missing is left out and named in skipped.
func (b ImageBench) ImagePeers(ctx context.Context, python, peersDir string) (rows []ImageRow, skipped []string, err error) {
	itoa := strconv.Itoa
	args := []string{"--size", itoa(b.Prep.Size), "--rounds", itoa(max(b.Rounds, 1)), "--threads", itoa(max(b.Threads, 1)), "--min-images", itoa(b.MinImages)}
	if b.Prep.CenterCrop {
		args = append(args, "--crop")
	}
	r, err := runPeerScript(ctx, python, peersDir, "images_pil.py", pilScript, nil, append(args, b.Files...)...)
	switch {
	case errors.Is(err, ErrNoNumpy):
		skipped = append(skipped, "PIL peer: "+err.Error())
	case err != nil:
		return nil, nil, err
	default:
		rows = append(rows, r...)
	}
	if b.FC7Batch > 0 {
		th := BLASThreads()
		env := []string{"OMP_NUM_THREADS=" + itoa(th)}
		r, err := runPeerScript(ctx, python, peersDir, "fc7_torch.py", torchFC7Script, env,
			"--threads", itoa(th), "--batch", itoa(b.FC7Batch), "--rounds", itoa(max(b.Rounds, 1)), "--size", itoa(b.Prep.Size))
		switch {
		case errors.Is(err, ErrNoNumpy):
			skipped = append(skipped, "PyTorch peer: "+err.Error())
		case err != nil:
			return nil, nil, err
		default:
			rows = append(rows, r...)
		}
	}
	return rows, skipped, nil
}

// runPeerScript runs peersDir/name (or the built-in copy when peersDir has
// none) and decodes its JSON rows. Exit status 3 (module missing) comes back
// as ErrNoNumpy.
func runPeerScript(ctx context.Context, python, peersDir, name string, builtin []byte, env []string, args ...string) ([]ImageRow, error) {
	if python == "" {
		python = DefaultPython
	}
	if _, err := exec.LookPath(python); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNoNumpy, python, err)
	}
	var cmd *exec.Cmd
	script := filepath.Join(peersDir, name)
	if st, err := os.Stat(script); peersDir != "" && err == nil && st.Mode().IsRegular() {
		cmd = exec.CommandContext(ctx, python, append([]string{script}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, python, append([]string{"-"}, args...)...)
		cmd.Stdin = bytes.NewReader(builtin)
		script = "built-in " + name
	}
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 {
		return nil, fmt.Errorf("%w (%s with %s): %s", ErrNoNumpy, script, python, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		return nil, fmt.Errorf("peer %s: %w: %s", script, err, strings.TrimSpace(stderr.String()))
	}
	var rows []ImageRow
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil {
		return nil, fmt.Errorf("peer %s: output is not JSON rows: %w: %q", script, err, stdout.String())
	}
	return rows, nil
}

// FindPeersDir returns the bench/peers folder of the repository around dir
// or beside the binary exe, or "" (the built-in copies run then).
func FindPeersDir(exe, dir string) string {
	if s := FindNumpyScript(exe, dir); s != "" {
		return filepath.Dir(s)
	}
	return ""
}
