// Package imageprep turns image files into the float32 input tensors that
// VGG16 expects.
//
// Images come from disk (COCO's JPEGs, or any JPEG or PNG a user passes to
// predict). Each is decoded with a pixel limit checked against the header
// before any pixel memory is allocated, converted to 8-bit RGB (greyscale,
// CMYK and YCCK JPEGs, 16-bit, paletted and alpha PNGs included; alpha is
// dropped the way PIL's convert("RGB") drops it). JPEGs are decoded by
// libjpeg-turbo through cgo (libjpeg62-turbo-dev, linked statically so the
// binaries need no libjpeg on the machine that runs them), at the smallest
// DCT scale k/8 whose output still covers the resize target unless
// Config.FullDecode is set; its error_exit longjmps back to the C caller and
// comes back as an error naming the file, and a premature end of the data is
// an error (ErrTruncated), not grey padding. Build with -tags nolibjpeg (or
// without cgo) to use Go's image/jpeg instead; PNGs always use image/png.
//
// The image is then resized with an antialiased bilinear filter — the
// triangle filter of golang.org/x/image/draw's BiLinear, computed as one
// fused separable pass over the 8-bit pixels that also normalises
// (Config.Tensor keeps the x/image/draw path it is tested against:
// at most one level of 255 apart) — to Size×Size — or,
// with CenterCrop, shorter side to Size·256/224 and then a centre crop of
// Size×Size, as torchvision's evaluation transform does — and normalised for
// the origin of the network's weights:
//
//   - "torchvision": RGB, v/255, minus mean [0.485 0.456 0.406], divided by
//     std [0.229 0.224 0.225];
//   - "caffe" (Caffe and Keras VGG16): BGR, 0–255, minus the per-channel mean
//     [103.939 116.779 123.68] (B, G, R).
//
// The result is one CHW float32 slice of 3·Size·Size values per image, which
// model/vgg16 and the feature cache consume. LoadBatch and Stream decode many
// files in parallel workers and report a per-image error without stopping
// the rest of the batch.
package imageprep
