package bench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"tagimp/model"
)

// numpyScript is bench/peers/mlp_numpy.py as built into the binary, run
// when no copy is found on disk.
//
//go:embed peers/mlp_numpy.py
var numpyScript []byte

// DefaultPython is the interpreter the numpy peer runs with: Debian's,
// which has python3-numpy (a pyenv python3 on PATH usually has no numpy).
const DefaultPython = "/usr/bin/python3"

// NumpyScriptName is the peer script's path inside the repository.
const NumpyScriptName = "bench/peers/mlp_numpy.py"

// Errors of the numpy peer, wrapped with the details.
var (
	ErrNoPython = errors.New("python interpreter not found")
	ErrNoNumpy  = errors.New("numpy is not installed")
)

// FindNumpyScript looks for the peer script beside the binary exe (in
// peers/, bench/peers/ or ../bench/peers/ of its directory) and then in the
// repository around dir (dir and each parent holding go.mod). It returns ""
// when there is none; NumpyPeer then runs the copy built into the binary.
func FindNumpyScript(exe, dir string) string {
	var cands []string
	if exe != "" {
		d := filepath.Dir(exe)
		cands = append(cands,
			filepath.Join(d, "peers", "mlp_numpy.py"),
			filepath.Join(d, NumpyScriptName),
			filepath.Join(d, "..", NumpyScriptName))
	}
	for d := dir; d != ""; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			cands = append(cands, filepath.Join(d, NumpyScriptName))
		}
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	for _, p := range cands {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return filepath.Clean(p)
		}
	}
	return ""
}

// NumpyPeer runs bench/peers/mlp_numpy.py: the same training step as the
// CPU engine written with numpy, for one model at a time.
type NumpyPeer struct {
	// Python is the interpreter (DefaultPython when empty).
	Python string
	// Script is the peer script; empty runs the copy built into the
	// binary.
	Script string
	// Threads, when positive, is passed as OPENBLAS_NUM_THREADS (and
	// OMP_NUM_THREADS) so the peer's BLAS uses as many threads as ours.
	Threads int
}

// PeerInfo is what the peer reports about its environment.
type PeerInfo struct {
	Python       string `json:"python"`
	NumpyVersion string `json:"numpy_version"`
	// BLAS is the OpenBLAS library numpy loaded and its build config.
	BLAS    string `json:"blas"`
	Threads int    `json:"threads"`
}

// PeerResult is the peer's timing of one model's step.
type PeerResult struct {
	PeerInfo
	Peer  string `json:"peer"`
	Model string `json:"model"`
	Steps int    `json:"steps"`
	// MedianMS, MinMS and MeanMS are over the timed steps' wall times.
	MedianMS  float64 `json:"median_ms"`
	MinMS     float64 `json:"min_ms"`
	MeanMS    float64 `json:"mean_ms"`
	FirstLoss float64 `json:"first_loss"`
	LastLoss  float64 `json:"last_loss"`
	// FLOPPerStep is the peer's own count of its products' work (it must
	// equal StepFLOP for the same shapes).
	FLOPPerStep int64 `json:"flop_per_step"`
	// Dtype lists the dtypes of the peer's parameters, Adam state and
	// data ("float32").
	Dtype string `json:"dtype"`
}

func (p NumpyPeer) python() string {
	if p.Python == "" {
		return DefaultPython
	}
	return p.Python
}

// ScriptName says which script runs: its path, or that the built-in copy
// does.
func (p NumpyPeer) ScriptName() string {
	if p.Script == "" {
		return "built-in copy of " + NumpyScriptName
	}
	return p.Script
}

// run runs the script with args and returns its standard output.
func (p NumpyPeer) run(ctx context.Context, args ...string) ([]byte, error) {
	py := p.python()
	if _, err := exec.LookPath(py); err != nil {
		return nil, fmt.Errorf("numpy peer: %w: %s (%v); install python3 and python3-numpy (Debian: apt-get install python3-numpy) or pass --python", ErrNoPython, py, err)
	}
	var cmd *exec.Cmd
	if p.Script == "" {
		cmd = exec.CommandContext(ctx, py, append([]string{"-"}, args...)...)
		cmd.Stdin = bytes.NewReader(numpyScript)
	} else {
		if _, err := os.Stat(p.Script); err != nil {
			return nil, fmt.Errorf("numpy peer: script %s: %w (pass --peer-script with the path of %s)", p.Script, err, NumpyScriptName)
		}
		cmd = exec.CommandContext(ctx, py, append([]string{p.Script}, args...)...)
	}
	cmd.Env = os.Environ()
	if p.Threads > 0 {
		n := strconv.Itoa(p.Threads)
		cmd.Env = append(cmd.Env, "OPENBLAS_NUM_THREADS="+n, "OMP_NUM_THREADS="+n)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	msg := strings.TrimSpace(stderr.String())
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), nil
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		return nil, fmt.Errorf("numpy peer: %w for %s: %s", ErrNoNumpy, py, msg)
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, exec.ErrNotFound):
		return nil, fmt.Errorf("numpy peer: %w: %s: %v", ErrNoPython, py, err)
	default:
		return nil, fmt.Errorf("numpy peer %s: %w: %s", p.ScriptName(), err, msg)
	}
}

// Probe checks that the interpreter runs and has numpy, and returns its
// versions, BLAS and thread count.
func (p NumpyPeer) Probe(ctx context.Context) (PeerInfo, error) {
	out, err := p.run(ctx, "--probe")
	if err != nil {
		return PeerInfo{}, err
	}
	var info PeerInfo
	if err := json.Unmarshal(out, &info); err != nil {
		return PeerInfo{}, fmt.Errorf("numpy peer %s --probe: output is not JSON: %w: %q", p.ScriptName(), err, out)
	}
	return info, nil
}

// Run times the peer's step of c's model with the shapes of c and the
// steps, warm-up, rows and seed of o.
func (p NumpyPeer) Run(ctx context.Context, c model.Config, o Options) (PeerResult, error) {
	if c.Batch < 1 || o.Steps < 1 || o.Warmup < 0 {
		return PeerResult{}, fmt.Errorf("numpy peer %s: batch %d, %d steps after %d warm-up: want batch and steps > 0, warm-up ≥ 0", c.Kind, c.Batch, o.Steps, o.Warmup)
	}
	itoa := strconv.Itoa
	out, err := p.run(ctx, "--json", "--model", string(c.Kind),
		"--steps", itoa(o.Steps), "--warmup", itoa(o.Warmup),
		"--batch", itoa(c.Batch), "--d", itoa(c.D), "--h", itoa(c.H), "--t", itoa(c.T),
		"--e", itoa(max(c.E, 1)), "--h2", itoa(max(c.H2, 1)),
		"--rows", itoa(max(o.Rows, c.Batch)), "--seed", strconv.FormatUint(o.Seed, 10))
	if err != nil {
		return PeerResult{}, err
	}
	var r PeerResult
	if err := json.Unmarshal(out, &r); err != nil {
		return PeerResult{}, fmt.Errorf("numpy peer %s: output is not JSON: %w: %q", c.Kind, err, out)
	}
	if r.Model != string(c.Kind) || r.Steps != o.Steps || !(r.MinMS > 0) {
		return PeerResult{}, fmt.Errorf("numpy peer %s: unexpected result %+v", c.Kind, r)
	}
	if want := StepFLOP(c); r.FLOPPerStep != want {
		return PeerResult{}, fmt.Errorf("numpy peer %s: it counts %d FLOP per step, we count %d: the two steps do different work", c.Kind, r.FLOPPerStep, want)
	}
	return r, nil
}
