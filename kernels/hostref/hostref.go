// Package hostref compiles the kernels' shared math header
// (kernels/tagimp_math.h) for the CPU through cgo and exposes it to Go, so
// that tests without a GPU can check the Go twins in model/ops against the
// very source the CUDA kernels are built from.
package hostref

/*
#cgo CFLAGS: -I${SRCDIR}/.. -O2 -std=c99
#cgo LDFLAGS: -lm
#include "tagimp_math.h"

static void tg_wa_batch(float *out, const float *p, const float *v, int B, int T, int E, float theta)
{
	for (int b = 0; b < B; b++)
		tg_wa_row(out + (long)b * E, p + (long)b * T, v, T, E, theta);
}
*/
import "C"

import "unsafe"

// StreamKey calls tg_stream_key.
func StreamKey(seed, stream uint64) uint64 {
	return uint64(C.tg_stream_key(C.uint64_t(seed), C.uint64_t(stream)))
}

// RandU32 calls tg_rand_u32.
func RandU32(key, idx uint64) uint32 {
	return uint32(C.tg_rand_u32(C.uint64_t(key), C.uint64_t(idx)))
}

// DropoutScale calls tg_dropout_scale with the key of (seed, stream).
func DropoutScale(seed, stream, idx uint64, p float32) float32 {
	return float32(C.tg_dropout_scale(C.tg_stream_key(C.uint64_t(seed), C.uint64_t(stream)), C.uint64_t(idx), C.float(p)))
}

// WeightedAverage runs tg_wa_row over a batch: probs [batch, tags], vecs
// [tags, dim], dst [batch, dim].
func WeightedAverage(dst, probs, vecs []float32, batch, tags, dim int, theta float32) {
	if batch == 0 || dim == 0 {
		return
	}
	pp := (*C.float)(unsafe.Pointer(nil))
	vp := (*C.float)(unsafe.Pointer(nil))
	if len(probs) > 0 {
		pp = (*C.float)(unsafe.Pointer(&probs[0]))
	}
	if len(vecs) > 0 {
		vp = (*C.float)(unsafe.Pointer(&vecs[0]))
	}
	C.tg_wa_batch((*C.float)(unsafe.Pointer(&dst[0])), pp, vp, C.int(batch), C.int(tags), C.int(dim), C.float(theta))
}
