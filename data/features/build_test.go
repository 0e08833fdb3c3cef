package features

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestBuildAndLoad(t *testing.T) {
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 26))
	out := filepath.Join(t.TempDir(), "cache")
	var calls [][2]int
	ex := &fakeExtractor{}
	cfg := testConfig(out, imgDir, images, ex)
	cfg.Progress = func(done, total int) { calls = append(calls, [2]int{done, total}) }
	sum := build(t, cfg)

	if sum.Computed != 3 || sum.Reused != 0 || sum.Images != 25 || sum.Rows != 22 || sum.Failed != 3 {
		t.Errorf("summary %+v, want 3 shards computed, 25 images, 22 rows, 3 failed", sum)
	}
	if last := calls[len(calls)-1]; last != [2]int{25, 25} {
		t.Errorf("last progress %v, want [25 25]", last)
	}
	man, err := ReadManifest(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !man.Complete || man.Dim != 6 || man.Meta != testMeta || man.Shard != "0/1" || len(man.Shards) != 3 {
		t.Errorf("manifest %+v", man)
	}
	wantReasons := map[int64]string{3: "decode", 5: "no such file", nanID: "NaN"}
	if len(man.Failed) != len(wantReasons) {
		t.Fatalf("failed %+v, want ids 3, 5, %d", man.Failed, nanID)
	}
	for _, f := range man.Failed {
		if !strings.Contains(f.Reason, wantReasons[f.ID]) || f.File == "" || f.Shard != "fc7-0of1-00000.npy" {
			t.Errorf("failure %+v, want reason mentioning %q", f, wantReasons[f.ID])
		}
	}

	m, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Meta != testMeta || m.Dim != 6 || len(m.IDs) != 22 {
		t.Fatalf("loaded %d ids, dim %d, meta %+v", len(m.IDs), m.Dim, m.Meta)
	}
	for i, id := range m.IDs {
		if id == 3 || id == 5 || id == nanID {
			t.Errorf("failed image %d has a row", id)
		}
		x, err := fakeLoad(filepath.Join(imgDir, fmt.Sprintf("%012d.png", id)))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := (&fakeExtractor{}).Extract(x, 1)
		if !reflect.DeepEqual(m.Row(i), want) {
			t.Errorf("id %d: row %v, want %v", id, m.Row(i), want)
		}
		if i > 0 && id <= m.IDs[i-1] {
			t.Errorf("ids not in increasing order: %v", m.IDs)
		}
	}
	sel, err := m.Select([]int64{20, 1})
	if err != nil || sel.IDs[0] != 20 || !reflect.DeepEqual(sel.Row(1), m.Row(0)) {
		t.Errorf("Select: %v %v", sel, err)
	}
	if _, err := m.Select([]int64{1, 3}); err == nil || !strings.Contains(err.Error(), "id 3") {
		t.Errorf("Select of a failed image: %v", err)
	}

	// A finished cache is not recomputed.
	again := build(t, testConfig(out, imgDir, images, ex))
	if again.Computed != 0 || again.Reused != 3 {
		t.Errorf("rerun of a complete cache: %+v", again)
	}
}

// TestResumeAfterKill kills a child process (SIGKILL, like kill -9) in the
// middle of the second shard, finishes the job in this process, and checks
// that finished shards were not recomputed and the result matches an
// uninterrupted run byte for byte.
func TestResumeAfterKill(t *testing.T) {
	if dir := os.Getenv("FEATURES_KILL_OUT"); dir != "" {
		killHelper(dir, os.Getenv("FEATURES_KILL_IMAGES"))
		return
	}
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 36))
	whole := filepath.Join(t.TempDir(), "whole")
	build(t, testConfig(whole, imgDir, images, &fakeExtractor{}))

	out := filepath.Join(t.TempDir(), "killed")
	cmd := exec.Command(os.Args[0], "-test.run=^TestResumeAfterKill$")
	cmd.Env = append(os.Environ(), "FEATURES_KILL_OUT="+out, "FEATURES_KILL_IMAGES="+imgDir)
	err := cmd.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child run: %v, want death by SIGKILL", err)
	}
	man, err := ReadManifest(filepath.Join(out, "manifest.json"))
	if err != nil {
		t.Fatalf("after the kill: %v", err)
	}
	if man.Complete || len(man.Shards) != 1 {
		t.Fatalf("after the kill the manifest has %d shards, complete %v; want 1 finished shard", len(man.Shards), man.Complete)
	}
	temps, _ := filepath.Glob(filepath.Join(out, ".fc7-*.tmp-*"))
	if len(temps) == 0 {
		t.Errorf("the kill left no temporary shard file; it did not happen mid-shard")
	}
	if _, err := Load(out); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("Load of a killed run: %v, want an 'incomplete' error", err)
	}

	ex := &fakeExtractor{}
	sum := build(t, testConfig(out, imgDir, images, ex))
	if sum.Reused != 1 || sum.Computed != 3 {
		t.Errorf("resume: %+v, want 1 shard reused, 3 computed", sum)
	}
	// Shard 0 holds ids 1..10, three of which fail; the other 25 images are
	// the only ones the resumed run may extract.
	if n := ex.seen.Load(); n != 25 {
		t.Errorf("resumed run extracted %d images, want 25 (shard 0 not recomputed)", n)
	}
	sameFiles(t, whole, out)
}

// killHelper runs in the child: it builds with an extractor that kills the
// process after 14 images, i.e. inside the second shard.
func killHelper(out, imgDir string) {
	var images []Image
	for _, id := range ids(1, 36) {
		images = append(images, Image{ID: id, File: fmt.Sprintf("%012d.png", id)})
	}
	ex := &fakeExtractor{onCall: func(n int64) {
		if n >= 14 {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}}
	cfg := testConfig(out, imgDir, images, ex)
	if _, err := Build(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(4) // should have been killed
}

func TestResumeRepairsDamagedShard(t *testing.T) {
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 26))
	out := t.TempDir()
	build(t, testConfig(out, imgDir, images, &fakeExtractor{}))
	whole := t.TempDir()
	build(t, testConfig(whole, imgDir, images, &fakeExtractor{}))

	path := filepath.Join(out, "fc7-0of1-00001.npy")
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(out); err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Fatalf("Load of a damaged shard: %v, want a SHA-256 error", err)
	}
	sum := build(t, testConfig(out, imgDir, images, &fakeExtractor{}))
	if sum.Computed != 1 || sum.Reused != 2 {
		t.Errorf("repair run %+v, want 1 computed, 2 reused", sum)
	}
	sameFiles(t, whole, out)
}

func TestBuildRefuses(t *testing.T) {
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 12))
	out := t.TempDir()
	build(t, testConfig(out, imgDir, images, &fakeExtractor{}))

	otherWeights := testConfig(out, imgDir, images, &fakeExtractor{})
	otherWeights.Meta.WeightsSHA256 = "cd34"
	otherList := testConfig(out, imgDir, images[:5], &fakeExtractor{})
	otherSize := testConfig(out, imgDir, images, &fakeExtractor{})
	otherSize.ShardSize = 7
	noImages := testConfig(t.TempDir(), filepath.Join(imgDir, "nope"), images, &fakeExtractor{})
	dup := testConfig(t.TempDir(), imgDir, append(images, images[0]), &fakeExtractor{})
	badShard := testConfig(t.TempDir(), imgDir, images, &fakeExtractor{})
	badShard.Shard = Shard{K: 2, N: 2}

	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"other weights", otherWeights, "weights"},
		{"other image list", otherList, "different image list"},
		{"other shard size", otherSize, "shard size"},
		{"missing images folder", noImages, "images folder"},
		{"duplicate id", dup, "appears twice"},
		{"bad shard", badShard, "0 <= K < N"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Build(context.Background(), tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// TestNumpyReadsCache checks with numpy itself that every file of a cache
// loads with the right dtype, shape and values.
func TestNumpyReadsCache(t *testing.T) {
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skipf("%s with numpy not available: %v", py, err)
	}
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 26))
	out := t.TempDir()
	build(t, testConfig(out, imgDir, images, &fakeExtractor{}))
	m, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	script := `
import json, sys, numpy as np, os
d = sys.argv[1]
man = json.load(open(os.path.join(d, "manifest.json")))
ids, rows = [], []
for s in man["shards"]:
    f = np.load(os.path.join(d, s["features"]))
    i = np.load(os.path.join(d, s["ids"]))
    assert f.dtype == np.float32 and f.ndim == 2 and f.shape == (s["rows"], man["dim"]), (f.dtype, f.shape)
    assert i.dtype == np.int64 and i.shape == (s["rows"],), (i.dtype, i.shape)
    ids += i.tolist(); rows.append(f)
rows = np.concatenate(rows)
print(len(ids), " ".join(map(str, ids)), "%.6f" % rows.astype(np.float64).sum())
`
	outb, err := exec.Command(py, "-c", script, out).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, outb)
	}
	var sum float64
	for _, v := range m.Rows {
		sum += float64(v)
	}
	var idStr []string
	for _, id := range m.IDs {
		idStr = append(idStr, strconv.FormatInt(id, 10))
	}
	want := fmt.Sprintf("%d %s %.6f", len(m.IDs), strings.Join(idStr, " "), sum)
	if got := strings.TrimSpace(string(outb)); got != want {
		t.Errorf("numpy read\n%s\nwant\n%s", got, want)
	}
}
