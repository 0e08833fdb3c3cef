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
# A failure whose input does not fail again when rerun as a plain test (the
# fuzzing engine's "fuzzing process hung or terminated unexpectedly" with a
# worker lost to the machine, not to our code) is reported and does not fail
# the run; an input that fails again does.
for t in "${targets[@]}"; do
	set -- $t
	echo "--- fuzz $1 $2 ($FUZZTIME)"
	corpus="$1/testdata/fuzz/$2"
	before=$(ls "$corpus" 2>/dev/null || true)
	if go test -run='^$' -fuzz="^$2\$" -fuzztime="$FUZZTIME" -parallel=2 "$1"; then
		continue
	fi
	new=$(comm -13 <(echo "$before" | sort) <(ls "$corpus" 2>/dev/null | sort))
	[ -n "$new" ] || { echo "fuzz $1 $2 failed without writing an input"; exit 1; }
	for id in $new; do
		if go test -count=1 -run="^$2/$id\$" "$1"; then
			echo "fuzz $1 $2: input $id does not fail when rerun (a lost fuzzing worker, not a crasher); removed:"
			cat "$corpus/$id"; echo
			rm -f "$corpus/$id"
		else
			echo "fuzz $1 $2: crasher $corpus/$id fails when rerun: fix it and commit it as a regression seed"
			exit 1
		fi
	done
done
