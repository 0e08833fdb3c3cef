//go:build cgo && !noopenblas && !noonednn

package vgg16

/*
#cgo LDFLAGS: -ldnnl -lgomp -lopenblas
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>

void omp_set_num_threads(int);
int openblas_get_num_threads(void);

#define TG_MAXL 64

// tg_trunk is VGG's convolution trunk for one image as oneDNN primitives:
// conv(+bias+ReLU) [max-pool] …, in the blocked layouts oneDNN picks, with
// the weights reordered into them once, and reorders from and to plain
// NCHW at the ends.
typedef struct {
	dnnl_engine_t eng;
	dnnl_stream_t st;
	int n;                       // primitives in prims (reorders included)
	dnnl_primitive_t prims[3 * TG_MAXL];
	int nargs[3 * TG_MAXL];
	dnnl_exec_arg_t args[3 * TG_MAXL][4];
	dnnl_memory_t mems[6 * TG_MAXL];
	int nmems;
	dnnl_memory_t in_user, out_user;
} tg_trunk;

static void tg_free(tg_trunk *t) {
	if (!t) return;
	for (int i = 0; i < t->n; i++) dnnl_primitive_destroy(t->prims[i]);
	for (int i = 0; i < t->nmems; i++) dnnl_memory_destroy(t->mems[i]);
	if (t->st) dnnl_stream_destroy(t->st);
	if (t->eng) dnnl_engine_destroy(t->eng);
	free(t);
}

#define TG_CHECK(call) do { dnnl_status_t s_ = (call); if (s_ != dnnl_success) { \
	snprintf(err, 256, "%s: oneDNN status %d", #call, (int)s_); goto fail; } } while (0)

static dnnl_memory_t tg_mem(tg_trunk *t, const dnnl_memory_desc_t *md, void *handle, char *err) {
	dnnl_memory_t m = NULL;
	if (dnnl_memory_create(&m, md, t->eng, handle) != dnnl_success) {
		snprintf(err, 256, "oneDNN: cannot create memory");
		return NULL;
	}
	t->mems[t->nmems++] = m;
	return m;
}

// tg_reorder adds (exec=1) or runs once now (exec=0) a reorder from src to dst.
static int tg_reorder(tg_trunk *t, dnnl_memory_t src, dnnl_memory_t dst, int add, char *err) {
	const dnnl_memory_desc_t *smd, *dmd;
	dnnl_memory_get_memory_desc(src, &smd);
	dnnl_memory_get_memory_desc(dst, &dmd);
	dnnl_primitive_desc_t pd = NULL;
	dnnl_primitive_t p = NULL;
	TG_CHECK(dnnl_reorder_primitive_desc_create(&pd, smd, t->eng, dmd, t->eng, NULL));
	TG_CHECK(dnnl_primitive_create(&p, pd));
	dnnl_primitive_desc_destroy(pd);
	pd = NULL;
	if (add) {
		int i = t->n++;
		t->prims[i] = p;
		t->nargs[i] = 2;
		t->args[i][0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, src};
		t->args[i][1] = (dnnl_exec_arg_t){DNNL_ARG_TO, dst};
		return 0;
	}
	dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
	TG_CHECK(dnnl_primitive_execute(p, t->st, 2, a));
	TG_CHECK(dnnl_stream_wait(t->st));
	dnnl_primitive_destroy(p);
	return 0;
fail:
	if (pd) dnnl_primitive_desc_destroy(pd);
	if (p) dnnl_primitive_destroy(p);
	return 1;
}

// tg_create builds the trunk for a size×size image: nconv convolutions with
// cin[i]→cout[i] channels, weights w[i] ([cout,cin,3,3]) and biases b[i],
// a 2×2 max-pool after those with pool[i] set. The weights are copied.
static tg_trunk *tg_create(int nconv, const int *cin, const int *cout, const int *pool,
                           float **w, float **b, int size, char *err) {
	tg_trunk *t = calloc(1, sizeof(tg_trunk));
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	if (!t || nconv > TG_MAXL) { snprintf(err, 256, "oneDNN trunk: bad size"); goto fail; }
	TG_CHECK(dnnl_engine_create(&t->eng, dnnl_cpu, 0));
	TG_CHECK(dnnl_stream_create(&t->st, t->eng, dnnl_stream_default_flags));
	TG_CHECK(dnnl_primitive_attr_create(&attr));
	TG_CHECK(dnnl_post_ops_create(&po));
	TG_CHECK(dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
	TG_CHECK(dnnl_primitive_attr_set_post_ops(attr, po));

	int s = size;
	dnnl_memory_desc_t user_in;
	dnnl_dims_t in_dims = {1, cin[0], s, s};
	TG_CHECK(dnnl_memory_desc_init_by_tag(&user_in, 4, in_dims, dnnl_f32, dnnl_nchw));
	t->in_user = tg_mem(t, &user_in, DNNL_MEMORY_NONE, err);
	if (!t->in_user) goto fail;
	dnnl_memory_t cur = NULL; // output of the previous primitive
	dnnl_memory_desc_t cur_md;
	for (int i = 0; i < nconv; i++) {
		dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
		dnnl_dims_t sd = {1, cin[i], s, s}, wd = {cout[i], cin[i], 3, 3}, bd = {cout[i]}, dd = {1, cout[i], s, s};
		if (cur) src_md = cur_md;
		else TG_CHECK(dnnl_memory_desc_init_by_tag(&src_md, 4, sd, dnnl_f32, dnnl_format_tag_any));
		TG_CHECK(dnnl_memory_desc_init_by_tag(&w_md, 4, wd, dnnl_f32, dnnl_format_tag_any));
		TG_CHECK(dnnl_memory_desc_init_by_tag(&b_md, 1, bd, dnnl_f32, dnnl_a));
		TG_CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dd, dnnl_f32, dnnl_format_tag_any));
		dnnl_convolution_desc_t cd;
		dnnl_dims_t strides = {1, 1}, pad = {1, 1};
		TG_CHECK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
			&src_md, &w_md, &b_md, &dst_md, strides, pad, pad));
		TG_CHECK(dnnl_primitive_desc_create(&pd, &cd, attr, t->eng, NULL));
		if (!cur) {
			const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
			cur = tg_mem(t, md, DNNL_MEMORY_ALLOCATE, err);
			if (!cur || tg_reorder(t, t->in_user, cur, 1, err)) goto fail;
		}
		// Weights: user OIHW → the primitive's layout, once.
		dnnl_memory_desc_t wu_md;
		TG_CHECK(dnnl_memory_desc_init_by_tag(&wu_md, 4, wd, dnnl_f32, dnnl_oihw));
		dnnl_memory_t wu = NULL;
		TG_CHECK(dnnl_memory_create(&wu, &wu_md, t->eng, w[i]));
		dnnl_memory_t wm = tg_mem(t, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), DNNL_MEMORY_ALLOCATE, err);
		int rc = wm ? tg_reorder(t, wu, wm, 0, err) : 1;
		dnnl_memory_destroy(wu);
		if (rc) goto fail;
		dnnl_memory_t bm = tg_mem(t, &b_md, DNNL_MEMORY_ALLOCATE, err);
		if (!bm) goto fail;
		void *bh = NULL;
		TG_CHECK(dnnl_memory_get_data_handle(bm, &bh));
		memcpy(bh, b[i], sizeof(float) * cout[i]);
		const dnnl_memory_desc_t *omd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
		dnnl_memory_t out = tg_mem(t, omd, DNNL_MEMORY_ALLOCATE, err);
		if (!out) goto fail;
		int k = t->n;
		TG_CHECK(dnnl_primitive_create(&t->prims[k], pd));
		t->n++;
		dnnl_primitive_desc_destroy(pd);
		pd = NULL;
		t->nargs[k] = 4;
		t->args[k][0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, cur};
		t->args[k][1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, wm};
		t->args[k][2] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bm};
		t->args[k][3] = (dnnl_exec_arg_t){DNNL_ARG_DST, out};
		cur = out;
		cur_md = *omd;
		if (pool[i]) {
			dnnl_memory_desc_t pdst;
			dnnl_dims_t pdd = {1, cout[i], s / 2, s / 2}, ps = {2, 2}, pk = {2, 2}, p0 = {0, 0};
			TG_CHECK(dnnl_memory_desc_init_by_tag(&pdst, 4, pdd, dnnl_f32, dnnl_format_tag_any));
			dnnl_pooling_desc_t pld;
			TG_CHECK(dnnl_pooling_forward_desc_init(&pld, dnnl_forward_inference, dnnl_pooling_max,
				&cur_md, &pdst, ps, pk, p0, p0));
			TG_CHECK(dnnl_primitive_desc_create(&pd, &pld, NULL, t->eng, NULL));
			const dnnl_memory_desc_t *pomd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
			dnnl_memory_t pout = tg_mem(t, pomd, DNNL_MEMORY_ALLOCATE, err);
			if (!pout) goto fail;
			k = t->n;
			TG_CHECK(dnnl_primitive_create(&t->prims[k], pd));
			t->n++;
			dnnl_primitive_desc_destroy(pd);
			pd = NULL;
			t->nargs[k] = 2;
			t->args[k][0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, cur};
			t->args[k][1] = (dnnl_exec_arg_t){DNNL_ARG_DST, pout};
			cur = pout;
			cur_md = *pomd;
			s /= 2;
		}
	}
	dnnl_memory_desc_t user_out;
	dnnl_dims_t out_dims = {1, cout[nconv - 1], s, s};
	TG_CHECK(dnnl_memory_desc_init_by_tag(&user_out, 4, out_dims, dnnl_f32, dnnl_nchw));
	t->out_user = tg_mem(t, &user_out, DNNL_MEMORY_NONE, err);
	if (!t->out_user || tg_reorder(t, cur, t->out_user, 1, err)) goto fail;
	dnnl_post_ops_destroy(po);
	dnnl_primitive_attr_destroy(attr);
	return t;
fail:
	if (pd) dnnl_primitive_desc_destroy(pd);
	if (po) dnnl_post_ops_destroy(po);
	if (attr) dnnl_primitive_attr_destroy(attr);
	tg_free(t);
	return NULL;
}

// tg_run runs the trunk on one NCHW image in into out (NCHW), on as many
// OpenMP threads as OpenBLAS uses.
static int tg_run(tg_trunk *t, float *in, float *out, char *err) {
	omp_set_num_threads(openblas_get_num_threads());
	TG_CHECK(dnnl_memory_set_data_handle(t->in_user, in));
	TG_CHECK(dnnl_memory_set_data_handle(t->out_user, out));
	for (int i = 0; i < t->n; i++) TG_CHECK(dnnl_primitive_execute(t->prims[i], t->st, t->nargs[i], t->args[i]));
	TG_CHECK(dnnl_stream_wait(t->st));
	dnnl_memory_set_data_handle(t->in_user, DNNL_MEMORY_NONE);
	dnnl_memory_set_data_handle(t->out_user, DNNL_MEMORY_NONE);
	return 0;
fail:
	return 1;
}
*/
import "C"

import (
	"errors"
	"runtime"
	"sync"
	"unsafe"
)

// ConvEngines lists the convolution engines this build has, the default
// first: "onednn" (oneDNN's direct convolutions, libdnnl-dev) and "im2col"
// (im2col + OpenBLAS SGEMM).
var ConvEngines = []string{"onednn", "im2col"}

// onednnTrunk is the convolution trunk of a Net run by oneDNN, one image
// per run on as many OpenMP threads as OpenBLAS uses. A oneDNN trunk holds
// its activations, so concurrent runs (tag's parallel batches, each on one
// thread) each take a trunk of their own from a pool that grows to the
// number of runs at once; before, one trunk under a mutex made parallel
// batches take turns on the convolutions.
type onednnTrunk struct {
	net  *Net
	pool *trunkPool
}

// trunkPool is kept apart from onednnTrunk so that the cleanup that frees
// the C trunks does not keep the onednnTrunk reachable.
type trunkPool struct {
	mu   sync.Mutex
	free []*C.tg_trunk
}

// newFastTrunk builds the oneDNN trunk of n and its first C trunk (so
// that an error shows at once); the C memory is freed when the trunk is
// collected.
func newFastTrunk(n *Net) (convTrunk, error) {
	t, err := newCTrunk(n)
	if err != nil {
		return nil, err
	}
	tr := &onednnTrunk{net: n, pool: &trunkPool{free: []*C.tg_trunk{t}}}
	runtime.AddCleanup(tr, func(p *trunkPool) {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, t := range p.free {
			C.tg_free(t)
		}
	}, tr.pool)
	return tr, nil
}

// get takes a free C trunk, or builds one when all are in use.
func (tr *onednnTrunk) get() (*C.tg_trunk, error) {
	p := tr.pool
	p.mu.Lock()
	if k := len(p.free); k > 0 {
		t := p.free[k-1]
		p.free = p.free[:k-1]
		p.mu.Unlock()
		return t, nil
	}
	p.mu.Unlock()
	return newCTrunk(tr.net)
}

func (tr *onednnTrunk) put(t *C.tg_trunk) {
	p := tr.pool
	p.mu.Lock()
	p.free = append(p.free, t)
	p.mu.Unlock()
}

// newCTrunk builds a C trunk of n's convolutions (the weights are copied
// into oneDNN's layout).
func newCTrunk(n *Net) (*C.tg_trunk, error) {
	k := len(n.conv)
	cin := make([]C.int, k)
	cout := make([]C.int, k)
	pool := make([]C.int, k)
	// The weight pointers go in C memory: cgo forbids Go memory holding Go
	// pointers being passed to C.
	ws := (*[1 << 20]*C.float)(C.malloc(C.size_t(k) * C.size_t(unsafe.Sizeof(uintptr(0)))))[:k:k]
	bs := (*[1 << 20]*C.float)(C.malloc(C.size_t(k) * C.size_t(unsafe.Sizeof(uintptr(0)))))[:k:k]
	defer C.free(unsafe.Pointer(&ws[0]))
	defer C.free(unsafe.Pointer(&bs[0]))
	var pin runtime.Pinner
	defer pin.Unpin()
	for i, l := range n.conv {
		cin[i], cout[i] = C.int(l.in), C.int(l.out)
		if l.poolAft {
			pool[i] = 1
		}
		pin.Pin(&l.w[0])
		pin.Pin(&l.b[0])
		ws[i], bs[i] = (*C.float)(&l.w[0]), (*C.float)(&l.b[0])
	}
	var msg [256]C.char
	t := C.tg_create(C.int(k), &cin[0], &cout[0], &pool[0], &ws[0], &bs[0], C.int(n.cfg.InputSize), &msg[0])
	if t == nil {
		return nil, errors.New("vgg16: oneDNN convolution trunk: " + C.GoString(&msg[0]))
	}
	return t, nil
}

// run computes the trunk of one image: in is 3·S·S (CHW), out the last
// pool's C·s·s values (CHW, torch's flatten order).
func (tr *onednnTrunk) run(out, in []float32) error {
	t, err := tr.get()
	if err != nil {
		return err
	}
	defer tr.put(t)
	var msg [256]C.char
	var pin runtime.Pinner
	pin.Pin(&in[0])
	pin.Pin(&out[0])
	defer pin.Unpin()
	if C.tg_run(t, (*C.float)(&in[0]), (*C.float)(&out[0]), &msg[0]) != 0 {
		return errors.New("vgg16: oneDNN convolution trunk: " + C.GoString(&msg[0]))
	}
	return nil
}
