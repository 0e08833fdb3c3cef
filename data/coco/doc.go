// Package coco reads MS-COCO caption files (captions_train2014.json,
// captions_val2017.json, ...) into the captions of each image.
//
// The file is streamed with encoding/json tokens: only image ids, their
// file names ("file_name", which tagimp-gpu features uses to find the image
// files) and caption texts are kept, other keys ("info", "licenses", "type", anything new) are
// skipped without being held, so the 90 MB train2014 file costs little more
// than its captions. The result goes to package tagimp/data/nouns (caption
// text) and package tagimp/data/labels (captions per image).
//
// Inconsistent files are errors, not warnings: a caption whose image_id is
// not in "images", an image without any caption, a duplicate image id and
// a caption without text or image_id each fail the read with one line that
// names the file, how many entries are affected and the first of them.
// Malformed JSON is reported with its line, column and byte offset.
package coco
