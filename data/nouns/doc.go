// Package nouns turns caption text into tag candidates: the nouns (Penn
// Treebank POS NN and NNS) of a caption, lower-cased and lemmatised.
//
// Captions come from package tagimp/data/coco; the lemmas go to package
// tagimp/data/labels, which counts them into a vocabulary and importance
// labels.
//
// Tagging uses the averaged-perceptron POS tagger of
// github.com/jdkato/prose/v2 with its built-in English model. prose's own
// pipeline tags about 4,000 captions per second per core, mostly spent in
// map-heavy scoring that allocates per token. This package tokenises with
// prose's tokenizer (cached per whitespace-free span, which is how prose
// tokenises), loads the same perceptron weights once (from prose.Asset) and
// sums the features a word contributes once per distinct word: the same
// tags as prose (checked token by token on the val2017 captions), 10 to 25
// times less CPU per caption (empty to warm caches), and NounsAll
// spreads captions over all cores with a result independent of their
// number. It also fixes a prose bug: prose's tokenizer shares one token
// between repeated words of a caption, so there an earlier occurrence
// reports the tag of the last one. Captions written mostly in capitals
// (0.7% of COCO's) or in title case ("A Dog on the Sofa."), whose words
// the tagger reads as proper nouns, are tagged in lower case; a caption
// with a name or two in it keeps its capitals (see lowerFirst). On val2017
// this changes 30 captions and leaves the vocabulary at min-count 125 as it
// was, its counts up by one or two.
//
// Capitals. LearnCase counts how the captions write every word away from
// the start of a sentence and makes the tagger lower-case a capitalised
// first word the corpus writes in lower case ("Woman carrying a bunch of
// bananas"): the paper does not say, this is our reading of "nouns". Words
// returns every word-like token with its lemma and whether it was tagged a
// common noun, a proper noun or neither; package labels decides over the
// corpus whether a proper-noun token ("a Frisbee") counts as its lemma and
// whether a lemma is tagged a noun often enough to be a tag.
//
// Lemmatisation (Lemma) lower-cases NN and NNS tokens and singularises
// plurals with guarded rules and github.com/jinzhu/inflection: an
// exception list first ("people", "glasses", pluralia tantum, irregular
// plurals), then rules that keep singular -s words whole ("bus", "grass",
// "tennis") and fix inflection's known cuts ("waves" → "wafe", "ties" →
// "ty", "toes" → "to"). It is checked on every noun of the real val2017
// captions: no vocabulary tag is a string that never occurs as a caption
// word.
package nouns
