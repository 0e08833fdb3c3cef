# tagimp-gpu — build, test and demo.
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

.PHONY: all kernels build build-cpu test vet ptxas demo gpu-check clean

all: build

kernels:
	cmake -S . -B $(BUILD)
	cmake --build $(BUILD) --target fatbin
	cp $(BUILD)/kernels/tagimp.fatbin $(FATBIN)
	cp $(BUILD)/kernels/tagimp_dev.fatbin cuda/tagimp_dev.fatbin

build:
	@mkdir -p bin
	@if [ -f $(FATBIN) ]; then \
		echo "make build: $(FATBIN) found: building bin/tagimp-gpu with GPU support (-tags gpu)"; \
		$(GO) build -tags gpu -o bin/tagimp-gpu ./cmd/tagimp-gpu; \
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
	@if [ -f $(FATBIN) ]; then $(GO) vet -tags gpu ./...; else echo "make vet: no $(FATBIN): GPU build not vetted"; fi

# Registers, spills and shared memory of every kernel, read without a GPU.
ptxas:
	cmake -S . -B $(BUILD)
	cmake --build $(BUILD) --target ptxas

demo: build
	bin/tagimp-gpu demo --out demo-run

gpu-check:
	scripts/gpu-check.sh build

clean:
	rm -rf $(BUILD) bin $(FATBIN) cuda/tagimp_dev.fatbin
