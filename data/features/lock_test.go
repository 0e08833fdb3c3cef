package features

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/data/dirlock"
)

// TestPartLocks: while another process runs part 0/2 into a folder, a
// second run of part 0/2 there is refused naming it, and part 1/2 runs.
func TestPartLocks(t *testing.T) {
	if dir := os.Getenv("FEATURES_LOCK_HOLD"); dir != "" {
		l, err := dirlock.Acquire(dir, LockName(Shard{K: 0, N: 2}))
		if err != nil {
			fmt.Println(err)
			os.Exit(2)
		}
		fmt.Println("locked")
		bufio.NewReader(os.Stdin).ReadString('\n')
		l.Release()
		os.Exit(0)
	}
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 8))
	out := filepath.Join(t.TempDir(), "fc7")
	holder := exec.Command(os.Args[0], "-test.run=^TestPartLocks$")
	holder.Env = append(os.Environ(), "FEATURES_LOCK_HOLD="+out)
	stdin, _ := holder.StdinPipe()
	stdout, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); holder.Wait() }()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("holder: %q", line)
	}
	cfg := testConfig(out, imgDir, images, &fakeExtractor{})
	cfg.Shard = Shard{K: 0, N: 2}
	_, err := Build(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("in use by PID %d", holder.Process.Pid)) {
		t.Errorf("the same part while it runs elsewhere: %v", err)
	}
	cfg.Shard = Shard{K: 1, N: 2}
	if _, err := Build(context.Background(), cfg); err != nil {
		t.Errorf("another part into the same folder: %v", err)
	}
}
