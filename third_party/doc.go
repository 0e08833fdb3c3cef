// Package thirdparty holds the manifest of external assets tagimp-gpu
// can download: VGG16 weights (torchvision and Keras), the COCO 2014 and
// 2017 images and annotations, and the GoogleNews word2vec vectors. Each
// entry gives the URL, size in bytes, SHA-256 and/or MD5 where one is
// published, and the license. The assets themselves never live here; the
// fetch command (package tagimp/data/fetch) downloads them and checks them
// against this manifest.
package thirdparty
