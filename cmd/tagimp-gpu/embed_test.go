package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tagimp/data/npy"
)

// runCLI runs the application with args and returns what it wrote to its
// Writer and ErrWriter.
func runCLI(args ...string) (stdout, stderr string, err error) {
	app := newApp()
	var out, errb bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errb
	err = app.Run(append([]string{"tagimp-gpu"}, args...))
	return out.String(), errb.String(), err
}

func writeTestVocab(t *testing.T, dir string, tags ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"min_count": 1, "images": 2, "captions": 10, "tags": [`)
	for i, tag := range tags {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"tag": "` + tag + `", "count": 5}`)
	}
	b.WriteString("]}\n")
	path := filepath.Join(dir, "vocab.json")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEmbedCommand(t *testing.T) {
	dir := t.TempDir()
	vocab := writeTestVocab(t, dir, "man", "Dog", "zebra")
	vectors := filepath.Join(dir, "glove.txt")
	if err := os.WriteFile(vectors, []byte("man 1 2 3\ndog 4 5 6\ncat 7 8 9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tagvec.npy")
	stdout, _, err := runCLI("embed", "--vocab", vocab, "--vectors", vectors, "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	a, err := npy.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if a.Dtype != npy.Float32 || !slices.Equal(a.Shape, []int{3, 3}) || !slices.Equal(a.F32, []float32{1, 2, 3, 4, 5, 6, 0, 0, 0}) {
		t.Errorf("wrote %s %v %v, want float32 [3 3] of man, dog, zeros", a.Dtype, a.Shape, a.F32)
	}
	for _, want := range []string{"Dog -> dog (case-insensitive)", "missing (zero vectors): zebra", "[3 3]"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

	errCases := []struct {
		name string
		args []string
		want string
	}{
		{"strict", []string{"--strict"}, "zebra (drop --strict"},
		{"dimension", []string{"--dim", "300"}, "3-d, want 300-d"},
		{"format", []string{"--format", "hdf5"}, "unknown word-vector format"},
	}
	for _, c := range errCases {
		out := filepath.Join(dir, c.name+".npy")
		args := append([]string{"embed", "--vocab", vocab, "--vectors", vectors, "--out", out}, c.args...)
		_, _, err := runCLI(args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: %s exists after the error", c.name, out)
		}
	}
}
