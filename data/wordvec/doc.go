// Package wordvec looks up word vectors for a list of words (the tag
// vocabulary) in a pre-trained word-vector file and returns them as one
// float32 matrix in the order asked for.
//
// Data comes from a file on disk in one of three formats, detected from its
// first bytes (or forced with Options.Format):
//
//   - word2vec binary (GoogleNews-vectors-negative300.bin): a text header
//     "<count> <dim>\n", then per word the word, a space, dim little-endian
//     float32 and usually a newline;
//   - word2vec or fastText text (.txt, .vec): the same header, then one line
//     per word, "word v1 … vdim";
//   - GloVe text: the same lines without a header; the dimension is taken
//     from the first line.
//
// A gzip-compressed file (GoogleNews-vectors-negative300.bin.gz) is read
// through gzip transparently; byte offsets in errors are then offsets in the
// uncompressed stream.
//
// The file is streamed once through a large buffer, so a 3.6 GB file never
// sits in memory: only the vectors of the words asked for are decoded, every
// other record is skipped without being parsed (binary records are discarded
// by length). Reading stops as soon as every word has been found exactly (a
// word with spaces: as its "_" phrase), unless Options.ScanAll asks to read,
// and so check, the whole file.
//
// Matching. For each word the best of these wins, in this order:
//
//  1. Exact: the file holds the word byte for byte.
//  2. Phrase: a word with spaces ("hot dog") is looked up with its spaces
//     replaced by "_" ("hot_dog"), as GoogleNews writes phrases.
//  3. CaseInsensitive: the file holds the word up to case (equal after
//     strings.ToLower). Among several case variants ("Apple", "APPLE") the
//     first in file order wins, since word2vec files are sorted by
//     descending frequency.
//  4. PhraseCaseInsensitive: the "_" phrase up to case, first in file order.
//  5. Composed: for a word with spaces, the mean of the vectors of its parts,
//     each part found by rules 1 and 3; used only when every part is found.
//
// A word the file holds twice takes its first record.
//
// A word with no vector at all is Missing: its row is the zero vector and it
// is listed in Table.Missing. In Model 2's weighted average such a tag adds
// nothing to the sum, so after the L2 normalisation it has no effect on the
// direction. Options.Strict turns missing words into an error instead.
//
// Bad input is reported as one-line errors that name the file: a header that
// is not "<count> <dim>", a dimension other than Options.Dim, lines or
// records whose length does not match the dimension (naming the word, line
// and byte offset), a file cut short inside a record (naming the word and
// byte offset), a header count that disagrees with the records in the file,
// and non-finite values in a vector that was asked for.
package wordvec
