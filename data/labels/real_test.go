package labels

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"tagimp/data/coco"
	"tagimp/data/nouns"
	"tagimp/internal/realdata"
)

var (
	valOnce  sync.Once
	valCaps  *coco.Captions
	valNouns [][]string
	valErr   error

	wordsOnce sync.Once
	valWords  [][]nouns.Word
	wordsErr  error
)

// val2017Words tags captions_val2017.json as tagimp-gpu vocab does: case
// learnt from the captions, every word with its kind.
func val2017Words(t testing.TB) (*coco.Captions, [][]nouns.Word) {
	t.Helper()
	c, _ := val2017(t)
	wordsOnce.Do(func() {
		var tg *nouns.Tagger
		tg, wordsErr = nouns.NewTagger()
		if wordsErr != nil {
			return
		}
		texts, _ := c.Flat()
		tg.LearnCase(texts)
		valWords = tg.WordsAll(texts, 0, nil)
	})
	if wordsErr != nil {
		t.Fatal(wordsErr)
	}
	return c, valWords
}

// val2017 reads captions_val2017.json and tags it once for all tests.
func val2017(t testing.TB) (*coco.Captions, [][]string) {
	t.Helper()
	path := filepath.Join(realdata.Dir(t), "coco", "captions_val2017.json")
	valOnce.Do(func() {
		valCaps, valErr = coco.Read(path, nil)
		if valErr != nil {
			return
		}
		var tg *nouns.Tagger
		tg, valErr = nouns.NewTagger()
		if valErr != nil {
			return
		}
		texts, _ := valCaps.Flat()
		valNouns = tg.NounsAll(texts, 0, nil)
	})
	if valErr != nil {
		t.Fatal(valErr)
	}
	return valCaps, valNouns
}

// TestVal2017 builds the vocabulary of the real val2017 captions at
// min-count 125 and checks it against the captions.
func TestVal2017(t *testing.T) {
	c, ns := val2017(t)
	v, s, err := Build(c, ns, 125)
	if err != nil {
		t.Fatal(err)
	}
	names := v.Names()
	t.Logf("%d tags: %v", len(names), names)
	for _, want := range []string{"man", "woman", "person", "dog", "cat", "table", "street", "pizza", "train", "bus", "tennis", "people"} {
		if !slices.Contains(names, want) {
			t.Errorf("vocabulary lacks %q", want)
		}
	}
	// A mangled lemma ("tenni", "bu", "glasse") is not a word of any
	// caption; every tag must be.
	words := map[string]bool{}
	split := regexp.MustCompile(`[a-z][a-z'-]*`)
	texts, _ := c.Flat()
	for _, text := range texts {
		for _, w := range split.FindAllString(strings.ToLower(text), -1) {
			words[w] = true
		}
	}
	for _, tag := range names {
		if !words[tag] {
			t.Errorf("tag %q is not a word of any caption: mangled lemma?", tag)
		}
	}
	for _, bad := range []string{"tenni", "bu", "glasse", "gras", "dres", "pant", "scissor", "men", "dogs", "skis"} {
		if slices.Contains(names, bad) {
			t.Errorf("vocabulary holds %q", bad)
		}
	}
	// Hand-checked against the captions (see the README of the data).
	for _, h := range []struct {
		id  int64
		tag string
		imp float32
	}{
		{39769, "cat", 1}, {22192, "dog", 1}, {22192, "bed", 0.6}, {11813, "laptop", 0.6},
	} {
		i, ok := slices.BinarySearch(s.IDs, h.id)
		j := slices.Index(names, h.tag)
		if !ok || j < 0 {
			t.Errorf("image %d or tag %q missing", h.id, h.tag)
			continue
		}
		if got := s.Importance[i*len(names)+j]; got != h.imp {
			t.Errorf("image %d %s: importance %g, want %g; captions %q", h.id, h.tag, got, h.imp, c.Captions[i])
		}
	}
	// Counts equal the summed mentions: count(t) = Σ_i importance × captions.
	for j, tc := range v.Tags {
		sum := 0.0
		for i := range s.IDs {
			sum += float64(s.Importance[i*len(names)+j]) * float64(len(c.Captions[i]))
		}
		if int(sum+0.5) != tc.Count {
			t.Errorf("tag %s: count %d, labels sum to %.2f", tc.Tag, tc.Count, sum)
		}
	}
}

// TestCapitalsVal2017 checks that capitalised common nouns count on the
// real val2017 captions: sentence-initial capitals ("Woman carrying a bunch
// of bananas") and NNP tokens whose lemma the corpus uses as a common noun
// ("a Frisbee"), against the labels of NN/NNS tokens only (the old rule).
func TestCapitalsVal2017(t *testing.T) {
	c, ns := val2017(t)
	_, ws := val2017Words(t)
	v0, s0, err := Build(c, ns, 125)
	if err != nil {
		t.Fatal(err)
	}
	v1, s1, dropped, err := BuildWords(c, ws, Options{MinCount: 125})
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 0 {
		t.Errorf("without --noun-share nothing is dropped, got %+v", dropped)
	}
	old := map[string]int{}
	for _, tc := range v0.Tags {
		old[tc.Tag] = tc.Count
	}
	gain := map[string]int{}
	total := 0
	for _, tc := range v1.Tags {
		// Tagged with its first word in lower case, a caption can now
		// and then lose a noun elsewhere; a few, not more.
		if tc.Count < old[tc.Tag]-3 {
			t.Errorf("%s: %d mentions, %d before", tc.Tag, tc.Count, old[tc.Tag])
		}
		gain[tc.Tag] = tc.Count - old[tc.Tag]
		total += gain[tc.Tag]
	}
	// Independently counted from the captions (issue 9): frisbee 78,
	// woman 55, group 38, street 27, person 26, cat 24, giraffe 22, child
	// 19, zebra 17 mentions lost to capitals.
	for tag, want := range map[string]int{"frisbee": 78, "woman": 55, "group": 38, "street": 27, "person": 26, "cat": 24, "giraffe": 21, "child": 19, "zebra": 17} {
		if gain[tag] < want {
			t.Errorf("%s: %d mentions recovered, want at least %d", tag, gain[tag], want)
		}
	}
	if old["night"] != 0 || gain["night"] < 125 {
		t.Errorf("night: %d mentions before, %d recovered; want it under min-count 125 before and in the vocabulary now", old["night"], gain["night"])
	}
	// Count the cells that changed.
	raised, gained, fell := 0, 0, 0
	names0 := v0.Names()
	for j0, tag := range names0 {
		j1 := slices.Index(v1.Names(), tag)
		for i := range s0.IDs {
			a, b := s0.Importance[i*len(names0)+j0], s1.Importance[i*len(v1.Tags)+j1]
			switch {
			case b < a:
				fell++
			case b > a:
				raised++
				if a == 0 {
					gained++
				}
			}
		}
	}
	t.Logf("val2017 at min-count 125: %d tags before, %d now; %d mentions gained (net); %d (image, tag) cells raised, %d of them gained the tag; %d lowered", len(v0.Tags), len(v1.Tags), total, raised, gained, fell)
	if raised < 500 || gained < 100 || fell > raised/20 {
		t.Errorf("%d cells raised, %d gained, %d lowered; the issue counted 559 and 111 to raise", raised, gained, fell)
	}
	// The example caption.
	i, _ := slices.BinarySearch(c.IDs, 147740)
	j := slices.Index(v1.Names(), "woman")
	if got := s1.Importance[i*len(v1.Tags)+j]; got == 0 {
		t.Errorf("image 147740 (%q): no woman", c.Captions[i])
	}
}

// TestNounShareVal2017 checks the default --noun-share on the real val2017
// captions at min-count 125: it drops the verbs and adjectives the tagger
// now and then calls nouns, and nothing else.
func TestNounShareVal2017(t *testing.T) {
	c, ws := val2017Words(t)
	v, _, dropped, err := BuildWords(c, ws, Options{MinCount: 125, NounShare: DefaultNounShare})
	if err != nil {
		t.Fatal(err)
	}
	var gone []string
	for _, d := range dropped {
		gone = append(gone, d.Tag)
		t.Logf("dropped %s: %s", d.Tag, d.Reason)
	}
	slices.Sort(gone)
	if want := []string{"blue", "sit", "stand", "standing"}; !slices.Equal(gone, want) {
		t.Errorf("dropped %v, want %v", gone, want)
	}
	names := v.Names()
	for _, keep := range []string{"people", "person", "glasses", "glass", "man", "frisbee", "laptop", "night"} {
		if !slices.Contains(names, keep) {
			t.Errorf("vocabulary lacks %q", keep)
		}
	}
	for _, tc := range v.Tags {
		if tc.NounShare < DefaultNounShare || tc.NounShare > 1 {
			t.Errorf("%s: noun share %g", tc.Tag, tc.NounShare)
		}
	}
	t.Logf("%d tags: %v", len(names), names)
}

// BenchmarkVocabVal2017 measures the whole caption pass of tagimp-gpu vocab
// on the real val2017 file: read, tag (all cores), count and label.
func BenchmarkVocabVal2017(b *testing.B) {
	path := filepath.Join(realdata.Dir(b), "coco", "captions_val2017.json")
	tg, err := nouns.NewTagger()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	captions := 0
	for i := 0; i < b.N; i++ {
		c, err := coco.Read(path, nil)
		if err != nil {
			b.Fatal(err)
		}
		texts, _ := c.Flat()
		if _, _, err := Build(c, tg.NounsAll(texts, 0, nil), 125); err != nil {
			b.Fatal(err)
		}
		captions += len(texts)
	}
	b.ReportMetric(float64(captions)/b.Elapsed().Seconds(), "captions/s")
}
