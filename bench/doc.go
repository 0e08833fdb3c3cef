// Package bench times training steps of any model.Trainer at the paper's
// shapes (batch 32, D = H = H2 = 4096, T = 116, E = 300) on synthetic data,
// sets them beside the least time a step can take on the machine, and runs
// the numpy peer of the CPU step.
//
// Data comes from a seeded generator (fc7-like non-negative features, 5 %
// of tags present, importance in fifths, L2-normalised word-vector
// averages); trainers come from a model.Factory (the CPU engine in
// model/cpu, the GPU engine in package gpu). Host-fed steps are timed one
// by one (median, fastest, mean); device-resident steps are queued and
// timed together.
//
// Two floors: on the GPU, the bytes of weights, gradients and Adam state a
// step must move over a measured copy bandwidth (FloorBytes, SetFloor); on
// the CPU, the step's matrix products (StepGEMMs, StepFLOP: forward,
// weight gradients and the heads' input gradients, no gradient of the
// input features) at the best rate the BLAS in use — tensor.WhichBLAS,
// OpenBLAS with model/cpu's cgo build — reaches on each of their shapes
// (MeasureGEMMs, SetGEMMFloor). BLASThreads reports, and SetBLASThreads
// sets, the BLAS's thread count.
//
// NumpyPeer runs peers/mlp_numpy.py (the same step in numpy, float32, on
// the OpenBLAS Debian's python3-numpy links; found on disk or run from the
// copy built into the binary) with the same shapes, steps and BLAS thread
// count, and reads its JSON. Results go out as Result values that
// `tagimp-gpu bench train` prints as a table or JSON; scripts/gpu-check.sh
// sets the GPU's beside the PyTorch peer in peers/mlp_torch.py.
package bench
