package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tagimp/data/features"
)

// writeCaptionSet writes a tiny COCO caption file and PNG images for ids.
func writeCaptionSet(t *testing.T, ids ...int64) (captions, images string) {
	t.Helper()
	dir := t.TempDir()
	images = filepath.Join(dir, "images")
	if err := os.Mkdir(images, 0o755); err != nil {
		t.Fatal(err)
	}
	var imgs, anns []string
	for i, id := range ids {
		name := fmt.Sprintf("%012d.png", id)
		imgs = append(imgs, fmt.Sprintf(`{"id":%d,"file_name":%q,"width":32,"height":32}`, id, name))
		anns = append(anns, fmt.Sprintf(`{"id":%d,"image_id":%d,"caption":"A red square on a table."}`, i+1, id))
		m := image.NewRGBA(image.Rect(0, 0, 32, 32))
		for p := range m.Pix {
			m.Pix[p] = uint8(int(id)*31 + p)
		}
		m.Set(0, 0, color.RGBA{255, 0, 0, 255})
		f, err := os.Create(filepath.Join(images, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, m); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	captions = filepath.Join(dir, "captions.json")
	js := `{"images":[` + strings.Join(imgs, ",") + `],"annotations":[` + strings.Join(anns, ",") + `]}`
	if err := os.WriteFile(captions, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	return captions, images
}

func runApp(args ...string) error {
	return newApp().Run(append([]string{"tagimp-gpu"}, args...))
}

func TestFeaturesCommandRefuses(t *testing.T) {
	captions, images := writeCaptionSet(t, 9)
	out := filepath.Join(t.TempDir(), "fc7")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"flags unset", nil, []string{"features", "--out", out}, "--captions, --images, --weights not set"},
		{"no images folder", nil, []string{"features", "--captions", captions, "--images", images + "-nope", "--weights", "random:1", "--out", out}, "no such folder"},
		{"no weights file", nil, []string{"features", "--captions", captions, "--images", images, "--weights", "/nonexistent/vgg16.pth", "--out", out}, "tagimp-gpu fetch vgg16-torchvision"},
		{"bad seed", nil, []string{"features", "--captions", captions, "--images", images, "--weights", "random:x", "--out", out}, "random:SEED"},
		{"bad shard", nil, []string{"features", "--captions", captions, "--images", images, "--weights", "random:1", "--out", out, "--shard", "2/2"}, "0 <= K < N"},
		{"indexed job without count", map[string]string{"JOB_COMPLETION_INDEX": "1"}, []string{"features", "--captions", captions, "--images", images, "--weights", "random:1", "--out", out}, "--shard-count"},
		{"merge without out", nil, []string{"features", "merge", out}, "want --out DIR"},
		{"merge of nothing", nil, []string{"features", "merge", "--out", out, t.TempDir()}, "no manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			err := runApp(tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(out, "manifest.json")); err == nil {
				t.Errorf("a refused run wrote a manifest")
			}
		})
	}
}

// TestFeaturesCommand runs the real CPU VGG16 (seeded random weights) on
// two small images, loads the cache, and runs the command again, which
// must find nothing to do. (Refusing a folder of other weights is tested in
// data/features.)
func TestFeaturesCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs VGG16 on the CPU (a few seconds)")
	}
	captions, images := writeCaptionSet(t, 9, 25)
	out := filepath.Join(t.TempDir(), "fc7")
	args := []string{"features", "--captions", captions, "--images", images, "--weights", "random:3", "--out", out, "--workers", "2", "--device", "cpu"}
	start := time.Now()
	if err := runApp(args...); err != nil {
		t.Fatal(err)
	}
	t.Logf("2 images: %v", time.Since(start))
	m, err := features.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.IDs) != 2 || m.Dim != 4096 || m.Meta.Weights != "random:3" || m.Meta.Preprocess != "torchvision" || m.Meta.ImageSize != 224 {
		t.Fatalf("cache: %d ids, dim %d, meta %+v", len(m.IDs), m.Dim, m.Meta)
	}
	before, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := runApp(args...); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if string(before) != string(after) {
		t.Errorf("rerunning a finished job changed its manifest")
	}
}

func TestFetchCommand(t *testing.T) {
	content := []byte(strings.Repeat("tagimp asset ", 50_000))
	sum := sha256.Sum256(content)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "a.bin", time.Time{}, strings.NewReader(string(content)))
	}))
	defer srv.Close()
	manifest := filepath.Join(t.TempDir(), "assets.json")
	js := fmt.Sprintf(`{"assets":[{"name":"good","file":"a.bin","url":%q,"size":%d,"sha256":%q,"license":"CC0"},
{"name":"bad","file":"b.bin","url":%q,"size":%d,"sha256":%q},
{"name":"nosum","file":"c.bin","url":%q,"size":%d}]}`,
		srv.URL, len(content), hex.EncodeToString(sum[:]), srv.URL, len(content), strings.Repeat("1", 64), srv.URL, len(content))
	if err := os.WriteFile(manifest, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		file string
		want string
	}{
		{"flags after the name", []string{"fetch", "good", "--manifest", manifest, "--dir", dir}, "a.bin", ""},
		{"flags before the name", []string{"fetch", "--manifest", manifest, "--dir", dir, "good"}, "a.bin", ""},
		{"bad checksum", []string{"fetch", "bad", "--manifest", manifest, "--dir", dir}, "", "checksum mismatch"},
		{"no checksum", []string{"fetch", "nosum", "--manifest", manifest, "--dir", dir}, "", "--allow-unverified"},
		{"no checksum, allowed", []string{"fetch", "nosum", "--manifest", manifest, "--dir", dir, "--allow-unverified"}, "c.bin", ""},
		{"pinned by --sha256", []string{"fetch", "bad", "--manifest", manifest, "--dir", dir, "--sha256", hex.EncodeToString(sum[:])}, "b.bin", ""},
		{"unknown asset", []string{"fetch", "nope", "--manifest", manifest}, "", "known assets: bad, good, nosum"},
		{"list", []string{"fetch", "--list"}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := runApp(tc.args...)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.file != "" {
				got, err := os.ReadFile(filepath.Join(dir, tc.file))
				if err != nil || string(got) != string(content) {
					t.Fatalf("%s: %d bytes, %v", tc.file, len(got), err)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "b.bin.part")); err == nil {
		t.Errorf("a failed checksum left b.bin.part")
	}
}
