# tagimp-gpu — build, test and demo.
#   make setup     installs the system packages (apt; sudo only when not root; see scripts/setup.sh)
#   make kernels   nvcc (via CMake) builds kernels/*.cu into one fatbin, copied to cuda/ for embedding
#   make build     bin/tagimp-gpu: the GPU binary when the fatbin exists, the CPU one otherwise
#   make test      the test suite (CPU; no GPU needed); one line per skipped test and why,
#                  and the list of skipped tests at the end (tools/testreport)
#   make demo      the whole pipeline on a synthetic COCO-style set
SHELL     := /bin/bash
GO        ?= go
BUILD     ?= build
FATBIN    := cuda/tagimp.fatbin
TESTFLAGS ?= -timeout 20m

# The CUDA toolkit: $(CUDA_HOME) when set, else NVIDIA's /usr/local/cuda (often
# not on PATH), else the newest /usr/local/cuda-X.Y; none found: nvcc on PATH
# (e.g. Debian's nvidia-cuda-toolkit). A toolkit found here is used by CMake
# (kernels, ptxas) and by cgo (the GPU build's headers and libcuda stub).
CUDA_HOME ?= $(firstword $(patsubst %/bin/nvcc,%,$(wildcard /usr/local/cuda/bin/nvcc) $(shell ls -d /usr/local/cuda-*/bin/nvcc 2>/dev/null | sort -V -r)))
ifneq ($(strip $(CUDA_HOME)),)
export CUDA_HOME
CMAKE_CUDA := -DNVCC=$(CUDA_HOME)/bin/nvcc
GPU_ENV    := CGO_CFLAGS="-I$(CUDA_HOME)/include $$CGO_CFLAGS" CGO_LDFLAGS="-L$(CUDA_HOME)/lib64 -L$(CUDA_HOME)/lib64/stubs $$CGO_LDFLAGS"
endif

.PHONY: all setup kernels build build-cpu test vet ptxas demo gpu-check clean

all: build

setup:
	bash scripts/setup.sh

kernels:
	cmake -S . -B $(BUILD) $(CMAKE_CUDA)
	cmake --build $(BUILD) --target fatbin
	cp $(BUILD)/kernels/tagimp.fatbin $(FATBIN)
	cp $(BUILD)/kernels/tagimp_dev.fatbin cuda/tagimp_dev.fatbin

build:
	@mkdir -p bin
	@if [ -f $(FATBIN) ]; then \
		echo "make build: $(FATBIN) found: building bin/tagimp-gpu with GPU support (-tags gpu)"; \
		$(GPU_ENV) $(GO) build -tags gpu -o bin/tagimp-gpu ./cmd/tagimp-gpu; \
	else \
		echo "make build: no $(FATBIN) (run 'make kernels' on a machine with nvcc): building bin/tagimp-gpu for the CPU only"; \
		$(GO) build -o bin/tagimp-gpu ./cmd/tagimp-gpu; \
	fi

build-cpu:
	@mkdir -p bin
	$(GO) build -o bin/tagimp-gpu ./cmd/tagimp-gpu

test:
	set -o pipefail; $(GO) test $(TESTFLAGS) -json ./... | $(GO) run ./tools/testreport

vet:
	$(GO) vet ./...
	@if [ -f $(FATBIN) ]; then $(GPU_ENV) $(GO) vet -tags gpu ./...; else echo "make vet: no $(FATBIN): GPU build not vetted"; fi

# Registers, spills and shared memory of every kernel, read without a GPU.
ptxas:
	cmake -S . -B $(BUILD) $(CMAKE_CUDA)
	cmake --build $(BUILD) --target ptxas

demo: build
	bin/tagimp-gpu demo --out demo-run

gpu-check:
	scripts/gpu-check.sh build

clean:
	rm -rf $(BUILD) bin $(FATBIN) cuda/tagimp_dev.fatbin
