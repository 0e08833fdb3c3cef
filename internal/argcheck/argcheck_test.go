package argcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestArgcheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	rootCanWrite := os.Getuid() == 0
	for _, tc := range []struct {
		name string
		err  error
		want string // "" = no error
	}{
		{"positive 0", Positive("batch", 0), "--batch 0: must be at least 1"},
		{"positive -3", Positive("workers", -3), "--workers -3: must be at least 1"},
		{"positive 1", Positive("batch", 1), ""},
		{"dir new", WritableDir("out", filepath.Join(dir, "a", "b")), ""},
		{"dir is file", WritableDir("out", file), "is a file, not a folder"},
		{"dir read-only", WritableDir("out", filepath.Join(ro, "run")), map[bool]string{false: "cannot create the folder", true: ""}[rootCanWrite]},
		{"file ok", OutputFile("cloud", filepath.Join(dir, "c.png"), ".png", ".svg"), ""},
		{"file ext", OutputFile("cloud", filepath.Join(dir, "x.jpg"), ".png", ".svg"), "name the file .png or .svg"},
		{"file is dir", OutputFile("out", dir, ".npy"), "is a folder; give a file name such as " + filepath.Join(dir, "out.npy")},
		{"file in a folder to make", OutputFile("out", filepath.Join(dir, "new", "x.npy"), ".npy"), ""},
		{"file under a file", OutputFile("out", filepath.Join(file, "x.npy"), ".npy"), "is not a folder"},
		{"file read-only", OutputFile("out", filepath.Join(ro, "x.npy")), map[bool]string{false: "cannot write into", true: ""}[rootCanWrite]},
	} {
		switch {
		case tc.want == "" && tc.err != nil:
			t.Errorf("%s: %v", tc.name, tc.err)
		case tc.want != "" && (tc.err == nil || !strings.Contains(tc.err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3 {
		t.Errorf("probe files left: %v", entries)
	}
}
