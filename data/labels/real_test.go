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
)

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
