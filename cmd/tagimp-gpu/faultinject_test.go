package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The fault-injection tests kill `train` and `features` (this test binary
// running the command line, see TestMain) with SIGKILL at seeded random
// moments, possibly several times in a row, rerun the same command to the
// end, and require the folder to hold byte for byte what an uninterrupted
// run wrote. TAGIMP_FAULT_SEED picks another seed, TAGIMP_FAULT_TRIALS the
// number of trials (default 3 each). Time-dependent fields (a checkpoint's
// "saved" time, seconds per epoch) are left out of the comparison; the lock
// file (holder's PID) too.

func faultSeed(t *testing.T) (uint64, int) {
	seed, trials := uint64(1), 3
	if s := os.Getenv("TAGIMP_FAULT_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("TAGIMP_FAULT_SEED=%q", s)
		}
		seed = v
	}
	if s := os.Getenv("TAGIMP_FAULT_TRIALS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("TAGIMP_FAULT_TRIALS=%q", s)
		}
		trials = v
	}
	t.Logf("seed %d, %d trials (TAGIMP_FAULT_SEED, TAGIMP_FAULT_TRIALS)", seed, trials)
	return seed, trials
}

// runKilled runs args, killing the process after each of the delays in
// turn (a run that ends before its delay is left to end), then once more
// to completion; it returns how many runs were killed.
func runKilled(t *testing.T, args []string, delays []time.Duration) int {
	t.Helper()
	killed := 0
	for _, d := range delays {
		cmd := cliCommand(args...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("run ended with %v before it was killed:\n%s", err, out.String())
			}
		case <-time.After(d):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		}
	}
	if out, err := cliCommand(args...).CombinedOutput(); err != nil {
		t.Fatalf("rerun after kills: %v\n%s", err, out)
	}
	return killed
}

// timed runs args to completion and returns how long it took.
func timed(t *testing.T, args []string) time.Duration {
	t.Helper()
	start := time.Now()
	if out, err := cliCommand(args...).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return time.Since(start)
}

// delays draws 1–3 kill moments in [0, full).
func delays(rng *rand.Rand, full time.Duration) []time.Duration {
	ds := make([]time.Duration, 1+rng.IntN(3))
	for i := range ds {
		ds[i] = time.Duration(rng.Int64N(int64(full)))
	}
	return ds
}

// folderBytes returns the comparable content of every file in dir: the
// lock file left out, JSON without time fields, CSV without its seconds
// column.
func folderBytes(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, ".png") {
			continue // the holder's PID; curves drawn from the same numbers
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(name) {
		case ".json":
			b = withoutTimes(t, b)
		case ".csv":
			b = withoutColumn(t, b, "seconds")
		}
		out[name] = string(b)
	}
	return out
}

func withoutTimes(t *testing.T, b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var strip func(v any)
	strip = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			delete(x, "saved")
			delete(x, "seconds")
			for _, y := range x {
				strip(y)
			}
		case []any:
			for _, y := range x {
				strip(y)
			}
		}
	}
	strip(v)
	out, _ := json.Marshal(v)
	return out
}

func withoutColumn(t *testing.T, b []byte, col string) []byte {
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil || len(rows) == 0 {
		t.Fatalf("csv: %v", err)
	}
	i := slices.Index(rows[0], col)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	for _, r := range rows {
		if i >= 0 {
			r = slices.Delete(r, i, i+1)
		}
		w.Write(r)
	}
	w.Flush()
	return buf.Bytes()
}

func sameFolders(t *testing.T, what string, want, got map[string]string) {
	t.Helper()
	var wn, gn []string
	for k := range want {
		wn = append(wn, k)
	}
	for k := range got {
		gn = append(gn, k)
	}
	slices.Sort(wn)
	slices.Sort(gn)
	if !slices.Equal(wn, gn) {
		t.Errorf("%s: files %v, want %v", what, gn, wn)
		return
	}
	for _, k := range wn {
		if want[k] != got[k] {
			t.Errorf("%s: %s differs from the uninterrupted run's", what, k)
		}
	}
}

func TestFaultInjectionTrain(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and reruns train several times")
	}
	seed, trials := faultSeed(t)
	rng := rand.New(rand.NewPCG(seed, 10))
	dir := t.TempDir()
	trainFixture(t, dir, []string{"dog", "cat", "man", "car", "tree"})
	args := func(out string) []string {
		a := trainArgs(dir, "--epochs", "6")
		return append(a, "--out", out)
	}
	killTrials(t, "train", dir, args, rng, trials)
}

func TestFaultInjectionFeatures(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and reruns features several times")
	}
	seed, trials := faultSeed(t)
	trials = max(1, trials-1) // each run costs seconds of VGG16
	rng := rand.New(rand.NewPCG(seed, 20))
	captions, images := writeCaptionSet(t, 3, 5, 8, 13, 55, 89)
	// A corrupt image: listed as failed, the same way after every rerun.
	os.WriteFile(filepath.Join(images, "000000000055.png"), []byte("not a png"), 0o644)
	dir := t.TempDir()
	args := func(out string) []string {
		return []string{"features", "--captions", captions, "--images", images, "--weights", "random:7", "--input-size", "32",
			"--out", out, "--shard-size", "2", "--batch", "2", "--workers", "1", "--device", "cpu"}
	}
	killTrials(t, "features", dir, args, rng, trials)
}

// killTrials runs args into dir/ref uninterrupted, then trials times into
// a fresh folder killed at random moments and rerun each time (runKilled),
// and checks that every such folder ends with the reference's bytes.
func killTrials(t *testing.T, name, dir string, args func(out string) []string, rng *rand.Rand, trials int) {
	t.Helper()
	ref := filepath.Join(dir, "ref")
	full := timed(t, args(ref))
	want := folderBytes(t, ref)
	for trial := 0; trial < trials; trial++ {
		out := filepath.Join(dir, "trial"+strconv.Itoa(trial))
		ds := delays(rng, full)
		killed := runKilled(t, args(out), ds)
		t.Logf("trial %d: kills at %v (%d landed), full run %v", trial, ds, killed, full)
		sameFolders(t, name+" trial "+strconv.Itoa(trial), want, folderBytes(t, out))
	}
}
