package tagger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/tagger"
)

func readLines(t *testing.T, b []byte) []tagger.Line {
	t.Helper()
	var out []tagger.Line
	for _, s := range strings.SplitAfter(string(b), "\n") {
		if s == "" {
			continue
		}
		if !strings.HasSuffix(s, "\n") {
			t.Fatalf("unterminated line %q", s)
		}
		var l tagger.Line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("line %q: %v", s, err)
		}
		out = append(out, l)
	}
	return out
}

// sameTags compares two lines' tags: same tags in the same order, values
// within float32 rounding of a different batch size.
func sameTags(t *testing.T, what string, a, b tagger.Line) {
	t.Helper()
	if len(a.Tags) != len(b.Tags) || a.Error != b.Error {
		t.Errorf("%s: %+v vs %+v", what, a, b)
		return
	}
	for i := range a.Tags {
		x, y := a.Tags[i], b.Tags[i]
		if x.Tag != y.Tag || math.Abs(x.Importance-y.Importance) > 1e-5 || math.Abs(x.Probability-y.Probability) > 1e-5 {
			t.Errorf("%s: tag %d: %+v vs %+v", what, i, x, y)
		}
	}
}

// Stream tags every image in order, one whole line each, the same tags as
// the model gives each image on its own; unreadable files get an error
// line and the rest goes on.
func TestStreamLines(t *testing.T) {
	dir := demoRun(t)
	m, err := tagger.Open(filepath.Join(dir, "run"), tagger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	files := demoImages(t, dir)[:12]
	bad := filepath.Join(t.TempDir(), "notes.jpg")
	os.WriteFile(bad, []byte("not an image\n"), 0o644)
	files = append(files[:5:5], append([]string{bad, filepath.Join(dir, "absent.png")}, files[5:]...)...)

	var buf bytes.Buffer
	var calls int
	sum, err := m.Stream(context.Background(), files, &buf, tagger.StreamOptions{Batch: 4, Workers: 2, Parallel: 2,
		Progress: func(done, total int) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tagged != 12 || sum.Failed != 2 || calls == 0 {
		t.Errorf("summary %+v, %d progress calls", sum, calls)
	}
	lines := readLines(t, buf.Bytes())
	if len(lines) != len(files) {
		t.Fatalf("%d lines for %d files", len(lines), len(files))
	}
	tagged := 0
	for i, l := range lines {
		if l.File != files[i] {
			t.Errorf("line %d is %s, want %s", i, l.File, files[i])
		}
		if l.File == bad || strings.HasSuffix(l.File, "absent.png") {
			if l.Error == "" || len(l.Tags) != 0 {
				t.Errorf("%s: %+v, want an error", l.File, l)
			}
			continue
		}
		if l.ID == nil || *l.ID != *tagger.FileID(files[i]) {
			t.Errorf("%s: id %v", l.File, l.ID)
		}
		tagged += len(l.Tags)
		x, err := m.Prep.LoadFile(l.File)
		if err != nil {
			t.Fatal(err)
		}
		prob, imp, err := m.Predict(x, 1)
		if err != nil {
			t.Fatal(err)
		}
		sameTags(t, l.File, l, m.Line(l.File, prob, imp, 0))
	}
	if tagged == 0 {
		t.Errorf("no image got a tag: the test would not see wrong tags")
	}
}

// An interrupted output (a last line cut short) resumes: the cut line is
// dropped, the files already written are skipped, and every file ends up
// with exactly one whole line.
func TestStreamResume(t *testing.T) {
	dir := demoRun(t)
	m, err := tagger.Open(filepath.Join(dir, "run"), tagger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	files := demoImages(t, dir)[:10]
	var full bytes.Buffer
	if _, err := m.Stream(context.Background(), files, &full, tagger.StreamOptions{Batch: 3}); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(full.String(), "\n")
	partial := strings.Join(lines[:4], "") + lines[4][:len(lines[4])/2]
	path := filepath.Join(t.TempDir(), "out.jsonl")
	os.WriteFile(path, []byte(partial), 0o644)

	done, good, err := tagger.ReadDone(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 4 || good != int64(len(strings.Join(lines[:4], ""))) {
		t.Fatalf("ReadDone: %d files, %d bytes", len(done), good)
	}
	f, _ := os.OpenFile(path, os.O_RDWR, 0)
	f.Truncate(good)
	f.Seek(good, 0)
	sum, err := m.Stream(context.Background(), files, f, tagger.StreamOptions{Batch: 3, Skip: done})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 4 || sum.Tagged != 6 {
		t.Errorf("resume summary %+v", sum)
	}
	b, _ := os.ReadFile(path)
	got := readLines(t, b)
	want := readLines(t, full.Bytes())
	if len(got) != len(want) {
		t.Fatalf("%d lines after resuming, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].File != want[i].File {
			t.Errorf("line %d: %s, want %s", i, got[i].File, want[i].File)
		}
		sameTags(t, want[i].File, got[i], want[i])
	}

	// A damaged line in the middle is not silently skipped.
	os.WriteFile(path, []byte(lines[0]+"garbage\n"+lines[1]), 0o644)
	if _, _, err := tagger.ReadDone(path); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("damaged middle line: %v", err)
	}
}

func TestFileID(t *testing.T) {
	for _, tc := range []struct {
		file string
		want int64
		ok   bool
	}{
		{"train2014/COCO_train2014_000000000009.jpg", 9, true},
		{"000000000139.jpg", 139, true},
		{"photo.jpg", 0, false},
		{"img2.png", 2, true},
		{"dir7/photo", 0, false},
	} {
		id := tagger.FileID(tc.file)
		if (id != nil) != tc.ok || id != nil && *id != tc.want {
			t.Errorf("FileID(%q) = %v, want %d %v", tc.file, id, tc.want, tc.ok)
		}
	}
}

// A folder gives its images, links to images included, in name order;
// other files are left out.
func TestListImages(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	for _, f := range []string{"b.jpg", "a.PNG", "sub/c.jpeg", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644)
	}
	if err := os.Symlink(filepath.Join(dir, "b.jpg"), filepath.Join(dir, "link.jpg")); err != nil {
		t.Fatal(err)
	}
	got, err := tagger.ListImages([]string{dir, filepath.Join(dir, "notes.txt")})
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, g := range got {
		r, _ := filepath.Rel(dir, g)
		rel = append(rel, r)
	}
	want := []string{"a.PNG", "b.jpg", "link.jpg", "sub/c.jpeg", "notes.txt"}
	if strings.Join(rel, " ") != strings.Join(want, " ") {
		t.Errorf("ListImages = %v, want %v", rel, want)
	}
	if _, err := tagger.ListImages([]string{filepath.Join(dir, "absent")}); err == nil {
		t.Errorf("a missing argument gives no error")
	}
}
