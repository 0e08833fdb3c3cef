package bench

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"tagimp/data/imageprep"
)

func TestImageBenchOurs(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "data", "imageprep", "testdata", "golden", "coco-*.jpg"))
	if len(files) != 3 {
		t.Fatalf("golden COCO images: %v", files)
	}
	b := ImageBench{Files: files, Prep: imageprep.Default, Threads: 2, Rounds: 1, MinImages: 4}
	rows, err := b.Ours()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 {
		t.Fatalf("%d rows, want 6 (3 decode, 3 decode+preprocess): %+v", len(rows), rows)
	}
	for _, r := range rows {
		if !(r.PerCore > 0) || !(r.Total > 0) || r.Threads != 2 || r.Impl == "" {
			t.Errorf("row %+v", r)
		}
	}
	// A file that does not decode stops the benchmark with its name.
	b.Files = append(b.Files, filepath.Join("..", "go.mod"))
	if _, err := b.Ours(); err == nil {
		t.Fatal("a non-image file was timed")
	}
	b.Files = nil
	if _, err := b.Ours(); err == nil {
		t.Fatal("no files accepted")
	}
}

func TestImagePeersMissingPython(t *testing.T) {
	b := ImageBench{Files: []string{"x.jpg"}, Prep: imageprep.Default, Threads: 1, Rounds: 1, FC7Batch: 1}
	rows, skipped, err := b.ImagePeers(context.Background(), "/nonexistent/python3", "")
	if err != nil || len(rows) != 0 || len(skipped) != 2 {
		t.Fatalf("rows %v, skipped %v, err %v; want both peers skipped", rows, skipped, err)
	}
	_, err = runPeerScript(context.Background(), "/nonexistent/python3", "", "images_pil.py", pilScript, nil)
	if !errors.Is(err, ErrNoNumpy) {
		t.Fatalf("err = %v, want ErrNoNumpy", err)
	}
}
