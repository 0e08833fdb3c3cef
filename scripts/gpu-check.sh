#!/usr/bin/env bash
# gpu-check.sh — build the GPU pieces on a development machine, run them on a GPU machine.
#
#   scripts/gpu-check.sh build [DIR]        (dev machine: Go, nvcc 11.8+, cmake)
#       make kernels; bin/tagimp-gpu with -tags gpu; `go test -c -tags gpu` binaries
#       for ./gpu and ./cuda; copies this script and bench/peers/mlp_torch.py beside
#       them. DIR defaults to build/gpu-check and must stay small enough to carry
#       (checked: <= 64 MiB).
#
#   scripts/gpu-check.sh run OUTDIR [DIR]   (GPU machine: no Go, no network needed)
#       runs, each under `timeout`, the cuda and gpu test binaries (-test.v), then
#       `tagimp-gpu bench train --device gpu --json` and the PyTorch peer
#       bench/peers/mlp_torch.py --json, writes every log into OUTDIR and prints ONE
#       table: step time per model (ours, torch eager, torch graphs), the ratio of each
#       peer to ours (>1 = we are faster) and the fraction of the HBM floor we reach.
#       Whole run bounded to about 5.5 minutes. DIR defaults to the folder holding this
#       script when that folder holds the binaries, else build/gpu-check.
#
#   scripts/gpu-check.sh table OUTDIR       re-prints the table from OUTDIR's logs.
#
# Set DRY_RUN=1 to print the commands of `run` without running them.
# cuBLAS: the run step looks for it in Python's nvidia-cublas-* package (where the GPU
# machines ship it), then in the usual system paths, and exports its directory as
# TAGIMP_CUDA_LIBS (read by package cuda) and on LD_LIBRARY_PATH; a TAGIMP_CUBLAS_PATH
# (the library file) or TAGIMP_CUDA_LIBS already set wins.
# The binaries are built with -tags gpu,noopenblas: the CPU engine inside them (the
# reference of the GPU tests) then uses pure-Go BLAS, so they need only libcuda and
# glibc (>= 2.34) on the GPU machine, not libopenblas/libgfortran.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${PYTHON:-python3}"
MAX_MIB=64

# Time limits in seconds for each part of `run` (sum stays under 8 minutes).
T_ENV=20 T_CUDA=80 T_GPU=130 T_OURS=60 T_TORCH=80 T_VGG=50 T_FEAT=50

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}" >&2
	exit 2
}

die() {
	echo "gpu-check: $*" >&2
	exit 1
}

# run_logged NAME LIMIT CMD... : runs CMD under timeout, stdout to OUTDIR/NAME.out,
# stderr to OUTDIR/NAME.log, records the exit status in OUTDIR/NAME.rc; never fails.
run_logged() {
	local name="$1" limit="$2"
	shift 2
	if [[ "${DRY_RUN:-0}" == 1 ]]; then
		printf 'would run (timeout %ss): %s > %s\n' "$limit" "$*" "$out/$name.out"
		echo 0 >"$out/$name.rc"
		return 0
	fi
	local t0 rc=0
	t0=$(date +%s)
	echo "gpu-check: $name (limit ${limit}s): $*" >&2
	timeout --kill-after=10 "$limit" "$@" >"$out/$name.out" 2>"$out/$name.log" || rc=$?
	echo "$rc" >"$out/$name.rc"
	echo "gpu-check: $name exit $rc after $(($(date +%s) - t0))s" >&2
	if [[ $rc == 124 || $rc == 137 ]]; then
		echo "gpu-check: $name TIMED OUT after ${limit}s" >>"$out/$name.log"
	fi
	return 0
}

cmd_build() {
	local dir="${1:-build/gpu-check}"
	local root
	root="$(cd "$here/.." && pwd)"
	cd "$root"
	[[ -f go.mod ]] || die "run build from a checkout (no go.mod in $root)"
	command -v go >/dev/null || die "go not on PATH (build needs the Go toolchain; run happens on the GPU machine)"
	command -v nvcc >/dev/null || die "nvcc not on PATH (install CUDA, e.g. Debian's nvidia-cuda-toolkit)"
	mkdir -p "$dir"
	dir="$(cd "$dir" && pwd)"
	rm -rf "$dir"/*.test "$dir"/tagimp-gpu "$dir"/gpu-check.sh "$dir"/mlp_torch.py "$dir"/BUILD.txt \
		"$dir"/vgg_torch.py "$dir"/cudnn-abi.sh "$dir"/cudnn_api.h "$dir"/cudnn_abi.c "$dir"/data

	echo "gpu-check: make kernels" >&2
	make kernels
	local ld='-s -w' tags='gpu,noopenblas'
	echo "gpu-check: go build -tags $tags ./cmd/tagimp-gpu" >&2
	go build -tags "$tags" -trimpath -ldflags="$ld" -o "$dir/tagimp-gpu" ./cmd/tagimp-gpu
	for pkg in cuda gpu; do
		echo "gpu-check: go test -c -tags $tags ./$pkg/" >&2
		go test -c -tags "$tags" -trimpath -ldflags="$ld" -o "$dir/$pkg.test" "./$pkg/"
		[[ -f "$dir/$pkg.test" ]] || die "go test -c made no binary for ./$pkg/ (no test files with the gpu tag?)"
	done
	go vet -tags gpu ./cuda/ ./gpu/ ./cmd/tagimp-gpu/
	# The GPU machine has the driver (libcuda) and glibc, nothing else we can count on.
	local f extra
	for f in "$dir/tagimp-gpu" "$dir"/*.test; do
		extra=$(ldd "$f" | awk '{print $1}' | grep -Ev '^(linux-vdso|/lib64/ld-linux|libcuda\.so|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so)' || true)
		[[ -z "$extra" ]] || die "$f needs libraries a GPU machine may lack: $extra"
	done
	cp scripts/gpu-check.sh "$dir/gpu-check.sh"
	cp bench/peers/mlp_torch.py "$dir/mlp_torch.py"
	# The cuDNN ABI check (compiled there against the wheel's cudnn.h) and the real
	# COCO images that the preprocessing and fc7 tests read (TAGIMP_TEST_DATA).
	cp bench/peers/vgg_torch.py "$dir/vgg_torch.py"
	cp scripts/cudnn-abi.sh cuda/dnn/cudnn_api.h cuda/dnn/abicheck/cudnn_abi.c "$dir/"
	if compgen -G "../shared/data/coco/val2017/*.jpg" >/dev/null; then
		mkdir -p "$dir/data/coco/val2017"
		cp ../shared/data/coco/val2017/*.jpg "$dir/data/coco/val2017/"
	fi
	chmod +x "$dir/gpu-check.sh" "$dir/mlp_torch.py"
	{
		echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(git rev-parse --short HEAD 2>/dev/null || echo 'no commit')$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
		go version
		nvcc --version | tail -1
	} >"$dir/BUILD.txt"
	local kib
	kib=$(du -sk "$dir" | cut -f1)
	ls -l "$dir" >&2
	if ((kib > MAX_MIB * 1024)); then
		die "$dir is $((kib / 1024)) MiB, over the ${MAX_MIB} MiB that can be carried"
	fi
	echo "gpu-check: $dir ready ($((kib / 1024)) MiB); on the GPU machine: $dir/gpu-check.sh run OUTDIR" >&2
}

find_bindir() {
	if [[ -n "${1:-}" ]]; then
		(cd "$1" && pwd)
	elif [[ -x "$here/gpu.test" ]]; then
		echo "$here"
	elif [[ -x "$here/../build/gpu-check/gpu.test" ]]; then
		(cd "$here/../build/gpu-check" && pwd)
	else
		die "no gpu.test beside this script nor in build/gpu-check: run 'scripts/gpu-check.sh build' on a dev machine first"
	fi
}

# cublas_dir prints the directory holding libcublas.so.* (Python's nvidia wheels first).
cublas_dir() {
	local d
	d=$("$PYTHON" -c 'import nvidia.cublas, os; print(os.path.join(os.path.dirname(nvidia.cublas.__file__), "lib"))' 2>/dev/null || true)
	if [[ -n "$d" && -d "$d" ]] && compgen -G "$d/libcublas.so*" >/dev/null; then
		echo "$d"
		return
	fi
	for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
		if compgen -G "$d/libcublas.so*" >/dev/null; then
			echo "$d"
			return
		fi
	done
}

cmd_run() {
	[[ $# -ge 1 ]] || usage
	out="$1"
	local bin
	bin="$(find_bindir "${2:-}")"
	mkdir -p "$out"
	out="$(cd "$out" && pwd)"
	local start
	start=$(date +%s)

	if [[ -z "${TAGIMP_CUBLAS_PATH:-}" && -z "${TAGIMP_CUDA_LIBS:-}" ]]; then
		local cb
		cb="$(cublas_dir)"
		if [[ -n "$cb" ]]; then
			export TAGIMP_CUDA_LIBS="$cb"
			export LD_LIBRARY_PATH="${cb}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
		else
			echo "gpu-check: WARNING: no libcublas found (python nvidia.cublas, /usr/local/cuda); cuBLAS-based parts will fail" >&2
		fi
	fi

	{
		echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
		echo "bindir: $bin"
		cat "$bin/BUILD.txt" 2>/dev/null || true
		echo "TAGIMP_CUBLAS_PATH=${TAGIMP_CUBLAS_PATH:-}"
		echo "TAGIMP_CUDA_LIBS=${TAGIMP_CUDA_LIBS:-}"
		echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
		if [[ "${DRY_RUN:-0}" != 1 ]]; then
			timeout "$T_ENV" nvidia-smi 2>&1 || echo "nvidia-smi failed"
			timeout "$T_ENV" "$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))' 2>&1 || echo "torch import failed"
		fi
	} >"$out/env.txt" 2>&1

	# cuDNN's declarations against the machine's cudnn.h, before any cuDNN test: the
	# cuda tests stop their cuDNN part when this fails (TAGIMP_CUDNN_ABI=failed).
	local abidir="$bin"
	[[ -f "$abidir/cudnn_abi.c" ]] || abidir="$here/../cuda/dnn"
	run_logged cudnn-abi "$T_ENV" bash "$here/cudnn-abi.sh" "$abidir"
	if [[ "$(cat "$out/cudnn-abi.rc")" == 0 ]]; then export TAGIMP_CUDNN_ABI=ok; else export TAGIMP_CUDNN_ABI=failed; fi
	[[ -d "$bin/data/coco/val2017" ]] && export TAGIMP_TEST_DATA="$bin/data"

	# Test binaries run from their package folder when the checkout is there (testdata).
	local pkg wd
	for pkg in cuda gpu; do
		wd="$bin"
		[[ -d "$bin/../../$pkg" ]] && wd="$(cd "$bin/../../$pkg" && pwd)"
		local limit=$T_CUDA
		[[ $pkg == gpu ]] && limit=$T_GPU
		(cd "$wd" && run_logged "test-$pkg" "$limit" "$bin/$pkg.test" -test.v -test.timeout "$((limit - 5))s")
	done
	run_logged bench-ours "$T_OURS" "$bin/tagimp-gpu" bench train --device gpu --json
	run_logged bench-torch "$T_TORCH" "$PYTHON" "$bin/mlp_torch.py" --json
	# VGG16 to fc7 at batch 64: ours (compute only, decode, end to end from the carried JPEGs,
	# 40 times over) and torchvision's, each precision; also TestVGG16Throughput in test-gpu.
	if [[ -d "$bin/data/coco/val2017" ]]; then
		run_logged bench-features "$T_FEAT" "$bin/tagimp-gpu" bench features --device gpu --images "$bin/data/coco/val2017" \
			--repeat 40 --batch 64 --precision tf32 --json
	fi
	run_logged bench-vgg-torch "$T_VGG" "$PYTHON" "$bin/vgg_torch.py" --json --batch 64 --rounds 3 --iters 5

	echo "total: $(($(date +%s) - start))s" >>"$out/env.txt"
	if [[ "${DRY_RUN:-0}" == 1 ]]; then
		echo "dry run: logs would go to $out"
		return 0
	fi
	cmd_table "$out"
	echo "gpu-check: full logs in $out (total $(($(date +%s) - start))s)" >&2
}

cmd_table() {
	[[ $# -ge 1 ]] || usage
	local out="$1"
	[[ -d "$out" ]] || die "no such folder $out"
	"$PYTHON" - "$out" <<'EOF'
import json, os, re, sys

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

print("== tests ==")
for pkg in ("cuda", "gpu"):
    log = (read("test-%s.out" % pkg) or "") + (read("test-%s.log" % pkg) or "")
    rc = (read("test-%s.rc" % pkg) or "?").strip()
    passed = len(re.findall(r"^\s*--- PASS", log, re.M))
    failed = re.findall(r"^\s*--- FAIL: (\S+)", log, re.M)
    skipped = len(re.findall(r"^\s*--- SKIP", log, re.M))
    state = {"0": "ok", "124": "TIMEOUT", "137": "TIMEOUT"}.get(rc, "FAIL (exit %s)" % rc)
    print("%-4s %-16s %d passed, %d failed, %d skipped%s" % (
        pkg, state, passed, len(failed), skipped,
        ("  failed: " + " ".join(failed[:8])) if failed else ""))

ours, err_ours = load_json("bench-ours.out")
torch, err_torch = load_json("bench-torch.out")
print()
print("== training step, batch 32 (ms; ratio = peer time / our time, >1 means we are faster) ==")
def last_line(name):
    lines = [l for l in (read(name) or "").splitlines() if l.strip()]
    return lines[-1][:200] if lines else ""

for who, obj, err in (("ours", ours, err_ours), ("torch", torch, err_torch)):
    if err or (obj or {}).get("error"):
        print("%s: %s (exit %s) %s" % (who, err or obj.get("error"),
              (read("bench-%s.rc" % who) or "?").strip(), last_line("bench-%s.log" % who)))

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
steps = sum(ours_row(m).get("step_ms") or 0 for m in ("baseline", "model1", "model2"))
if all(ours_row(m).get("step_ms") for m in ("baseline", "model1", "model2")):
    print("50 epochs x 32k images (50,000 steps per model), three models: %.1f s of training steps "
          "(extrapolated from the step times, evaluation not included; goal < 30 s)" % (50000 * steps / 1e3))
for m in models:
    if ours_row(m).get("mode"):
        print("ours %s: %s" % (m, ours_row(m)["mode"]))
bw_o = (ours or {}).get("copy_bandwidth_gbs")
bw_t = (torch or {}).get("copy_bandwidth_gbs")
print()
print("copy bandwidth (D2D, read+write): ours %s GB/s, torch %s GB/s" % (f(bw_o, "%.0f"), f(bw_t, "%.0f")))
print("floor = bytes of weights, gradients and Adam state moved per step / our copy bandwidth;")
print("'of floor' = floor / step time (1.00 = at the floor; goal >= 0.67, i.e. within 1.5x)")
print("goals (issue 5): model1 eager/x >= 2.00, graphs/x >= 1.30")
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
glog = (read("test-gpu.out") or "") + (read("test-gpu.log") or "")
clog = (read("test-cuda.out") or "") + (read("test-cuda.log") or "")
for name in ("TestCuDNNConvVGGShapes", "TestPrep"):
    m = re.search(r"^\s*--- (PASS|FAIL|SKIP): %s\b" % name, clog, re.M)
    print("%-24s %s" % (name, m.group(1) if m else "not run"))
for name in ("TestVGG16FC7", "TestVGG16Throughput"):
    m = re.search(r"^\s*--- (PASS|FAIL|SKIP): %s\b" % name, glog, re.M)
    print("%-24s %s" % (name, m.group(1) if m else "not run"))
for l in re.findall(r"fc7 deviation from the CPU path.*$", glog, re.M):
    print("  " + l)
for l in re.findall(r"VGG16 to fc7, .*$", glog, re.M):
    print("  ours  " + l)
bf, err_bf = load_json("bench-features.out")
if err_bf or (bf or {}).get("error"):
    print("  ours bench features: %s (exit %s) %s" % (err_bf, (read("bench-features.rc") or "?").strip(), last_line("bench-features.log")))
else:
    print("  ours  bench features tf32 batch %d, %d images: compute %.0f, decode %.0f, end to end %.0f images/s; "
          "network waiting %.0f%%; bottleneck %s (load %s)" % (bf["batch"], bf["images"], bf["compute_images_per_s"],
          bf["decode_images_per_s"], bf["end_to_end_images_per_s"], 100 * bf["compute_waits_fraction"], bf["bottleneck"],
          bf.get("load_average")))
vt, err_vt = load_json("bench-vgg-torch.out")
if err_vt or (vt or {}).get("error"):
    print("  torch: %s (exit %s) %s" % (err_vt or vt.get("error"), (read("bench-vgg-torch.rc") or "?").strip(),
          last_line("bench-vgg-torch.log")))
for r in (vt or {}).get("results", []):
    if "images_per_s" in r:
        print("  torch %-5s batch %d: %.1f ms a batch, %.0f images/s (channels_last, cudnn.benchmark)" % (
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
