package ppmi

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"

	"gonum.org/v1/gonum/mat"

	"tagimp/data/atomicfile"
)

// Alpha is the exponent that smooths the context distribution
// (Levy, Goldberg & Dagan 2015): rare context words get less inflated PMI.
const Alpha = 0.75

// Tokenize lower-cases a caption and splits it into words of letters (and
// inner apostrophes dropped), discarding punctuation and digits.
func Tokenize(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) })
}

// Vectors returns the [len(tags), dim] tag vectors learned from docs (one
// token list per caption), row-major in the order of tags.
//
// A tag's contexts are the other tokens of the captions it occurs in (each
// caption counted once per tag). The SVD yields at most min(T, contexts)
// dimensions; when that is fewer than dim the remaining columns are zero.
// A tag that never occurs gets a zero row; Vectors reports it as an error
// because the models would learn nothing from it, naming the tag.
func Vectors(docs [][]string, tags []string, dim int) ([]float32, error) {
	if len(tags) == 0 {
		return nil, fmt.Errorf("ppmi: no tags: build the vocabulary first")
	}
	if dim < 1 {
		return nil, fmt.Errorf("ppmi: dimension %d: ask for at least 1", dim)
	}
	tagIndex := make(map[string]int, len(tags))
	for i, t := range tags {
		if _, dup := tagIndex[t]; dup {
			return nil, fmt.Errorf("ppmi: tag %q listed twice", t)
		}
		tagIndex[t] = i
	}
	ctxIndex := map[string]int{}
	type cell struct{ t, c int }
	counts := map[cell]float64{}
	seen := make([]bool, len(tags))
	for _, doc := range docs {
		present := map[int]bool{}
		for _, w := range doc {
			if t, ok := tagIndex[w]; ok {
				present[t] = true
			}
		}
		if len(present) == 0 {
			continue
		}
		for t := range present {
			seen[t] = true
			counted := map[string]bool{tags[t]: true}
			for _, w := range doc {
				if counted[w] {
					continue
				}
				counted[w] = true
				c, ok := ctxIndex[w]
				if !ok {
					c = len(ctxIndex)
					ctxIndex[w] = c
				}
				counts[cell{t, c}]++
			}
		}
	}
	for t, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("ppmi: tag %q occurs in no caption: rebuild the vocabulary from these captions", tags[t])
		}
	}
	nt, nc := len(tags), len(ctxIndex)
	if nc == 0 {
		return nil, fmt.Errorf("ppmi: the captions hold no context words around the tags")
	}
	// Marginals: P(t) from row sums, P_α(c) from smoothed column sums.
	rowSum := make([]float64, nt)
	colSum := make([]float64, nc)
	var total float64
	for k, v := range counts {
		rowSum[k.t] += v
		colSum[k.c] += v
		total += v
	}
	colPow := make([]float64, nc)
	var powTotal float64
	for c, v := range colSum {
		colPow[c] = math.Pow(v, Alpha)
		powTotal += colPow[c]
	}
	m := mat.NewDense(nt, nc, nil)
	for k, v := range counts {
		pmi := math.Log((v / total) / ((rowSum[k.t] / total) * (colPow[k.c] / powTotal)))
		if pmi > 0 {
			m.Set(k.t, k.c, pmi)
		}
	}
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDThin) {
		return nil, fmt.Errorf("ppmi: SVD of the %d×%d PPMI matrix did not converge", nt, nc)
	}
	var u mat.Dense
	svd.UTo(&u)
	s := svd.Values(nil)
	k := min(dim, len(s))
	out := make([]float32, nt*dim)
	for t := 0; t < nt; t++ {
		row := out[t*dim : (t+1)*dim]
		var norm float64
		for j := 0; j < k; j++ {
			v := u.At(t, j) * math.Sqrt(s[j])
			row[j] = float32(v)
			norm += v * v
		}
		norm = math.Sqrt(norm)
		if norm < 1e-12 {
			continue
		}
		for j := 0; j < k; j++ {
			row[j] = float32(float64(row[j]) / norm)
		}
	}
	fixSigns(out, nt, dim)
	return out, nil
}

// fixSigns makes each SVD column's largest-magnitude entry positive, so the
// vectors do not depend on the sign convention of the LAPACK in use.
func fixSigns(v []float32, n, dim int) {
	for j := 0; j < dim; j++ {
		best, at := float32(0), -1
		for i := 0; i < n; i++ {
			if a := abs32(v[i*dim+j]); a > best {
				best, at = a, i
			}
		}
		if at >= 0 && v[at*dim+j] < 0 {
			for i := 0; i < n; i++ {
				v[i*dim+j] = -v[i*dim+j]
			}
		}
	}
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}

// WriteText writes vectors ([len(tags), dim], row-major) to path in the
// word2vec text format: a "count dim" line, then one "word v1 v2 ..." line
// per tag. The file is written atomically.
func WriteText(path string, tags []string, vecs []float32, dim int) error {
	if len(vecs) != len(tags)*dim {
		return fmt.Errorf("ppmi: write %s: %d values for %d tags × %d dims", path, len(vecs), len(tags), dim)
	}
	err := atomicfile.WriteFile(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		fmt.Fprintf(bw, "%d %d\n", len(tags), dim)
		buf := make([]byte, 0, 16)
		for i, t := range tags {
			if strings.ContainsAny(t, " \t\n") {
				return fmt.Errorf("tag %q holds white space, which the text format cannot store", t)
			}
			bw.WriteString(t)
			for _, v := range vecs[i*dim : (i+1)*dim] {
				bw.WriteByte(' ')
				buf = strconv.AppendFloat(buf[:0], float64(v), 'g', -1, 32)
				bw.Write(buf)
			}
			bw.WriteByte('\n')
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("ppmi: write %s: %w", path, err)
	}
	return nil
}
