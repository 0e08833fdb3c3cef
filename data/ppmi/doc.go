// Package ppmi learns tag vectors from captions when no pre-trained word
// vectors (word2vec, GloVe) are at hand, as in the synthetic demo.
//
// Captions come in as token lists (Tokenize splits a caption; the caller may
// lemmatise the tokens the way the vocabulary was built), tags as the
// vocabulary in its order. Every tag is counted against every other word of
// the captions it appears in; the counts become positive pointwise mutual
// information (PPMI, with the usual 0.75 smoothing of the context
// distribution), the tag×context matrix is factorised by a truncated SVD
// (gonum's mat.SVD) and each tag's row, U·√Σ, is L2-normalised. The result
// is a float32 [T,E] matrix in vocabulary order, the shape the models take as
// tag vectors; WriteText saves it in the word2vec text format so `train
// --tagvec` can read it back.
package ppmi
