package labels

import (
	"cmp"
	"fmt"
	"slices"

	"tagimp/data/coco"
	"tagimp/data/nouns"
)

// Build counts the tags of a caption file and labels its images with the
// tags counted at least minCount times. nouns[k] are the noun lemmas of the
// k-th caption of c.Flat(), as nouns.Tagger.NounsAll returns them.
func Build(c *coco.Captions, nouns [][]string, minCount int) (*Vocab, *Set, error) {
	return BuildOn(c, nouns, minCount, nil)
}

// BuildOn is Build with the tags counted over the captions of the images
// countIDs only (the training split: the test images' captions must not
// choose the vocabulary); nil counts every image. All images of c are
// labelled. Vocab.Images and Vocab.Captions describe the counted images.
// Every lemma given is taken for a common noun: no noun share is checked
// (BuildWords does that).
func BuildOn(c *coco.Captions, ns [][]string, minCount int, countIDs []int64) (*Vocab, *Set, error) {
	v, s, _, err := BuildWords(c, commonWords(ns), Options{MinCount: minCount, Count: countIDs})
	if err != nil {
		return nil, nil, err
	}
	for i := range v.Tags {
		v.Tags[i].NounShare = 0 // not measured: the input held nouns only
	}
	return v, s, nil
}

// commonWords turns noun lemmas into words of kind Common.
func commonWords(ns [][]string) [][]nouns.Word {
	out := make([][]nouns.Word, len(ns))
	for k, caption := range ns {
		out[k] = make([]nouns.Word, len(caption))
		for j, l := range caption {
			out[k][j] = nouns.Word{Lemma: l, Kind: nouns.Common}
		}
	}
	return out
}

// Options says how BuildWords chooses the vocabulary.
type Options struct {
	// MinCount: a tag must be mentioned in at least this many counted
	// captions (the paper's rule; 1000 over ~32k train2014 images).
	MinCount int
	// NounShare: a tag's tokens in the counted captions must be tagged as
	// nouns in at least this share of its occurrences (our addition, not
	// the paper's; 0 disables the check). See DefaultNounShare.
	NounShare float64
	// Count lists the images whose captions are counted (the training
	// split); nil counts every image.
	Count []int64
}

// DefaultNounShare is the default of tagimp-gpu vocab --noun-share. It is
// our choice, not the paper's (the paper counts NN/NNS tokens and gives no
// such check), measured on the val2017 captions at min-count 125
// (TestNounShareVal2017): the lemmas that reach min-count have noun shares
// standing 0.10, blue 0.27, stand 0.32, sit 0.48 (verbs and adjectives the
// tagger sometimes calls nouns: "sits" NNS 227 times), then stop 0.53,
// laptop 0.57, sheep 0.63, couch 0.63, ski 0.66, back 0.67 (nouns the
// tagger reads as adjectives when they modify another noun: "stop sign",
// "laptop computer") and every other tag above 0.72, most above 0.9. 0.5
// is the natural cut in that gap, "counted as a noun more often than not";
// the gap is narrow (0.48 to 0.53), so it is printed with what it drops.
// It does not touch words the tagger rightly calls nouns: place words
// (top, front, side, middle) and orange (NN in 253 of its 347 tokens,
// colour and fruit alike).
const DefaultNounShare = 0.5

// Dropped is a lemma that was mentioned in at least MinCount captions but
// is not a tag, and why.
type Dropped struct {
	Tag       string  // the lemma
	Count     int     // captions mentioning it as a noun
	Tokens    int     // its tokens in the counted captions, any POS
	Nouns     int     // of those, tokens counted as nouns
	Proper    int     // tokens tagged as proper nouns (NNP, NNPS)
	NounShare float64 // Nouns / Tokens
	Reason    string  // one line: why it was dropped
}

// BuildWords counts the tags of a caption file and labels its images.
// words[k] are the words of the k-th caption of c.Flat(), as
// nouns.Tagger.WordsAll returns them. The counting is corpus-level:
//
//   - a common-noun token (NN, NNS) mentions its lemma;
//   - a proper-noun token (NNP, NNPS: "Frisbee", a capitalised "Woman"
//     the tagger took for a name) mentions its lower-case lemma when the
//     counted captions use that lemma as a common noun at least as often
//     as as a proper noun; a lemma used more often as a name ("Wii") is
//     not a tag;
//   - a lemma mentioned in at least o.MinCount captions is a tag when its
//     noun share (tokens counted as nouns / all its tokens, any POS) is at
//     least o.NounShare: "sits" tagged NNS now and then does not make
//     "sit" a tag when most of its tokens are verbs.
//
// Lemmas that reach o.MinCount but fail a check are returned as Dropped,
// most frequent first.
func BuildWords(c *coco.Captions, words [][]nouns.Word, o Options) (*Vocab, *Set, []Dropped, error) {
	texts, image := c.Flat()
	if len(words) != len(texts) {
		return nil, nil, nil, fmt.Errorf("labels for %s: %d word lists for %d captions", c.Path, len(words), len(texts))
	}
	if o.MinCount < 1 {
		return nil, nil, nil, fmt.Errorf("labels for %s: min-count %d, want at least 1", c.Path, o.MinCount)
	}
	if !(o.NounShare >= 0 && o.NounShare <= 1) {
		return nil, nil, nil, fmt.Errorf("labels for %s: noun share %g outside [0, 1]", c.Path, o.NounShare)
	}
	counted := make([]bool, len(c.IDs))
	for i := range counted {
		counted[i] = o.Count == nil
	}
	for _, id := range o.Count {
		i, ok := slices.BinarySearch(c.IDs, id)
		if !ok {
			return nil, nil, nil, fmt.Errorf("labels for %s: image %d to count is not in the file", c.Path, id)
		}
		counted[i] = true
	}
	v := &Vocab{MinCount: o.MinCount, NounShare: o.NounShare}
	for i, cs := range c.Captions {
		if counted[i] {
			v.Images++
			v.Captions += len(cs)
		}
	}
	type stat struct{ tokens, common, proper int }
	stats := map[string]*stat{}
	for k, ws := range words {
		if !counted[image[k]] {
			continue
		}
		for _, w := range ws {
			s := stats[w.Lemma]
			if s == nil {
				s = &stat{}
				stats[w.Lemma] = s
			}
			s.tokens++
			switch w.Kind {
			case nouns.Common:
				s.common++
			case nouns.Proper:
				s.proper++
			}
		}
	}
	admit := func(lemma string) bool { s := stats[lemma]; return s != nil && s.common > 0 && s.common >= s.proper }
	counts := map[string]int{}
	for k, ws := range words {
		if !counted[image[k]] {
			continue
		}
		for _, l := range mentioned(ws, func(w nouns.Word) bool {
			return w.Kind == nouns.Common || w.Kind == nouns.Proper && admit(w.Lemma)
		}) {
			counts[l]++
		}
	}
	if len(counts) == 0 {
		return nil, nil, nil, fmt.Errorf("labels for %s: no caption has a noun; is the file English captions?", c.Path)
	}
	var dropped []Dropped
	for tag, n := range counts {
		if n < o.MinCount {
			continue
		}
		s := stats[tag]
		asNoun := s.common
		if admit(tag) {
			asNoun += s.proper
		}
		share := float64(asNoun) / float64(s.tokens)
		d := Dropped{Tag: tag, Count: n, Tokens: s.tokens, Nouns: asNoun, Proper: s.proper, NounShare: share}
		switch {
		case !admit(tag):
			d.Reason = fmt.Sprintf("used as a proper noun (%d tokens) more often than as a common noun (%d)", s.proper, s.common)
		case share < o.NounShare:
			d.Reason = fmt.Sprintf("a noun in %.0f%% of its %d tokens (%d), under --noun-share %g", 100*share, s.tokens, asNoun, o.NounShare)
		default:
			v.Tags = append(v.Tags, TagCount{Tag: tag, Count: n, NounShare: share})
			continue
		}
		dropped = append(dropped, d)
	}
	if len(v.Tags) == 0 {
		top := TagCount{}
		for tag, n := range counts {
			if n > top.Count || n == top.Count && tag < top.Tag {
				top = TagCount{Tag: tag, Count: n}
			}
		}
		return nil, nil, nil, fmt.Errorf("labels for %s: min-count %d leaves no tag (the most frequent noun, %q, is in %d captions); lower --min-count", c.Path, o.MinCount, top.Tag, top.Count)
	}
	byCount := func(a, b string, na, nb int) int {
		if na != nb {
			return nb - na
		}
		return cmp.Compare(a, b)
	}
	slices.SortFunc(v.Tags, func(a, b TagCount) int { return byCount(a.Tag, b.Tag, a.Count, b.Count) })
	slices.SortFunc(dropped, func(a, b Dropped) int { return byCount(a.Tag, b.Tag, a.Count, b.Count) })
	s, err := ApplyWords(c, words, v)
	if err != nil {
		return nil, nil, nil, err
	}
	return v, s, dropped, nil
}

// Apply labels the images of c over a fixed vocabulary v (for a test file
// labelled with the vocabulary of the training file). Nouns outside v are
// ignored.
func Apply(c *coco.Captions, ns [][]string, v *Vocab) (*Set, error) {
	return ApplyWords(c, commonWords(ns), v)
}

// ApplyWords labels the images of c over a fixed vocabulary v. A caption
// mentions a tag when one of its common- or proper-noun words has the
// tag's lemma (every tag of a vocabulary BuildWords made is used as a
// common noun at least as often as as a proper one). Other words are
// ignored.
func ApplyWords(c *coco.Captions, words [][]nouns.Word, v *Vocab) (*Set, error) {
	texts, image := c.Flat()
	if len(words) != len(texts) {
		return nil, fmt.Errorf("labels for %s: %d word lists for %d captions", c.Path, len(words), len(texts))
	}
	if err := v.check(); err != nil {
		return nil, fmt.Errorf("labels for %s: %w", c.Path, err)
	}
	names := v.Names()
	index := make(map[string]int, len(names))
	for j, t := range names {
		index[t] = j
	}
	n, t := len(c.IDs), len(names)
	s := &Set{
		IDs:        slices.Clone(c.IDs),
		Tags:       names,
		Presence:   make([]uint8, n*t),
		Importance: make([]float32, n*t),
	}
	mentions := make([]int, n*t)
	for k, ws := range words {
		row := image[k] * t
		for _, l := range mentioned(ws, func(w nouns.Word) bool { return w.Kind != nouns.Other }) {
			if j, ok := index[l]; ok {
				mentions[row+j]++
			}
		}
	}
	for i, caps := range c.Captions {
		for j := 0; j < t; j++ {
			m := mentions[i*t+j]
			if m > 0 {
				s.Importance[i*t+j] = float32(m) / float32(len(caps))
				s.Presence[i*t+j] = 1
			}
		}
	}
	return s, nil
}

// mentioned returns the distinct lemmas of the words keep accepts, in
// first-seen order: a caption naming a tag twice mentions it once.
func mentioned(ws []nouns.Word, keep func(nouns.Word) bool) []string {
	var out []string
	for _, w := range ws {
		if keep(w) && !slices.Contains(out, w.Lemma) {
			out = append(out, w.Lemma)
		}
	}
	return out
}
