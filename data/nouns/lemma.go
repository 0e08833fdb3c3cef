package nouns

import (
	"strings"

	"github.com/jinzhu/inflection"
)

// lemmaExceptions maps lower-case words to the lemma used instead of the
// rules of singular. Deliberate choices:
//
//   - "people" stays "people": a group of people is a different picture
//     from one person, and COCO captions use both ("a person on a bike",
//     "people standing around"); WordNet's lemmatiser keeps it too.
//   - "glasses" stays "glasses" (eyeglasses: "a man wearing glasses");
//     "glass" is kept for drinking glasses, which captions name in the
//     singular ("a glass of wine"). Likewise "fries" (french fries).
//   - pluralia tantum (scissors, pants, jeans, shorts, clothes, goggles,
//     sunglasses, binoculars, tongs, ...) stay as they are: "pant",
//     "scissor" and "jean" are not the objects in the picture.
//   - irregular plurals (men, women, children, feet, teeth, mice, geese)
//     and plurals that inflection cuts wrongly (toes → "to", canoes →
//     "cano", bases → "basis", axes → "axis", lenses → "lense",
//     octopuses → "octopuse") map to their singular.
//   - singular words ending in s that the rules would cut (gas, lens,
//     christmas, canvas, atlas, chaos, news, species, series, ...) map to
//     themselves.
var lemmaExceptions = map[string]string{
	// groups, pairs and pluralia tantum
	"people": "people", "police": "police", "cattle": "cattle", "glasses": "glasses",
	"sunglasses": "sunglasses", "eyeglasses": "eyeglasses", "spectacles": "spectacles",
	"goggles": "goggles", "binoculars": "binoculars", "scissors": "scissors",
	"pants": "pants", "sweatpants": "sweatpants", "trousers": "trousers", "jeans": "jeans",
	"shorts": "shorts", "tights": "tights", "pajamas": "pajamas", "pyjamas": "pyjamas",
	"overalls": "overalls", "clothes": "clothes", "tongs": "tongs", "pliers": "pliers",
	"tweezers": "tweezers", "shears": "shears", "headphones": "headphones",
	"earphones": "earphones", "fries": "fries", "headquarters": "headquarters",
	"electronics": "electronics", "physics": "physics", "gymnastics": "gymnastics",
	"athletics": "athletics", "graphics": "graphics", "billiards": "billiards",
	"memorabilia": "memorabilia", "media": "media", "data": "data", "criteria": "criteria",
	"bacteria": "bacteria", "sideways": "sideways", "molasses": "molasses",
	// singular words ending in s
	"gas": "gas", "lens": "lens", "christmas": "christmas", "canvas": "canvas",
	"atlas": "atlas", "bias": "bias", "alias": "alias", "chaos": "chaos",
	"thermos": "thermos", "cosmos": "cosmos", "news": "news", "species": "species",
	"series": "series", "yes": "yes", "texas": "texas", "kansas": "kansas",
	// plurals the rules get wrong
	"men": "man", "women": "woman", "children": "child", "feet": "foot", "teeth": "tooth",
	"mice": "mouse", "geese": "goose", "oxen": "ox", "cacti": "cactus", "fungi": "fungus",
	"buses": "bus", "busses": "bus", "lenses": "lens", "gases": "gas",
	"octopuses": "octopus", "octopi": "octopus", "cactuses": "cactus",
	"walruses": "walrus", "campuses": "campus", "circuses": "circus",
	"viruses": "virus", "bonuses": "bonus", "platypuses": "platypus",
	"hippopotamuses": "hippopotamus", "citruses": "citrus",
	"toes": "toe", "tiptoes": "tiptoe", "canoes": "canoe", "hoes": "hoe", "oboes": "oboe",
	"floes": "floe", "bases": "base", "axes": "axe", "skiis": "ski",
	"leaves": "leaf", "knives": "knife", "pocketknives": "pocketknife",
	"wolves": "wolf", "shelves": "shelf", "bookshelves": "bookshelf", "halves": "half",
	"calves": "calf", "loaves": "loaf", "scarves": "scarf", "hooves": "hoof",
	"wives": "wife", "housewives": "housewife", "lives": "life", "thieves": "thief",
	"elves": "elf", "selves": "self", "wharves": "wharf", "dwarves": "dwarf",
}

// ieNouns are nouns ending in -ie, whose plural -ies is not -y + s.
var ieNouns = map[string]bool{
	"veggie": true, "zombie": true, "brownie": true, "cookie": true, "movie": true,
	"goalie": true, "selfie": true, "smoothie": true, "hippie": true, "necktie": true,
	"bowtie": true, "hoodie": true, "beanie": true, "birdie": true, "rookie": true,
	"calorie": true, "prairie": true, "collie": true, "genie": true, "pixie": true,
	"magpie": true, "auntie": true, "doggie": true, "cutie": true, "goodie": true,
	"sweetie": true, "walkie": true, "talkie": true, "boogie": true, "yuppie": true,
	"budgie": true, "kiddie": true, "quickie": true, "pastie": true, "oldie": true,
	"freebie": true, "junkie": true, "newbie": true, "techie": true, "foodie": true,
}

// isSingulars are singular words ending in -is (other -is words are
// plurals of -i words: taxis, skis, kiwis, bikinis).
var isSingulars = map[string]bool{
	"tennis": true, "axis": true, "iris": true, "oasis": true, "chassis": true,
	"trellis": true, "debris": true, "mantis": true, "pelvis": true, "penis": true,
	"this": true, "his": true, "metropolis": true, "acropolis": true, "clematis": true,
}

// Lemma returns the tag form of a noun token: lower-cased and singular.
// Exceptions come first (lemmaExceptions); then words not ending in s are
// kept (a tagger's NNS on "broccoli" or "media" is not a reason to change
// them); -ss and -us words are kept (grass, bus); -is words are kept when
// singular (tennis, axis, -sis) and lose the s otherwise (taxis → taxi);
// -ves → -ve (waves, gloves, olives: the f-plurals are exceptions); -ies →
// -ie for -ie nouns and 3-letter words (ties, pies), else -y; everything
// else goes to inflection.Singular. Lemma is applied to NN as well as NNS
// tokens, because the tagger now and then calls a plural NN ("giraffes",
// "skis"); the rules keep singular -s nouns whole.
func Lemma(word string) string {
	w := strings.ToLower(word)
	if l, ok := lemmaExceptions[w]; ok {
		return l
	}
	n := len(w)
	switch {
	case n < 3 || !strings.HasSuffix(w, "s"):
		return w
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"):
		return w
	case strings.HasSuffix(w, "is"):
		if isSingulars[w] || strings.HasSuffix(w, "sis") {
			return w
		}
		return w[:n-1]
	case strings.HasSuffix(w, "ves"):
		return w[:n-1]
	case strings.HasSuffix(w, "ies"):
		if ieNouns[w[:n-1]] || n <= 4 {
			return w[:n-1]
		}
		return w[:n-3] + "y"
	}
	return inflection.Singular(w)
}
