//go:build cgo && !noopenblas

package cpu

/*
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include <math.h>
#include <stddef.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// tg_adam_f32 is ops.Adam (weight decay 0) in C with SIMD: the same float32
// operations in the same order (multiply, add, correctly rounded square
// root and division; never a fused multiply-add), hence bit-identical
// results, several elements at a time.
static inline float tg_adam1(float *p, float g, float *m, float *v,
                             float step, float sbc2, float b1, float ob1, float b2, float ob2, float eps) {
	float mm = b1 * *m + ob1 * g;
	float vv = b2 * *v + ob2 * (g * g);
	float denom = __builtin_sqrtf(vv) / sbc2 + eps;
	*m = mm;
	*v = vv;
	return *p - step * (mm / denom);
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx")))
static size_t tg_adam_avx(float *p, const float *g, float *m, float *v, size_t n,
                          float step, float sbc2, float b1, float ob1, float b2, float ob2, float eps) {
	const __m256 vstep = _mm256_set1_ps(step), vs = _mm256_set1_ps(sbc2), vb1 = _mm256_set1_ps(b1),
	             vob1 = _mm256_set1_ps(ob1), vb2 = _mm256_set1_ps(b2), vob2 = _mm256_set1_ps(ob2), veps = _mm256_set1_ps(eps);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 gi = _mm256_loadu_ps(g + i);
		__m256 mm = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(vob1, gi));
		__m256 vv = _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(vob2, _mm256_mul_ps(gi, gi)));
		__m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vv), vs), veps);
		_mm256_storeu_ps(m + i, mm);
		_mm256_storeu_ps(v + i, vv);
		_mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_loadu_ps(p + i), _mm256_mul_ps(vstep, _mm256_div_ps(mm, den))));
	}
	return i;
}

static size_t tg_adam_sse(float *p, const float *g, float *m, float *v, size_t n,
                          float step, float sbc2, float b1, float ob1, float b2, float ob2, float eps) {
	const __m128 vstep = _mm_set1_ps(step), vs = _mm_set1_ps(sbc2), vb1 = _mm_set1_ps(b1),
	             vob1 = _mm_set1_ps(ob1), vb2 = _mm_set1_ps(b2), vob2 = _mm_set1_ps(ob2), veps = _mm_set1_ps(eps);
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		__m128 gi = _mm_loadu_ps(g + i);
		__m128 mm = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(vob1, gi));
		__m128 vv = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(vob2, _mm_mul_ps(gi, gi)));
		__m128 den = _mm_add_ps(_mm_div_ps(_mm_sqrt_ps(vv), vs), veps);
		_mm_storeu_ps(m + i, mm);
		_mm_storeu_ps(v + i, vv);
		_mm_storeu_ps(p + i, _mm_sub_ps(_mm_loadu_ps(p + i), _mm_mul_ps(vstep, _mm_div_ps(mm, den))));
	}
	return i;
}
#endif

static void tg_adam_f32(float *p, const float *g, float *m, float *v, size_t n,
                        float lr, float b1, float b2, float eps, float bc1, float bc2) {
	const float step = lr / bc1;
	const float sbc2 = __builtin_sqrtf(bc2);
	const float ob1 = 1.0f - b1, ob2 = 1.0f - b2;
	size_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
	if (__builtin_cpu_supports("avx"))
		i = tg_adam_avx(p, g, m, v, n, step, sbc2, b1, ob1, b2, ob2, eps);
	else
		i = tg_adam_sse(p, g, m, v, n, step, sbc2, b1, ob1, b2, ob2, eps);
#endif
	for (; i < n; i++)
		p[i] = tg_adam1(p + i, g[i], m + i, v + i, step, sbc2, b1, ob1, b2, ob2, eps);
}
*/
import "C"

import (
	"unsafe"

	"tagimp/model/ops"
)

// adamKernel names the float32 Adam in use.
const adamKernel = "C with AVX/SSE (bit-identical to ops.Adam)"

// adam32 applies ops.Adam to one chunk, in C with SIMD.
func adam32(p, g, m, v []float32, c ops.AdamConfig, bc1, bc2 float32) {
	if len(p) == 0 {
		return
	}
	if c.WeightDecay != 0 {
		ops.Adam(p, g, m, v, c, bc1, bc2)
		return
	}
	C.tg_adam_f32((*C.float)(unsafe.Pointer(&p[0])), (*C.float)(unsafe.Pointer(&g[0])),
		(*C.float)(unsafe.Pointer(&m[0])), (*C.float)(unsafe.Pointer(&v[0])), C.size_t(len(p)),
		C.float(c.LR), C.float(c.Beta1), C.float(c.Beta2), C.float(c.Eps), C.float(bc1), C.float(bc2))
}
