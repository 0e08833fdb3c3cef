package wordvec

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"

	"tagimp/internal/fuzzcheck"
)

// FuzzRead: no word-vector file (word2vec binary, text with a header,
// GloVe; gzipped or not) panics, hangs or allocates beyond the bound,
// whatever count and dimension its header claims. Seeds: small files of
// each format and the first 20 vectors of the real GoogleNews excerpt.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"3 2\nman 0.1 0.2\ndog 1 2\nthe 3 4\n",
		"man 0.1 0.2 0.3\ndog 1 2 3\n",
		"2 3\nman \x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40dog \x00\x00\x80\x3f\x00\x00\x00\x40\x00\x00\x40\x40",
		"1000000000 300\nman ",
		"2 1000000000\nman 1",
	} {
		f.Add([]byte(s))
	}
	if p, ok := fuzzcheck.SharedData("word2vec/googlenews-top1000.bin"); ok {
		if b, err := binExcerpt(p, 20); err == nil {
			f.Add(b)
		}
	}
	words := []string{"man", "dog", "the", "Man", "tennis"}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.Check(t, len(b), func() {
			Read(bytes.NewReader(b), "fuzz", words, Options{})
			Read(bytes.NewReader(b), "fuzz", words, Options{ScanAll: true})
		})
	})
}

// binExcerpt returns a word2vec binary file holding the first n vectors
// of path.
func binExcerpt(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var count, dim int
	if _, err := fmt.Fscanf(br, "%d %d\n", &count, &dim); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "%d %d\n", n, dim)
	for i := 0; i < n; i++ {
		word, err := br.ReadString(' ')
		if err != nil {
			return nil, err
		}
		out.WriteString(word)
		if _, err := io.CopyN(&out, br, int64(4*dim)); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}
