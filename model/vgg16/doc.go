// Package vgg16 is the VGG16 image network on the CPU: 13 3×3 convolutions
// (padding 1) with ReLU, five 2×2 max-pools, fc6 (25088→4096) and fc7
// (4096→4096) with ReLU, and the optional ImageNet classifier fc8. The
// image feature of the method is fc7 after its ReLU (dropout is off at
// inference).
//
// Inputs are preprocessed images from data/imageprep (n·3·224·224 float32,
// CHW); outputs are n·4096 fc7 rows for the feature cache (data/features)
// and the predict command. Weights come from torchvision's
// vgg16-397923af.pth (legacy and zip torch checkpoints, read with
// github.com/nlpodyssey/gopickle), from an .npz file in this package's
// documented layout (see Load), or are seeded random (He init) for the demo.
// Parameter names and shapes are checked against the architecture, and the
// SHA-256 of the weights file is kept for the cache manifest.
//
// Convolutions run through oneDNN (libdnnl-dev, the library PyTorch's CPU
// convolutions use; linked with -ldnnl) where the build has it: direct
// convolutions with bias and ReLU fused, in the blocked layouts oneDNN
// picks, the weights reordered into them once per Net, one image at a time
// on as many OpenMP threads as OpenBLAS uses (OPENBLAS_NUM_THREADS). fc7
// agrees with the im2col path to about 2e-6 relative (TestConvEnginesAgree);
// Net.SetConvEngine("im2col") selects that path, as do the tags noonednn
// and noopenblas.
//
// The im2col path runs im2col + SGEMM. With cgo the SGEMM is OpenBLAS's
// cblas_sgemm (libopenblas-dev, linked with -lopenblas); build with
// CGO_ENABLED=0 or the tag noopenblas to use gonum's pure-Go SGEMM instead
// (same results up to float rounding, slower). OpenBLAS
// starts one thread per core; on a machine shared with other jobs
// OPENBLAS_NUM_THREADS=1 can be faster (measured here: 1.5 vs 0.95 images/s
// with the 2 cores busy with other work).
package vgg16
