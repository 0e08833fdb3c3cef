#!/usr/bin/env bash
# Installs the system packages the build and tests need on a Debian 12 machine:
# the CUDA toolkit (nvcc, headers) from Debian's non-free component, CMake,
# OpenBLAS (the CPU engine's BLAS), oneDNN (libdnnl-dev: VGG16's CPU
# convolutions), libjpeg-turbo (the JPEG decoder, linked statically from
# libjpeg62-turbo-dev's libjpeg.a) and python3-numpy (the
# benchmark peer and the tests that check numpy reads our files). PyTorch and
# PIL are not needed: the comparisons with them run against golden files in
# testdata/ (tools/golden/make_golden.py made those once).
set -euo pipefail

need=()
command -v nvcc >/dev/null 2>&1 || need+=(nvidia-cuda-toolkit)
command -v cmake >/dev/null 2>&1 || need+=(cmake)
[ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || need+=(libopenblas-dev)
[ -e /usr/include/jpeglib.h ] && [ -e /usr/lib/x86_64-linux-gnu/libjpeg.a ] || need+=(libjpeg62-turbo-dev)
[ -e /usr/include/oneapi/dnnl/dnnl.h ] || need+=(libdnnl-dev)
python3 -c 'import numpy' >/dev/null 2>&1 || [ -e /usr/lib/python3/dist-packages/numpy ] || need+=(python3-numpy)
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

# Debian's CUDA toolkit lives in non-free; add contrib/non-free where missing.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  if ! grep -qE '^Components:.*non-free( |$)' /etc/apt/sources.list.d/debian.sources; then
    $SUDO sed -i -E 's/^Components: main$/Components: main contrib non-free non-free-firmware/' /etc/apt/sources.list.d/debian.sources
  fi
fi
if [ -f /etc/apt/sources.list ] && grep -qE '^deb .* main$' /etc/apt/sources.list; then
  $SUDO sed -i -E 's/^(deb .* main)$/\1 contrib non-free non-free-firmware/' /etc/apt/sources.list
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
