#!/usr/bin/env python3
"""Peer of `tagimp-gpu bench images`'s fc7 stage: VGG16 (torchvision's layout,
built with torch.nn so torchvision is not needed; seeded random weights) to
fc7 in eval mode on the CPU, batch --batch of 224x224 inputs, on --threads
threads (torch.set_num_threads), in NCHW and in channels_last memory format.

    fc7_torch.py --threads 2 --batch 16 --rounds 3 [--size 224]

Prints one JSON list of rows {stage, impl, per_core, total, threads}:
images/s of the fastest of --rounds batches after one warm-up batch
(per_core = total / threads). Exit status 3 when torch is missing.
"""
import argparse
import json
import sys
import time

try:
    import torch
    import torch.nn as nn
except ImportError as e:
    print('torch missing: %s' % e, file=sys.stderr)
    sys.exit(3)


def vgg16_fc7(size):
    layers, c = [], 3
    for v in [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']:
        if v == 'M':
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
            c = v
    s = size // 32
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512 * s * s, 4096), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(4096, 4096), nn.ReLU(True)).eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--size', type=int, default=224)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    m = vgg16_fc7(a.size)
    x = torch.randn(a.batch, 3, a.size, a.size)
    rows = []
    for impl, fmt in [('PyTorch %s NCHW' % torch.__version__, torch.contiguous_format),
                      ('PyTorch %s channels_last' % torch.__version__, torch.channels_last)]:
        mm = m.to(memory_format=fmt)
        xx = x.contiguous(memory_format=fmt)
        with torch.no_grad():
            mm(xx)
            best = float('inf')
            for _ in range(a.rounds):
                t = time.perf_counter()
                mm(xx)
                best = min(best, time.perf_counter() - t)
        total = a.batch / best
        rows.append({'stage': 'fc7', 'impl': impl, 'per_core': total / a.threads, 'total': total, 'threads': a.threads})
    json.dump(rows, sys.stdout)


if __name__ == '__main__':
    main()
