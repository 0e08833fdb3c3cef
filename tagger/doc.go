// Package tagger puts a trained run to use: it reopens a run folder (the
// model checkpoint, its tag vectors, and the VGG16 and preprocessing its
// features were computed with, as the run's metadata records them) and turns
// images into tags with their importance.
//
// Images come as files or as bytes in memory (the serve command's request
// bodies); they are decoded and preprocessed by package tagimp/data/imageprep,
// run through VGG16 fc7 (package tagimp/model/vgg16, or the GPU extractor the
// caller supplies) and the run's model (package tagimp/model) in batches.
// Results go out as Prediction values: the tags at or above the threshold,
// most important first. Stream tags any number of files in bounded batches
// and writes one JSON line per image (the tag command); Batcher groups
// requests that arrive together into one forward pass (the serve command).
package tagger
