package nouns

import (
	"math"
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jdkato/prose/v2"
)

// scoreVec is the summed class weights of some features; seen marks the
// classes any of them scored (prose only ranks those).
type scoreVec struct {
	s    [maxClasses]float64
	seen uint64
}

func (v *scoreVec) add(o *scoreVec) {
	for m := o.seen; m != 0; m &= m - 1 {
		k := bits.TrailingZeros64(m)
		v.s[k] += o.s[k]
	}
	v.seen |= o.seen
}

// ctxVecs are the features a context word gives the token 1 and 2 places
// after it (prev, prev2) and before it (next, next2).
type ctxVecs struct {
	prev, prev2, next, next2 scoreVec
}

// wordInfo is what a token's text alone decides.
type wordInfo struct {
	special special   // fixed tag before the perceptron
	fixed   string    // tag from prose's tag map, when fixedOK
	fixedOK bool      //
	norm    string    // normalize(text)
	self    *scoreVec // bias + "i suffix", "i pref1", "i word"
	ctx     *ctxVecs  // what it gives its neighbours
}

// scorer tags captions with prose's averaged perceptron, caching the
// feature sums of every word it meets. prose scores a token with 14
// features: bias and three of its own text, five of the words around it,
// and four of the two previous tags; the word features are summed once per
// distinct word here, so a token costs a few look-ups and vector adds
// instead of 14 string-keyed map look-ups. Not safe for concurrent use.
type scorer struct {
	t     *Tagger
	words map[string]*wordInfo
	ctx   map[string]*ctxVecs
	tags  map[[2]string]*scoreVec // (p1, p2) → "i-1 tag", "i-2 tag", "i tag+i-2 tag"
	spans map[string][]string     // whitespace-free span → prose's tokens
	lemma map[string]string
	key   []byte
}

func (t *Tagger) newScorer() *scorer {
	return &scorer{
		t:     t,
		words: map[string]*wordInfo{},
		ctx:   map[string]*ctxVecs{},
		tags:  map[[2]string]*scoreVec{},
		spans: map[string][]string{},
		lemma: map[string]string{},
	}
}

// feature adds the weights of the feature named by parts joined by spaces.
func (sc *scorer) feature(v *scoreVec, parts ...string) {
	sc.key = sc.key[:0]
	for j, p := range parts {
		if j > 0 {
			sc.key = append(sc.key, ' ')
		}
		sc.key = append(sc.key, p...)
	}
	for _, cw := range sc.t.weights[string(sc.key)] {
		v.s[cw.class] += cw.w
		v.seen |= 1 << cw.class
	}
}

func (sc *scorer) word(text string) *wordInfo {
	if w, ok := sc.words[text]; ok {
		return w
	}
	w := &wordInfo{special: specialTag(text), norm: normalize(text), self: new(scoreVec)}
	w.fixed, w.fixedOK = sc.t.tagMap[text]
	sc.feature(w.self, "bias")
	sc.feature(w.self, "i suffix", suffix(text))
	if text != "" { // prose's tokens never are
		sc.feature(w.self, "i pref1", string(rune(text[0])))
	}
	sc.feature(w.self, "i word", w.norm)
	w.ctx = sc.context(w.norm)
	sc.words[text] = w
	return w
}

func (sc *scorer) context(norm string) *ctxVecs {
	if c, ok := sc.ctx[norm]; ok {
		return c
	}
	c := new(ctxVecs)
	sc.feature(&c.prev, "i-1 word", norm)
	sc.feature(&c.prev, "i-1 suffix", suffix(norm))
	sc.feature(&c.prev2, "i-2 word", norm)
	sc.feature(&c.next, "i+1 word", norm)
	sc.feature(&c.next, "i+1 suffix", suffix(norm))
	sc.feature(&c.next2, "i+2 word", norm)
	sc.ctx[norm] = c
	return c
}

func (sc *scorer) tagPair(p1, p2 string) *scoreVec {
	k := [2]string{p1, p2}
	if v, ok := sc.tags[k]; ok {
		return v
	}
	v := new(scoreVec)
	sc.feature(v, "i-1 tag", p1)
	sc.feature(v, "i-2 tag", p2)
	sc.feature(v, "i tag+i-2 tag", p1, p2)
	sc.tags[k] = v
	return v
}

// split tokenises one whitespace-free span with prose's tokenizer. prose
// tokenises a text span by span, so caching per span gives its tokens.
func (sc *scorer) split(span string) []string {
	if texts, ok := sc.spans[span]; ok {
		return texts
	}
	doc, _ := prose.NewDocument(span,
		prose.UsingModel(sc.t.tokenModel),
		prose.WithTagging(false),
		prose.WithExtraction(false),
		prose.WithSegmentation(false))
	var texts []string
	for _, tok := range doc.Tokens() {
		texts = append(texts, tok.Text)
	}
	sc.spans[span] = texts
	return texts
}

func (sc *scorer) tagCaption(caption string) []Token {
	var toks []Token
	for _, span := range strings.FieldsFunc(caption, unicode.IsSpace) {
		for _, text := range sc.split(span) {
			toks = append(toks, Token{Text: text})
		}
	}
	sc.tag(toks)
	return toks
}

func (sc *scorer) nouns(caption string) []string {
	var out []string
	for _, w := range sc.tagWords(caption) {
		if w.Kind == Common {
			out = append(out, w.Lemma)
		}
	}
	return out
}

// tagWords tags a caption and returns its word-like tokens with their lemmas
// and kinds.
func (sc *scorer) tagWords(caption string) []Word {
	if lowerFirst(caption) {
		// The tagger calls every word of "A CAT IN THE SINK" or "A Dog
		// on the Sofa." a proper noun (NNP); tagged in lower case it
		// finds cat and sink, dog and sofa.
		caption = strings.ToLower(caption)
	}
	var toks []Token
	for _, span := range strings.FieldsFunc(caption, unicode.IsSpace) {
		for _, text := range sc.split(span) {
			toks = append(toks, Token{Text: text})
		}
	}
	sc.truecase(toks)
	sc.tag(toks)
	out := make([]Word, 0, len(toks))
	for _, tok := range toks {
		if !wordLike(tok.Text) {
			continue
		}
		l, ok := sc.lemma[tok.Text]
		if !ok {
			l = Lemma(tok.Text)
			sc.lemma[tok.Text] = l
		}
		kind := Other
		switch tok.Tag {
		case "NN", "NNS":
			kind = Common
		case "NNP", "NNPS":
			kind = Proper
		}
		out = append(out, Word{l, kind})
	}
	return out
}

// startCtx and endCtx pad the context as prose does.
var startCtx, endCtx = [2]string{"-START-", "-START2-"}, [2]string{"-END-", "-END2-"}

// tag is prose's perceptronTagger.tag: the same special cases, context
// normalisation, features and weights (summed in another order, which can
// only matter for exact ties). Two departures, both fixes: every token
// keeps its own tag (prose's tokenizer shares one *Token between repeated
// spans, so there a repeated word shows the tag of its last occurrence),
// and ties go to the alphabetically first class (prose picks at random).
func (sc *scorer) tag(toks []Token) {
	n := len(toks)
	infos := make([]*wordInfo, n)
	ctx := make([]*ctxVecs, n+4)
	ctx[0], ctx[1] = sc.context(startCtx[0]), sc.context(startCtx[1])
	for i, tok := range toks {
		infos[i] = sc.word(tok.Text)
		ctx[i+2] = infos[i].ctx
	}
	ctx[n+2], ctx[n+3] = sc.context(endCtx[0]), sc.context(endCtx[1])

	classes := sc.t.classes
	p1, p2 := startCtx[0], startCtx[1]
	for i := range toks {
		info := infos[i]
		var tag string
		switch {
		case info.special.ok:
			tag = info.special.tag
		case info.fixedOK:
			tag = info.fixed
		default:
			c := i + 2
			v := *info.self
			v.add(&ctx[c-1].prev)
			v.add(&ctx[c-2].prev2)
			v.add(&ctx[c+1].next)
			v.add(&ctx[c+2].next2)
			v.add(sc.tagPair(p1, p2))
			sc.feature(&v, "i-1 tag+i word", p1, info.norm)
			best := math.Inf(-1)
			for m := v.seen; m != 0; m &= m - 1 {
				k := bits.TrailingZeros64(m)
				if v.s[k] > best {
					best, tag = v.s[k], classes[k]
				}
			}
		}
		toks[i].Tag = tag
		p2, p1 = p1, tag
	}
}

// lowerFirst reports whether a caption is tagged in lower case: when most
// of its letters are capitals ("A CAT IN THE SINK", "tHERE ARE TWO MEN",
// 0.8% of COCO's captions), or when it is written in title case ("A Dog on
// the Sofa.", "A Do Not Enter Sign"): at least two of its words after the
// first start with a capital, and more than half of those words do,
// leaving out the short function words title case keeps in lower case.
// A caption with one or two names in it ("A man riding a Nintendo Wii
// controller") keeps its case, so the names stay proper nouns.
func lowerFirst(s string) bool {
	upper, lower, inner := 0, 0, 0
	start, first := true, true
	for i := 0; i < len(s); {
		// ASCII byte by byte (nearly all of COCO), other runes decoded.
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		word := true
		switch {
		case 'a' <= r && r <= 'z':
			lower++
		case 'A' <= r && r <= 'Z':
			upper++
			if start && !first {
				inner++
			}
		case r < utf8.RuneSelf:
			word = '0' <= r && r <= '9' || r == '\''
		case unicode.IsUpper(r):
			upper++
			if start && !first {
				inner++
			}
		case unicode.IsLower(r):
			lower++
		default:
			word = isWordRune(r)
		}
		if word {
			start = false
		} else if !start {
			start, first = true, false
		}
	}
	if upper > lower {
		return true
	}
	if inner < 2 {
		return false // nearly every caption: no second scan
	}
	content, capital := 0, 0
	for i, w := range strings.FieldsFunc(s, func(r rune) bool { return !isWordRune(r) }) {
		if i == 0 || titleSmall[strings.ToLower(w)] {
			continue
		}
		content++
		if r := []rune(w)[0]; unicode.IsUpper(r) {
			capital++
		}
	}
	return capital >= 2 && 2*capital > content
}

// isWordRune is a letter, digit or apostrophe: what lowerFirst counts as a
// word ("Boys'", "P-51" is two).
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' || r == '’'
}

// titleSmall are the words title case leaves in lower case (articles,
// conjunctions, short prepositions and "is"/"are", which captions use).
var titleSmall = map[string]bool{
	"a": true, "an": true, "the": true, "and": true, "or": true, "but": true, "nor": true,
	"of": true, "on": true, "in": true, "at": true, "to": true, "for": true, "by": true,
	"with": true, "from": true, "into": true, "onto": true, "as": true, "up": true,
	"off": true, "over": true, "near": true, "is": true, "are": true, "its": true,
}
