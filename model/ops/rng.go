package ops

// SplitMix64 is the splitmix64 finaliser (tg_splitmix64).
func SplitMix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// StreamKey derives the key of one (seed, stream) pair (tg_stream_key).
func StreamKey(seed, stream uint64) uint64 {
	return SplitMix64(seed ^ SplitMix64(stream))
}

// RandU32 returns 32 random bits for element idx under key (tg_rand_u32).
func RandU32(key, idx uint64) uint32 {
	return uint32(SplitMix64(key^(idx*0xD1B54A32D192ED03)) >> 32)
}

// DropoutStream is the stream id of dropout layer `layer` (0: the trunk's
// fc1, 1: Model 2's imp2.fc1; at most 7) at training step `step`.
func DropoutStream(step uint64, layer int) uint64 {
	return step<<3 | uint64(layer&7)
}

// dropoutScaleKey is tg_dropout_scale: 0 for a dropped element, 1/(1-p) for
// a kept one; dropped when the top 24 random bits are below p·2^24.
func dropoutScaleKey(key, idx uint64, p float32) float32 {
	r := RandU32(key, idx) >> 8
	cut := uint32(p * 16777216.0)
	if r < cut {
		return 0
	}
	return 1 / (1 - p)
}

// DropoutScale returns the inverted-dropout factor of element idx (row*width
// + col of the activation) in stream `stream` under `seed`: 0 with
// probability p, otherwise 1/(1-p). The GPU kernels draw the same values.
func DropoutScale(seed, stream, idx uint64, p float32) float32 {
	return dropoutScaleKey(StreamKey(seed, stream), idx, p)
}

// FillDropoutMask writes DropoutScale(seed, stream, i, p) into dst[i] for
// every i: the mask of a whole [batch, width] activation at once.
func FillDropoutMask(dst []float32, seed, stream uint64, p float32) {
	key := StreamKey(seed, stream)
	for i := range dst {
		dst[i] = dropoutScaleKey(key, uint64(i), p)
	}
}
