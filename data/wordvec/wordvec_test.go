package wordvec

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"tagimp/internal/realdata"
)

// rec is one fixture record.
type rec struct {
	word string
	vec  []float32
}

// encodeBinary writes records in word2vec binary format with the given
// header; newline says whether each vector is followed by '\n'.
func encodeBinary(header string, recs []rec, newline bool) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for _, r := range recs {
		b.WriteString(r.word)
		b.WriteByte(' ')
		for _, v := range r.vec {
			binary.Write(&b, binary.LittleEndian, v)
		}
		if newline {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// encodeText writes records as text lines, after header when not empty.
func encodeText(header string, recs []rec, trailingSpace bool) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	for _, r := range recs {
		b.WriteString(r.word)
		for _, v := range r.vec {
			b.WriteByte(' ')
			b.WriteString(strconv.FormatFloat(float64(v), 'g', -1, 32))
		}
		if trailingSpace {
			b.WriteByte(' ')
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func gzipped(data []byte) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

func writeFixture(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func vec(base float32, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = base + float32(i)/8
	}
	return v
}

// matchRecs is the fixture of the matching tests: case variants in a known
// file order, a GoogleNews-style phrase, the parts of a phrase that is absent.
var matchRecs = []rec{
	{"the", vec(1, 4)},
	{"Paris", vec(2, 4)},
	{"PARIS", vec(3, 4)},
	{"Dog", vec(4, 4)},
	{"dog", vec(5, 4)},
	{"hot_dog", vec(6, 4)},
	{"ice", vec(7, 4)},
	{"cream", vec(9, 4)},
	{"traffic", vec(10, 4)},
	{"Tennis", vec(11, 4)},
	{"tennis_court", vec(12, 4)},
}

func TestMatching(t *testing.T) {
	header := fmt.Sprintf("%d 4\n", len(matchRecs))
	formats := []struct {
		name   string
		data   []byte
		format Format
	}{
		{"binary-newline", encodeBinary(header, matchRecs, true), FormatBinary},
		{"binary-bare", encodeBinary(header, matchRecs, false), FormatBinary},
		{"binary-gzip", gzipped(encodeBinary(header, matchRecs, true)), FormatBinary},
		{"text", encodeText(header, matchRecs, false), FormatText},
		{"fasttext-trailing-space", encodeText(header, matchRecs, true), FormatText},
		{"glove", encodeText("", matchRecs, false), FormatGloVe},
		{"glove-crlf", bytes.ReplaceAll(encodeText("", matchRecs, false), []byte("\n"), []byte("\r\n")), FormatGloVe},
	}
	mean := func(a, b []float32) []float32 {
		out := make([]float32, len(a))
		for i := range a {
			out[i] = (a[i] + b[i]) / 2
		}
		return out
	}
	cases := []struct {
		word   string
		kind   MatchKind
		source string
		want   []float32
	}{
		{"the", Exact, "the", vec(1, 4)},
		{"paris", CaseInsensitive, "Paris", vec(2, 4)}, // first case variant in file order
		{"PARIS", Exact, "PARIS", vec(3, 4)},
		{"dog", Exact, "dog", vec(5, 4)}, // exact beats an earlier case variant
		{"DOG", CaseInsensitive, "Dog", vec(4, 4)},
		{"hot dog", Phrase, "hot_dog", vec(6, 4)},
		{"Hot Dog", PhraseCaseInsensitive, "hot_dog", vec(6, 4)},
		{"ice cream", Composed, "ice + cream", mean(vec(7, 4), vec(9, 4))},
		{"tennis", CaseInsensitive, "Tennis", vec(11, 4)},
		{"tennis court", Phrase, "tennis_court", vec(12, 4)},
		{"traffic light", Missing, "", make([]float32, 4)},
		{"zebra", Missing, "", make([]float32, 4)},
		{"the", Exact, "the", vec(1, 4)}, // a repeated word gets its own row
	}
	words := make([]string, len(cases))
	for i, c := range cases {
		words[i] = c.word
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			path := writeFixture(t, "vectors", f.data)
			tab, err := Load(path, words, Options{Dim: 4, ScanAll: true})
			if err != nil {
				t.Fatal(err)
			}
			if tab.Format != f.format || tab.Dim != 4 || !tab.Complete || tab.Records != len(matchRecs) {
				t.Errorf("format %v dim %d complete %v records %d, want %v 4 true %d", tab.Format, tab.Dim, tab.Complete, tab.Records, f.format, len(matchRecs))
			}
			for i, c := range cases {
				m := tab.Matches[i]
				if m.Word != c.word || m.Kind != c.kind || m.Source != c.source {
					t.Errorf("%q: match %+v, want kind %v source %q", c.word, m, c.kind, c.source)
				}
				if got := tab.Vector(i); !equal(got, c.want) {
					t.Errorf("%q: vector %v, want %v", c.word, got, c.want)
				}
			}
			if want := []string{"traffic light", "zebra"}; strings.Join(tab.Missing, "|") != strings.Join(want, "|") {
				t.Errorf("missing %q, want %q", tab.Missing, want)
			}
		})
	}
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestGloVeWordWithSpaces(t *testing.T) {
	data := []byte("the 0.5 1.5\n. . . 2 3\nat name@x.com 4 5\n")
	path := writeFixture(t, "glove.txt", data)
	tab, err := Load(path, []string{". . .", "at name@x.com"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Format != FormatGloVe || tab.Dim != 2 {
		t.Fatalf("format %v dim %d, want glove 2", tab.Format, tab.Dim)
	}
	if !equal(tab.Vector(0), []float32{2, 3}) || !equal(tab.Vector(1), []float32{4, 5}) {
		t.Errorf("vectors %v, want [2 3 4 5]", tab.Vectors)
	}
}

func TestEarlyStop(t *testing.T) {
	// The tail of the file is corrupt; a reader that stops once every
	// word is found never sees it, and ScanAll does.
	recs := []rec{{"cat", vec(1, 3)}, {"dog", vec(2, 3)}, {"emu", vec(3, 3)}}
	data := encodeBinary("3 3\n", recs, true)
	data = data[:len(data)-5]
	path := writeFixture(t, "cut.bin", data)
	tab, err := Load(path, []string{"dog", "cat"}, Options{})
	if err != nil {
		t.Fatalf("stop early: %v", err)
	}
	if tab.Complete || tab.Records != 2 || len(tab.Missing) != 0 {
		t.Errorf("complete %v records %d missing %v, want false 2 []", tab.Complete, tab.Records, tab.Missing)
	}
	if _, err := Load(path, []string{"dog", "cat"}, Options{ScanAll: true}); err == nil || !strings.Contains(err.Error(), `"emu"`) {
		t.Errorf("ScanAll: error %v, want one naming emu", err)
	}
	// A case-insensitive match alone does not stop the scan: an exact
	// match may come later.
	recs = []rec{{"Cat", vec(1, 3)}, {"dog", vec(2, 3)}, {"cat", vec(3, 3)}}
	path = writeFixture(t, "late.bin", encodeBinary("3 3\n", recs, true))
	tab, err = Load(path, []string{"cat"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Matches[0].Kind != Exact || !equal(tab.Vector(0), vec(3, 3)) {
		t.Errorf("match %+v vector %v, want the exact, later cat", tab.Matches[0], tab.Vector(0))
	}
}

func TestProgress(t *testing.T) {
	data := encodeBinary("2 3\n", []rec{{"a", vec(1, 3)}, {"b", vec(2, 3)}}, true)
	path := writeFixture(t, "p.bin", data)
	var done, total int
	_, err := Load(path, []string{"zz"}, Options{Progress: func(d, t int) { done, total = d, t }})
	if err != nil {
		t.Fatal(err)
	}
	if done != len(data) || total != len(data) {
		t.Errorf("last progress %d/%d, want %d/%d", done, total, len(data), len(data))
	}
}

func TestDetect(t *testing.T) {
	recs := []rec{{"a", vec(1, 2)}, {"b", vec(2, 2)}}
	cases := []struct {
		name string
		data []byte
		want Format
	}{
		{"binary", encodeBinary("2 2\n", recs, true), FormatBinary},
		{"text", encodeText("2 2\n", recs, false), FormatText},
		{"glove", encodeText("", recs, false), FormatGloVe},
		{"empty text", []byte("0 300\n"), FormatText},
	}
	for _, c := range cases {
		tab, err := Read(bytes.NewReader(c.data), c.name, []string{"a"}, Options{})
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if tab.Format != c.want {
			t.Errorf("%s: format %v, want %v", c.name, tab.Format, c.want)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Format
		ok   bool
	}{{"auto", FormatAuto, true}, {"BIN", FormatBinary, true}, {"vec", FormatText, true}, {"glove", FormatGloVe, true}, {"hdf5", FormatAuto, false}} {
		got, err := ParseFormat(c.in)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestErrors(t *testing.T) {
	three := []rec{{"cat", vec(1, 4)}, {"dog", vec(2, 4)}, {"emu", vec(3, 4)}}
	good := encodeBinary("3 4\n", three, true)
	nan := []rec{{"cat", []float32{1, float32(math.NaN()), 0, 0}}}
	cases := []struct {
		name  string
		data  []byte
		words []string
		opts  Options
		want  []string // substrings of the error
	}{
		{"binary cut in vector", good[:len(good)-6], []string{"zz"}, Options{}, []string{`"emu"`, "cut short", "byte offset"}},
		{"binary cut in word", good[:len(good)-17-2], []string{"zz"}, Options{}, []string{"cut short", "word"}},
		{"binary header count too big", encodeBinary("5 4\n", three, true), []string{"zz"}, Options{}, []string{"header says 5 words", "ends after 3"}},
		{"binary header count too small", encodeBinary("2 4\n", three, true), []string{"cat"}, Options{ScanAll: true}, []string{"header says 2 words", "data continues"}},
		{"binary header dim too small", encodeBinary("3 3\n", three, true), []string{"zz"}, Options{}, []string{"dimension 3"}},
		{"binary header dim too big", encodeBinary("3 5\n", three, true), []string{"zz"}, Options{ScanAll: true}, []string{"dimension 5"}},
		{"binary bare header dim wrong", encodeBinary("3 3\n", three, false), []string{"zz"}, Options{ScanAll: true}, []string{"header"}},
		{"binary record of another dimension", encodeBinary("3 3\n", []rec{{"cat", vec(1, 3)}, {"dog", vec(2, 3)}, {"emu", vec(3, 4)}}, true), []string{"zz"}, Options{}, []string{`record 2 ("emu")`, "not followed by a newline"}},
		{"wrong dimension asked", good, []string{"cat"}, Options{Dim: 300}, []string{"4-d, want 300-d"}},
		{"header garbage", []byte("three four\ncat 1 2\n"), []string{"cat"}, Options{Format: FormatBinary}, []string{`header "three four"`}},
		{"empty file", nil, []string{"cat"}, Options{}, []string{"empty"}},
		{"nan in wanted vector", encodeBinary("1 4\n", nan, true), []string{"cat"}, Options{}, []string{`"cat"`, "NaN"}},
		{"text line short", []byte("2 3\ncat 1 2 3\ndog 1 2\n"), []string{"zz"}, Options{}, []string{"line 3", `"dog"`, "2 values, want 3"}},
		{"text line long", []byte("2 3\ncat 1 2 3\ndog 1 2 3 4\n"), []string{"zz"}, Options{}, []string{"line 3", `"dog"`, "4 values, want 3"}},
		{"text not a number", []byte("2 3\ncat 1 2 3\ndog 1 x 3\n"), []string{"dog"}, Options{}, []string{"line 3", `"x"`}},
		{"text header count too big", []byte("3 3\ncat 1 2 3\ndog 1 2 3\n"), []string{"zz"}, Options{}, []string{"header says 3 words", "ends after 2"}},
		{"text header count too small", []byte("1 3\ncat 1 2 3\ndog 1 2 3\n"), []string{"zz"}, Options{}, []string{"header says 1 words", "line 3"}},
		{"glove inconsistent", []byte("cat 1 2 3\ndog 1 2\n"), []string{"zz"}, Options{}, []string{"line 2", "want 3"}},
		{"glove wrong dimension asked", []byte("cat 1 2 3\n"), []string{"cat"}, Options{Dim: 300}, []string{"3-d, want 300-d"}},
		{"strict", good, []string{"cat", "zebra", "yak"}, Options{Strict: true}, []string{"2 of 3 words have no vector", "zebra, yak"}},
		{"empty word asked", good, []string{"cat", " "}, Options{}, []string{"word 1", "empty"}},
		{"gzip cut short", gzipped(good)[:40], []string{"zz"}, Options{}, []string{"cut short"}},
		{"gzip cut short, format given", gzipped(good)[:40], []string{"zz"}, Options{Format: FormatBinary}, []string{"cut short"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFixture(t, "vectors.bin", c.data)
			_, err := Load(path, c.words, c.opts)
			if err == nil {
				t.Fatalf("no error, want one with %q", c.want)
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, "\n") || !strings.Contains(msg, path) {
				t.Errorf("error %q: want one line naming %s", msg, path)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "absent.bin"), []string{"cat"}, Options{}); err == nil || !strings.Contains(err.Error(), "absent.bin") {
		t.Errorf("absent file: error %v, want one naming absent.bin", err)
	}
}

func TestGoogleNewsTop1000(t *testing.T) {
	path := filepath.Join(realdata.Dir(t), "word2vec", "googlenews-top1000.bin")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	words := []string{"man", "woman", "dog", "cat", "table", "street", "car", "ball", "box", "star", "heart", "ring", "tree", "house", "fish", "sun", "moon", "boat", "horse", "people", "in"}
	ask := append(append([]string{}, words...), "Dog", "TABLE", "zebra", "hot dog")
	for _, scanAll := range []bool{false, true} {
		tab, err := Load(path, ask, Options{Dim: 300, ScanAll: scanAll})
		if err != nil {
			t.Fatal(err)
		}
		if tab.Format != FormatBinary || tab.Dim != 300 || tab.HeaderCount != 1000 {
			t.Fatalf("format %v dim %d header count %d, want bin 300 1000", tab.Format, tab.Dim, tab.HeaderCount)
		}
		// A word is absent, so the whole file is read either way.
		if !tab.Complete || tab.Records != 1000 {
			t.Errorf("complete %v records %d, want true 1000", tab.Complete, tab.Records)
		}
		fileVec := func(word string) []float32 {
			// Find the record independently: records follow a newline
			// (the header's or the previous vector's).
			at := bytes.Index(raw, []byte("\n"+word+" "))
			if at < 0 {
				t.Fatalf("%q not in %s", word, path)
			}
			off := at + 1 + len(word) + 1
			v := make([]float32, 300)
			for k := range v {
				v[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[off+4*k:]))
			}
			return v
		}
		for i, w := range ask {
			want := w
			switch w {
			case "zebra":
				if tab.Matches[i].Kind != Missing || !equal(tab.Vector(i), make([]float32, 300)) {
					t.Errorf("%q: %+v, want missing and a zero row", w, tab.Matches[i])
				}
				continue
			case "hot dog":
				// No "hot_dog" among the top 1000: the mean of hot and dog.
				hot, dog := fileVec("hot"), fileVec("dog")
				for k := range hot {
					hot[k] = (hot[k] + dog[k]) / 2
				}
				if m := tab.Matches[i]; m.Kind != Composed || m.Source != "hot + dog" || !equal(tab.Vector(i), hot) {
					t.Errorf("%q: %+v, want composed from hot + dog with their mean", w, m)
				}
				continue
			case "Dog", "TABLE":
				want = strings.ToLower(w)
				if tab.Matches[i].Kind != CaseInsensitive || tab.Matches[i].Source != want {
					t.Errorf("%q: %+v, want case-insensitive %q", w, tab.Matches[i], want)
				}
			}
			if !equal(tab.Vector(i), fileVec(want)) {
				t.Errorf("%q: vector differs from the file's bytes of %q", w, want)
			}
		}
		if strings.Join(tab.Missing, ",") != "zebra" {
			t.Errorf("missing %q, want zebra", tab.Missing)
		}
	}
	// With every word present, reading stops at the last one.
	tab, err := Load(path, words, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tab.Complete || tab.Records >= 1000 {
		t.Errorf("complete %v after %d records, want an early stop", tab.Complete, tab.Records)
	}
}

// TestControlBytesInWords: in files whose vectors end in a newline the
// newline check guards the layout, so odd words are accepted; without it a
// control byte in a word means the layout is off.
func TestControlBytesInWords(t *testing.T) {
	recs := []rec{{"cat", vec(1, 2)}, {"a\x0cb", vec(2, 2)}}
	tab, err := Read(bytes.NewReader(encodeBinary("2 2\n", recs, true)), "nl.bin", []string{"a\x0cb"}, Options{ScanAll: true})
	if err != nil {
		t.Fatalf("newline-terminated: %v", err)
	}
	if tab.Matches[0].Kind != Exact || !equal(tab.Vector(0), vec(2, 2)) {
		t.Errorf("match %+v vector %v", tab.Matches[0], tab.Vector(0))
	}
	_, err = Read(bytes.NewReader(encodeBinary("2 2\n", recs, false)), "bare.bin", []string{"cat"}, Options{ScanAll: true})
	if err == nil || !strings.Contains(err.Error(), "control byte 0x0c") {
		t.Errorf("bare: error %v, want one about the control byte", err)
	}
}
