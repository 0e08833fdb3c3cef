package wordvec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// maxDim bounds the dimension a header may state, so that a corrupt header
// cannot make the reader allocate gigabytes.
const maxDim = 1 << 16

// scanner streams one file through the matcher.
type scanner struct {
	name     string
	br       *bufio.Reader
	m        *matcher
	opts     Options
	raw      *countingReader
	total    int64
	off      int64 // offset of the next unread byte of the (uncompressed) stream
	dim      int
	count    int // header count, -1 without header
	records  int
	complete bool
	lastProg int64
	vec      []float32
}

func (s *scanner) errorf(format string, args ...any) error {
	return fmt.Errorf("word vectors %s: "+format, append([]any{s.name}, args...)...)
}

// readErr wraps an I/O error other than the end of the file.
func (s *scanner) readErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("word vectors %s: file cut short at byte offset %d (of the uncompressed data): %w", s.name, s.off, err)
	}
	return fmt.Errorf("word vectors %s: read at byte offset %d: %w", s.name, s.off, err)
}

func (s *scanner) progress() {
	if s.opts.Progress != nil && s.raw.n-s.lastProg >= progressEvery {
		s.lastProg = s.raw.n
		s.opts.Progress(int(s.raw.n), int(s.total))
	}
}

// setDim checks the file's dimension against the one asked for.
func (s *scanner) setDim(dim int) error {
	if dim <= 0 || dim > maxDim {
		return s.errorf("dimension %d is out of range (1..%d)", dim, maxDim)
	}
	if s.opts.Dim != 0 && dim != s.opts.Dim {
		return s.errorf("vectors are %d-d, want %d-d (wrong file, or set the dimension to %d)", dim, s.opts.Dim, dim)
	}
	s.dim = dim
	s.vec = make([]float32, dim)
	return nil
}

// header reads the "<count> <dim>" line.
func (s *scanner) header() error {
	line, err := s.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || (err == io.EOF && len(line) == 0) {
		return s.errorf("no header line \"<count> <dim>\" (not a word2vec file?)")
	}
	if err != nil && err != io.EOF {
		return s.readErr(err)
	}
	s.off += int64(len(line))
	count, dim, ok := parseHeader(line)
	if !ok {
		return s.errorf("header %q is not \"<count> <dim>\"", bytes.TrimSpace(line))
	}
	s.count = count
	return s.setDim(dim)
}

// binary reads the word2vec binary format. Records not asked for are
// discarded by length without being decoded.
func (s *scanner) binary() error {
	if err := s.header(); err != nil {
		return err
	}
	vecBytes := 4 * s.dim
	buf := make([]byte, vecBytes)
	newlines := false // whether record 0's vector was followed by '\n'
	for rec := 0; rec < s.count; rec++ {
		// Skip the newline(s) between records, as word2vec's own reader does.
		for {
			c, err := s.br.ReadByte()
			if err == io.EOF {
				return s.errorf("header says %d words but the file ends after %d, at byte offset %d (file cut short, or header count wrong)", s.count, rec, s.off)
			}
			if err != nil {
				return s.readErr(err)
			}
			if c != '\n' {
				s.br.UnreadByte()
				break
			}
			s.off++
		}
		start := s.off
		word, err := s.br.ReadSlice(' ')
		s.off += int64(len(word))
		switch {
		case err == io.EOF:
			return s.errorf("file cut short inside word %q of record %d at byte offset %d", word, rec, start)
		case err == bufio.ErrBufferFull:
			return s.errorf("record %d at byte offset %d: no space after the word within %d bytes (header dimension %d wrong, or not a word2vec binary file)", rec, start, bufSize, s.dim)
		case err != nil:
			return s.readErr(err)
		}
		word = word[:len(word)-1]
		// Files whose vectors end in '\n' (word2vec.c writes them so) are
		// checked by that newline; the others by the bytes of their words.
		if err := s.checkWord(word, rec, start, rec == 0 || !newlines); err != nil {
			return err
		}
		if !s.m.lookup(word) {
			n, err := s.br.Discard(vecBytes)
			s.off += int64(n)
			if err != nil {
				return s.short(err, word, rec, start, n, vecBytes)
			}
		} else {
			n, err := io.ReadFull(s.br, buf)
			s.off += int64(n)
			if err != nil {
				return s.short(err, word, rec, start, n, vecBytes)
			}
			for i := range s.vec {
				s.vec[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			}
			if err := s.checkFinite(word, rec, start); err != nil {
				return err
			}
			s.m.accept(word, s.vec)
		}
		next, err := s.br.Peek(1)
		if err != nil && err != io.EOF {
			return s.readErr(err)
		}
		hasNL := len(next) == 1 && next[0] == '\n'
		if rec == 0 {
			newlines = hasNL
		} else if newlines && len(next) == 1 && !hasNL {
			return s.errorf("record %d (%q) at byte offset %d: vector not followed by a newline as the earlier ones are (header dimension %d does not match the data)", rec, word, start, s.dim)
		}
		if hasNL {
			s.br.ReadByte()
			s.off++
		}
		s.records++
		s.progress()
		if s.m.done() && !s.opts.ScanAll {
			return nil
		}
	}
	return s.end()
}

// short reports a vector cut short by the end of the file.
func (s *scanner) short(err error, word []byte, rec int, start int64, got, want int) error {
	if err != io.EOF && err != io.ErrUnexpectedEOF {
		return s.readErr(err)
	}
	return s.errorf("file cut short in the vector of %q (record %d at byte offset %d): %d of %d bytes", word, rec, start, got, want)
}

// checkWord rejects an empty word and, when controls is set, a word holding
// control bytes, which is what vector bytes read as a word look like when the
// header's dimension is wrong.
func (s *scanner) checkWord(word []byte, rec int, start int64, controls bool) error {
	if len(word) == 0 {
		return s.errorf("record %d at byte offset %d: empty word (header dimension %d wrong, or file corrupt)", rec, start, s.dim)
	}
	if !controls {
		return nil
	}
	for _, c := range word {
		if c < 0x20 || c == 0x7f {
			return s.errorf("record %d at byte offset %d: word %q holds control byte 0x%02x (header dimension %d wrong, or file corrupt)", rec, start, word, c, s.dim)
		}
	}
	return nil
}

// checkFinite rejects NaN and Inf in a vector that was asked for.
func (s *scanner) checkFinite(word []byte, rec int, start int64) error {
	for i, v := range s.vec {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return s.errorf("vector of %q (record %d at byte offset %d) holds %v at index %d", word, rec, start, v, i)
		}
	}
	return nil
}

// end checks that nothing but white space follows the last record.
func (s *scanner) end() error {
	for {
		c, err := s.br.ReadByte()
		if err == io.EOF {
			s.complete = true
			return nil
		}
		if err != nil {
			return s.readErr(err)
		}
		if c != '\n' && c != '\r' && c != ' ' && c != '\t' {
			return s.errorf("header says %d words but data continues after them at byte offset %d (header count or dimension wrong)", s.count, s.off)
		}
		s.off++
	}
}

// text reads word2vec/fastText text (with a header) and GloVe (without).
// A line may hold more than dim+1 fields when its word contains spaces (as a
// few in GloVe 840B do): the last dim fields are the vector and the rest is
// the word, unless the field before the vector is itself a number, which
// means the line has too many values.
func (s *scanner) text(header bool) error {
	s.count = -1
	line := 0
	if header {
		if err := s.header(); err != nil {
			return err
		}
		line = 1
	}
	for {
		raw, err := s.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return s.errorf("line %d at byte offset %d is longer than %d bytes (not a text vectors file?)", line+1, s.off, bufSize)
		}
		if err != nil && err != io.EOF {
			return s.readErr(err)
		}
		if len(raw) == 0 && err == io.EOF {
			break
		}
		start := s.off
		s.off += int64(len(raw))
		line++
		b := bytes.TrimRight(raw, " \t\r\n")
		if len(b) == 0 {
			if err == io.EOF {
				break
			}
			continue
		}
		if s.dim == 0 {
			if err := s.setDim(len(bytes.Fields(b)) - 1); err != nil {
				return err
			}
		}
		word, vals, perr := s.splitLine(b, line, start)
		if perr != nil {
			return perr
		}
		if s.count >= 0 && s.records == s.count {
			return s.errorf("header says %d words but line %d at byte offset %d holds another (header count wrong)", s.count, line, start)
		}
		s.records++
		if s.m.lookup(word) {
			if err := s.parseVec(vals, word, line, start); err != nil {
				return err
			}
			s.m.accept(word, s.vec)
		}
		s.progress()
		if s.m.done() && !s.opts.ScanAll {
			return nil
		}
		if err == io.EOF {
			break
		}
	}
	if s.count >= 0 && s.records < s.count {
		return s.errorf("header says %d words but the file ends after %d, at byte offset %d (file cut short, or header count wrong)", s.count, s.records, s.off)
	}
	s.complete = true
	return nil
}

// splitLine splits a trimmed line into its word and its dim values. The
// fast path counts single spaces; anything else falls back to fields.
func (s *scanner) splitLine(b []byte, line int, start int64) (word, vals []byte, err error) {
	sp := bytes.IndexByte(b, ' ')
	if sp > 0 && bytes.Count(b, []byte{' '}) == s.dim && !bytes.Contains(b, []byte("  ")) && bytes.IndexByte(b, '\t') < 0 {
		return b[:sp], b[sp+1:], nil
	}
	fields := bytes.Fields(b)
	if len(fields) == 0 { // white space that TrimRight keeps (\f, \v, Unicode spaces)
		return nil, nil, s.errorf("line %d (byte offset %d): only white space, no word (not a vectors file?)", line, start)
	}
	n := len(fields) - 1
	switch {
	case n < s.dim:
		return nil, nil, s.errorf("line %d (word %q, byte offset %d): %d values, want %d (inconsistent dimension, or line cut short)", line, fields[0], start, n, s.dim)
	case n == s.dim:
		return fields[0], b[fieldOffset(b, 1):], nil
	}
	// More fields than dim+1: a word with spaces, or too many values.
	if _, ok := parseFloat(fields[len(fields)-s.dim-1]); ok {
		return nil, nil, s.errorf("line %d (word %q, byte offset %d): %d values, want %d (inconsistent dimension)", line, fields[0], start, n, s.dim)
	}
	idx := fieldOffset(b, len(fields)-s.dim)
	return bytes.TrimRight(b[:idx], " \t"), b[idx:], nil
}

// fieldOffset returns the byte offset in b of its field number k (0-based).
func fieldOffset(b []byte, k int) int {
	i, n := 0, -1
	inField := false
	for i < len(b) {
		c := b[i]
		space := c == ' ' || c == '\t'
		if !space && !inField {
			n++
			if n == k {
				return i
			}
		}
		inField = !space
		i++
	}
	return len(b)
}

// parseVec parses dim numbers into s.vec.
func (s *scanner) parseVec(vals []byte, word []byte, line int, start int64) error {
	i := 0
	for len(vals) > 0 {
		vals = bytes.TrimLeft(vals, " \t")
		if len(vals) == 0 {
			break
		}
		end := bytes.IndexAny(vals, " \t")
		if end < 0 {
			end = len(vals)
		}
		if i == s.dim {
			return s.errorf("line %d (word %q, byte offset %d): more than %d values", line, word, start, s.dim)
		}
		v, ok := parseFloat(vals[:end])
		if !ok {
			return s.errorf("line %d (word %q, byte offset %d): value %d %q is not a number", line, word, start, i+1, vals[:end])
		}
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return s.errorf("line %d (word %q, byte offset %d): value %d is %v", line, word, start, i+1, v)
		}
		s.vec[i] = v
		i++
		vals = vals[end:]
	}
	if i != s.dim {
		return s.errorf("line %d (word %q, byte offset %d): %d values, want %d", line, word, start, i, s.dim)
	}
	return nil
}

// parseFloat parses a float32 written as text.
func parseFloat(b []byte) (float32, bool) {
	v, err := strconv.ParseFloat(string(b), 32)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return float32(v), true
		}
		return 0, false
	}
	return float32(v), true
}
