package nouns

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jdkato/prose/v2"
	"github.com/mingrammer/commonregex"

	"tagimp/internal/realdata"
)

// valCaptions reads the captions of captions_val2017.json in file order.
func valCaptions(t testing.TB) []string {
	t.Helper()
	path := filepath.Join(realdata.Dir(t), "coco", "captions_val2017.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Annotations []struct {
			Caption string `json:"caption"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	caps := make([]string, len(file.Annotations))
	for i, a := range file.Annotations {
		caps[i] = a.Caption
	}
	return caps
}

var (
	sharedOnce   sync.Once
	sharedTagger *Tagger
	sharedErr    error
)

func testTagger(t testing.TB) *Tagger {
	t.Helper()
	sharedOnce.Do(func() { sharedTagger, sharedErr = NewTagger() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedTagger
}

// TestMatchesProse tags every val2017 caption with the fast tagger and with
// prose's own pipeline and compares them token by token.
func TestMatchesProse(t *testing.T) {
	caps := valCaptions(t)
	tg := testTagger(t)
	doc, err := prose.NewDocument("", prose.WithExtraction(false), prose.WithSegmentation(false))
	if err != nil {
		t.Fatal(err)
	}
	model := doc.Model
	step := 3 // every third caption keeps the test near 4 s; -short: every 30th
	if testing.Short() {
		step = 30
	}
	var sample []string
	for i := 0; i < len(caps); i += step {
		sample = append(sample, caps[i])
	}
	// Tokens prose treats specially: links, e-mail, emoticons, numbers,
	// "-NONE-" and "-XXX-" tokens, quotes, non-ASCII text.
	sample = append(sample,
		"Visit www.example.com or mail me@example.org :) xD",
		"A 1999 car with 3 wheels - and 0 doors * -LRB- here",
		"“A dog” on a café terrace ’s (really) $5 [sic]",
		"They'll say the man's dog won't eat U.S. food at 10:30 a.m.")
	tokens, diff, repeated := 0, 0, 0
	for _, c := range sample {
		ref, err := prose.NewDocument(c, prose.UsingModel(model), prose.WithExtraction(false), prose.WithSegmentation(false))
		if err != nil {
			t.Fatal(err)
		}
		want := ref.Tokens()
		got := tg.Tag(c)
		if len(got) != len(want) {
			t.Fatalf("caption %q: %d tokens, prose %d", c, len(got), len(want))
		}
		count := map[string]int{}
		for _, tok := range got {
			count[tok.Text]++
		}
		for j := range got {
			if got[j].Text != want[j].Text {
				t.Fatalf("caption %q token %d: text %q, prose %q", c, j, got[j].Text, want[j].Text)
			}
			// prose's tokenizer shares one *Token between repeated
			// whitespace-delimited spans, so a repeated word reports the
			// tag of its last occurrence; compare words that occur once.
			if count[got[j].Text] > 1 {
				repeated++
				continue
			}
			tokens++
			if got[j].Tag != want[j].Tag {
				diff++
				if diff <= 10 {
					t.Errorf("caption %q token %d: got %s/%s, prose %s/%s", c, j, got[j].Text, got[j].Tag, want[j].Text, want[j].Tag)
				}
			}
		}
	}
	t.Logf("%d tokens compared, %d differ, %d repeated words not compared", tokens, diff, repeated)
}

// BenchmarkNounsAll measures the caption pass (tokenise, tag, lemmatise) on
// the real val2017 captions with all cores; see captions/s.
func BenchmarkNounsAll(b *testing.B) {
	caps := valCaptions(b)
	tg := testTagger(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tg.NounsAll(caps, 0, nil)
	}
	b.ReportMetric(float64(b.N*len(caps))/b.Elapsed().Seconds(), "captions/s")
}

// BenchmarkNounsOneCore is the same pass on one goroutine.
func BenchmarkNounsOneCore(b *testing.B) {
	caps := valCaptions(b)
	tg := testTagger(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tg.NounsAll(caps, 1, nil)
	}
	b.ReportMetric(float64(b.N*len(caps))/b.Elapsed().Seconds(), "captions/s")
}

func TestNormalize(t *testing.T) {
	for _, w := range []string{"1999", "+123", "-123", "12a4", "3rd", "t-shirt", "-LRB-", "Dog", "", "٣", "a1"} {
		var want string
		switch {
		case w == "":
		case strings.Contains(w, "-") && w[0] != '-':
			want = "!HYPHEN"
		case func() bool { _, err := strconv.Atoi(w); return err == nil && len(w) == 4 }():
			want = "!YEAR"
		case func() bool { _, err := strconv.Atoi(string(rune(w[0]))); return err == nil }():
			want = "!DIGITS"
		default:
			want = strings.ToLower(w)
		}
		if got := normalize(w); got != want {
			t.Errorf("normalize(%q) = %q, want %q (prose's rule)", w, got, want)
		}
	}
}

func TestLemma(t *testing.T) {
	tests := map[string]string{
		"dogs": "dog", "Men": "man", "women": "woman", "skis": "ski", "skiis": "ski",
		"tennis": "tennis", "bus": "bus", "buses": "bus", "grass": "grass",
		"glasses": "glasses", "glass": "glass", "people": "people", "person": "person",
		"species": "species", "series": "series", "bass": "bass", "dress": "dress",
		"dresses": "dress", "cross": "cross", "giraffes": "giraffe", "waves": "wave",
		"gloves": "glove", "olives": "olive", "leaves": "leaf", "knives": "knife",
		"ties": "tie", "pies": "pie", "veggies": "veggie", "cookies": "cookie",
		"berries": "berry", "skies": "sky", "cities": "city", "toes": "toe",
		"canoes": "canoe", "tomatoes": "tomato", "shoes": "shoe", "photos": "photo",
		"taxis": "taxi", "bikinis": "bikini", "oasis": "oasis", "analysis": "analysis",
		"gas": "gas", "lens": "lens", "boxes": "box", "benches": "bench",
		"sandwiches": "sandwich", "houses": "house", "vases": "vase", "bases": "base",
		"broccoli": "broccoli", "cattle": "cattle", "media": "media", "scissors": "scissors",
		"pants": "pants", "jeans": "jeans", "octopuses": "octopus", "mattresses": "mattress",
		"children": "child", "christmas": "christmas", "news": "news",
	}
	for in, want := range tests {
		if got := Lemma(in); got != want {
			t.Errorf("Lemma(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNouns(t *testing.T) {
	tg := testTagger(t)
	tests := []struct{ caption, want string }{
		{"Two dogs are laying on a bed.", "dog bed"},
		{"  A man playing TENNIS on a tennis court. ", "man tennis court"},
		{"A red double decker bus driving down a street", "decker bus street"},
		{"Three men wearing glasses and skis", "man glasses ski"},
		{"A KITCHEN WITH A SINK AND TABLE IN IT ", "kitchen sink table"},
		// Mostly capitals, and title case: tagged in lower case.
		{"tHERE ARE TWO MEN PLAYING TENNIS ON THE TENNIS COURT", "man tennis tennis court"},
		{"A Dog on the Sofa.", "dog sofa"},
		{"Large Bacon Lettuce and Tomato Sandwich with a side of chips.", "bacon lettuce tomato sandwich side chip"},
		// A name or two in an ordinary caption keeps its capitals.
		{"Two women playing a game with a Nintendo Wii controller.", "woman game controller"},
		{"", ""},
		{" \t\n", ""},
		{"2 dogs :) at www.example.com, 1999 and a café ☕ (really)", "dog café"},
	}
	for _, tt := range tests {
		if got := strings.Join(tg.Nouns(tt.caption), " "); got != tt.want {
			t.Errorf("Nouns(%q) = %q, want %q (tags %v)", tt.caption, got, tt.want, tg.Tag(tt.caption))
		}
	}
}

func TestLowerFirst(t *testing.T) {
	for _, tt := range []struct {
		caption string
		want    bool
	}{
		{"A CAT IN THE SINK", true},
		{"a BLACK BUILDING THAT SAYS FIRST AVENUE AND 7th street entry", true},
		{"A Dog on the Sofa.", true},
		{"A Do Not Enter Sign with a Two Way Street Sign above it.", true},
		{"A Church entrance with Saint and Angel Statues and a cross on top.", true},
		{"Two dogs are laying on a bed.", false},
		{"A man playing TENNIS on a tennis court.", false},
		{"A silver TV sitting on top of a TV stand.", false},
		{"Two women playing a game with a Nintendo Wii controller.", false},
		{"The Big Ben clock tower towering over the city of London.", false},
		{"Dog", false},
		{"", false},
	} {
		if got := lowerFirst(tt.caption); got != tt.want {
			t.Errorf("lowerFirst(%q) = %v, want %v", tt.caption, got, tt.want)
		}
	}
}

func TestNounsAllDeterministic(t *testing.T) {
	caps := valCaptions(t)[:3000]
	tg := testTagger(t)
	one := tg.NounsAll(caps, 1, nil)
	var last, calls int
	four := tg.NounsAll(caps, 4, func(done, total int) {
		calls++
		if done < last || total != len(caps) {
			t.Errorf("progress %d/%d after %d", done, total, last)
		}
		last = done
	})
	if last != len(caps) || calls < 2 {
		t.Errorf("progress ended at %d after %d calls", last, calls)
	}
	for i := range one {
		if strings.Join(one[i], " ") != strings.Join(four[i], " ") {
			t.Fatalf("caption %d: 1 worker %v, 4 workers %v", i, one[i], four[i])
		}
	}
}

// TestSpecialTagFilter checks that the character pre-filters of specialTag
// give prose's answers.
func TestSpecialTagFilter(t *testing.T) {
	for _, w := range []string{"www.example.com", "example.org", "a.m.", "U.S.", "me@example.org", "@user", "0", "*", "*T*", "*-12", "-LRB-", "-", ":)", "xD", "dog", "Dog", "10:30", "3.5", "e-mail", "-abc-"} {
		var want special
		switch {
		case w == "-":
			want = special{"-", true}
		case emoticons[w]:
			want = special{"SYM", true}
		case commonregex.LinkRegex.MatchString(w) || commonregex.EmailRegex.MatchString(w) || strings.HasPrefix(w, "@"):
			want = special{"NN", true}
		case noneRE.MatchString(w):
			want = special{"-NONE-", true}
		case keepRE.MatchString(w):
			want = special{w, true}
		}
		if got := specialTag(w); got != want {
			t.Errorf("specialTag(%q) = %v, want %v", w, got, want)
		}
	}
}

// TestLearnCase checks that a capitalised first word is tagged in lower
// case when the corpus writes it in lower case mid-sentence, and that a
// word the corpus writes capitalised keeps its capital.
func TestLearnCase(t *testing.T) {
	tg, err := NewTagger()
	if err != nil {
		t.Fatal(err)
	}
	corpus := []string{
		"Woman carrying a bunch of bananas on top of her hat.",
		"a woman on a bench", "the woman in a red hat",
		"Nintendo Wii controller on a table", "a man holding a Nintendo controller",
	}
	lemmas := func(ws []Word, kind Kind) []string {
		var out []string
		for _, w := range ws {
			if w.Kind == kind {
				out = append(out, w.Lemma)
			}
		}
		return out
	}
	before := tg.Words(corpus[0])
	st := tg.LearnCase(corpus)
	if st.Lower["woman"] != 2 || st.Capital["nintendo"] != 1 || st.Lower["nintendo"] != 0 {
		t.Errorf("case counts: woman %d lower, nintendo %d capital %d lower", st.Lower["woman"], st.Capital["nintendo"], st.Lower["nintendo"])
	}
	after := tg.Words(corpus[0])
	if slices.Contains(lemmas(before, Common), "woman") {
		t.Logf("the tagger already read the capitalised Woman as a common noun: %v", before)
	}
	if got := lemmas(after, Common); !slices.Contains(got, "woman") || !slices.Contains(got, "banana") {
		t.Errorf("common nouns after LearnCase %v, want woman and banana", got)
	}
	if got := lemmas(tg.Words(corpus[3]), Common); slices.Contains(got, "nintendo") {
		t.Errorf("Nintendo, capitalised in the corpus, lost its capital: %v", got)
	}
	// Every word-like token is returned; Nouns is its Common lemmas.
	ws := tg.Words("A dog sits on 2 beds.")
	if len(ws) != 5 || !slices.Equal(lemmas(ws, Common), tg.Nouns("A dog sits on 2 beds.")) {
		t.Errorf("Words = %+v", ws)
	}
}
