package coco

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/internal/realdata"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "captions.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRead(t *testing.T) {
	path := writeFile(t, `{"info": {"nested": [1, {"a": [2]}]}, "annotations": [
 {"image_id": 2, "id": 10, "caption": "  A dog on a bed. "},
 {"image_id": 1, "id": 11, "caption": "Two cats."},
 {"image_id": 2, "id": 12, "caption": "A dog.\n"}],
 "type": "captions",
 "images": [{"id": 2, "file_name": "b.jpg"}, {"id": 1}],
 "future": {"x": null}}`)
	var calls, last int
	c, err := Read(path, func(done, total int) { calls++; last = done })
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last == 0 {
		t.Errorf("progress not reported")
	}
	if got, want := c.IDs, []int64{1, 2}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("IDs = %v, want %v", got, want)
	}
	if got := strings.Join(c.Captions[1], "|"); got != "A dog on a bed.|A dog." {
		t.Errorf("captions of image 2 = %q", got)
	}
	if c.NumCaptions() != 3 {
		t.Errorf("NumCaptions = %d, want 3", c.NumCaptions())
	}
	if len(c.FileNames) != 2 || c.FileNames[0] != "" || c.FileNames[1] != "b.jpg" || !c.HasFileNames() {
		t.Errorf("FileNames = %q, want [\"\" \"b.jpg\"]", c.FileNames)
	}
	texts, img := c.Flat()
	if len(texts) != 3 || texts[0] != "Two cats." || img[0] != 0 || img[2] != 1 {
		t.Errorf("Flat = %q %v", texts, img)
	}
}

func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, content string
		want          []string
	}{
		{"malformed", "{\"images\": [{\"id\": 1}],\n \"annotations\": [\n  {\"image_id\": 1, \"caption\": \"x\"}\n  {\"image_id\": 1}]}", []string{"malformed JSON", "line 4, column 3"}},
		{"cut short", `{"images": [{"id": 1}], "annotations": [{"image_id": 1, "capt`, []string{"cut short"}},
		{"not an object", `[1, 2]`, []string{"JSON object"}},
		{"wrong type", "{\"images\": [{\"id\": 1}], \"annotations\": [{\"image_id\": 1, \"caption\": 5}]}", []string{"wrong JSON type", "line 1, column 69"}},
		{"unknown image", `{"images": [{"id": 1}], "annotations": [{"image_id": 1, "caption": "a"}, {"image_id": 7, "caption": "b"}, {"image_id": 9, "caption": "c"}]}`, []string{"2 captions refer to 2 image ids", "smallest: 7"}},
		{"image without captions", `{"images": [{"id": 1}, {"id": 5}, {"id": 3}], "annotations": [{"image_id": 1, "caption": "a"}]}`, []string{"2 of 3 images have no caption", "first: id 3"}},
		{"no annotations", `{"images": [{"id": 1}]}`, []string{`no "annotations"`}},
		{"no images", `{"annotations": []}`, []string{`no "images"`}},
		{"instances file", `{"images": [{"id": 1}], "annotations": [{"image_id": 1, "bbox": [1,2,3,4]}]}`, []string{`no "caption"`}},
		{"duplicate image", `{"images": [{"id": 1}, {"id": 1}], "annotations": []}`, []string{"appears twice"}},
		{"trailing data", `{"images": [], "annotations": []} {}`, []string{"after the top-level"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.content)
			_, err := Read(path, nil)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || strings.Contains(msg, "\n") {
				t.Errorf("error %q does not name the file on one line", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.json"), nil); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Read(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
}

// TestReadVal2017 reads the real captions_val2017.json.
func TestReadVal2017(t *testing.T) {
	path := filepath.Join(realdata.Dir(t), "coco", "captions_val2017.json")
	c, err := Read(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.IDs) != 5000 || c.NumCaptions() != 25014 {
		t.Errorf("%d images, %d captions; want 5000, 25014", len(c.IDs), c.NumCaptions())
	}
	for i, id := range c.IDs {
		if want := fmt.Sprintf("%012d.jpg", id); c.FileNames[i] != want {
			t.Fatalf("image %d: file_name %q, want %q", id, c.FileNames[i], want)
		}
	}
	hist := map[int]int{}
	for _, cs := range c.Captions {
		hist[len(cs)]++
	}
	if hist[5] != 4987 || hist[6] != 12 || hist[7] != 1 {
		t.Errorf("captions per image %v; want 4987×5, 12×6, 1×7", hist)
	}
}

// BenchmarkRead measures streaming the real val2017 captions file (MB/s).
func BenchmarkRead(b *testing.B) {
	path := filepath.Join(realdata.Dir(b), "coco", "captions_val2017.json")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for i := 0; i < b.N; i++ {
		if _, err := Read(path, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTextsOf(t *testing.T) {
	c := &Captions{IDs: []int64{3, 7, 9}, Captions: [][]string{{"a", "b"}, {"c"}, {"d", "e"}}}
	for _, tc := range []struct {
		ids  []int64
		want string
	}{{[]int64{3, 9}, "[a b d e]"}, {[]int64{7}, "[c]"}, {[]int64{4}, "[]"}, {nil, "[]"}} {
		if got := fmt.Sprint(c.TextsOf(tc.ids)); got != tc.want {
			t.Errorf("TextsOf(%v) = %s, want %s", tc.ids, got, tc.want)
		}
	}
}
