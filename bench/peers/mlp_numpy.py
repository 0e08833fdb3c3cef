#!/usr/bin/python3
"""Peer for BenchmarkStep (model/cpu): one Model 1 training step at the
paper's shape (batch 32, 4096 -> 4096 -> 116, tag head with BCE and
importance head with MSE, ReLU + dropout 0.5, Adam) written with numpy
on the BLAS numpy links (OpenBLAS on Debian's python3-numpy).

Run: /usr/bin/python3 bench/peers/mlp_numpy.py [--steps 20]
Prints ms/step of the step (mean and fastest) and of the dominant SGEMM
(32x4096)(4096x4096), in the same units as
`go test -run XXX -bench 'Step|SGEMM' ./model/cpu/`. On a shared machine
compare the fastest ("min") numbers, which interference inflates least.
Adam updates in place (out=) so numpy is not penalised by temporaries it
need not make; the weight gradient of the input x is not computed, as in
the Go engine.
"""
import argparse
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--d", type=int, default=4096)
    ap.add_argument("--h", type=int, default=4096)
    ap.add_argument("--t", type=int, default=116)
    a = ap.parse_args()
    B, D, H, T = a.batch, a.d, a.h, a.t
    rng = np.random.default_rng(1)
    f32 = np.float32

    def lin(i, o):
        k = 1 / np.sqrt(i)
        return (rng.uniform(-k, k, (i, o)).astype(f32), rng.uniform(-k, k, (o,)).astype(f32))

    W1, b1 = lin(D, H)
    Wt, bt = lin(H, T)
    Wi, bi = lin(H, T)
    params = [W1, b1, Wt, bt, Wi, bi]
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    x = rng.random((B, D), dtype=f32)
    y = (rng.random((B, T)) < 0.05).astype(f32)
    imp = y * f32(0.6)
    lr, b1_, b2_, eps = f32(1e-4), f32(0.9), f32(0.999), f32(1e-8)
    tmp = [np.empty_like(p) for p in params]

    def step(t):
        mask = (rng.random((B, H), dtype=f32) >= 0.5).astype(f32) * f32(2)
        pre = x @ W1 + b1
        h = np.maximum(pre, 0) * mask
        zt = h @ Wt + bt
        zi = h @ Wi + bi
        n = f32(B * T)
        loss_t = (np.maximum(zt, 0) - zt * y + np.log1p(np.exp(-np.abs(zt)))).sum() / n
        si = 1 / (1 + np.exp(-zi))
        loss_i = ((si - imp) ** 2).sum() / n
        dzt = (1 / (1 + np.exp(-zt)) - y) / n
        dzi = 2 * (si - imp) * si * (1 - si) / n
        gWt = h.T @ dzt
        gbt = dzt.sum(0)
        gWi = h.T @ dzi
        gbi = dzi.sum(0)
        dh = dzt @ Wt.T + dzi @ Wi.T
        dpre = dh * mask * (pre > 0)
        gW1 = x.T @ dpre
        gb1 = dpre.sum(0)
        grads = [gW1, gb1, gWt, gbt, gWi, gbi]
        bc1 = f32(1 - 0.9 ** t)
        bc2 = f32(1 - 0.999 ** t)
        for p, g, m, v, s in zip(params, grads, ms, vs, tmp):
            m *= b1_
            m += (1 - b1_) * g
            v *= b2_
            np.multiply(g, g, out=s)
            s *= (1 - b2_)
            v += s
            np.divide(v, bc2, out=s)
            np.sqrt(s, out=s)
            s += eps
            np.divide(m, s, out=s)
            s *= lr / bc1
            p -= s
        return loss_t + loss_i

    step(1)
    best = float("inf")
    t0 = time.perf_counter()
    for i in range(a.steps):
        t1 = time.perf_counter()
        step(i + 2)
        best = min(best, time.perf_counter() - t1)
    dt = (time.perf_counter() - t0) / a.steps

    W = W1
    x @ W
    reps = max(5, a.steps)
    gbest = float("inf")
    t0 = time.perf_counter()
    for _ in range(reps):
        t1 = time.perf_counter()
        x @ W
        gbest = min(gbest, time.perf_counter() - t1)
    g = (time.perf_counter() - t0) / reps
    flop = 2 * B * D * H * 2 + 3 * 2 * B * H * 2 * T
    cfg = np.__config__
    print(f"numpy {np.__version__} step: {dt*1e3:.1f} ms/step, min {best*1e3:.1f} ms/step ({flop/dt/1e9:.2f} GFLOP/s of {flop/1e9:.2f} GFLOP)")
    print(f"numpy sgemm (32x4096)(4096x4096): {g*1e3:.1f} ms, {2*B*D*H/g/1e9:.2f} GFLOP/s (max {2*B*D*H/gbest/1e9:.2f}); floor {flop/(2*B*D*H/g)*1e3:.1f} ms/step, min floor {flop/(2*B*D*H/gbest)*1e3:.1f}")


if __name__ == "__main__":
    main()
