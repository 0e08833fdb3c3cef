package wordvec

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Format is the layout of a word-vector file.
type Format int

// The formats Load reads. FormatAuto detects the format from the file's
// first bytes.
const (
	FormatAuto   Format = iota
	FormatBinary        // word2vec binary: "<count> <dim>\n", then word, space, dim float32 LE
	FormatText          // word2vec / fastText text: "<count> <dim>\n", then "word v1 … vdim" lines
	FormatGloVe         // GloVe text: "word v1 … vdim" lines, no header
)

// String returns the name ParseFormat accepts.
func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatBinary:
		return "bin"
	case FormatText:
		return "text"
	case FormatGloVe:
		return "glove"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// ParseFormat parses "auto", "bin" (or "binary"), "text" (or "vec") and
// "glove".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return FormatAuto, nil
	case "bin", "binary":
		return FormatBinary, nil
	case "text", "txt", "vec":
		return FormatText, nil
	case "glove":
		return FormatGloVe, nil
	}
	return FormatAuto, fmt.Errorf("unknown word-vector format %q (want auto, bin, text or glove)", s)
}

// MatchKind says how a word's vector was found; see the package
// documentation for the order in which they are tried.
type MatchKind int

// The ways a word can be matched, best first after Missing.
const (
	Missing               MatchKind = iota // no vector: the row is zero
	Exact                                  // the word itself
	Phrase                                 // spaces replaced by "_"
	CaseInsensitive                        // the word up to case, first in file order
	PhraseCaseInsensitive                  // the "_" phrase up to case, first in file order
	Composed                               // mean of the vectors of the word's parts
)

// String returns a short lower-case name of the kind.
func (k MatchKind) String() string {
	switch k {
	case Missing:
		return "missing"
	case Exact:
		return "exact"
	case Phrase:
		return "phrase"
	case CaseInsensitive:
		return "case-insensitive"
	case PhraseCaseInsensitive:
		return "phrase-case-insensitive"
	case Composed:
		return "composed"
	}
	return fmt.Sprintf("MatchKind(%d)", int(k))
}

// Options tune Load and Read. The zero value detects the format, accepts
// any dimension, gives missing words zero vectors and stops reading once
// every word is found exactly.
type Options struct {
	// Format forces a format; FormatAuto detects it.
	Format Format
	// Dim is the dimension the caller needs (300 for GoogleNews); a file
	// of another dimension is an error. 0 accepts the file's dimension.
	Dim int
	// Strict makes words without a vector an error instead of zero rows.
	Strict bool
	// ScanAll reads the whole file even when every word was found early,
	// so that a header count that disagrees with the file, or a file cut
	// short after the last wanted word, is reported.
	ScanAll bool
	// Progress, when set, is called now and then with the bytes read so
	// far and the file size (-1 when unknown, as for Read).
	Progress func(done, total int)
}

// Match records how one word asked for was matched.
type Match struct {
	// Word is the word as asked for.
	Word string
	// Kind says how its vector was found.
	Kind MatchKind
	// Source is the file's word whose vector was used ("hot_dog", "Paris"),
	// for Composed the parts' file words joined with " + ", and "" when
	// Missing.
	Source string
}

// Table holds the vectors of the words asked for.
type Table struct {
	// Path is the file the vectors came from.
	Path string
	// Format is the file's format.
	Format Format
	// Dim is the vector width.
	Dim int
	// Words are the words asked for, in the order asked.
	Words []string
	// Vectors holds len(Words) rows of Dim float32, row-major, in the
	// order of Words; the rows of missing words are zero.
	Vectors []float32
	// Matches says for each word how its vector was found.
	Matches []Match
	// Missing lists the words without a vector, in the order of Words.
	Missing []string
	// HeaderCount is the word count the header states, -1 for GloVe.
	HeaderCount int
	// Records is the number of records (words) read from the file.
	Records int
	// Complete is true when the whole file was read and checked, false when
	// reading stopped early because every word had been found.
	Complete bool
}

// Vector returns row i of the table (aliasing Vectors).
func (t *Table) Vector(i int) []float32 {
	return t.Vectors[i*t.Dim : (i+1)*t.Dim]
}

// bufSize is the read buffer: large enough that skipping a 1,200-byte
// record is a pointer move and that reads reach the disk's speed.
const bufSize = 4 << 20

// progressEvery is how many bytes pass between two Progress calls.
const progressEvery = 8 << 20

// Load reads the vectors of words from the word-vector file at path. The
// words may repeat; each gets its own row. See the package documentation
// for the formats, the matching rules and the errors.
func Load(path string, words []string, opts Options) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("word vectors: %w", err)
	}
	defer f.Close()
	total := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		total = st.Size()
	}
	return read(f, path, total, words, opts)
}

// Read is Load for a stream; name is used in errors and in Table.Path.
func Read(r io.Reader, name string, words []string, opts Options) (*Table, error) {
	return read(r, name, -1, words, opts)
}

func read(r io.Reader, name string, total int64, words []string, opts Options) (*Table, error) {
	if opts.Dim < 0 {
		return nil, fmt.Errorf("word vectors %s: wanted dimension %d is negative", name, opts.Dim)
	}
	m, err := newMatcher(words)
	if err != nil {
		return nil, fmt.Errorf("word vectors %s: %w", name, err)
	}
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, bufSize)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("word vectors %s: gzip header: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, bufSize)
	}
	s := &scanner{name: name, br: br, m: m, opts: opts, raw: cr, total: total}
	format := opts.Format
	if format == FormatAuto {
		if format, err = detect(br); err != nil {
			return nil, fmt.Errorf("word vectors %s: %w", name, err)
		}
	}
	switch format {
	case FormatBinary:
		err = s.binary()
	case FormatText:
		err = s.text(true)
	case FormatGloVe:
		err = s.text(false)
	default:
		err = s.errorf("unknown format %v", format)
	}
	if err != nil {
		return nil, err
	}
	if opts.Progress != nil {
		done := cr.n
		if s.complete && total >= 0 {
			done = total
		}
		opts.Progress(int(done), int(total))
	}
	t := m.table(name, format, s.dim)
	t.HeaderCount, t.Records, t.Complete = s.count, s.records, s.complete
	if opts.Strict && len(t.Missing) > 0 {
		return nil, fmt.Errorf("word vectors %s: %d of %d words have no vector: %s", name, len(t.Missing), len(words), listWords(t.Missing, 20))
	}
	return t, nil
}

// listWords joins up to max words for an error message.
func listWords(words []string, max int) string {
	if len(words) <= max {
		return strings.Join(words, ", ")
	}
	return strings.Join(words[:max], ", ") + fmt.Sprintf(", … (%d more)", len(words)-max)
}

// countingReader counts the bytes read from the underlying file, for
// progress (before any gzip layer).
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// detect tells the three formats apart from the first line and, when that
// line is a "<count> <dim>" header, from whether the rest of the first record
// parses as dim text numbers.
func detect(br *bufio.Reader) (Format, error) {
	head, err := br.Peek(1 << 20)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return FormatAuto, fmt.Errorf("file cut short (compressed data ends early): %w", err)
	}
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return FormatAuto, fmt.Errorf("read: %w", err)
	}
	if len(head) == 0 {
		return FormatAuto, fmt.Errorf("file is empty")
	}
	nl := bytes.IndexByte(head, '\n')
	if nl < 0 {
		nl = len(head)
	}
	count, dim, ok := parseHeader(head[:nl])
	if !ok {
		return FormatGloVe, nil
	}
	if count == 0 || nl == len(head) {
		return FormatText, nil
	}
	rest := head[nl+1:]
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return FormatText, nil
	}
	line := rest[sp+1:]
	if end := bytes.IndexByte(line, '\n'); end >= 0 {
		line = line[:end]
	}
	fields := bytes.Fields(line)
	if len(fields) != dim {
		return FormatBinary, nil
	}
	for _, f := range fields {
		if _, ok := parseFloat(f); !ok {
			return FormatBinary, nil
		}
	}
	return FormatText, nil
}

// parseHeader parses "<count> <dim>" (surrounding white space allowed).
func parseHeader(line []byte) (count, dim int, ok bool) {
	f := bytes.Fields(line)
	if len(f) != 2 {
		return 0, 0, false
	}
	count, ok1 := parseInt(f[0])
	dim, ok2 := parseInt(f[1])
	if !ok1 || !ok2 || dim == 0 {
		return 0, 0, false
	}
	return count, dim, true
}

// parseInt parses a non-negative decimal of at most 12 digits.
func parseInt(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
