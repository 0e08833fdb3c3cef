package features

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tagimp/data/coco"
	"tagimp/internal/realdata"
)

func TestMatchCaptionFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"000000022192.jpg", "000000000001.jpg", "COCO_val2014_000000000007.jpg", "sub/x.png"} {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		ids     []int64
		files   []string
		want    []Image
		missing int
	}{
		// file_name wins over the number in the name: image 1 is
		// 000000022192.jpg although 000000000001.jpg exists.
		{"file_name", []int64{1}, []string{"000000022192.jpg"}, []Image{{1, "000000022192.jpg"}}, 0},
		{"subfolder", []int64{3}, []string{"sub/x.png"}, []Image{{3, filepath.Join("sub", "x.png")}}, 0},
		// A named file that is absent keeps its name for the failure list.
		{"absent", []int64{2}, []string{"000000000002.jpg"}, []Image{{2, "000000000002.jpg"}}, 1},
		// Without file_name the trailing number decides.
		{"no file names", []int64{1, 7, 8}, nil, []Image{{1, "000000000001.jpg"}, {7, "COCO_val2014_000000000007.jpg"}, {8, ""}}, 1},
		{"some unnamed", []int64{1, 7}, []string{"000000022192.jpg", ""}, []Image{{1, "000000022192.jpg"}, {7, "COCO_val2014_000000000007.jpg"}}, 0},
	}
	for _, tc := range tests {
		got, missing, err := MatchCaptionFiles(dir, tc.ids, tc.files)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) || missing != tc.missing {
			t.Errorf("%s: %v, %d missing; want %v, %d", tc.name, got, missing, tc.want, tc.missing)
		}
	}
	for _, bad := range []string{"../secret.jpg", "/etc/passwd"} {
		if _, _, err := MatchCaptionFiles(dir, []int64{1}, []string{bad}); err == nil || !strings.Contains(err.Error(), "leaves the images folder") {
			t.Errorf("file_name %q: %v", bad, err)
		}
	}
	if _, _, err := MatchCaptionFiles(dir, []int64{1, 2}, []string{"a"}); err == nil {
		t.Error("2 ids with 1 file name: no error")
	}
}

// The real val2017 caption file names its images by file_name; the 15
// images in ../shared/data are found by it.
func TestMatchCaptionFilesVal2017(t *testing.T) {
	dir := filepath.Join(realdata.Dir(t), "coco")
	c, err := coco.Read(filepath.Join(dir, "captions_val2017.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	images, missing, err := MatchCaptionFiles(filepath.Join(dir, "val2017"), c.IDs, c.FileNames)
	if err != nil {
		t.Fatal(err)
	}
	if missing != len(c.IDs)-15 {
		t.Errorf("%d of %d images missing, want all but 15", missing, len(c.IDs))
	}
	for _, im := range images {
		if im.ID == 22192 && im.File != "000000022192.jpg" {
			t.Errorf("image 22192 in %q", im.File)
		}
	}
}
