#!/usr/bin/env python3
"""Writes the golden reference files that CI compares against on every run
(no PyTorch or PIL is needed there; only this script needs them, once).

    /usr/bin/python3 tools/golden/make_golden.py [../shared/data/coco/val2017]

made with Debian 12's python3-torch 1.13.1 and python3-pil 9.4.0. It writes

model/vgg16/testdata/golden/
  zip.pth, legacy.pth  a small VGG-shaped network (torchvision's layout: features
                       conv/ReLU/max-pool, classifier Linear/ReLU/Dropout x2/Linear;
                       blocks 4,4 | 6,6 | 8,8,8 | 8,8,8 | 5,5,5, fc 12, 7 classes,
                       64x64 input), seeded, saved by torch.save in the zip format
                       and in the legacy format (_use_new_zipfile_serialization=False)
  x.npy                float32 [2,3,64,64] input
  fc7.npy              float32 [2,12] PyTorch's fc7 (classifier[:5], eval mode)
  logits.npy           float32 [2,7] PyTorch's fc8 output
data/imageprep/testdata/golden/
  coco-*.jpg           three real COCO val2017 images (CC BY 4.0, cocodataset.org)
  pil_resize.npy       uint8 [3,224,224,3]: PIL convert('RGB').resize((224,224), BILINEAR)
  pil_crop.npy         uint8 [3,224,224,3]: Resize(256) + CenterCrop(224) as torchvision
  progressive.jpg      a progressive JPEG PIL wrote from the first image (160x120)
  progressive_rgb.npy  uint8 [120,160,3]: PIL's decoding of it
  cmyk.jpg, cmyk_rgb.npy  an Adobe CMYK JPEG PIL wrote and PIL's convert('RGB') of it
"""
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
COCO = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, '..', 'shared', 'data', 'coco', 'val2017')
IMAGES = ['000000117645.jpg', '000000000802.jpg', '000000011813.jpg']  # landscape, portrait, 333x500


def vgg_golden(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    layers, c = [], 3
    for v in [4, 4, 'M', 6, 6, 'M', 8, 8, 8, 'M', 8, 8, 8, 'M', 5, 5, 5, 'M']:
        if v == 'M':
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c = v

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Linear(5 * 2 * 2, 12), nn.ReLU(True), nn.Dropout(),
                                            nn.Linear(12, 12), nn.ReLU(True), nn.Dropout(), nn.Linear(12, 7))

    m = VGG().eval()
    # He initialisation (torchvision's for the convolutions) with non-zero
    # biases, so that the two inputs still give clearly different fc7 rows
    # after 13 layers (PyTorch's default init shrinks the signal to the biases).
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(mod.weight, nonlinearity='relu')
                nn.init.uniform_(mod.bias, -0.1, 0.1)
    torch.save(m.state_dict(), os.path.join(out, 'zip.pth'))
    torch.save(m.state_dict(), os.path.join(out, 'legacy.pth'), _use_new_zipfile_serialization=False)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        f = torch.flatten(m.features(x), 1)
        fc7 = m.classifier[:5](f)
        logits = m.classifier(f)
    np.save(os.path.join(out, 'x.npy'), x.numpy().astype(np.float32))
    np.save(os.path.join(out, 'fc7.npy'), fc7.numpy().astype(np.float32))
    np.save(os.path.join(out, 'logits.npy'), logits.numpy().astype(np.float32))


def pil_resize(im, crop):
    im = im.convert('RGB')
    if crop:
        w, h = im.size
        if w < h:
            im = im.resize((256, int(256 * h / w)), Image.BILINEAR)
        else:
            im = im.resize((int(256 * w / h), 256), Image.BILINEAR)
        w, h = im.size
        top, left = int(round((h - 224) / 2.0)), int(round((w - 224) / 2.0))
        im = im.crop((left, top, left + 224, top + 224))
    else:
        im = im.resize((224, 224), Image.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def image_golden(out):
    os.makedirs(out, exist_ok=True)
    names = []
    for n in IMAGES:
        dst = os.path.join(out, 'coco-' + n)
        shutil.copyfile(os.path.join(COCO, n), dst)
        names.append(dst)
    for crop, name in [(False, 'pil_resize.npy'), (True, 'pil_crop.npy')]:
        np.save(os.path.join(out, name), np.stack([pil_resize(Image.open(p), crop) for p in names]))
    small = Image.open(names[0]).convert('RGB').resize((160, 120), Image.BILINEAR)
    prog = os.path.join(out, 'progressive.jpg')
    small.save(prog, quality=90, progressive=True)
    np.save(os.path.join(out, 'progressive_rgb.npy'), np.asarray(Image.open(prog).convert('RGB'), dtype=np.uint8))
    y, x = np.mgrid[0:48, 0:64]
    a = np.stack([x * 4, y * 5, (x + y) * 2, (x * y) % 200], axis=-1).astype(np.uint8)
    cmyk = os.path.join(out, 'cmyk.jpg')
    Image.fromarray(a, 'CMYK').save(cmyk, quality=95)
    np.save(os.path.join(out, 'cmyk_rgb.npy'), np.asarray(Image.open(cmyk).convert('RGB'), dtype=np.uint8))


if __name__ == '__main__':
    vgg_golden(os.path.join(ROOT, 'model', 'vgg16', 'testdata', 'golden'))
    image_golden(os.path.join(ROOT, 'data', 'imageprep', 'testdata', 'golden'))
    print('golden files written')
