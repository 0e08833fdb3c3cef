package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/data/labels"
)

// runVocabCLI runs the application with args and returns its stdout.
func runVocabCLI(args ...string) (string, error) {
	app := newApp()
	var out, errb bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errb
	err := app.Run(append([]string{"tagimp-gpu", "vocab"}, args...))
	return out.String(), err
}

const vocabFixture = `{"info": {}, "images": [{"id": 1}, {"id": 2}, {"id": 3}],
 "annotations": [
  {"image_id": 1, "id": 1, "caption": "Two dogs on a bed."},
  {"image_id": 1, "id": 2, "caption": "A dog sleeping."},
  {"image_id": 2, "id": 3, "caption": "A cat on a bed"},
  {"image_id": 2, "id": 4, "caption": "a cat and a dog"},
  {"image_id": 3, "id": 5, "caption": "A man riding a horse."}]}`

func TestVocabCommand(t *testing.T) {
	dir := t.TempDir()
	captions := filepath.Join(dir, "captions.json")
	if err := os.WriteFile(captions, []byte(vocabFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "labels")
	stdout, err := runVocabCLI("--captions", captions, "--min-count", "2", "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"3 images, 5 captions", "3 tags (min-count 2)", "top tags: dog 3, bed 2, cat 2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	set, err := labels.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Importance; len(got) != 9 || got[0] != 1 || got[1] != 0.5 || got[3] != 0.5 || got[5] != 1 {
		t.Errorf("importance %v (tags %v)", got, set.Tags)
	}

	// With a split the tags are counted over the training images only.
	outSplit := filepath.Join(dir, "split")
	stdout, err = runVocabCLI("--captions", captions, "--min-count", "1", "--out", outSplit, "--train", "2", "--seed", "5")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := labels.ReadSplits(outSplit)
	if err != nil {
		t.Fatal(err)
	}
	v, err := labels.ReadVocab(filepath.Join(outSplit, "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Train) != 2 || len(sp.Test) != 1 || v.Images != 2 || !strings.Contains(stdout, "tags counted over the 2 training images") {
		t.Errorf("split %+v, vocab over %d images; summary:\n%s", sp, v.Images, stdout)
	}

	// A second file over the fixed vocabulary.
	out2 := filepath.Join(dir, "labels2")
	if _, err := runVocabCLI("--captions", captions, "--vocab", filepath.Join(out, "vocab.json"), "--out", out2); err != nil {
		t.Fatal(err)
	}
	set2, err := labels.Read(out2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(set2.Tags, " ") != strings.Join(set.Tags, " ") {
		t.Errorf("fixed vocabulary gave tags %v, want %v", set2.Tags, set.Tags)
	}
}

func TestVocabCommandErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", vocabFixture)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--captions", filepath.Join(dir, "nope.json"), "--min-count", "1"}, "nope.json"},
		{"malformed", []string{"--captions", write("bad.json", "{\"images\": [\n{\"id\": 1,,}]}"), "--min-count", "1"}, "line 2"},
		{"unknown image", []string{"--captions", write("unk.json", `{"images": [{"id": 1}], "annotations": [{"image_id": 1, "caption": "a dog"}, {"image_id": 2, "caption": "a cat"}]}`), "--min-count", "1"}, "not in \"images\""},
		{"image without captions", []string{"--captions", write("nocap.json", `{"images": [{"id": 1}, {"id": 2}], "annotations": [{"image_id": 1, "caption": "a dog"}]}`), "--min-count", "1"}, "no caption"},
		{"no tag left", []string{"--captions", good, "--min-count", "50"}, "leaves no tag"},
		{"no min-count", []string{"--captions", good}, "--min-count"},
		{"too many images", []string{"--captions", good, "--min-count", "1", "--train", "3", "--test", "1"}, "needs 4 images"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tt.name, " ", "-"))
			_, err := runVocabCLI(append(tt.args, "--out", out)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line with %q", err, tt.want)
			}
			if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
				t.Errorf("failed run left %s behind", out)
			}
		})
	}
}

// TestVocabValAndNounShare: --val carves validation images out of the
// training images (recorded in splits.json), and --noun-share drops a
// lemma tagged a noun less often than asked, printing why.
func TestVocabValAndNounShare(t *testing.T) {
	dir := t.TempDir()
	captions := filepath.Join(dir, "captions.json")
	if err := os.WriteFile(captions, []byte(vocabFixture), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "val")
	stdout, err := runVocabCLI("--captions", captions, "--min-count", "1", "--out", out, "--train", "2", "--val", "1", "--seed", "5")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := labels.ReadSplits(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Train) != 1 || len(sp.Val) != 1 || len(sp.Test) != 1 || !strings.Contains(stdout, "train 1, val 1, test 1") {
		t.Errorf("splits %+v; summary:\n%s", sp, stdout)
	}
	if _, err := runVocabCLI("--captions", captions, "--min-count", "1", "--out", out, "--val", "1"); err == nil || !strings.Contains(err.Error(), "--val needs --train") {
		t.Errorf("--val without --train: %v", err)
	}
	// "sleeping" is tagged a noun in none of its tokens: with the check
	// off it can only be a tag if the tagger calls it a noun; "dog" is a
	// noun in every token and stays.
	stdout, err = runVocabCLI("--captions", captions, "--min-count", "1", "--out", filepath.Join(dir, "share"), "--noun-share", "1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := labels.ReadVocab(filepath.Join(dir, "share", "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range v.Tags {
		if tc.NounShare != 1 {
			t.Errorf("--noun-share 1 kept %s at share %g", tc.Tag, tc.NounShare)
		}
	}
	if v.NounShare != 1 || len(v.Tags) == 0 {
		t.Errorf("vocab.json: noun_share %g, %d tags", v.NounShare, len(v.Tags))
	}
	if _, err := runVocabCLI("--captions", captions, "--min-count", "1", "--out", filepath.Join(dir, "bad"), "--noun-share", "2"); err == nil {
		t.Error("--noun-share 2 accepted")
	}
}
