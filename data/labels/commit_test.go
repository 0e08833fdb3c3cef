package labels

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteDirOneCommit: a second write without a split removes the first
// write's splits.json; temporaries of killed writes (any PID) go; a folder
// whose files disagree with the manifest (a write killed between its
// renames) is refused by every reader, naming the fix.
func TestWriteDirOneCommit(t *testing.T) {
	c, nouns := fixture()
	v, s, err := Build(c, nouns, 1)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := MakeSplits(s.IDs, 1, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteDir(dir, v, s, sp); err != nil {
		t.Fatal(err)
	}
	// Leftovers of killed runs of other processes.
	leftovers := []string{".labels.npz.99999.partial", ".vocab.json.tmp-123", ".splits.json.tmp-9", "." + ManifestName + ".tmp-1"}
	for _, name := range leftovers {
		os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644)
	}
	if err := WriteDir(dir, v, s, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(leftovers, "splits.json") {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there after a rewrite", name)
		}
	}
	if _, err := ReadSplits(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadSplits after a write without split: %v", err)
	}
	if _, err := Read(dir); err != nil {
		t.Fatal(err)
	}

	// A killed write: the manifest names new files, one of them is old.
	orig, _ := os.ReadFile(filepath.Join(dir, "vocab.json"))
	v2 := *v
	v2.MinCount++
	if err := WriteDir(dir, &v2, s, sp); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "vocab.json"), orig, 0o644)
	for name, read := range map[string]func() error{
		"Read":      func() error { _, err := Read(dir); return err },
		"ReadVocab": func() error { _, err := ReadVocab(filepath.Join(dir, "vocab.json")); return err },
	} {
		err := read()
		if err == nil || !strings.Contains(err.Error(), "rerun tagimp-gpu vocab --out "+dir) || !strings.Contains(err.Error(), "vocab.json") {
			t.Errorf("%s of a mixed folder: %v", name, err)
		}
	}
	// A splits.json of an earlier write that the manifest does not name.
	if err := WriteDir(dir, v, s, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "splits.json"), []byte(`{"seed":1,"train":[1],"test":[2]}`), 0o644)
	if _, err := ReadSplits(dir); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "not part of the labels written last") {
		t.Errorf("stale splits.json: %v", err)
	}
	// A folder written before manifests is read unchecked.
	os.Remove(filepath.Join(dir, ManifestName))
	if _, err := ReadSplits(dir); err != nil {
		t.Errorf("folder without manifest: %v", err)
	}
}

// TestWriteDirKilled kills WriteDir (a re-executed test binary) at random
// moments and checks that the folder is then either the old labels, the
// new ones, or refused by Read — never a mix read without complaint.
func TestWriteDirKilled(t *testing.T) {
	if os.Getenv("LABELS_WRITE_HELPER") != "" {
		c, nouns := fixture()
		v, s, _ := Build(c, nouns, 1)
		v.MinCount = 2
		for {
			WriteDir(os.Getenv("LABELS_WRITE_HELPER"), v, s, nil)
		}
	}
	c, nouns := fixture()
	v, s, _ := Build(c, nouns, 1)
	sp, _ := MakeSplits(s.IDs, 1, 1, 7)
	for trial := 0; trial < 4; trial++ {
		dir := t.TempDir()
		if err := WriteDir(dir, v, s, sp); err != nil {
			t.Fatal(err)
		}
		cmd := helperCmd(t, dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20+trial*37) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		got, err := Read(dir)
		if err != nil {
			if !strings.Contains(err.Error(), "rerun tagimp-gpu vocab") {
				t.Errorf("trial %d: %v", trial, err)
			}
			continue
		}
		vv, _ := ReadVocab(filepath.Join(dir, "vocab.json"))
		sps, spErr := ReadSplits(dir)
		old := vv.MinCount == 1 && spErr == nil && sps != nil
		fresh := vv.MinCount == 2 && errors.Is(spErr, os.ErrNotExist)
		if !old && !fresh || len(got.IDs) != len(s.IDs) {
			t.Errorf("trial %d: a mixed folder read without complaint: min_count %d, splits %v", trial, vv.MinCount, spErr)
		}
	}
}

func helperCmd(t *testing.T, dir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestWriteDirKilled$")
	cmd.Env = append(os.Environ(), "LABELS_WRITE_HELPER="+dir)
	return cmd
}
