#!/usr/bin/python3
"""numpy peer of the CPU engine's training step (`tagimp-gpu bench train
--device cpu --peer numpy` runs it beside ours, model by model).

One training step of the Baseline, Model 1 or Model 2 at the paper's shape
(batch 32, D = H = H2 = 4096, T = 116, E = 300), in float32, on the BLAS
numpy links (OpenBLAS on Debian's python3-numpy), doing the work the Go
engine does, no more and no less:

  forward   h = relu(x.W1 + b1) * mask1 (dropout 0.5, scale 2)
            tag head  zt = h.Wt + bt, BCE with logits averaged over B*T
            imp head  (model1, model2) si = sigmoid(h.Wi + bi), MSE
            model2:   x2 = [l2norm(x), WA]; h2 = relu(x2.V1 + c1) * mask2;
                      s2 = sigmoid(h2.V2 + c2), MSE
  backward  every weight and bias gradient; the input gradients of the
            heads (dh, dh2) that the trunk and the MLP need, but not the
            gradient of x or x2 (neither engine computes it)
  Adam      lr 1e-4, betas (0.9, 0.999), eps 1e-8, with bias corrections,
            in place on every parameter

Weights are kept [in, out] so every product is a plain x.W; the big
gradients and Adam's temporaries are preallocated and written with out=,
so numpy pays for no allocation it need not make. Data is synthetic like
bench.Synthetic (ReLU'd Gaussian features, 5 % of tags present, importance
in fifths, unit tag vectors); batches walk through --rows rows.

Run: /usr/bin/python3 bench/peers/mlp_numpy.py --model model1 [--steps 10] [--json]
     /usr/bin/python3 bench/peers/mlp_numpy.py --probe   (numpy, BLAS, threads)
Per-step wall times after --warmup untimed steps: median, min and mean in
ms. The BLAS thread count is OpenBLAS's (set OPENBLAS_NUM_THREADS before
starting; the Go command passes its own count). Exit status 3 means numpy
is missing.
"""
import argparse
import ctypes
import json
import sys
import time

try:
    import numpy as np
except ImportError as e:  # the Go side maps exit status 3 to a clear message
    print("numpy is not installed for %s: %s (Debian: apt-get install python3-numpy)" % (sys.executable, e),
          file=sys.stderr)
    sys.exit(3)

F32 = np.float32


def blas_info():
    """Path, config string and thread count of the OpenBLAS this process loaded."""
    path = ""
    try:
        with open("/proc/self/maps") as f:
            libs = [line.split()[-1] for line in f if ".so" in line]
        # the library itself (libopenblas*.so) rather than the BLAS/LAPACK
        # shims Debian installs beside it
        own = [p for p in libs if "libopenblas" in p.rsplit("/", 1)[-1]]
        path = (own or [p for p in libs if "openblas" in p] or [""])[0]
    except OSError:
        pass
    info = {"blas": path or "unknown (no OpenBLAS loaded)", "threads": 0}
    if path:
        try:
            lib = ctypes.CDLL(path)
            info["threads"] = int(lib.openblas_get_num_threads())
            lib.openblas_get_config.restype = ctypes.c_char_p
            info["blas"] = "%s (%s)" % (path, lib.openblas_get_config().decode())
        except (OSError, AttributeError):
            pass
    return info


def step_flop(kind, B, D, H, T, E, H2):
    """Multiply-add work of the step's matrix products (2 per multiply-add):
    trunk forward and weight gradient; per head forward, weight gradient and
    input gradient; Model 2's MLP the same, without the input gradient of x2."""
    heads = 2 if kind in ("model1", "model2") else 1
    f = 2 * (2 * B * D * H) + heads * 3 * (2 * B * H * T)
    if kind == "model2":
        f += 2 * (2 * B * (D + E) * H2) + 3 * (2 * B * H2 * T)
    return f


class Adam:
    def __init__(self, params, lr=1e-4, b1=0.9, b2=0.999, eps=1e-8):
        self.params = params
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.s = [np.empty_like(p) for p in params]
        self.lr, self.b1, self.b2, self.eps = lr, b1, b2, eps
        self.t = 0

    def update(self, grads):
        self.t += 1
        bc1 = 1 - self.b1 ** self.t
        bc2 = 1 - self.b2 ** self.t
        step = F32(self.lr / bc1)
        inv_sbc2 = F32(1 / np.sqrt(bc2))
        b1, b2, eps = F32(self.b1), F32(self.b2), F32(self.eps)
        for p, g, m, v, s in zip(self.params, grads, self.m, self.v, self.s):
            # m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
            # p -= (lr/bc1) m / (sqrt(v)/sqrt(bc2) + eps)  (as ops.Adam)
            m *= b1
            np.multiply(g, F32(1) - b1, out=s)
            m += s
            v *= b2
            np.multiply(g, g, out=s)
            s *= F32(1) - b2
            v += s
            np.sqrt(v, out=s)
            s *= inv_sbc2
            s += eps
            np.divide(m, s, out=s)
            s *= step
            p -= s


class Step:
    """One model's parameters, gradients and training step."""

    def __init__(self, kind, B, D, H, T, E, H2, rng):
        self.kind, self.B, self.T = kind, B, T
        self.rng = rng

        def lin(i, o):
            k = 1 / np.sqrt(i)
            return (rng.uniform(-k, k, (i, o)).astype(F32), rng.uniform(-k, k, (o,)).astype(F32))

        self.W1, self.b1 = lin(D, H)
        self.Wt, self.bt = lin(H, T)
        params = [self.W1, self.b1, self.Wt, self.bt]
        self.imp = kind in ("model1", "model2")
        self.mlp = kind == "model2"
        if self.imp:
            self.Wi, self.bi = lin(H, T)
            params += [self.Wi, self.bi]
        if self.mlp:
            self.V1, self.c1 = lin(D + E, H2)
            self.V2, self.c2 = lin(H2, T)
            params += [self.V1, self.c1, self.V2, self.c2]
            self.x2 = np.empty((B, D + E), F32)
            self.gV1 = np.empty_like(self.V1)
        self.params = params
        self.gW1 = np.empty_like(self.W1)
        self.adam = Adam(params)
        self.D, self.H, self.H2 = D, H, H2

    def __call__(self, x, y, imp, wa):
        B, T, H = self.B, self.T, self.H
        n = F32(B * T)
        rng = self.rng
        mask1 = (rng.random((B, H), dtype=F32) >= F32(0.5)).astype(F32)
        mask1 *= F32(2)
        pre = x @ self.W1
        pre += self.b1
        h = np.maximum(pre, F32(0))
        h *= mask1
        zt = h @ self.Wt
        zt += self.bt
        loss = (np.maximum(zt, F32(0)) - zt * y + np.log1p(np.exp(-np.abs(zt)))).sum() / n
        dzt = (F32(1) / (F32(1) + np.exp(-zt)) - y) / n
        dh = dzt @ self.Wt.T
        gWt = h.T @ dzt
        gbt = dzt.sum(0)
        head_grads = [gWt, gbt]
        if self.imp:
            zi = h @ self.Wi
            zi += self.bi
            si = F32(1) / (F32(1) + np.exp(-zi))
            loss += ((si - imp) ** 2).sum() / n
            dzi = F32(2) * (si - imp) * si * (F32(1) - si) / n
            dh += dzi @ self.Wi.T
            head_grads += [h.T @ dzi, dzi.sum(0)]
        dpre = dh * mask1
        dpre *= pre > 0
        np.matmul(x.T, dpre, out=self.gW1)
        grads = [self.gW1, dpre.sum(0)] + head_grads
        if self.mlp:
            D, H2 = self.D, self.H2
            norm = np.sqrt((x * x).sum(1, keepdims=True))
            np.divide(x, np.maximum(norm, F32(1e-12)), out=self.x2[:, :D])
            self.x2[:, D:] = wa
            mask2 = (rng.random((B, H2), dtype=F32) >= F32(0.5)).astype(F32)
            mask2 *= F32(2)
            pre2 = self.x2 @ self.V1
            pre2 += self.c1
            h2 = np.maximum(pre2, F32(0))
            h2 *= mask2
            z2 = h2 @ self.V2
            z2 += self.c2
            s2 = F32(1) / (F32(1) + np.exp(-z2))
            loss += ((s2 - imp) ** 2).sum() / n
            dz2 = F32(2) * (s2 - imp) * s2 * (F32(1) - s2) / n
            dpre2 = dz2 @ self.V2.T
            dpre2 *= mask2
            dpre2 *= pre2 > 0
            np.matmul(self.x2.T, dpre2, out=self.gV1)
            grads += [self.gV1, dpre2.sum(0), h2.T @ dz2, dz2.sum(0)]
        for g, p in zip(grads, self.params):
            if g.dtype != F32 or g.shape != p.shape:
                raise SystemExit("peer bug: gradient %s %s for parameter %s" % (g.dtype, g.shape, p.shape))
        self.adam.update(grads)
        return float(loss)


def synthetic(rows, T, D, E, mlp, rng):
    x = np.maximum(rng.standard_normal((rows, D), dtype=F32), F32(0))
    y = (rng.random((rows, T)) < 0.05).astype(F32)
    y[np.arange(rows), rng.integers(0, T, rows)] = 1
    imp = y * (rng.integers(1, 6, (rows, T)).astype(F32) / F32(5))
    wa = None
    if mlp:
        v = rng.standard_normal((T, E), dtype=F32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        wa = y @ v
        wa /= np.maximum(np.linalg.norm(wa, axis=1, keepdims=True), F32(1e-12))
    return x, y, imp, wa


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="model1", choices=["baseline", "model1", "model2"])
    ap.add_argument("--steps", type=int, default=10, help="timed steps")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--d", type=int, default=4096)
    ap.add_argument("--h", type=int, default=4096)
    ap.add_argument("--t", type=int, default=116)
    ap.add_argument("--e", type=int, default=300)
    ap.add_argument("--h2", type=int, default=4096)
    ap.add_argument("--rows", type=int, default=512, help="synthetic rows the batches walk through")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--probe", action="store_true", help="print numpy's version, BLAS and threads as JSON and exit")
    a = ap.parse_args()
    info = {"python": sys.executable, "numpy_version": np.__version__}
    info.update(blas_info())
    if a.probe:
        print(json.dumps(info))
        return
    if a.steps < 1 or a.warmup < 0 or a.batch < 1:
        ap.error("want --steps >= 1, --warmup >= 0, --batch >= 1")
    B = a.batch
    rng = np.random.default_rng(a.seed)
    rows = max(a.rows, B)
    x, y, imp, wa = synthetic(rows, a.t, a.d, a.e, a.model == "model2", rng)
    step = Step(a.model, B, a.d, a.h, a.t, a.e, a.h2, rng)
    nb = rows // B

    def batch(i):
        lo = (i % nb) * B
        return x[lo:lo + B], y[lo:lo + B], imp[lo:lo + B], None if wa is None else wa[lo:lo + B]

    first = [step(*batch(i)) for i in range(a.warmup)]
    times, losses = [], []
    for i in range(a.warmup, a.warmup + a.steps):
        b = batch(i)
        t0 = time.perf_counter()
        losses.append(step(*b))
        times.append(time.perf_counter() - t0)
    ms = sorted(t * 1e3 for t in times)
    med = ms[len(ms) // 2] if len(ms) % 2 else (ms[len(ms) // 2 - 1] + ms[len(ms) // 2]) / 2
    dtypes = sorted({str(p.dtype) for p in step.params + step.adam.m + step.adam.v + [x, y, imp]})
    flop = step_flop(a.model, B, a.d, a.h, a.t, a.e, a.h2)
    res = dict(info, peer="numpy", model=a.model, batch=B, d=a.d, h=a.h, t=a.t, e=a.e, h2=a.h2,
               steps=a.steps, warmup=a.warmup, median_ms=med, min_ms=ms[0], mean_ms=sum(ms) / len(ms),
               first_loss=sum(first) / len(first) if first else 0.0, last_loss=sum(losses) / len(losses),
               flop_per_step=flop, dtype=",".join(dtypes))
    if a.json:
        print(json.dumps(res))
        return
    print("numpy %s %s step: median %.1f ms, min %.1f ms, mean %.1f ms over %d steps (%.2f GFLOP per step); "
          "loss %.4f -> %.4f; %s, %d threads" % (
              np.__version__, a.model, med, ms[0], res["mean_ms"], a.steps, flop / 1e9,
              res["first_loss"], res["last_loss"], res["blas"], res["threads"]))


if __name__ == "__main__":
    main()
