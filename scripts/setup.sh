#!/usr/bin/env bash
# make setup: installs the system packages tagimp-gpu's build and tests need,
# on Debian and Ubuntu, as root (containers, CI) or as a user with sudo:
#   CUDA toolkit (nvcc, headers)  only when no toolkit is found: NVIDIA's in
#                                 /usr/local/cuda (or /usr/local/cuda-*, or
#                                 $CUDA_HOME) is used as it is, else the
#                                 distribution's nvidia-cuda-toolkit (Debian:
#                                 non-free; Ubuntu: multiverse)
#   cmake, libopenblas-dev (Ubuntu: universe), oneDNN (libdnnl-dev: VGG16's
#   CPU convolutions), libjpeg-turbo with its static library (Debian:
#   libjpeg62-turbo-dev, Ubuntu: libjpeg-turbo8-dev), python3-numpy
# The distribution's components that hold them are enabled in its own apt
# sources where missing (Debian: contrib non-free non-free-firmware; Ubuntu:
# universe multiverse); other repositories' entries are left alone.
# Go (≥ 1.26) is not installed: see https://go.dev/dl.
#
# For tests: TAGIMP_SETUP_ROOT=DIR treats DIR as / (DIR/etc/os-release,
# DIR/etc/apt/...), edits those files and prints the commands it would run
# instead of running them; TAGIMP_SETUP_UID stands for id -u.
set -euo pipefail

root="${TAGIMP_SETUP_ROOT:-}"
uid="${TAGIMP_SETUP_UID:-$(id -u)}"

# run runs a command as root: directly when root, else through sudo. Under
# TAGIMP_SETUP_ROOT it only prints it.
sudo_prefix=""
if [ "$uid" -ne 0 ]; then
  if [ -z "$root" ] && ! command -v sudo >/dev/null 2>&1; then
    echo "setup: not root and no sudo: run it as root (e.g. in the container) or install sudo" >&2
    exit 1
  fi
  sudo_prefix="sudo "
fi
run() {
  if [ -n "$root" ]; then echo "would run: ${sudo_prefix}$*"; return 0; fi
  ${sudo_prefix}"$@"
}

# cuda_home prints the CUDA toolkit folder to use, if any: $CUDA_HOME,
# /usr/local/cuda, then the newest /usr/local/cuda-X.Y.
cuda_home() {
  local d
  for d in "${CUDA_HOME:-}" "$root/usr/local/cuda" $(ls -d "$root"/usr/local/cuda-* 2>/dev/null | sort -V -r); do
    if [ -n "$d" ] && [ -x "$d/bin/nvcc" ]; then echo "$d"; return 0; fi
  done
  return 1
}

# os_id prints the distribution (ID, or ID_LIKE's first word when ID is
# neither debian nor ubuntu).
os_id() {
  local id="" like=""
  if [ -f "$root/etc/os-release" ]; then
    id=$(. "$root/etc/os-release" && echo "${ID:-}")
    like=$(. "$root/etc/os-release" && echo "${ID_LIKE:-}")
  fi
  case "$id" in
    debian|ubuntu) echo "$id" ;;
    *) case " $like " in *" ubuntu "*) echo ubuntu ;; *" debian "*) echo debian ;; *) echo "$id" ;; esac ;;
  esac
}

# add_components FILE WORDS... adds the missing WORDS to the components of
# every entry of FILE that has the "main" component: "deb URI SUITE main …"
# lines of a sources.list, "Components: main …" lines of a deb822 .sources
# file. Entries without "main" (other vendors' repositories) and comments
# are left alone. The file is rewritten only when something changes.
add_components() {
  local file=$1; shift
  [ -f "$file" ] || return 0
  local tmp
  tmp=$(mktemp)
  awk -v words="$*" '
    BEGIN { n = split(words, want, " ") }
    # deb [opts] URI SUITE COMPONENTS...: sets uri, suite and the index of
    # the first component.
    function parse(   j) {
      first = 4
      if ($2 ~ /^\[/) { for (j = 2; j <= NF; j++) if ($j ~ /\]$/) break; first = j + 3 }
      uri = $(first - 2); suite = $(first - 1)
    }
    # Pass 1: which components each URI and suite already has, on any line.
    NR == FNR { if ($1 == "deb" || $1 == "deb-src") { parse(); for (i = first; i <= NF; i++) got[$1, uri, suite, $i] = 1 }; next }
    /^[ \t]*#/ { print; next }
    /^Components:/ {
      delete have
      for (i = 2; i <= NF; i++) have[$i] = 1
      out = $0; sub(/[ \t]+$/, "", out)
      if ("main" in have) for (i = 1; i <= n; i++) if (!(want[i] in have)) out = out " " want[i]
      print out; next
    }
    /^deb(-src)?[ \t]/ {
      parse()
      delete have
      for (i = first; i <= NF; i++) have[$i] = 1
      out = $0; sub(/[ \t]+$/, "", out)
      if ("main" in have) for (i = 1; i <= n; i++) if (!(want[i] in have) && !(($1, uri, suite, want[i]) in got)) out = out " " want[i]
      print out; next
    }
    { print }
  ' "$file" "$file" > "$tmp"
  if ! cmp -s "$file" "$tmp"; then
    echo "setup: enabling $* in $file"
    if [ -n "$root" ]; then cat "$tmp" > "$file"; else run install -m 644 "$tmp" "$file"; fi
  fi
  rm -f "$tmp"
}

enable_components() {
  case "$(os_id)" in
    debian)
      add_components "$root/etc/apt/sources.list" contrib non-free non-free-firmware
      add_components "$root/etc/apt/sources.list.d/debian.sources" contrib non-free non-free-firmware ;;
    ubuntu)
      add_components "$root/etc/apt/sources.list" universe multiverse
      add_components "$root/etc/apt/sources.list.d/ubuntu.sources" universe multiverse ;;
    *)
      echo "setup: $(os_id || true) is neither Debian nor Ubuntu: install nvcc, cmake, OpenBLAS and numpy with its package manager" >&2
      exit 1 ;;
  esac
}

need=()
if cuda=$(cuda_home); then
  echo "setup: CUDA toolkit in $cuda ($("$cuda/bin/nvcc" --version 2>/dev/null | grep -o 'release [0-9.]*' || echo 'nvcc')): used as it is; make kernels and make build find it there"
elif command -v nvcc >/dev/null 2>&1 && [ -z "$root" ]; then
  echo "setup: nvcc on PATH: $(command -v nvcc)"
else
  need+=(nvidia-cuda-toolkit)
fi
have() { [ -z "$root" ] && command -v "$1" >/dev/null 2>&1; }
have cmake || need+=(cmake)
[ -z "$root" ] && { [ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || [ -e /usr/include/openblas/cblas.h ]; } || need+=(libopenblas-dev)
jpeg_pkg=libjpeg62-turbo-dev
[ "$(os_id)" = ubuntu ] && jpeg_pkg=libjpeg-turbo8-dev
[ -z "$root" ] && [ -e /usr/include/jpeglib.h ] && [ -e /usr/lib/x86_64-linux-gnu/libjpeg.a ] || need+=("$jpeg_pkg")
[ -z "$root" ] && [ -e /usr/include/oneapi/dnnl/dnnl.h ] || need+=(libdnnl-dev)
[ -z "$root" ] && { python3 -c 'import numpy' >/dev/null 2>&1 || [ -e /usr/lib/python3/dist-packages/numpy ]; } || need+=(python3-numpy)

if [ ${#need[@]} -eq 0 ]; then
  echo "setup: nothing to install"
  exit 0
fi
enable_components
# env, not export: sudo drops the caller's environment.
run env DEBIAN_FRONTEND=noninteractive apt-get update -q
run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
