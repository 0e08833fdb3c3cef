//go:build gpu

package gpu

// AutoBatch is the batch size that fits in free bytes of device memory:
// fixed bytes (weights, cuDNN workspace, library handles) plus perImage
// bytes for each image of the batch, with a tenth of free kept back for
// what the estimate misses. Above 8 it is a multiple of 8 (tensor-core
// friendly shapes); it is between 1 and maxBatch. Allocation failures
// still halve the batch at run time, so an estimate on the low side only
// costs speed.
func AutoBatch(free, fixed, perImage int64, maxBatch int) int {
	if perImage <= 0 || maxBatch < 1 {
		return 1
	}
	avail := free - free/10 - fixed
	if avail < perImage {
		return 1
	}
	b := int(min(avail/perImage, int64(maxBatch)))
	if b > 8 {
		b &^= 7
	}
	return max(b, 1)
}
