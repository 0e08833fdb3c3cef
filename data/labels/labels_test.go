package labels

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tagimp/data/coco"
	"tagimp/data/nouns"
)

// fixture: image 1 with two captions, image 2 with three.
func fixture() (*coco.Captions, [][]string) {
	c := &coco.Captions{
		Path: "fixture.json",
		IDs:  []int64{1, 2},
		Captions: [][]string{
			{"a dog and a dog bed", "a dog"},
			{"a cat on a bed", "a cat", "a man"},
		},
	}
	nouns := [][]string{{"dog", "dog", "bed"}, {"dog"}, {"cat", "bed"}, {"cat"}, {"man"}}
	return c, nouns
}

func TestBuild(t *testing.T) {
	c, nouns := fixture()
	tests := []struct {
		minCount int
		tags     []TagCount
		imp      []float32
	}{
		{1, []TagCount{{Tag: "bed", Count: 2}, {Tag: "cat", Count: 2}, {Tag: "dog", Count: 2}, {Tag: "man", Count: 1}}, []float32{0.5, 0, 1, 0, 1.0 / 3, 2.0 / 3, 0, 1.0 / 3}},
		{2, []TagCount{{Tag: "bed", Count: 2}, {Tag: "cat", Count: 2}, {Tag: "dog", Count: 2}}, []float32{0.5, 0, 1, 1.0 / 3, 2.0 / 3, 0}},
	}
	for _, tt := range tests {
		v, s, err := Build(c, nouns, tt.minCount)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(v.Tags, tt.tags) || v.Images != 2 || v.Captions != 5 || v.MinCount != tt.minCount {
			t.Errorf("min-count %d: vocab %+v, want tags %v", tt.minCount, v, tt.tags)
		}
		if !slices.Equal(s.Importance, tt.imp) {
			t.Errorf("min-count %d: importance %v, want %v", tt.minCount, s.Importance, tt.imp)
		}
		for k, x := range s.Importance {
			if (x > 0) != (s.Presence[k] == 1) {
				t.Errorf("presence %v does not match importance %v", s.Presence, s.Importance)
				break
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	c, nouns := fixture()
	if _, _, err := Build(c, nouns, 3); err == nil || !strings.Contains(err.Error(), "leaves no tag") || !strings.Contains(err.Error(), `"bed", is in 2 captions`) {
		t.Errorf("min-count 3: %v", err)
	}
	if _, _, err := Build(c, make([][]string, 5), 1); err == nil || !strings.Contains(err.Error(), "no caption has a noun") {
		t.Errorf("no nouns: %v", err)
	}
	if _, _, err := Build(c, nouns[:4], 1); err == nil {
		t.Error("short noun list accepted")
	}
	if _, _, err := Build(c, nouns, 0); err == nil {
		t.Error("min-count 0 accepted")
	}
}

func TestApplyFixedVocab(t *testing.T) {
	c, nouns := fixture()
	v := &Vocab{Tags: []TagCount{{Tag: "man", Count: 9}, {Tag: "dog", Count: 5}, {Tag: "horse", Count: 1}}}
	s, err := Apply(c, nouns, v)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 1, 0, 1.0 / 3, 0, 0}
	if !slices.Equal(s.Importance, want) || !slices.Equal(s.Tags, []string{"man", "dog", "horse"}) {
		t.Errorf("importance %v tags %v, want %v", s.Importance, s.Tags, want)
	}
}

func TestWriteReadDir(t *testing.T) {
	c, nouns := fixture()
	v, s, err := Build(c, nouns, 1)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := MakeSplits(s.IDs, 1, 1, 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteDir(dir, v, s, sp); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{".tagimp.lock", "labels-manifest.json", "labels.npz", "splits.json", "vocab.json"}) {
		t.Errorf("dir holds %v", names)
	}
	v2, err := ReadVocab(filepath.Join(dir, "vocab.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v2.Tags, v.Tags) || v2.Images != v.Images || v2.Captions != v.Captions || v2.MinCount != v.MinCount {
		t.Errorf("vocab round trip: %+v, want %+v", v2, v)
	}
	for _, p := range []string{dir, filepath.Join(dir, "labels.npz")} {
		s2, err := Read(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s2.IDs, s.IDs) || !slices.Equal(s2.Importance, s.Importance) || !slices.Equal(s2.Presence, s.Presence) || !slices.Equal(s2.Tags, s.Tags) {
			t.Errorf("Read(%s) = %+v, want %+v", p, s2, s)
		}
	}
	sp2, err := ReadSplits(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sp2.Train, sp.Train) || !slices.Equal(sp2.Test, sp.Test) || sp2.Seed != 7 {
		t.Errorf("splits round trip %+v, want %+v", sp2, sp)
	}
	sub, err := s.Subset([]int64{2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sub.Importance, s.Importance[4:]) || !slices.Equal(sub.IDs, []int64{2}) {
		t.Errorf("Subset(2) = %+v", sub)
	}
	if _, err := s.Subset([]int64{3}); err == nil || !strings.Contains(err.Error(), "image id 3") {
		t.Errorf("Subset(3): %v", err)
	}
	if _, err := ReadSplits(t.TempDir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadSplits of empty dir: %v, want os.ErrNotExist", err)
	}
}

func TestWriteDirLeavesNothing(t *testing.T) {
	c, nouns := fixture()
	v, s, err := Build(c, nouns, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	bad := &Vocab{Tags: v.Tags[:1]} // does not match the set
	if err := WriteDir(dir, bad, s, nil); err == nil {
		t.Fatal("mismatched vocabulary accepted")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed write left %s behind", dir)
	}
	// A write that fails midway (vocab.json's name is taken by a folder)
	// leaves no staged file behind.
	dir = t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "vocab.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteDir(dir, v, s, nil); err == nil {
		t.Fatal("write over a folder succeeded")
	} else if !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("write over a folder: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("failed write left %v", names)
	}
}

func TestMakeSplits(t *testing.T) {
	ids := make([]int64, 100)
	for i := range ids {
		ids[i] = int64(1000 + 7*i)
	}
	a, err := MakeSplits(ids, 60, 30, 1)
	if err != nil {
		t.Fatal(err)
	}
	rev := slices.Clone(ids)
	slices.Reverse(rev)
	b, _ := MakeSplits(rev, 60, 30, 1)
	c, _ := MakeSplits(ids, 60, 30, 2)
	if !slices.Equal(a.Train, b.Train) || !slices.Equal(a.Test, b.Test) {
		t.Error("split depends on input order")
	}
	if slices.Equal(a.Train, c.Train) {
		t.Error("seed does not change the split")
	}
	if len(a.Train) != 60 || len(a.Test) != 30 {
		t.Errorf("sizes %d/%d", len(a.Train), len(a.Test))
	}
	for _, id := range a.Test {
		if slices.Contains(a.Train, id) {
			t.Fatalf("image %d in both", id)
		}
	}
	if slices.Equal(a.Train, ids[:60]) {
		t.Error("split is the file order")
	}
	rest, _ := MakeSplits(ids, 60, 0, 1)
	if len(rest.Test) != 40 {
		t.Errorf("--test 0 gave %d test images, want the other 40", len(rest.Test))
	}
	for _, bad := range [][2]int{{0, 10}, {90, 20}, {100, 0}, {10, -1}} {
		if _, err := MakeSplits(ids, bad[0], bad[1], 1); err == nil {
			t.Errorf("train %d test %d accepted", bad[0], bad[1])
		}
	}
	// --train beyond the images without --test: said as such, not as a
	// negative --test.
	_, err = MakeSplits(ids, 10000, 0, 1)
	if err == nil || err.Error() != "splits: --train 10000 leaves no test images: the captions have 100 images; give a smaller --train" {
		t.Errorf("--train 10000 on 100 images: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), "vocab.json") {
		t.Errorf("empty dir: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), []byte(`{"tags": []}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadVocab(filepath.Join(dir, "vocab.json")); err == nil || !strings.Contains(err.Error(), "no tags") {
		t.Errorf("empty vocabulary: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.json"), []byte(`{"tags": [{"tag": "a"}, {"tag": "a"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadVocab(filepath.Join(dir, "vocab.json")); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("repeated tag: %v", err)
	}
}

// TestNumpyLoads checks that numpy reads labels.npz (skipped without
// /usr/bin/python3 and numpy).
func TestNumpyLoads(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skipf("%s with numpy not available: %v", py, err)
	}
	c, nouns := fixture()
	v, s, err := Build(c, nouns, 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := WriteDir(dir, v, s, nil); err != nil {
		t.Fatal(err)
	}
	script := `import numpy as np, sys, json
z = np.load(sys.argv[1] + "/labels.npz")
v = json.load(open(sys.argv[1] + "/vocab.json"))
assert z["ids"].dtype == np.int64 and z["ids"].tolist() == [1, 2], z["ids"]
assert z["presence"].dtype == np.uint8 and z["presence"].shape == (2, len(v["tags"]))
assert z["importance"].dtype == np.float32
assert ((z["importance"] > 0) == (z["presence"] == 1)).all()
print(z["importance"][1].tolist())`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "[0.3333333432674408, 0.6666666865348816, 0.0, 0.3333333432674408]" {
		t.Errorf("numpy reads importance of image 2 as %s", got)
	}
}

func TestBuildOnTrainImages(t *testing.T) {
	c, nouns := fixture()
	v, s, err := BuildOn(c, nouns, 1, []int64{2})
	if err != nil {
		t.Fatal(err)
	}
	want := []TagCount{{Tag: "cat", Count: 2}, {Tag: "bed", Count: 1}, {Tag: "man", Count: 1}}
	if !slices.Equal(v.Tags, want) || v.Images != 1 || v.Captions != 3 {
		t.Errorf("vocab %+v, want tags %v over 1 image, 3 captions", v, want)
	}
	// Image 1 is labelled too, over the vocabulary of image 2.
	if got := s.Importance[:3]; !slices.Equal(got, []float32{0, 0.5, 0}) || len(s.IDs) != 2 {
		t.Errorf("image 1 importance %v, want [0 0.5 0]", got)
	}
	if _, _, err := BuildOn(c, nouns, 1, []int64{9}); err == nil {
		t.Error("unknown image to count accepted")
	}
}

// TestBuildWords checks the corpus-level rules on a fixture: proper-noun
// tokens count for a lemma used as a common noun at least as often, and a
// lemma mostly tagged as something else is dropped by the noun share.
func TestBuildWords(t *testing.T) {
	c := &coco.Captions{
		Path: "fixture.json",
		IDs:  []int64{1, 2},
		Captions: [][]string{
			{"Frisbee on grass", "a frisbee", "a dog sits"},
			{"a Wii", "the Wii", "a dog sits", "dogs sit"},
		},
	}
	C, P, O := nouns.Common, nouns.Proper, nouns.Other
	w := func(l string, k nouns.Kind) nouns.Word { return nouns.Word{Lemma: l, Kind: k} }
	words := [][]nouns.Word{
		{w("frisbee", P), w("on", O), w("grass", C)},
		{w("a", O), w("frisbee", C)},
		{w("a", O), w("dog", C), w("sit", C)},
		{w("a", O), w("wii", P)},
		{w("the", O), w("wii", P)},
		{w("a", O), w("dog", C), w("sit", O)},
		{w("dog", C), w("sit", O), w("wii", C)},
	}
	v, s, dropped, err := BuildWords(c, words, Options{MinCount: 1, NounShare: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	want := []TagCount{{Tag: "dog", Count: 3, NounShare: 1}, {Tag: "frisbee", Count: 2, NounShare: 1}, {Tag: "grass", Count: 1, NounShare: 1}}
	if !slices.Equal(v.Tags, want) {
		t.Errorf("tags %+v, want %+v", v.Tags, want)
	}
	if len(dropped) != 2 || dropped[1].Tag != "wii" || !strings.Contains(dropped[1].Reason, "proper noun") ||
		dropped[0].Tag != "sit" || dropped[0].Tokens != 3 || dropped[0].Nouns != 1 || !strings.Contains(dropped[0].Reason, "33%") {
		t.Errorf("dropped %+v", dropped)
	}
	// Image 1: frisbee in 2 of 3 captions (one of them "Frisbee", NNP).
	if got := s.Importance[1]; got != float32(2)/3 {
		t.Errorf("frisbee importance %g, want 2/3", got)
	}
	// Without the share check sit is a tag.
	v, _, _, _ = BuildWords(c, words, Options{MinCount: 1})
	if !slices.Contains(v.Names(), "sit") {
		t.Errorf("noun share 0 dropped sit: %v", v.Names())
	}
	if _, _, _, err := BuildWords(c, words, Options{MinCount: 1, NounShare: 1.5}); err == nil {
		t.Error("noun share 1.5 accepted")
	}
}

func TestCarveVal(t *testing.T) {
	ids := make([]int64, 100)
	for i := range ids {
		ids[i] = int64(3 * i)
	}
	s, err := MakeSplits(ids, 60, 30, 5)
	if err != nil {
		t.Fatal(err)
	}
	train := slices.Clone(s.Train)
	if err := s.CarveVal(10); err != nil {
		t.Fatal(err)
	}
	if len(s.Val) != 10 || len(s.Train) != 50 || len(s.Test) != 30 {
		t.Fatalf("sizes train %d val %d test %d", len(s.Train), len(s.Val), len(s.Test))
	}
	both := slices.Concat(s.Train, s.Val)
	slices.Sort(both)
	if !slices.Equal(both, train) {
		t.Error("train ∪ val is not the old train split")
	}
	again, _ := MakeSplits(ids, 60, 30, 5)
	again.CarveVal(10)
	if !slices.Equal(again.Val, s.Val) {
		t.Error("validation split not reproducible")
	}
	other, _ := MakeSplits(ids, 60, 30, 6)
	other.CarveVal(10)
	if slices.Equal(other.Val, s.Val) {
		t.Error("seed does not change the validation split")
	}
	for _, n := range []int{0, 50} {
		if err := s.CarveVal(n); err == nil {
			t.Errorf("--val %d accepted", n)
		}
	}
	dir := t.TempDir()
	c, nouns := fixture()
	v, set, _ := Build(c, nouns, 1)
	sp := &Splits{Seed: 1, Train: []int64{1}, Test: []int64{2}, Val: []int64{2}}
	if err := WriteDir(dir, v, set, sp); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSplits(dir); err == nil || !strings.Contains(err.Error(), "validation image 2") {
		t.Errorf("overlapping validation split: %v", err)
	}
}
