#!/usr/bin/env bash
# cudnn-abi.sh — compile cuda/dnn/abicheck/cudnn_abi.c against the real cudnn.h of this
# machine and run it: every cuDNN function tagimp declares is redeclared with our
# parameter list (a difference does not compile) and every constant, size and field
# offset we use is printed beside the header's. Exit 0 only when all match.
#
#   scripts/cudnn-abi.sh [DIR]
#
# DIR holds cudnn_abi.c and cudnn_api.h (default: cuda/dnn of this checkout; gpu-check
# carries both in its folder). cudnn.h is looked for in CUDNN_INCLUDE, then the Python
# wheel (site-packages/nvidia/cudnn/include of $PYTHON), /usr/include and
# /usr/local/cuda/include; cuda_runtime_api.h (which cudnn.h includes) in CUDA_INCLUDE,
# beside nvcc, /usr/local/cuda/include and the wheels' nvidia/cu13/include,
# nvidia/cuda_runtime/include.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir="${1:-}"
if [[ -z "$dir" ]]; then
	if [[ -f "$here/cudnn_abi.c" ]]; then dir="$here"; else dir="$here/../cuda/dnn"; fi
fi
src="$dir/cudnn_abi.c"
[[ -f "$src" ]] || src="$dir/abicheck/cudnn_abi.c"
[[ -f "$src" && -f "$dir/cudnn_api.h" ]] || { echo "cudnn-abi: no cudnn_abi.c and cudnn_api.h in $dir" >&2; exit 2; }
PYTHON="${PYTHON:-python3}"

site=()
if command -v "$PYTHON" >/dev/null; then
	while IFS= read -r p; do site+=("$p"); done < <("$PYTHON" -c 'import site, sys; print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null || true)
fi

first_with() { # first_with FILE DIR... : prints the first DIR holding FILE
	local f="$1"
	shift
	for d in "$@"; do
		if [[ -n "$d" && -f "$d/$f" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

cands=("${CUDNN_INCLUDE:-}")
for s in "${site[@]}"; do cands+=("$s/nvidia/cudnn/include" "$s/nvidia/cu13/include" "$s/nvidia/cu12/include"); done
cands+=(/usr/include /usr/local/cuda/include /usr/include/x86_64-linux-gnu)
cudnn_inc="$(first_with cudnn.h "${cands[@]}")" || {
	echo "cudnn-abi: cudnn.h not found (searched CUDNN_INCLUDE, site-packages/nvidia/cudnn/include of $PYTHON, /usr/include, /usr/local/cuda/include); set CUDNN_INCLUDE to its folder" >&2
	exit 2
}
nvcc_inc=""
if command -v nvcc >/dev/null; then nvcc_inc="$(dirname "$(command -v nvcc)")/../include"; fi
cands=("${CUDA_INCLUDE:-}" "$nvcc_inc" /usr/local/cuda/include /usr/include)
for s in "${site[@]}"; do cands+=("$s/nvidia/cu13/include" "$s/nvidia/cuda_runtime/include"); done
cuda_inc="$(first_with cuda_runtime_api.h "${cands[@]}")" || {
	echo "cudnn-abi: cuda_runtime_api.h not found (searched CUDA_INCLUDE, beside nvcc, /usr/local/cuda/include, the nvidia wheels); set CUDA_INCLUDE to its folder" >&2
	exit 2
}
cc="${CC:-cc}"
command -v "$cc" >/dev/null || cc=gcc
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "cudnn-abi: $cc with cudnn.h from $cudnn_inc, cuda_runtime_api.h from $cuda_inc"
"$cc" -std=c99 -Wall -I"$cudnn_inc" -I"$cuda_inc" -I"$dir" "$src" -o "$out/cudnn_abi"
"$out/cudnn_abi"
