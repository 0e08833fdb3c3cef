package nouns

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// Kind says how the tagger read a word of a caption.
type Kind uint8

const (
	// Other is any tag but a noun's (verbs, adjectives, determiners, ...).
	Other Kind = iota
	// Common is a common noun (NN, NNS).
	Common
	// Proper is a proper noun (NNP, NNPS): "Frisbee", a name, or a
	// capitalised common noun the tagger took for one. Whether it counts
	// as its lower-case lemma is decided over the whole corpus (package
	// tagimp/data/labels), not here.
	Proper
)

// Word is one word-like token of a caption (letters, hyphens and
// apostrophes): its lemma as a noun (lower-cased and singular, see Lemma;
// for a verb or adjective the same rules give "sits" → "sit", "blue" →
// "blue", so every token that could be read as a tag is counted under the
// tag it would be) and how the tagger read it.
type Word struct {
	Lemma string
	Kind  Kind
}

// Words returns the word-like tokens of a caption in order, with their
// lemmas and kinds. Nouns is the lemmas of its Common words.
func (t *Tagger) Words(caption string) []Word {
	sc := t.getScorer()
	defer t.putScorer(sc)
	return sc.tagWords(caption)
}

// WordsAll is Words of every caption, in caption order, spread over
// workers goroutines like NounsAll (the result does not depend on workers).
func (t *Tagger) WordsAll(captions []string, workers int, progress func(done, total int)) [][]Word {
	out := make([][]Word, len(captions))
	t.parallel(len(captions), workers, progress, func(sc *scorer, i int) { out[i] = sc.tagWords(captions[i]) })
	return out
}

// CaseStats counts how the words of captions are written where case
// carries information: anywhere but at the start of a sentence.
type CaseStats struct {
	Lower   map[string]int // lower-case key → tokens written all in lower case
	Capital map[string]int // lower-case key → tokens written with a leading capital
}

// LearnCase counts, over captions, how every word is written away from the
// start of a sentence, and makes the tagger lower-case a capitalised word
// at the start of a sentence ("Woman carrying a bunch of bananas") when the
// corpus writes that word in lower case more often than capitalised in the
// middle of sentences. A sentence-initial capital says nothing about the
// word; a mid-sentence one does, so those words are left alone (the
// tagger's proper nouns are resolved over the corpus by package labels).
// Words never seen mid-sentence keep their case. Call it once, before
// tagging; it is not safe to call while the tagger is in use. It returns
// the counts it used.
func (t *Tagger) LearnCase(captions []string) *CaseStats {
	st := &CaseStats{Lower: map[string]int{}, Capital: map[string]int{}}
	sc := t.getScorer()
	for _, caption := range captions {
		if lowerFirst(caption) {
			continue // all capitals or title case: case says nothing
		}
		start := true
		for _, span := range strings.FieldsFunc(caption, unicode.IsSpace) {
			for _, tok := range sc.split(span) {
				if !start && wordLike(tok) {
					r, _ := utf8.DecodeRuneInString(tok)
					low := strings.ToLower(tok)
					switch {
					case tok == low:
						st.Lower[low]++
					case unicode.IsUpper(r):
						st.Capital[low]++
					}
				}
				start = sentenceEnd(tok)
			}
		}
	}
	t.putScorer(sc)
	lower := map[string]bool{}
	for w, n := range st.Lower {
		if n > st.Capital[w] {
			lower[w] = true
		}
	}
	t.mu.Lock()
	t.lowerStart = lower
	t.idle = nil // scorers cache tags made without these rules
	t.mu.Unlock()
	return st
}

// sentenceEnd reports whether the token ends a sentence, so that the next
// one starts a new one.
func sentenceEnd(tok string) bool {
	return tok == "." || tok == "!" || tok == "?"
}

// truecase lower-cases, in place, the sentence-initial tokens LearnCase
// found written in lower case in the corpus.
func (sc *scorer) truecase(toks []Token) {
	lower := sc.t.lowerStart
	if len(lower) == 0 {
		return
	}
	start := true
	for i, tok := range toks {
		if start {
			if r, _ := utf8.DecodeRuneInString(tok.Text); unicode.IsUpper(r) {
				if low := strings.ToLower(tok.Text); lower[low] {
					toks[i].Text = low
				}
			}
		}
		start = sentenceEnd(tok.Text)
	}
}

// parallel runs f(sc, i) for i in [0, n) on workers goroutines
// (GOMAXPROCS when workers < 1), each with its own scorer. progress, when
// not nil, is called from the calling goroutine with the items done so far
// and n.
func (t *Tagger) parallel(n, workers int, progress func(done, total int), f func(sc *scorer, i int)) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 256
	var next, done atomic.Int64
	var wg sync.WaitGroup
	finished := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := t.getScorer()
			defer t.putScorer(sc)
			for {
				start := int(next.Add(chunk)) - chunk
				if start >= n {
					return
				}
				end := min(start+chunk, n)
				for i := start; i < end; i++ {
					f(sc, i)
				}
				done.Add(int64(end - start))
			}
		}()
	}
	go func() { wg.Wait(); close(finished) }()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	if progress != nil {
		progress(0, n)
	}
	for {
		select {
		case <-finished:
			if progress != nil {
				progress(n, n)
			}
			return
		case <-ticker.C:
			if progress != nil {
				progress(int(done.Load()), n)
			}
		}
	}
}
