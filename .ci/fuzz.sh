#!/usr/bin/env bash
# Fuzz every reader of untrusted files for a bounded time each (FUZZTIME,
# default 12s; 8 targets, about two minutes in all). The seed corpora run
# with every `go test` anyway; this explores beyond them. A crasher is
# written to the package's testdata/fuzz/<Target>/ and fails the run: commit
# it with the fix, and it becomes a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-12s}"
targets=(
	"./data/coco FuzzRead"
	"./data/wordvec FuzzRead"
	"./data/npy FuzzRead"
	"./data/npy FuzzReadNPZ"
	"./data/imageprep FuzzDecodeBytes"
	"./data/features FuzzReadManifest"
	"./model FuzzReadMeta"
	"./model/vgg16 FuzzLoad"
)
for t in "${targets[@]}"; do
	set -- $t
	echo "--- fuzz $1 $2 ($FUZZTIME)"
	go test -run='^$' -fuzz="^$2\$" -fuzztime="$FUZZTIME" -parallel=2 "$1"
done
