#!/usr/bin/env python3
"""Peer of `tagimp-gpu bench images`: the same stages with PIL (Pillow, which
decodes JPEG with libjpeg-turbo) and numpy, over the same files.

    images_pil.py --size 224 [--crop] --rounds 5 --threads 2 --min-images 60 FILE...

Prints one JSON list of rows {stage, impl, per_core, total, threads}: images/s
on one process (per_core) and on --threads processes (total), fastest round of
--rounds. Stages: decode (Image.open + convert('RGB')), decode with draft()
(PIL's DCT-domain scaling, like ours), and decode+preprocess (torchvision's
transform: resize bilinear with antialiasing, /255, mean/std, CHW float32).
Exit status 3 when PIL or numpy is missing.
"""
import argparse
import json
import multiprocessing as mp
import sys
import time

try:
    import numpy as np
    from PIL import Image
except ImportError as e:  # noqa: F841
    print('PIL/numpy missing: %s' % e, file=sys.stderr)
    sys.exit(3)

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def target(w, h, size, crop):
    if not crop:
        return size, size
    short = size * 256 // 224
    return (short, int(short * h / w)) if w < h else (int(short * w / h), short)


def decode(buf, size, crop, draft):
    import io
    im = Image.open(io.BytesIO(buf))
    if draft:
        im.draft('RGB', target(im.size[0], im.size[1], size, crop))
    return im.convert('RGB')


def preprocess(buf, size, crop, draft):
    im = decode(buf, size, crop, draft)
    w, h = im.size
    if crop:
        # geometry from the header size, as torchvision sees the file
        import io
        W, H = Image.open(io.BytesIO(buf)).size
        rw, rh = target(W, H, size, crop)
        im = im.resize((rw, rh), Image.BILINEAR)
        top, left = int(round((rh - size) / 2.0)), int(round((rw - size) / 2.0))
        im = im.crop((left, top, left + size, top + size))
    else:
        im = im.resize((size, size), Image.BILINEAR)
    a = np.asarray(im, dtype=np.float32) / 255.0
    return ((a - MEAN) / STD).transpose(2, 0, 1).copy()


STAGES = [
    ('decode', 'PIL full', lambda b, s, c: decode(b, s, c, False)),
    ('decode', 'PIL draft (DCT-scaled)', lambda b, s, c: decode(b, s, c, True)),
    ('decode+preprocess', 'PIL full + numpy', lambda b, s, c: preprocess(b, s, c, False)),
    ('decode+preprocess', 'PIL draft + numpy', lambda b, s, c: preprocess(b, s, c, True)),
]

_G = {}


def _init(bufs, size, crop, k):
    _G.update(bufs=bufs, size=size, crop=crop, fn=STAGES[k][2])


def _work(idx):
    for i in idx:
        _G['fn'](_G['bufs'][i], _G['size'], _G['crop'])
    return len(idx)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--crop', action='store_true')
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--min-images', type=int, default=60)
    ap.add_argument('files', nargs='+')
    a = ap.parse_args()
    bufs = [open(p, 'rb').read() for p in a.files]
    n = max(len(bufs), a.min_images)
    order = [i % len(bufs) for i in range(n)]
    rows = []
    for k, (stage, impl, fn) in enumerate(STAGES):
        fn(bufs[0], a.size, a.crop)  # warm-up
        best = float('inf')
        for _ in range(a.rounds):
            t = time.perf_counter()
            for i in order:
                fn(bufs[i], a.size, a.crop)
            best = min(best, time.perf_counter() - t)
        per_core = n / best
        total = per_core
        if a.threads > 1:
            chunks = [order[j::a.threads] for j in range(a.threads)]
            with mp.get_context('fork').Pool(a.threads, _init, (bufs, a.size, a.crop, k)) as pool:
                pool.map(_work, [[0]] * a.threads)  # warm-up
                best = float('inf')
                for _ in range(a.rounds):
                    t = time.perf_counter()
                    pool.map(_work, chunks)
                    best = min(best, time.perf_counter() - t)
            total = n / best
        rows.append({'stage': stage, 'impl': impl, 'per_core': per_core, 'total': total, 'threads': a.threads})
    json.dump(rows, sys.stdout)


if __name__ == '__main__':
    main()
