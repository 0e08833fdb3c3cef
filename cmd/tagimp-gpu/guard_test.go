package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary run the command line itself (a separate
// process for lock and fault-injection tests): with TAGIMP_TEST_MAIN=1 it
// runs main with its arguments.
func TestMain(m *testing.M) {
	if os.Getenv("TAGIMP_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cliCommand returns the command line args run by this test binary as
// tagimp-gpu in a process of its own.
func cliCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TAGIMP_TEST_MAIN=1")
	return cmd
}

// TestArgumentsCheckedFirst: each bad argument of the issue is refused in
// one line before any work, naming the flag and the fix.
func TestArgumentsCheckedFirst(t *testing.T) {
	dir := t.TempDir()
	trainFixture(t, dir, []string{"dog", "cat", "man", "car", "tree"})
	captions, images := writeCaptionSet(t, 9)
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, []byte("x"), 0o644)
	caps := filepath.Join(dir, "caps.json")
	os.WriteFile(caps, []byte(vocabFixture), 0o644)
	feat := func(extra ...string) []string {
		return append([]string{"features", "--captions", captions, "--images", images, "--weights", "random:1", "--out", filepath.Join(dir, "fc7")}, extra...)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"features --batch -1", feat("--batch", "-1"), "--batch -1: want 0 (automatic) or a positive number"},
		{"features --shard-size 0", feat("--shard-size", "0"), "--shard-size 0: must be at least 1"},
		{"features --precision fp8", feat("--precision", "fp8"), "--precision: precision \"fp8\""},
		{"features --workers 0", feat("--workers", "0"), "--workers 0: must be at least 1"},
		{"train --checkpoint-every 0", trainArgs(dir, "--checkpoint-every", "0"), "--checkpoint-every 0: must be at least 1"},
		{"train --batch 0", trainArgs(dir, "--batch", "0"), "--batch 0: must be at least 1"},
		{"train unwritable --out", append(trainArgs(dir), "--out", filepath.Join(file, "run")), "--out " + filepath.Join(file, "run") + ": cannot create the folder"},
		{"train --labels missing", append(trainArgs(dir), "--labels", filepath.Join(dir, "nolabels")), "labels " + filepath.Join(dir, "nolabels") + ": no such file or directory"},
		{"predict --cloud x.jpg", []string{"predict", "--run", filepath.Join(dir, "norun"), "--cloud", filepath.Join(dir, "x.jpg"), file}, "--cloud " + filepath.Join(dir, "x.jpg") + ": name the file .png or .svg"},
		{"embed --out DIR", []string{"embed", "--vocab", filepath.Join(dir, "labels", "vocab.json"), "--vectors", file, "--out", dir}, "--out " + dir + ": is a folder; give a file name such as"},
		{"vocab --train beyond the images", []string{"vocab", "--captions", caps, "--min-count", "1", "--train", "10000", "--out", filepath.Join(dir, "voc")}, "--train 10000 leaves no test images: the captions have 3 images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, _, err := runCLI(tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "vocab.json") && strings.Contains(tc.name, "labels") {
				t.Errorf("names the parent folder's vocab.json: %v", err)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v: checked late", d)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "run")); !os.IsNotExist(err) {
		t.Errorf("refused train runs left %s/run", dir)
	}
}

// TestSecondWriterRefused: while one process holds a run folder, train
// into it is refused in one line naming the holder's PID and command; once
// the holder is killed, train proceeds.
func TestSecondWriterRefused(t *testing.T) {
	dir := t.TempDir()
	trainFixture(t, dir, []string{"dog", "cat", "man", "car", "tree"})
	run := filepath.Join(dir, "run")
	// The holder: "features merge" of nothing would end at once, so hold
	// with a vocab run blocked on reading a FIFO as its captions file.
	fifo := filepath.Join(dir, "captions.fifo")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	holder := cliCommand("vocab", "--captions", fifo, "--min-count", "1", "--out", run)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { holder.Process.Kill(); holder.Wait() }()
	// Wait until the holder has written its details into the lock file.
	lockFile := filepath.Join(run, ".tagimp.lock")
	for i := 0; ; i++ {
		if b, _ := os.ReadFile(lockFile); strings.HasPrefix(string(b), fmt.Sprint(holder.Process.Pid)) {
			break
		}
		if i > 300 {
			t.Fatal("the holder never locked the folder")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := cliCommand(trainArgs(dir)...).CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if err == nil || !strings.Contains(last, fmt.Sprintf("is in use by PID %d (", holder.Process.Pid)) || !strings.Contains(last, "vocab --captions "+fifo) {
		t.Fatalf("second writer: %v, output %q", err, out)
	}
	holder.Process.Kill()
	holder.Wait()
	if out, err := cliCommand(trainArgs(dir)...).CombinedOutput(); err != nil {
		t.Fatalf("after the holder died: %v\n%s", err, out)
	}
}

// TestEvalUnfinished: a run stopped before its last epoch is scored and
// said to be unfinished in the table and the JSON.
func TestEvalUnfinished(t *testing.T) {
	dir := t.TempDir()
	trainFixture(t, dir, []string{"dog", "cat", "man", "car", "tree"})
	args := trainArgs(dir, "--epochs", "1")
	args[2] = "model1"
	if _, _, err := runCLI(args...); err != nil {
		t.Fatal(err)
	}
	// As if killed after epoch 1 of 4.
	mpath := filepath.Join(dir, "run", "model1.json")
	var m map[string]any
	b, _ := os.ReadFile(mpath)
	json.Unmarshal(b, &m)
	m["config"].(map[string]any)["epochs"] = 4
	b, _ = json.Marshal(m)
	os.WriteFile(mpath, b, 0o644)
	js := filepath.Join(dir, "eval.json")
	var table string
	table, err := captureStdout(t, func() error {
		_, _, err := runCLI("eval", "--run", filepath.Join(dir, "run"), "--json", js, "--device", "cpu")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table, "model1: epoch 1 of 4 (unfinished); resume with the same train command") {
		t.Errorf("table does not say the run is unfinished:\n%s", table)
	}
	var reps []map[string]any
	b, _ = os.ReadFile(js)
	if err := json.Unmarshal(b, &reps); err != nil || len(reps) != 1 || reps[0]["epoch"] != float64(1) || reps[0]["epochs"] != float64(4) {
		t.Errorf("eval JSON: %v %v", reps, err)
	}
}
