package ppmi

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"A dog and a ball on the field.", []string{"a", "dog", "and", "a", "ball", "on", "the", "field"}},
		{"  Two CATS, 3 mice!", []string{"two", "cats", "mice"}},
		{"", []string{}},
	}
	for _, tt := range tests {
		if got := Tokenize(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func docs(lines ...string) [][]string {
	var out [][]string
	for _, l := range lines {
		out = append(out, Tokenize(l))
	}
	return out
}

func cos(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

// Tags seen in the same contexts end up close; unrelated ones far apart.
func TestVectorsSimilarity(t *testing.T) {
	d := docs(
		"the dog chews a bone on the leash",
		"a dog on a leash in the park",
		"the puppy chews a bone",
		"a puppy on a leash in the park",
		"the cat drinks milk on the sofa",
		"a cat chases a mouse",
		"the kitten drinks milk",
		"a kitten chases a mouse on the sofa",
	)
	tags := []string{"dog", "puppy", "cat", "kitten"}
	const dim = 8
	v, err := Vectors(d, tags, dim)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != len(tags)*dim {
		t.Fatalf("len = %d, want %d", len(v), len(tags)*dim)
	}
	row := func(i int) []float32 { return v[i*dim : (i+1)*dim] }
	for i, tag := range tags {
		var n float64
		for _, x := range row(i) {
			n += float64(x) * float64(x)
		}
		if math.Abs(n-1) > 1e-5 {
			t.Errorf("%s: |v|² = %v, want 1", tag, n)
		}
	}
	// Rank is at most 4 (tags), so columns 4.. are zero padding.
	for i := range tags {
		for j := len(tags); j < dim; j++ {
			if row(i)[j] != 0 {
				t.Errorf("row %d col %d = %v, want 0 (padding)", i, j, row(i)[j])
			}
		}
	}
	if a, b := cos(row(0), row(1)), cos(row(0), row(2)); a <= b+0.2 {
		t.Errorf("cos(dog,puppy) = %.3f not clearly above cos(dog,cat) = %.3f", a, b)
	}
	if a, b := cos(row(2), row(3)), cos(row(2), row(1)); a <= b+0.2 {
		t.Errorf("cos(cat,kitten) = %.3f not clearly above cos(cat,puppy) = %.3f", a, b)
	}
	again, _ := Vectors(d, tags, dim)
	if !reflect.DeepEqual(v, again) {
		t.Error("two runs on the same captions differ")
	}
}

func TestVectorsErrors(t *testing.T) {
	d := docs("a dog in the park", "a cat on the sofa")
	tests := []struct {
		name string
		tags []string
		dim  int
		want string
	}{
		{"unseen tag", []string{"dog", "horse"}, 4, `"horse" occurs in no caption`},
		{"no tags", nil, 4, "no tags"},
		{"bad dim", []string{"dog"}, 0, "dimension 0"},
		{"duplicate", []string{"dog", "dog"}, 4, "listed twice"},
	}
	for _, tt := range tests {
		_, err := Vectors(d, tt.tags, tt.dim)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestWriteText(t *testing.T) {
	tags := []string{"dog", "cat"}
	vecs := []float32{0.6, -0.8, 0, 1}
	path := filepath.Join(t.TempDir(), "tags.txt")
	if err := WriteText(path, tags, vecs, 2); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	if sc.Text() != "2 2" {
		t.Fatalf("header %q, want \"2 2\"", sc.Text())
	}
	for i := 0; sc.Scan(); i++ {
		fields := strings.Fields(sc.Text())
		if fields[0] != tags[i] {
			t.Errorf("line %d word %q, want %q", i, fields[0], tags[i])
		}
		for j, s := range fields[1:] {
			x, err := strconv.ParseFloat(s, 32)
			if err != nil || float32(x) != vecs[i*2+j] {
				t.Errorf("line %d value %q, want %v", i, s, vecs[i*2+j])
			}
		}
	}
	if err := WriteText(path, tags, vecs[:3], 2); err == nil {
		t.Error("WriteText accepted 3 values for 2×2")
	}
	if err := WriteText(path, []string{"a b", "c"}, vecs, 2); err == nil {
		t.Error("WriteText accepted a tag with a space")
	}
}
