#!/usr/bin/env python3
"""PyTorch peer for `tagimp-gpu bench train`: the same three models, shapes and step.

What it times: one training step at batch 32 (shuffled gather of the batch from a
training split kept on the device, forward, loss, backward, Adam update) of

  baseline  fc1 [H,D] ReLU dropout(0.5) -> tag [T,H] sigmoid, BCE with logits
  model1    baseline + imp [T,H] sigmoid, MSE against the importance
  model2    model1 + imp2.fc1 [H2,D+E] ReLU dropout(0.5) -> imp2.out [T,H2] sigmoid, MSE;
            input concat(L2norm(fc7), L2norm(WA)), WA = sum of the word vectors of the
            ground-truth tags / their count (p = 1 in training)

with D = 4096, H = 4096, T = 116, E = 300, H2 = 4096 by default (the paper's shapes),
losses averaged over batch x T and summed, exactly the parameter contract of tagimp.

Modes (--modes, comma separated):
  eager          plain PyTorch eager, torch.optim.Adam with its default implementation
  eager-fused    eager with torch.optim.Adam(fused=True) where this torch has it
  graphs         the whole step (gather, forward, backward, Adam with capturable=True)
                 captured once with torch.cuda.graph and replayed (CUDA only)
  compile        torch.compile(mode="reduce-overhead") of forward+loss, eager Adam
                 (torch >= 2.0 only; compilation time is excluded from the timing)

Timing: `--warmup` steps, then `--rounds` rounds of `--steps` steps each between two
CUDA events; step_ms is the median over rounds of (round time / steps). It also
measures the device-to-device copy bandwidth (2 x bytes / time, read + write) the
same way `tagimp-gpu bench train` does, so the two runs can be cross-checked.

Output: one JSON object on stdout (with --json) or a short table. A mode that cannot
run here (no CUDA, old torch) is reported with "skipped" and the reason, never timed.

Example (GPU machine):  python3 bench/peers/mlp_torch.py --json > torch.json
Smoke test (any CPU):    python3 bench/peers/mlp_torch.py --device cpu --dim 64 \
                             --hidden 64 --hidden2 64 --embed 16 --tags 8 --steps 3
"""

import argparse
import json
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as exc:  # pragma: no cover - reported to the caller as JSON
    print(json.dumps({"peer": "torch", "error": "import torch failed: %s" % exc}))
    sys.exit(2)

MODELS = ("baseline", "model1", "model2")
MODES = ("eager", "eager-fused", "graphs", "compile")


class Net(nn.Module):
    """One of the three models, named parameters as in tagimp's checkpoint contract."""

    def __init__(self, kind, d, h, t, e, h2):
        super().__init__()
        self.kind = kind
        self.fc1 = nn.Linear(d, h)
        self.tag = nn.Linear(h, t)
        if kind in ("model1", "model2"):
            self.imp = nn.Linear(h, t)
        if kind == "model2":
            self.imp2 = nn.Module()
            self.imp2.fc1 = nn.Linear(d + e, h2)
            self.imp2.out = nn.Linear(h2, t)

    def loss(self, x, y, imp, wordvec):
        """Summed training loss of one batch (train mode: dropout on)."""
        h = F.dropout(F.relu(self.fc1(x)), p=0.5, training=True)
        loss = F.binary_cross_entropy_with_logits(self.tag(h), y)
        if self.kind in ("model1", "model2"):
            loss = loss + F.mse_loss(torch.sigmoid(self.imp(h)), imp)
        if self.kind == "model2":
            n = y.sum(dim=1, keepdim=True)
            wa = (y @ wordvec) / n.clamp(min=1.0)
            z = torch.cat([F.normalize(x, dim=1, eps=1e-12),
                           F.normalize(wa, dim=1, eps=1e-12)], dim=1)
            h2 = F.dropout(F.relu(self.imp2.fc1(z)), p=0.5, training=True)
            loss = loss + F.mse_loss(torch.sigmoid(self.imp2.out(h2)), imp)
        return loss


def make_data(args, device, gen):
    """A synthetic training split kept on the device: fc7-like features, labels, vectors."""
    n, d, t, e = args.train, args.dim, args.tags, args.embed
    x = torch.relu(torch.randn(n, d, generator=gen)).to(device)
    presence = (torch.rand(n, t, generator=gen) < 0.05).float()
    importance = presence * torch.randint(1, 6, (n, t), generator=gen).float() / 5.0
    wordvec = F.normalize(torch.randn(t, e, generator=gen), dim=1)
    return x, presence.to(device), importance.to(device), wordvec.to(device)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Timer:
    """Wall time between two points, measured with CUDA events on a GPU."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        sync(self.device)
        if self.device.type == "cuda":
            self.start = torch.cuda.Event(enable_timing=True)
            self.end = torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            self.end.record()
            self.end.synchronize()
            self.ms = self.start.elapsed_time(self.end)
        else:
            self.ms = (time.perf_counter() - self.t0) * 1e3
        return False


def adam(params, args, **kw):
    return torch.optim.Adam(params, lr=args.lr, betas=(0.9, 0.999), eps=1e-8, **kw)


def bench_one(kind, mode, args, device, data):
    """Times one (model, mode) pair; returns a result dict."""
    torch.manual_seed(args.seed)
    x_all, y_all, i_all, wordvec = data
    n = x_all.shape[0]
    b = args.batch
    batches = n // b
    net = Net(kind, args.dim, args.hidden, args.tags, args.embed, args.hidden2).to(device)
    nparams = sum(p.numel() for p in net.parameters())
    res = {"model": kind, "mode": mode, "batch": b, "params": nparams}
    gen = torch.Generator(device="cpu").manual_seed(args.seed)

    def perm():
        return torch.randperm(n, generator=gen)[: batches * b].view(batches, b).to(device)

    order = perm()
    state = {"i": 0, "order": order}

    def next_idx():
        if state["i"] == batches:
            state["i"], state["order"] = 0, perm()
        idx = state["order"][state["i"]]
        state["i"] += 1
        return idx

    if mode in ("eager", "eager-fused", "compile"):
        if mode == "eager-fused":
            try:
                opt = adam(net.parameters(), args, fused=True)
            except (TypeError, RuntimeError) as exc:
                res["skipped"] = "Adam(fused=True) unavailable: %s" % exc
                return res
        else:
            opt = adam(net.parameters(), args)
        loss_fn = net.loss
        if mode == "compile":
            if not hasattr(torch, "compile"):
                res["skipped"] = "torch %s has no torch.compile" % torch.__version__
                return res
            loss_fn = torch.compile(net.loss, mode="reduce-overhead")

        def step():
            idx = next_idx()
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(x_all[idx], y_all[idx], i_all[idx], wordvec)
            loss.backward()
            opt.step()
            return loss

    elif mode == "graphs":
        if device.type != "cuda":
            res["skipped"] = "CUDA graphs need a CUDA device"
            return res
        try:
            opt = adam(net.parameters(), args, capturable=True)
        except TypeError as exc:
            res["skipped"] = "Adam(capturable=True) unavailable: %s" % exc
            return res
        static_idx = next_idx().clone()

        def body():
            loss = net.loss(x_all[static_idx], y_all[static_idx], i_all[static_idx], wordvec)
            loss.backward()
            opt.step()
            return loss

        # Warm up on a side stream (required before capture), then capture the whole step.
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(3):
                opt.zero_grad(set_to_none=True)
                body()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        opt.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            static_loss = body()

        def step():
            static_idx.copy_(next_idx())
            graph.replay()
            return static_loss

    else:
        raise ValueError("unknown mode %r" % mode)

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        loss = step()
    sync(device)
    res["warmup_s"] = round(time.perf_counter() - t0, 3)
    rounds = []
    for _ in range(args.rounds):
        with Timer(device) as tm:
            for _ in range(args.steps):
                loss = step()
        rounds.append(tm.ms / args.steps)
    final = float(loss.detach())
    if final != final:  # NaN
        res["error"] = "loss became NaN"
    res.update(step_ms=statistics.median(rounds), rounds_ms=rounds, steps=args.steps,
               final_loss=final)
    return res


def copy_bandwidth(device, mib):
    """Device-to-device copy bandwidth in GB/s, counting read + write (2 x bytes / time)."""
    if device.type != "cuda":
        return None
    n = mib * (1 << 20) // 4
    src = torch.empty(n, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    reps = 10
    with Timer(device) as tm:
        for _ in range(reps):
            dst.copy_(src)
    return 2.0 * n * 4 * reps / (tm.ms / 1e3) / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 1)[1])
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--modes", default="eager,graphs")
    p.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--dim", type=int, default=4096, help="D, feature width")
    p.add_argument("--hidden", type=int, default=4096, help="H")
    p.add_argument("--hidden2", type=int, default=4096, help="H2, model 2 importance MLP")
    p.add_argument("--tags", type=int, default=116, help="T")
    p.add_argument("--embed", type=int, default=300, help="E, word-vector width")
    p.add_argument("--train", type=int, default=4096, help="training images kept on device")
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--steps", type=int, default=200, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--copy-mib", type=int, default=1024, help="buffer for the copy bandwidth")
    p.add_argument("--tf32", action="store_true", help="allow TF32 matmuls (default: off, fp32)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args(argv)

    models = [m for m in args.models.split(",") if m]
    modes = [m for m in args.modes.split(",") if m]
    for m in models:
        if m not in MODELS:
            p.error("unknown model %r (want %s)" % (m, ", ".join(MODELS)))
    for m in modes:
        if m not in MODES:
            p.error("unknown mode %r (want %s)" % (m, ", ".join(MODES)))
    if args.train < args.batch:
        p.error("--train must be at least --batch")

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"peer": "torch", "error": "torch.cuda.is_available() is False"}))
        return 2
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32

    gen = torch.Generator(device="cpu").manual_seed(args.seed)
    data = make_data(args, device, gen)
    out = {
        "peer": "torch",
        "torch_version": torch.__version__,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "tf32": args.tf32,
        "shapes": {"batch": args.batch, "D": args.dim, "H": args.hidden, "T": args.tags,
                   "E": args.embed, "H2": args.hidden2, "train": args.train},
        "copy_bandwidth_gbs": copy_bandwidth(device, args.copy_mib),
        "results": [],
    }
    for kind in models:
        for mode in modes:
            try:
                r = bench_one(kind, mode, args, device, data)
            except Exception as exc:  # report and go on with the next pair
                r = {"model": kind, "mode": mode, "error": "%s: %s" % (type(exc).__name__, exc)}
            out["results"].append(r)
            if args.json:  # progress into the log; the table comes at the end otherwise
                print(fmt_row(r), file=sys.stderr)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("torch %s on %s, copy bandwidth %s GB/s" % (
            out["torch_version"], out["device"],
            "n/a" if out["copy_bandwidth_gbs"] is None else "%.0f" % out["copy_bandwidth_gbs"]))
        for r in out["results"]:
            print(fmt_row(r))
    return 0


def fmt_row(r):
    if "step_ms" in r:
        what = "%.4f ms/step" % r["step_ms"]
    else:
        what = r.get("skipped") or r.get("error", "?")
    return "%-9s %-12s %s" % (r["model"], r["mode"], what)


if __name__ == "__main__":
    sys.exit(main())
