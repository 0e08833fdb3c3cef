// Package features holds the image-feature cache: VGG16 fc7 vectors
// (float32, one row per image) computed once from the images and read by
// training, evaluation and prediction.
//
// Build writes a cache folder: the images of a caption file, sorted by id
// and optionally split across machines by id (Shard: id mod n == k), are
// cut into shards of ShardSize images. Each shard is a pair of numpy files,
// fc7-KofN-SSSSS.npy ([rows, dim] <f4) and fc7-KofN-SSSSS.ids.npy ([rows]
// <i8), each written to a temporary file and renamed. A manifest (JSON:
// backbone, weights SHA-256, preprocessing, image size, shard list with row
// counts and file hashes, images that failed with the reason) is rewritten
// after every shard, so a run killed at any moment is finished by running
// the same command again: finished shards are checked against their hashes
// and kept, and the result is byte-identical to an uninterrupted run. The
// manifest is manifest.json for an unsplit run and manifest-KofN.json for a
// split one; Merge checks and joins the parts (same weights and
// preprocessing, no id twice) into one manifest.json.
//
// Images come from a caption file's image list (package tagimp/data/coco),
// are decoded and preprocessed by a LoadFunc (tagimp/data/imageprep) in
// parallel workers, and go through an Extractor (the CPU VGG16 of
// tagimp/model/vgg16 or the GPU one). Load is the one reader the trainer
// uses: a cache folder, or a single [N, D] .npy with its ids in
// NAME.ids.npy. It rejects NaN and Inf naming the image id, and exposes the
// cache's Meta so callers can refuse features made with other weights.
package features
