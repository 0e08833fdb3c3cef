// Package npy reads and writes numpy's .npy and .npz formats: little-endian,
// C-ordered arrays of float32, float64, int64, int32 and uint8, which is all
// this project stores (labels, tag vectors, checkpoints, feature caches).
//
// Files are written atomically (temporary file, then rename). Large row-wise
// outputs such as fc7 feature shards go through RowWriter, which reserves the
// header, streams rows, and patches the row count when it closes; RowReader
// reads such files (or any 2-D .npy) one row at a time. numpy reads every
// file written here with numpy.load.
package npy
