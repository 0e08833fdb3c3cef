package wordvec

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Match ranks: a lower rank is a better match. They follow the order of
// the package documentation.
const (
	rankExact int8 = iota
	rankPhrase
	rankFold
	rankFoldPhrase
	rankNone
)

// query is one word being looked for: a word asked for, or a part of a
// multi-word one (for Composed).
type query struct {
	word  string
	best  int8 // the best rank the word can reach (rankPhrase for words with spaces)
	rank  int8 // the rank of the match so far, rankNone before any
	src   string
	vec   []float32
	parts []int // indices of the part queries of a multi-word word
}

// target says which query a file word would match, and at which rank.
type target struct {
	q    int32
	rank int8
}

// matcher holds what is being looked for and what was found so far.
type matcher struct {
	queries []query
	top     int // queries[:top] are the words asked for, the rest their parts
	exact   map[string][]target
	fold    map[string][]target
	pending int // words asked for not yet matched at their best rank
	hits    []target
	scratch []byte
}

func newMatcher(words []string) (*matcher, error) {
	m := &matcher{
		top:   len(words),
		exact: make(map[string][]target),
		fold:  make(map[string][]target),
	}
	for i, w := range words {
		if strings.TrimSpace(w) == "" {
			return nil, fmt.Errorf("word %d asked for is empty", i)
		}
		m.queries = append(m.queries, query{word: w, best: rankExact, rank: rankNone})
	}
	for i := range words {
		w := words[i]
		m.add(w, int32(i), rankExact, rankFold)
		parts := strings.Fields(w)
		if len(parts) < 2 {
			continue
		}
		m.queries[i].best = rankPhrase
		m.add(strings.Join(parts, "_"), int32(i), rankPhrase, rankFoldPhrase)
		for _, p := range parts {
			m.queries[i].parts = append(m.queries[i].parts, len(m.queries))
			m.queries = append(m.queries, query{word: p, best: rankExact, rank: rankNone})
			m.add(p, int32(len(m.queries)-1), rankExact, rankFold)
		}
	}
	m.pending = m.top
	return m, nil
}

// add registers key as an exact match of rank exact and, lower-cased, as a
// case-insensitive match of rank fold for query q.
func (m *matcher) add(key string, q int32, exact, fold int8) {
	m.exact[key] = append(m.exact[key], target{q, exact})
	lk := strings.ToLower(key)
	m.fold[lk] = append(m.fold[lk], target{q, fold})
}

// lookup collects in m.hits the queries that file word w would improve and
// reports whether there are any. It allocates nothing for ASCII words.
func (m *matcher) lookup(w []byte) bool {
	m.hits = m.hits[:0]
	for _, t := range m.exact[string(w)] {
		if t.rank < m.queries[t.q].rank {
			m.hits = append(m.hits, t)
		}
	}
	for _, t := range m.fold[string(m.lower(w))] {
		if t.rank < m.queries[t.q].rank {
			m.hits = append(m.hits, t)
		}
	}
	return len(m.hits) > 0
}

// lower returns w lower-cased like strings.ToLower, reusing a scratch
// buffer for ASCII words and returning w itself when it has no upper case.
func (m *matcher) lower(w []byte) []byte {
	upper := false
	for _, c := range w {
		if c >= utf8.RuneSelf {
			return bytes.ToLower(w)
		}
		if 'A' <= c && c <= 'Z' {
			upper = true
		}
	}
	if !upper {
		return w
	}
	m.scratch = append(m.scratch[:0], w...)
	for i, c := range m.scratch {
		if 'A' <= c && c <= 'Z' {
			m.scratch[i] = c + 'a' - 'A'
		}
	}
	return m.scratch
}

// accept gives the vector vec of file word src to the queries in m.hits.
func (m *matcher) accept(src []byte, vec []float32) {
	s := string(src)
	for _, t := range m.hits {
		q := &m.queries[t.q]
		if t.rank >= q.rank {
			continue
		}
		if int(t.q) < m.top && q.rank > q.best && t.rank <= q.best {
			m.pending--
		}
		q.rank, q.src = t.rank, s
		q.vec = append(q.vec[:0], vec...)
	}
}

// done reports whether every word asked for has its best possible match.
func (m *matcher) done() bool { return m.pending == 0 }

// table builds the result: composes multi-word words from their parts where
// nothing better was found, and fills zero rows for missing words.
func (m *matcher) table(path string, format Format, dim int) *Table {
	t := &Table{
		Path:    path,
		Format:  format,
		Dim:     dim,
		Words:   make([]string, m.top),
		Vectors: make([]float32, m.top*dim),
		Matches: make([]Match, m.top),
	}
	for i := 0; i < m.top; i++ {
		q := &m.queries[i]
		t.Words[i] = q.word
		match := Match{Word: q.word, Kind: kindOf(q.rank), Source: q.src}
		row := t.Vectors[i*dim : (i+1)*dim]
		switch {
		case q.rank != rankNone:
			copy(row, q.vec)
		case m.composable(q):
			srcs := make([]string, len(q.parts))
			for j, p := range q.parts {
				part := &m.queries[p]
				srcs[j] = part.src
				for k, v := range part.vec {
					row[k] += v
				}
			}
			for k := range row {
				row[k] /= float32(len(q.parts))
			}
			match.Kind, match.Source = Composed, strings.Join(srcs, " + ")
		default:
			t.Missing = append(t.Missing, q.word)
		}
		t.Matches[i] = match
	}
	return t
}

// composable reports whether every part of a multi-word query was found.
func (m *matcher) composable(q *query) bool {
	if len(q.parts) == 0 {
		return false
	}
	for _, p := range q.parts {
		if m.queries[p].rank == rankNone {
			return false
		}
	}
	return true
}

func kindOf(rank int8) MatchKind {
	switch rank {
	case rankExact:
		return Exact
	case rankPhrase:
		return Phrase
	case rankFold:
		return CaseInsensitive
	case rankFoldPhrase:
		return PhraseCaseInsensitive
	}
	return Missing
}
