package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/internal/testrun"
	"tagimp/tagger"
)

// tag writes one line per image to --jsonl; run again, it skips them all;
// with a cut last line, it tags that image again and the file parses.
func TestTagCommandResumes(t *testing.T) {
	dir := testrun.Fresh(t)
	out := filepath.Join(t.TempDir(), "tags.jsonl")
	imgs := filepath.Join(dir, "data", "images")
	args := []string{"tagimp-gpu", "tag", "--run", filepath.Join(dir, "run"), "--jsonl", out, "--batch", "7", "--device", "cpu", imgs}
	if err := newApp().Run(args); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	n := len(testrun.Images(t, dir))
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d lines for %d images", len(lines), n)
	}
	var l tagger.Line
	if err := json.Unmarshal([]byte(lines[0]), &l); err != nil || l.ID == nil || l.Error != "" {
		t.Fatalf("first line %q: %v", lines[0], err)
	}
	cut := strings.Join(lines[:n-1], "") + lines[n-1][:10]
	if err := os.WriteFile(out, []byte(cut), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := newApp().Run(args); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(out); string(again) != string(b) {
		t.Errorf("after resuming a cut file:\n%s\nwant\n%s", again, b)
	}
}
