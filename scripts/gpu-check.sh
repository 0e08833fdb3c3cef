#!/usr/bin/env bash
# gpu-check.sh — build the GPU pieces on a development machine, run them on a GPU machine.
#
#   scripts/gpu-check.sh build [DIR]        (dev machine: Go, nvcc 11.8+, cmake)
#       make kernels; tagimp-gpu (-tags gpu,noopenblas), the cuda and gpu test binaries
#       (go test -c) and tagimp-findlib, gzipped; the kernel sources and CMake files (for
#       the nvcc build there); this script, bench/peers/mlp_torch.py; BUILD.txt (commit,
#       glibc the binaries need, fatbin architectures, test lists). DIR defaults to
#       build/gpu-check and must stay <= 64 MiB (checked).
#
#   scripts/gpu-check.sh run OUTDIR [DIR]   (GPU machine: no Go, no network needed)
#       1. pre-flight, one line each: glibc vs what the binaries need, driver and GPU
#          (nvidia-smi), libcuda, libcublas (tagimp-findlib: the binaries' own search,
#          exported as TAGIMP_CUBLAS_PATH), Python and PyTorch, the fatbin's
#          architectures vs the GPU's; then one start of a GPU binary, so a loader error
#          (missing glibc symbol, missing libcuda) is one line. It stops there, saying
#          why in one line, when there is no driver or GPU or the binaries cannot start.
#       2. every top-level test of the cuda and gpu test binaries in a process of its own
#          (-test.run '^TestX$', its own time limit), so a kernel fault cannot poison the
#          tests after it; meanwhile the fatbin is built from the carried kernels/
#          sources with the local nvcc through the project's CMake (warnings printed);
#       3. the cuda kernel tests again against that fatbin (TAGIMP_FATBIN);
#       4. our SGEMMs vs cuBLAS FP32/TF32 at the batch-32 shapes (BenchmarkGemm);
#          `tagimp-gpu bench train --device gpu --json`; the PyTorch peer (mlp_torch.py).
#       5. (issue 13) before the tests, the cuDNN ABI check (cudnn-abi.sh: our cuDNN
#          declarations compiled against the wheel's cudnn.h; TAGIMP_CUDNN_ABI=ok|failed
#          for the cuDNN tests); the carried COCO images for the tests (TAGIMP_TEST_DATA);
#          after them `tagimp-gpu bench features --device gpu` and the torchvision peer
#          (vgg_torch.py) at batch 64; last, ours again at --precision bf16 (skipped when
#          the budget is spent).
#       Every part runs under `timeout`, and the whole run within RUN_BUDGET seconds
#       (default 450): a part that would start past it is reported as skipped. Logs go
#       to OUTDIR; at the end ONE table: each test's result and time, the nvcc build,
#       the GEMM benchmark, step times vs PyTorch. Exit status 1 when a test or the
#       nvcc build failed, timed out or was skipped, or the pre-flight stopped.
#
#   scripts/gpu-check.sh table OUTDIR       re-prints the table from OUTDIR's logs.
#
# DRY_RUN=1 runs the pre-flight and prints the commands of `run` without running them
# (nothing is recorded as run). PYTHON picks the interpreter (default: the first of
# /opt/torch/.venv/bin/python3 and python3 that imports torch). JOBS (default 4) test
# processes run at a time.
# The binaries are built with -tags gpu,noopenblas (the CPU engine inside them, the
# reference of the GPU tests, then uses pure-Go BLAS), so on the GPU machine they need
# only glibc (>= the version BUILD.txt names, today 2.34) and libcuda.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MAX_MIB=64
JOBS="${JOBS:-4}"
RUN_BUDGET="${RUN_BUDGET:-450}"

# Time limits in seconds for each part of `run`.
# Each can be overridden from the environment.
T_ENV=${T_ENV:-30} T_START=${T_START:-30} T_CUDA_TEST=${T_CUDA_TEST:-90} T_GPU_TEST=${T_GPU_TEST:-180}
T_NVCC=${T_NVCC:-180} T_GEMM=${T_GEMM:-90} T_OURS=${T_OURS:-60} T_TORCH=${T_TORCH:-90}
T_FEAT=${T_FEAT:-60} T_VGG=${T_VGG:-60}

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}

die() {
	echo "gpu-check: $*" >&2
	exit 1
}

# ---------------------------------------------------------------------------- build

cmd_build() {
	set -e
	local dir="${1:-build/gpu-check}"
	local root
	root="$(cd "$here/.." && pwd)"
	cd "$root"
	[[ -f go.mod ]] || die "run build from a checkout (no go.mod in $root)"
	command -v go >/dev/null || die "go not on PATH (build needs the Go toolchain; run happens on the GPU machine)"
	command -v nvcc >/dev/null || die "nvcc not on PATH (install CUDA, e.g. Debian's nvidia-cuda-toolkit)"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	rm -rf "$dir"/*.gz "$dir"/*.test "$dir"/tagimp-gpu "$dir"/tagimp-findlib "$dir"/gpu-check.sh \
		"$dir"/mlp_torch.py "$dir"/BUILD.txt "$dir"/*.tests "$dir"/src \
		"$dir"/vgg_torch.py "$dir"/cudnn-abi.sh "$dir"/cudnn_api.h "$dir"/cudnn_abi.c "$dir"/data

	echo "gpu-check: make kernels" >&2
	make kernels
	local ld='-s -w' tags='gpu,noopenblas' tmp
	tmp="$(mktemp -d)"
	echo "gpu-check: go build -tags $tags ./cmd/tagimp-gpu" >&2
	go build -tags "$tags" -trimpath -ldflags="$ld" -o "$tmp/tagimp-gpu" ./cmd/tagimp-gpu
	CGO_ENABLED=0 go build -trimpath -ldflags="$ld" -o "$tmp/tagimp-findlib" ./cmd/tagimp-findlib
	local pkg f
	for pkg in cuda gpu; do
		echo "gpu-check: go test -c -tags $tags ./$pkg/" >&2
		go test -c -tags "$tags" -trimpath -ldflags="$ld" -o "$tmp/$pkg.test" "./$pkg/"
		[[ -f "$tmp/$pkg.test" ]] || die "go test -c made no binary for ./$pkg/ (no test files with the gpu tag?)"
		# The top-level tests this binary holds, one process each in `run`.
		for f in $(go list -tags "$tags" -f '{{range .TestGoFiles}}{{.}} {{end}}' "./$pkg/"); do
			grep -hoE '^func Test[A-Z_][A-Za-z0-9_]*\(t \*testing\.T\)' "$pkg/$f" || true
		done | sed -E 's/^func (Test[A-Za-z0-9_]*).*/\1/' | sort -u >"$dir/$pkg.tests"
		[[ -s "$dir/$pkg.tests" ]] || die "no tests found in ./$pkg/ for the tags $tags"
	done
	go vet -tags gpu ./cuda/... ./gpu/ ./cmd/...
	# The GPU machine has the driver (libcuda) and glibc, nothing else we can count on.
	local extra need=0 v
	for f in "$tmp"/tagimp-gpu "$tmp"/*.test; do
		extra=$(ldd "$f" | awk '{print $1}' | grep -Ev '^(linux-vdso|/lib64/ld-linux|libcuda\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so)' || true)
		[[ -z "$extra" ]] || die "$f needs libraries a GPU machine may lack: $extra"
	done
	need=$(for f in "$tmp"/tagimp-gpu "$tmp"/*.test; do objdump -T "$f"; done | grep -oE 'GLIBC_[0-9]+\.[0-9]+(\.[0-9]+)?' | sed 's/GLIBC_//' | sort -uV | tail -1)
	for f in "$tmp"/*; do gzip -9 -c "$f" >"$dir/$(basename "$f").gz"; done
	rm -rf "$tmp"
	# The kernel sources, for the nvcc build on the GPU machine (what a user does).
	mkdir -p "$dir/src/kernels/dev"
	cp CMakeLists.txt "$dir/src/"
	cp kernels/CMakeLists.txt kernels/*.cu kernels/*.h kernels/*.cuh "$dir/src/kernels/"
	cp kernels/dev/*.cu "$dir/src/kernels/dev/"
	cp scripts/gpu-check.sh "$dir/gpu-check.sh"
	cp bench/peers/mlp_torch.py "$dir/mlp_torch.py"
	cp bench/peers/vgg_torch.py "$dir/vgg_torch.py"
	# The cuDNN ABI check (compiled there against the wheel's cudnn.h) and the real COCO
	# images that the preprocessing and fc7 tests and bench features read.
	cp scripts/cudnn-abi.sh cuda/dnn/cudnn_api.h cuda/dnn/abicheck/cudnn_abi.c "$dir/"
	if compgen -G "../shared/data/coco/val2017/*.jpg" >/dev/null; then
		mkdir -p "$dir/data/coco/val2017"
		cp ../shared/data/coco/val2017/*.jpg "$dir/data/coco/val2017/"
	fi
	chmod +x "$dir/gpu-check.sh" "$dir/mlp_torch.py" "$dir/vgg_torch.py"
	{
		echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git rev-parse --short HEAD 2>/dev/null || echo 'no commit')$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
		go version
		nvcc --version | tail -1
		echo "glibc-need: $need"
		echo "fatbin: $(fatbin_arches cuda/tagimp.fatbin)"
	} >"$dir/BUILD.txt"
	local kib
	kib=$(du -sk "$dir" | cut -f1)
	ls -l "$dir" >&2
	cat "$dir/BUILD.txt" >&2
	if ((kib > MAX_MIB * 1024)); then
		die "$dir is $((kib / 1024)) MiB, over the ${MAX_MIB} MiB that can be carried"
	fi
	echo "gpu-check: $dir ready ($((kib / 1024)) MiB); on the GPU machine: $dir/gpu-check.sh run OUTDIR" >&2
}

# fatbin_arches prints the machine code and PTX architectures of a fatbin, e.g.
# "sm_80 sm_90 +PTX compute_90".
fatbin_arches() {
	command -v cuobjdump >/dev/null || { echo "unknown (no cuobjdump)"; return; }
	local elf ptx
	elf=$(cuobjdump --list-elf "$1" 2>/dev/null | grep -oE 'sm_[0-9]+a?' | sort -uV | tr '\n' ' ')
	ptx=$(cuobjdump --list-ptx "$1" 2>/dev/null | grep -oE 'sm_[0-9]+a?' | sed 's/sm_/compute_/' | sort -uV | tr '\n' ' ')
	echo "${elf}+PTX ${ptx% }"
}

# ---------------------------------------------------------------------------- run

find_bindir() {
	if [[ -n "${1:-}" ]]; then
		(cd "$1" && pwd)
	elif [[ -f "$here/cuda.test.gz" ]]; then
		echo "$here"
	elif [[ -f "$here/../build/gpu-check/cuda.test.gz" ]]; then
		(cd "$here/../build/gpu-check" && pwd)
	else
		die "no cuda.test.gz beside this script nor in build/gpu-check: run 'scripts/gpu-check.sh build' on a dev machine first"
	fi
}

# pick_python prints the interpreter: $PYTHON, else the first that imports torch.
pick_python() {
	if [[ -n "${PYTHON:-}" ]]; then
		command -v "$PYTHON" || echo "$PYTHON"
		return
	fi
	local p
	for p in /opt/torch/.venv/bin/python3 python3 /usr/bin/python3; do
		if command -v "$p" >/dev/null 2>&1 && timeout 60 "$p" -c 'import torch' >/dev/null 2>&1; then
			command -v "$p"
			return
		fi
	done
	command -v python3 || echo python3
}

now() { date +%s; }

# left prints the seconds left of the run's budget.
left() { echo $((RUN_BUDGET - ($(now) - START))); }

# run_logged NAME LIMIT CMD... : runs CMD under timeout (capped by the budget left), stdout
# to OUTDIR/NAME.out, stderr to OUTDIR/NAME.log, exit status to NAME.rc and seconds to
# NAME.time; never fails. A part that would start with under 10 s of budget left is
# recorded as skipped (NAME.rc = "skipped"). With DRY_RUN=1 it prints the command and
# records nothing.
run_logged() {
	local name="$1" limit="$2"
	shift 2
	if [[ "${DRY_RUN:-0}" == 1 ]]; then
		printf 'would run (timeout %ss): %s > %s\n' "$limit" "$*" "$out/$name.out"
		return 0
	fi
	local l
	l=$(left)
	if ((l < 10)); then
		echo skipped >"$out/$name.rc"
		echo "gpu-check: $name skipped: the run's budget of ${RUN_BUDGET}s is spent" >"$out/$name.log"
		return 0
	fi
	((limit > l)) && limit=$l
	local t0 rc=0
	t0=$(now)
	timeout --kill-after=5 "$limit" "$@" >"$out/$name.out" 2>"$out/$name.log" || rc=$?
	echo "$rc" >"$out/$name.rc"
	echo "$(($(now) - t0))" >"$out/$name.time"
	if [[ $rc == 124 || $rc == 137 ]]; then
		echo "gpu-check: $name TIMED OUT after ${limit}s" >>"$out/$name.log"
	fi
	echo "gpu-check: $name exit $rc after $(($(now) - t0))s" >&2
	return 0
}

# run_tests PREFIX PKG LIMIT [ENV=VAL...] : queues every test of PKG's binary, each in its
# own process, at most JOBS processes at a time (the longest, TestPaperShapesGraph, first);
# their pids go to TEST_PIDS; the caller waits.
run_tests() {
	local prefix="$1" pkg="$2" limit="$3"
	shift 3
	local t wd="$bin"
	[[ -d "$bin/../../$pkg" ]] && wd="$(cd "$bin/../../$pkg" && pwd)" # testdata, when the checkout is there
	local extra=()
	[[ "$pkg" == gpu ]] && extra=(-paper.steps 300 -paper.cpusteps 30)
	while read -r t; do
		[[ -n "$t" ]] || continue
		while (($(jobs -rp | wc -l) >= JOBS)); do wait -n 2>/dev/null || true; done
		(cd "$wd" && run_logged "$prefix-$t" "$limit" env "$@" "$tmpbin/$pkg.test" -test.run "^$t\$" -test.v \
			-test.timeout "$((limit - 3))s" "${extra[@]}") &
		TEST_PIDS+=($!)
	done < <(grep Paper "$bin/$pkg.tests"; grep -v Paper "$bin/$pkg.tests")
}

preflight() {
	local l v need have drv
	# glibc
	need=$(awk '/^glibc-need:/ {print $2}' "$bin/BUILD.txt" 2>/dev/null)
	have=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
	if [[ -z "$have" ]]; then
		echo "glibc:    unknown (getconf GNU_LIBC_VERSION failed); the binaries need glibc >= ${need:-?}"
	elif [[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" == "$need" ]]; then
		echo "glibc:    $have, the binaries need >= $need: ok"
	else
		echo "glibc:    $have, the binaries need >= $need: TOO OLD (build on a machine with glibc <= $have)"
		STOP="glibc $have is older than the $need the binaries need"
	fi
	# driver and GPU
	if ! command -v nvidia-smi >/dev/null 2>&1; then
		echo "driver:   none: nvidia-smi not found, no NVIDIA driver on this machine"
		STOP="${STOP:-no NVIDIA driver on this machine (nvidia-smi not found)}"
	elif drv=$(timeout "$T_ENV" nvidia-smi --query-gpu=driver_version,name,memory.total,compute_cap --format=csv,noheader 2>&1 | head -1) &&
		[[ "$drv" != *"failed"* && "$drv" != *"NVIDIA-SMI has"* && -n "$drv" ]]; then
		echo "driver:   $drv (driver, GPU, memory, compute capability)"
		GPU_CC=$(echo "$drv" | awk -F', *' '{print $4}' | tr -d .)
	else
		echo "driver:   nvidia-smi failed: ${drv:-no output}"
		STOP="${STOP:-nvidia-smi sees no working GPU: ${drv:-no output}}"
	fi
	# libcuda
	local lc
	lc=$( (ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null) | awk '/libcuda\.so\.1 / {print $NF; exit}')
	if [[ -z "$lc" ]]; then
		for v in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/local/cuda/compat; do
			if [[ -e "$v/libcuda.so.1" ]]; then
				lc="$v/libcuda.so.1 (not in the ld.so cache: added to LD_LIBRARY_PATH)"
				export LD_LIBRARY_PATH="$v${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
				break
			fi
		done
	fi
	echo "libcuda:  ${lc:-not found (ld.so cache, /usr/local/nvidia/lib64, /usr/lib/x86_64-linux-gnu)}"
	[[ -n "$lc" ]] || STOP="${STOP:-libcuda.so.1 not found: the GPU binaries cannot start}"
	# libcublas, by the binaries' own search
	export TAGIMP_PYTHON="$PY"
	if v=$("$tmpbin/tagimp-findlib" cublas 2>"$out/findlib.txt"); then
		echo "libcublas: ${v#cublas }"
		[[ -n "${TAGIMP_CUBLAS_PATH:-}" ]] || export TAGIMP_CUBLAS_PATH="$("$tmpbin/tagimp-findlib" -q cublas)"
	else
		echo "libcublas: NOT FOUND ($(grep -c '^  ' "$out/findlib.txt") places tried, listed in $out/findlib.txt; set TAGIMP_CUBLAS_PATH)"
	fi
	# Python and PyTorch
	v=$(timeout "$T_ENV" "$PY" -c 'import sys, torch; print("Python %s (%s), PyTorch %s, CUDA %s, GPU visible to torch: %s" % (sys.version.split()[0], sys.executable, torch.__version__, torch.version.cuda, torch.cuda.is_available()))' 2>&1 | tail -1)
	echo "python:   $v"
	# fatbin architectures vs the GPU
	local fb
	fb=$(awk -F': ' '/^fatbin:/ {print $2}' "$bin/BUILD.txt" 2>/dev/null)
	if [[ -n "${GPU_CC:-}" ]]; then
		if [[ " $fb " == *" sm_${GPU_CC} "* ]]; then
			echo "fatbin:   $fb; GPU is sm_$GPU_CC: machine code present"
		elif [[ -n "$(echo "$fb" | grep -oE 'compute_[0-9]+' | sed 's/compute_//' | awk -v cc="$GPU_CC" '$1 <= cc')" ]]; then
			echo "fatbin:   $fb; GPU is sm_$GPU_CC: no machine code, the driver JIT-compiles the PTX"
		else
			echo "fatbin:   $fb; GPU is sm_$GPU_CC: NO CODE for it (add it to TAGIMP_ARCH_FLAGS)"
		fi
	else
		echo "fatbin:   $fb"
	fi
	[[ -n "${STOP:-}" ]] && return
	# One start of a GPU binary: loader errors and driver errors in one line.
	if v=$(cd "$tmpbin" && timeout "$T_START" ./cuda.test -test.run '^$' 2>&1); then
		echo "start:    cuda.test starts: $(echo "$v" | grep -m1 -E '^GPU [0-9]+:' || echo ok)"
	else
		l=$(echo "$v" | grep -m1 -E 'error while loading|version .GLIBC|not found|tagimp-gpu \(GPU build\)|cuda tests:' || echo "$v" | head -1)
		echo "start:    cuda.test CANNOT START: $l"
		STOP="the GPU binaries cannot start: $l"
	fi
}

cmd_run() {
	[[ $# -ge 1 ]] || usage
	out="$1"
	bin="$(find_bindir "${2:-}")"
	mkdir -p "$out"
	out="$(cd "$out" && pwd)"
	rm -f "$out"/*.rc "$out"/*.out "$out"/*.log "$out"/*.time
	START=$(now)
	PY="$(pick_python)"
	tmpbin="$(mktemp -d)"
	trap 'rm -rf "$tmpbin"' EXIT
	local f
	for f in "$bin"/*.gz; do
		gzip -dc "$f" >"$tmpbin/$(basename "$f" .gz)" || die "cannot unpack $f"
	done
	chmod +x "$tmpbin"/*
	cp "$bin"/*.tests "$bin/BUILD.txt" "$tmpbin/" 2>/dev/null
	cp "$bin"/*.tests "$out/" # the table lists every test, run or not

	{
		echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "bindir: $bin"
		cat "$bin/BUILD.txt" 2>/dev/null
	} >"$out/env.txt"
	STOP=""
	echo "== pre-flight =="
	preflight >"$out/preflight.txt" # not in a pipeline: it exports what the binaries use
	cat "$out/preflight.txt"
	{
		echo "TAGIMP_CUBLAS_PATH=${TAGIMP_CUBLAS_PATH:-}"
		echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
		timeout "$T_ENV" nvidia-smi 2>&1 || true
	} >>"$out/env.txt" 2>&1
	if [[ -n "$STOP" && "${DRY_RUN:-0}" != 1 ]]; then
		echo "gpu-check: stopped after the pre-flight: $STOP"
		return 1
	fi

	# cuDNN's declarations against this machine's cudnn.h, before any cuDNN test: the
	# cuDNN tests stop when it fails (TAGIMP_CUDNN_ABI=failed).
	local abidir="$bin"
	[[ -f "$abidir/cudnn_abi.c" ]] || abidir="$here/../cuda/dnn"
	run_logged cudnn-abi "$T_ENV" env PYTHON="$PY" bash "$here/cudnn-abi.sh" "$abidir"
	if [[ "$(cat "$out/cudnn-abi.rc" 2>/dev/null)" == 0 ]]; then export TAGIMP_CUDNN_ABI=ok; else export TAGIMP_CUDNN_ABI=failed; fi
	[[ -d "$bin/data/coco/val2017" ]] && export TAGIMP_TEST_DATA="$bin/data"

	# The cuda and gpu tests, one process each; the nvcc build alongside.
	local src="$bin/src"
	run_logged nvcc-build "$T_NVCC" bash -c "cmake -S '$src' -B '$out/cmake-build' -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build '$out/cmake-build' --target fatbin -- VERBOSE=1 2>&1" &
	local nvcc_pid=$!
	TEST_PIDS=()
	run_tests gpu gpu "$T_GPU_TEST"
	run_tests cuda cuda "$T_CUDA_TEST"
	wait "$nvcc_pid"
	# The same kernel tests against the fatbin this machine's nvcc built.
	if [[ "${DRY_RUN:-0}" == 1 || "$(cat "$out/nvcc-build.rc" 2>/dev/null)" == 0 ]]; then
		run_tests nvcc cuda "$T_CUDA_TEST" TAGIMP_FATBIN="$out/cmake-build/kernels/tagimp.fatbin" \
			TAGIMP_DEV_FATBIN="$out/cmake-build/kernels/tagimp_dev.fatbin"
	fi
	((${#TEST_PIDS[@]} == 0)) || wait "${TEST_PIDS[@]}"
	# Timings, one at a time.
	(cd "$tmpbin" && run_logged bench-gemm "$T_GEMM" ./cuda.test -test.run '^$' -test.bench Gemm -test.benchtime 200x)
	run_logged bench-ours "$T_OURS" "$tmpbin/tagimp-gpu" bench train --device gpu --json
	run_logged bench-torch "$T_TORCH" "$PY" "$bin/mlp_torch.py" --json
	# VGG16 to fc7 at batch 64: ours (compute only, decode, end to end from the carried
	# JPEGs 40 times over) and torchvision's at each precision.
	if [[ -d "$bin/data/coco/val2017" ]]; then
		run_logged bench-features "$T_FEAT" "$tmpbin/tagimp-gpu" bench features --device gpu \
			--images "$bin/data/coco/val2017" --repeat 40 --batch 64 --precision tf32 --json
	fi
	run_logged bench-vgg-torch "$T_VGG" "$PY" "$bin/vgg_torch.py" --json --batch 64 --rounds 3 --iters 5
	# Ours at bf16 (the peer above ran every precision), last: the first part the
	# budget drops when it runs short.
	if [[ -d "$bin/data/coco/val2017" ]]; then
		run_logged bench-features-bf16 "$T_FEAT" "$tmpbin/tagimp-gpu" bench features --device gpu \
			--images "$bin/data/coco/val2017" --repeat 10 --batch 64 --precision bf16 --json
	fi

	echo "total: $(($(now) - START))s" >>"$out/env.txt"
	if [[ "${DRY_RUN:-0}" == 1 ]]; then
		echo "dry run: nothing was run; logs would go to $out"
		return 0
	fi
	cmd_table "$out"
	echo "gpu-check: full logs in $out (total $(($(now) - START))s of a ${RUN_BUDGET}s budget)"
	# Exit 1 when any test or build failed, timed out or was skipped.
	! grep -qvx 0 "$out"/cuda-*.rc "$out"/gpu-*.rc "$out"/nvcc-*.rc 2>/dev/null
}

# ---------------------------------------------------------------------------- table

cmd_table() {
	[[ $# -ge 1 ]] || usage
	local dir="$1"
	[[ -d "$dir" ]] || die "no such folder $dir"
	"${PYTHON:-python3}" - "$dir" <<'EOF'
import glob, json, os, re, sys

out = sys.argv[1]

def read(name):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read()
    except OSError:
        return None

def load_json(name):
    text = read(name)
    if not text:
        return None, "no output"
    start = text.find("{")
    if start < 0:
        return None, "no JSON in output"
    try:
        return json.loads(text[start:]), None
    except ValueError as exc:
        return None, "bad JSON: %s" % exc

def state(name):
    rc = (read(name + ".rc") or "").strip()
    if rc == "":
        return "NOT RUN"
    return {"0": "PASS", "124": "TIMEOUT", "137": "TIMEOUT", "skipped": "SKIPPED"}.get(rc, "FAIL (exit %s)" % rc)

def why(name):
    text = (read(name + ".out") or "") + (read(name + ".log") or "")
    for pat in (r"^\s+\S+_test\.go:\d+: .*", r"^panic: .*", r"^.*TIMED OUT.*", r"^.*error.*"):
        m = re.search(pat, text, re.M)
        if m:
            return m.group(0).strip()[:150]
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1][:150] if lines else "(no output)"

pre = read("preflight.txt")
if pre:
    print("== pre-flight ==")
    print(pre.rstrip())
    print()

print("== tests (one process each) ==")
counts = {}
for prefix, title in (("cuda", "kernels vs twins (embedded fatbin)"), ("gpu", "engine vs CPU engine"),
                      ("nvcc", "kernels vs twins (fatbin built here by nvcc)")):
    pkg = "gpu" if prefix == "gpu" else "cuda"
    listed = set((read(pkg + ".tests") or "").split())
    ran = set(os.path.basename(p)[len(prefix) + 1:-3] for p in glob.glob(os.path.join(out, prefix + "-Test*.rc")))
    names = sorted(listed | ran)
    if not names:
        continue
    print("-- %s" % title)
    for n in names:
        name = "%s-%s" % (prefix, n)
        st = state(name)
        counts[st.split()[0]] = counts.get(st.split()[0], 0) + 1
        t = (read(name + ".time") or "").strip()
        line = "%-5s %-34s %-14s %5ss" % (prefix, n, st, t or "-")
        if st != "PASS":
            line += "  " + why(name)
        print(line)
print("totals: " + (", ".join("%s %d" % kv for kv in sorted(counts.items())) or "no test listed (no cuda.tests/gpu.tests here)"))

nv = state("nvcc-build")
if nv != "NOT RUN":
    log = (read("nvcc-build.out") or "") + (read("nvcc-build.log") or "")
    warns = [l for l in log.splitlines() if re.search(r"warning", l, re.I)]
    print()
    print("nvcc build of kernels/ with this machine's toolkit (CMake): %s, %d warning line(s)" % (nv, len(warns)))
    for w in warns[:10]:
        print("  " + w[:200])
    if nv != "PASS":
        print("  " + why("nvcc-build"))

bg = read("bench-gemm.out")
if bg is not None:
    print()
    print("== SGEMM, batch-32 shapes (GFLOP/s; own = kernels/dev, not in the engine): %s ==" % state("bench-gemm"))
    rows = {}
    for m in re.finditer(r"^BenchmarkGemm/(\S+?)/(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) GFLOP/s", bg, re.M):
        rows.setdefault(m.group(1), {})[m.group(2)] = float(m.group(4))
    impls = ["own", "own_splitk", "cublas_fp32", "cublas_tf32"]
    print("%-20s" % "shape" + "".join("%13s" % i for i in impls))
    for shape, r in rows.items():
        print("%-20s" % shape + "".join("%13s" % ("%.0f" % r[i] if i in r else "-") for i in impls))
    if state("bench-gemm") != "PASS":
        print("  " + why("bench-gemm"))

ours, err_ours = load_json("bench-ours.out")
torch, err_torch = load_json("bench-torch.out")
print()
print("== training step, batch 32 (ms; ratio = peer time / our time, >1 means we are faster) ==")
def last_line(name):
    lines = [l for l in (read(name) or "").splitlines() if l.strip()]
    return lines[-1][:200] if lines else ""

for who, obj, err in (("ours", ours, err_ours), ("torch", torch, err_torch)):
    if err or (obj or {}).get("error"):
        print("%s: %s (%s) %s" % (who, err or obj.get("error"), state("bench-" + who), last_line("bench-%s.log" % who)))

def ours_row(model):
    for r in (ours or {}).get("results", []):
        if r.get("model") == model:
            return r
    return {}

def torch_ms(model, mode):
    for r in (torch or {}).get("results", []):
        if r.get("model") == model and r.get("mode") == mode:
            return r.get("step_ms")
    return None

def f(x, spec):
    return "-" if x is None else spec % x

hdr = "%-9s %9s %9s %9s %8s %8s %9s %7s" % (
    "model", "ours", "eager", "graphs", "eager/x", "graphs/x", "floor", "of floor")
print(hdr)
print("-" * len(hdr))
models = [r.get("model") for r in (ours or {}).get("results", [])] or ["baseline", "model1", "model2"]
for m in models:
    o = ours_row(m)
    ms = o.get("step_ms")
    e, g = torch_ms(m, "eager"), torch_ms(m, "graphs")
    floor = o.get("floor_ms")
    print("%-9s %9s %9s %9s %8s %8s %9s %7s" % (
        m, f(ms, "%.4f"), f(e, "%.4f"), f(g, "%.4f"),
        f(e / ms if e and ms else None, "%.2fx"),
        f(g / ms if g and ms else None, "%.2fx"),
        f(floor, "%.4f"),
        f(floor / ms if floor and ms else None, "%.2f")))
if all(ours_row(m).get("step_ms") for m in ("baseline", "model1", "model2")):
    steps = sum(ours_row(m).get("step_ms") or 0 for m in ("baseline", "model1", "model2"))
    print("50 epochs x 32k images (50,000 steps per model), three models: %.1f s of training steps "
          "(extrapolated from the step times, evaluation not included; goal < 30 s)" % (50000 * steps / 1e3))
for m in models:
    if ours_row(m).get("mode"):
        print("ours %s: %s" % (m, ours_row(m)["mode"]))
bw_o = (ours or {}).get("copy_bandwidth_gbs")
bw_t = (torch or {}).get("copy_bandwidth_gbs")
print("copy bandwidth (D2D, read+write): ours %s GB/s, torch %s GB/s" % (f(bw_o, "%.0f"), f(bw_t, "%.0f")))
print("floor = bytes of weights, gradients and Adam state moved per step / our copy bandwidth;")
print("'of floor' = floor / step time (1.00 = at the floor; goal >= 0.67, i.e. within 1.5x)")
for r in (torch or {}).get("results", []):
    if "step_ms" not in r:
        print("torch %s %s: %s" % (r.get("model"), r.get("mode"), r.get("skipped") or r.get("error")))
if torch:
    print("torch %s on %s" % (torch.get("torch_version"), torch.get("device")))
if ours:
    print("ours on %s" % ours.get("device_name", ours.get("device", "?")))

print()
print("== cuDNN and VGG16 to fc7 (issue 13) ==")
abi = (read("cudnn-abi.out") or "") + (read("cudnn-abi.log") or "")
print("cuDNN ABI check (cuda/dnn/cudnn_api.h vs cudnn.h): %s" % (
    (re.findall(r"^cudnn-abi: .*$", abi, re.M) or ["no result (exit %s): %s" % (
        (read("cudnn-abi.rc") or "?").strip(), last_line("cudnn-abi.log"))])[-1]))
for prefix, name in (("cuda", "TestCuDNNConvVGGShapes"), ("cuda", "TestPrep"), ("cuda", "TestPrepDCTScaled"),
                     ("cuda", "TestHalfKernels"), ("gpu", "TestVGG16FC7"), ("gpu", "TestVGG16Unfused"),
                     ("gpu", "TestFC7ExtractorPipeline"), ("gpu", "TestFC7ExtractorAutoBatch"),
                     ("gpu", "TestFC7ExtractorRepeatsPlan"), ("cuda", "TestPinnedAsyncCopies")):
    rc = (read("%s-%s.rc" % (prefix, name)) or "").strip()
    print("%-28s %s" % (name, {"": "not run", "0": "ok"}.get(rc, "FAIL/TIMEOUT (exit %s)" % rc)))
    log = (read("%s-%s.out" % (prefix, name)) or "") + (read("%s-%s.log" % (prefix, name)) or "")
    for l in re.findall(r"(fc7 deviation from the CPU path.*|values differ from the (?:CPU path|twin).*|in batches of.*|automatic batch.*|repeated: .*|round trip.*|fc7 unfused vs as chosen.*|\w+ as chosen: \d+ of \d+ layers fused)$", log, re.M):
        print("  " + l)
for bname, bprec in (("bench-features", "tf32"), ("bench-features-bf16", "bf16")):
    if state(bname) == "NOT RUN":
        continue
    bf, err_bf = load_json(bname + ".out")
    if err_bf or (bf or {}).get("error"):
        print("  ours  bench features %s: %s (%s) %s" % (bprec, err_bf or bf.get("error"), state(bname), last_line(bname + ".log")))
        continue
    print("  ours  bench features %s batch %d, %d images: compute %.0f, decode %.0f, end to end %.0f images/s; "
          "network waiting %.0f%%; bottleneck %s (load %s)" % (bprec, bf["batch"], bf["images"], bf["compute_images_per_s"],
          bf["decode_images_per_s"], bf["end_to_end_images_per_s"], 100 * bf["compute_waits_fraction"], bf["bottleneck"],
          bf.get("load_average")))
    if bf.get("raw_end_to_end_images_per_s"):
        print("        features pipeline (device preprocessing, batches in flight): decode %.0f, end to end %.0f images/s; "
              "network waiting %.0f%%; %.0f MB/s copied; bottleneck %s" % (
              bf["raw_decode_images_per_s"], bf["raw_end_to_end_images_per_s"], 100 * bf.get("raw_compute_waits_fraction", 0),
              bf.get("raw_copy_mb_per_s", 0), bf.get("raw_bottleneck")))
vt, err_vt = load_json("bench-vgg-torch.out")
if err_vt or (vt or {}).get("error"):
    print("  torch: %s (exit %s) %s" % (err_vt or vt.get("error"), (read("bench-vgg-torch.rc") or "?").strip(),
          last_line("bench-vgg-torch.log")))
for r in (vt or {}).get("results", []):
    if "images_per_s" in r:
        print("  torch %-5s batch %d: %.1f ms a batch, %.0f images/s (compute only; channels_last, cudnn.benchmark)" % (
            r["precision"], r["batch"], r["ms_per_batch"], r["images_per_s"]))
    else:
        print("  torch %-5s %s" % (r.get("precision"), r.get("skipped")))
EOF
}

case "${1:-}" in
build)
	shift
	cmd_build "$@"
	;;
run)
	shift
	cmd_run "$@"
	;;
table)
	shift
	cmd_table "$@"
	;;
*) usage ;;
esac
