package nouns

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/jdkato/prose/v2"
	"github.com/mingrammer/commonregex"
)

// classWeight is one (POS class, weight) pair of a perceptron feature.
type classWeight struct {
	class int
	w     float64
}

// special is the fixed tag of a token the perceptron does not score.
type special struct {
	tag string
	ok  bool
}

// maxClasses bounds the POS classes (prose's English model has 38), so a
// uint64 can mark which classes a feature scored.
const maxClasses = 64

// Tagger finds the nouns of captions. It is safe for concurrent use; make
// one with NewTagger and share it (loading the model takes about half a
// second). It keeps, per worker, caches that grow with the distinct words
// and spans it has seen (tens of thousands for all of COCO, a few MB).
type Tagger struct {
	weights map[string][]classWeight // feature → its class weights
	tagMap  map[string]string        // unambiguous words → their fixed tag
	classes []string                 // class index → POS tag, sorted

	tokenModel *prose.Model // empty model: prose is used for tokenising only

	mu   sync.Mutex
	idle []*scorer // scorers (with their caches) not in use

	// lowerStart holds the lower-case forms of the words LearnCase found
	// written in lower case mid-sentence more often than capitalised; a
	// capitalised sentence-initial token of one is tagged in lower case.
	lowerStart map[string]bool
}

// NewTagger loads prose's English averaged-perceptron POS model.
func NewTagger() (*Tagger, error) {
	var weights map[string]map[string]float64
	var tagMap map[string]string
	for _, a := range []struct {
		name string
		dst  any
	}{
		{"weights.gob", &weights},
		{"tags.gob", &tagMap},
	} {
		b, err := prose.Asset("model/AveragedPerceptron/" + a.name)
		if err != nil {
			return nil, fmt.Errorf("load prose POS model %s: %w", a.name, err)
		}
		if err := gob.NewDecoder(bytes.NewReader(b)).Decode(a.dst); err != nil {
			return nil, fmt.Errorf("decode prose POS model %s: %w", a.name, err)
		}
	}
	t := &Tagger{
		weights:    make(map[string][]classWeight, len(weights)),
		tagMap:     tagMap,
		tokenModel: &prose.Model{},
	}
	// Number the classes alphabetically so that ties are broken the same
	// way in every run (prose picks among tied classes at random).
	seen := map[string]bool{}
	for _, ws := range weights {
		for class := range ws {
			if !seen[class] {
				seen[class] = true
				t.classes = append(t.classes, class)
			}
		}
	}
	slices.Sort(t.classes)
	if len(t.classes) > maxClasses {
		return nil, fmt.Errorf("prose POS model has %d classes, this tagger handles at most %d", len(t.classes), maxClasses)
	}
	index := make(map[string]int, len(t.classes))
	for i, c := range t.classes {
		index[c] = i
	}
	for feat, ws := range weights {
		list := make([]classWeight, 0, len(ws))
		for class, w := range ws {
			list = append(list, classWeight{index[class], w})
		}
		slices.SortFunc(list, func(a, b classWeight) int { return a.class - b.class })
		t.weights[feat] = list
	}
	return t, nil
}

// Token is a word of a caption with its POS tag.
type Token struct {
	Text string
	Tag  string
}

// Tag splits a caption into tokens exactly as prose's tokenizer does and
// POS-tags them with prose's averaged perceptron.
func (t *Tagger) Tag(caption string) []Token {
	sc := t.getScorer()
	defer t.putScorer(sc)
	return sc.tagCaption(caption)
}

// Nouns returns the lemmas of the caption's NN and NNS tokens in caption
// order, duplicates kept. Tokens without a letter, or with characters other
// than letters, hyphens and apostrophes, are not tags and are dropped. A
// caption written all in capitals is tagged in lower case.
func (t *Tagger) Nouns(caption string) []string {
	sc := t.getScorer()
	defer t.putScorer(sc)
	return sc.nouns(caption)
}

// getScorer takes an idle scorer, keeping the caches it built, or makes
// one; putScorer gives it back.
func (t *Tagger) getScorer() *scorer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.idle); n > 0 {
		sc := t.idle[n-1]
		t.idle = t.idle[:n-1]
		return sc
	}
	return t.newScorer()
}

func (t *Tagger) putScorer(sc *scorer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.idle = append(t.idle, sc)
}

// specialTag is the tag prose gives a token before asking its perceptron:
// "-", emoticons, links and e-mail addresses, "-NONE-" and "-XXX-" tokens.
// The regular expressions only run on tokens holding the character each
// one needs (a link a ".", an address an "@", "-NONE-" a "0" or "*", "-XXX-"
// a leading "-"): the same answers, without backtracking over every word.
func specialTag(word string) special {
	switch {
	case word == "-":
		return special{"-", true}
	case emoticons[word]:
		return special{"SYM", true}
	case strings.Contains(word, ".") && commonregex.LinkRegex.MatchString(word),
		strings.Contains(word, "@") && commonregex.EmailRegex.MatchString(word),
		strings.HasPrefix(word, "@"):
		return special{"NN", true}
	case strings.ContainsAny(word, "0*") && noneRE.MatchString(word):
		return special{"-NONE-", true}
	case strings.HasPrefix(word, "-") && keepRE.MatchString(word):
		return special{word, true}
	}
	return special{}
}

// wordLike reports whether a token can be a tag: at least one letter and
// only letters, hyphens and apostrophes.
func wordLike(s string) bool {
	letter := false
	for _, r := range s {
		switch {
		case r == '-' || r == '\'':
		case unicode.IsLetter(r):
			letter = true
		default:
			return false
		}
	}
	return letter
}

// suffix is the last three bytes of s (all of s when shorter), as prose
// takes it.
func suffix(s string) string {
	if len(s) > 3 {
		return s[len(s)-3:]
	}
	return s
}

// normalize is prose's context normalisation of a word (prose tests
// strconv.Atoi(word) == nil for "!YEAR" and Atoi of the first character for
// "!DIGITS"; isInt is that test without Atoi's error allocations).
func normalize(word string) string {
	if word == "" {
		return word
	}
	if strings.Contains(word, "-") && word[0] != '-' {
		return "!HYPHEN"
	}
	if len(word) == 4 && isInt(word) {
		return "!YEAR"
	}
	if '0' <= word[0] && word[0] <= '9' {
		return "!DIGITS"
	}
	return strings.ToLower(word)
}

// isInt reports whether strconv.Atoi accepts s (short s: no overflow).
func isInt(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
