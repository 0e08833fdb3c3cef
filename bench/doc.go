// Package bench times training steps of any model.Trainer at the paper's
// shapes (batch 32, D = H = H2 = 4096, T = 116, E = 300) on synthetic data
// and computes the HBM floor of a step: the bytes of weights, gradients and
// Adam state a step must move, over a measured copy bandwidth.
//
// Data comes from a seeded generator (fc7-like non-negative features, 5 %
// of tags present, importance in fifths, L2-normalised word-vector
// averages); trainers come from a model.Factory (the CPU engine in
// model/cpu, the GPU engine in package gpu). Results go out as Result
// values that `tagimp-gpu bench train` prints as a table or JSON and that
// scripts/gpu-check.sh sets beside the PyTorch peer in bench/peers.
package bench
