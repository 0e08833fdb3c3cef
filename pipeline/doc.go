// Package pipeline owns the stages of the method, from captions to a report:
// captions → labels (vocabulary, importance, split) → tag vectors → fc7
// features → the three models → evaluation → results. The demo and
// reproduce commands are thin front ends over it.
//
// Every stage is skipped when its output exists and matches its inputs, and
// resumes where it stopped otherwise. The feature cache (package
// tagimp/data/features) and the training runs (package tagimp/model) already
// decide that themselves from their manifest and checkpoint metadata: the
// pipeline calls them every time and they keep what is done. The cheap stages
// that have no manifest of their own (the demo's data set, labels, tag
// vectors) are recorded in OUT/stages.json: per stage, a fingerprint of its
// inputs (settings and the SHA-256 of its input files) and the SHA-256 of
// every file it wrote. A stage whose record matches both is skipped; one whose
// inputs changed is run again, and a training run then refuses the new data
// rather than mixing it with the old checkpoints (use a fresh --out).
//
// Data comes from a COCO-format folder (captions JSON and images) or from the
// synthetic set of package tagimp/data/demo; everything goes under one output
// folder. Progress and notes go to the caller's Hooks.
package pipeline
