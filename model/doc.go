// Package model holds the three tag-and-importance models of the method
// (Baseline, Model 1, Model 2; DESIGN.md §4–6) as backend-neutral
// definitions: the hyper-parameters (Config), the named float32 parameter
// tensors with their shapes and seeded PyTorch-style initialisation
// (Params), the Trainer interface that the CPU engine (package model/cpu)
// and the GPU engine (package gpu) implement, the training loop that drives
// any Trainer (Train), and checkpoints (.npz of named float32 arrays plus a
// JSON metadata file) that both engines write and read.
//
// Data comes in through LoadInputs: fc7 features from package
// data/features, tag presence and importance and the train/test split from
// package data/labels, and one word vector per tag (the .npy of `tagimp-gpu
// embed`, or a word-vector file read with package data/wordvec), joined by
// image id with Join, which callers with data in memory use directly. Results
// go out as checkpoints under a run folder: RUN/<model>.json (metadata, and
// the commit point: it names the epoch's RUN/<model>.eNNNN.npz parameters and
// RUN/<model>.eNNNN.opt.npz optimizer state), RUN/<model>.npz (a copy of the
// committed parameters for numpy and other tools), a per-epoch history
// (RUN/<model>-history.csv) and metrics.Report values from package
// model/metrics.
package model
