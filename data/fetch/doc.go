// Package fetch downloads the external assets listed in a manifest (see
// tagimp/third_party/assets.json): model weights, COCO archives and word
// vectors. A download goes to FILE.part next to the destination, resumes
// with an HTTP Range request when the connection is cut or the command is
// run again, is checked against the manifest's size and SHA-256 (or MD5
// where only that is published), and is renamed to FILE only when it
// matches. A mismatch removes the partial file and reports both hashes.
// Data comes from the asset's URL and goes to a folder the caller names.
package fetch
