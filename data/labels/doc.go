// Package labels turns the nouns of COCO captions into the tag vocabulary
// and the per-image importance labels the models learn, and reads them back.
//
// Input: captions grouped by image (package tagimp/data/coco) and the noun
// lemmas of every caption (package tagimp/data/nouns). Output, in one
// directory:
//
//   - vocab.json: {"min_count":N,"noun_share":S,"images":I,"captions":C,
//     "tags":[{"tag":"man","count":3380,"noun_share":0.99},…]} with tags in
//     descending count, ties in alphabetical order (noun shares only when
//     measured: BuildWords);
//   - labels.npz: ids int64 [N], presence uint8 [N,T], importance float32
//     [N,T], rows in ascending image id, columns in vocabulary order;
//   - splits.json (optional): {"seed":S,"train":[ids…],"test":[ids…]}
//     and, with a validation split (Splits.CarveVal), "val":[ids…];
//   - labels-manifest.json: the files above with their SHA-256, written
//     as the commit point of WriteDir; readers check the files against it,
//     so a folder is one write's files or refused, never a mix.
//
// Counting: a tag's count is the number of captions that mention it at
// least once ("two dogs and a dog bed" counts dog once), the same unit as
// the importance numerator, so count(t) = Σ_images importance(i,t) ×
// captions(i). Importance of tag t for image i is the number of i's
// captions mentioning t divided by the number of i's captions; presence is
// importance > 0. With a split (BuildOn), tags are counted over the
// training images' captions only, so test captions do not choose the
// vocabulary; every image of the file is still labelled.
//
// BuildWords, what tagimp-gpu vocab uses, takes every word of every caption
// with how the tagger read it (package tagimp/data/nouns) and decides two
// things over the counted captions, beyond the paper's rule: a proper-noun
// token ("a Frisbee") mentions its lower-case lemma when the captions use
// the lemma as a common noun at least as often, and a lemma is a tag only
// when at least Options.NounShare of its tokens are counted as nouns
// (DefaultNounShare; the lemmas dropped are returned with the reason).
//
// Splits are drawn by a seeded hash of the image id (splitmix64), not by
// file order or Go's random generator: the same seed gives the same split
// on every machine and Go version, and the split of an image does not
// depend on which other images are in the file.
//
// Models, metrics and the CLI read the results with ReadVocab, Read and
// ReadSplits.
package labels
