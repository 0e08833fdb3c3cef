package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The features command finds images by the caption file's file_name, not by
// the number in the file name: image 1 is 000000022192.jpg here, and the
// decoy 000000000001.jpg is not used.
func TestCaptionImagesByFileName(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "val2017")
	if err := os.Mkdir(images, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"000000022192.jpg", "000000000001.jpg"} {
		if err := os.WriteFile(filepath.Join(images, f), []byte("jpeg"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	captions := filepath.Join(dir, "captions.json")
	js := `{"images":[{"id":1,"file_name":"000000022192.jpg"}],"annotations":[{"id":5,"image_id":1,"caption":"A dog."}]}`
	if err := os.WriteFile(captions, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := captionImages(captions, images)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != 1 || got[0].File != "000000022192.jpg" {
		t.Errorf("images %+v, want image 1 in 000000022192.jpg", got)
	}
	// Pointing --images at the parent folder: none of the named files.
	_, err = captionImages(captions, dir)
	if err == nil || !strings.Contains(err.Error(), "holds none of the files") {
		t.Errorf("parent folder: %v", err)
	}
}
