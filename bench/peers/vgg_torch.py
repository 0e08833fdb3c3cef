#!/usr/bin/env python3
"""PyTorch peer for tagimp's VGG16 on the GPU: torchvision VGG16 up to fc7, same work.

What it times: the forward pass of torchvision's vgg16 from a preprocessed batch
already on the device to fc7 after its ReLU (features, the adaptive 7x7 average pool,
which is the identity at 224, classifier[:5] = fc6, ReLU, dropout (eval: identity),
fc7, ReLU), in eval mode under torch.inference_mode, at the same batch and precision
as `go test ./gpu -run VGG16Throughput` / `tagimp-gpu bench features --device gpu`:

  fp32   float32, cudnn.allow_tf32 = matmul.allow_tf32 = False (no tensor cores)
  tf32   float32, cudnn.allow_tf32 = matmul.allow_tf32 = True (PyTorch's cuDNN default)
  bf16   model and input in bfloat16
  fp16   model and input in float16

always with torch.backends.cudnn.benchmark = True and channels_last memory format.
Weights are random (torchvision's initialisation, seed 0): the time does not depend on
their values, and no download is needed.

Timing: --warmup batches, then --rounds rounds of --iters batches each between two CUDA
events (time.perf_counter on the CPU); ms_per_batch is the median over rounds of
(round time / iters), images_per_s = batch / that.

Output: one JSON object per precision on stdout, a list (with --json), or a short table.
A precision that cannot run here is reported with "skipped" and the reason.

Example (GPU machine):  python3 bench/peers/vgg_torch.py --json --batch 64
Smoke test (any CPU):    python3 bench/peers/vgg_torch.py --device cpu --batch 2 --size 64 \
                             --iters 1 --rounds 1 --warmup 0 --precisions fp32
"""

import argparse
import json
import statistics
import sys
import time

try:
    import torch
    import torchvision
except ImportError as exc:  # pragma: no cover - reported to the caller as JSON
    print(json.dumps({"peer": "torch-vgg16", "error": "import failed: %s" % exc}))
    sys.exit(2)

PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


def fc7_model():
    """torchvision VGG16 cut after fc7's ReLU."""
    torch.manual_seed(0)
    m = torchvision.models.vgg16(weights=None)
    m.classifier = m.classifier[:5]
    return m.eval()


def run(args, prec):
    dev = torch.device(args.device)
    if dev.type != "cuda" and prec in ("tf32", "fp16"):
        return {"precision": prec, "skipped": "%s needs CUDA" % prec}
    tf32 = prec == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(prec, torch.float32)
    model = fc7_model().to(dev, dtype=dtype).to(memory_format=torch.channels_last)
    x = torch.randn(args.batch, 3, args.size, args.size, device=dev, dtype=dtype)
    x = x.contiguous(memory_format=torch.channels_last)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode():
        for _ in range(args.warmup):
            model(x)
        sync()
        times = []
        for _ in range(args.rounds):
            if dev.type == "cuda":
                start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(args.iters):
                    y = model(x)
                stop.record()
                stop.synchronize()
                times.append(start.elapsed_time(stop) / args.iters)
            else:
                t0 = time.perf_counter()
                for _ in range(args.iters):
                    y = model(x)
                times.append((time.perf_counter() - t0) * 1e3 / args.iters)
        assert y.shape == (args.batch, 4096), y.shape
    ms = statistics.median(times)
    return {"precision": prec, "batch": args.batch, "size": args.size, "ms_per_batch": ms,
            "images_per_s": args.batch / (ms / 1e3), "rounds_ms": times}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--precisions", default=",".join(PRECISIONS))
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = {"peer": "torch-vgg16", "torch": torch.__version__, "torchvision": torchvision.__version__,
           "device": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu",
           "cudnn": torch.backends.cudnn.version(), "results": []}
    for prec in args.precisions.split(","):
        if prec not in PRECISIONS:
            ap.error("precision %r: want one of %s" % (prec, ", ".join(PRECISIONS)))
        try:
            out["results"].append(run(args, prec))
        except Exception as exc:  # a precision this build cannot run: say why, go on
            out["results"].append({"precision": prec, "skipped": "%s: %s" % (type(exc).__name__, exc)})
    if args.json:
        print(json.dumps(out))
        return
    print("torch %s, torchvision %s, %s, cuDNN %s" % (out["torch"], out["torchvision"], out["device"], out["cudnn"]))
    for r in out["results"]:
        if "skipped" in r:
            print("  %-5s skipped: %s" % (r["precision"], r["skipped"]))
        else:
            print("  %-5s batch %d: %8.2f ms/batch  %9.1f images/s" % (r["precision"], r["batch"], r["ms_per_batch"], r["images_per_s"]))


if __name__ == "__main__":
    main()
