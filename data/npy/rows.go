package npy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"

	"tagimp/data/atomicfile"
)

// rowHeaderLen is the header size RowWriter reserves: room for a shape of
// any realistic size, so that the row count can be patched in place.
const rowHeaderLen = 128

// RowWriter streams rows of a 2-D (or n-D) array to a .npy file whose first
// dimension is not known in advance. The file appears at its path only when
// Close succeeds.
type RowWriter struct {
	f        *atomicfile.File
	w        *bufio.Writer
	dtype    string
	rowShape []int
	rowLen   int
	rows     int
}

// CreateRows starts a .npy file of dtype (only Float32 is streamed today)
// whose rows have rowShape.
func CreateRows(path, dtype string, rowShape ...int) (*RowWriter, error) {
	if dtype != Float32 {
		return nil, fmt.Errorf("create %s: RowWriter streams float32 rows, not %s", path, dtype)
	}
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	rw := &RowWriter{f: f, w: bufio.NewWriterSize(f, 1<<20), dtype: dtype,
		rowShape: append([]int(nil), rowShape...), rowLen: shapeLen(rowShape)}
	if _, err := rw.w.Write(header(dtype, rw.shape(0), rowHeaderLen)); err != nil {
		f.Abort()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return rw, nil
}

func (rw *RowWriter) shape(rows int) []int {
	return append([]int{rows}, rw.rowShape...)
}

// WriteF32 appends one row.
func (rw *RowWriter) WriteF32(row []float32) error {
	if len(row) != rw.rowLen {
		return fmt.Errorf("write %s: row of %d values, want %d", rw.f.Path(), len(row), rw.rowLen)
	}
	if len(row) > 0 {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&row[0])), 4*len(row))
		if !littleEndian {
			b = swapped(b, 4)
		}
		if _, err := rw.w.Write(b); err != nil {
			return fmt.Errorf("write %s: %w", rw.f.Path(), err)
		}
	}
	rw.rows++
	return nil
}

// Rows returns the number of rows written so far.
func (rw *RowWriter) Rows() int { return rw.rows }

// Close patches the header with the final row count and moves the file
// into place.
func (rw *RowWriter) Close() error {
	path := rw.f.Path()
	if err := rw.w.Flush(); err != nil {
		rw.f.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	h := header(rw.dtype, rw.shape(rw.rows), rowHeaderLen)
	if len(h) != rowHeaderLen {
		rw.f.Abort()
		return fmt.Errorf("write %s: shape %v does not fit the reserved header", path, rw.shape(rw.rows))
	}
	if _, err := rw.f.WriteAt(h, 0); err != nil {
		rw.f.Abort()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return rw.f.Commit()
}

// Abort discards the file.
func (rw *RowWriter) Abort() { rw.f.Abort() }

// RowReader reads a float32 .npy file one row (first-axis slice) at a time.
type RowReader struct {
	Dtype  string
	Shape  []int
	f      *os.File
	r      *bufio.Reader
	rowLen int
	read   int
	path   string
}

// OpenRows opens a float32 .npy file for reading row by row.
func OpenRows(path string) (*RowReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	dtype, shape, _, err := readHeader(br)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if dtype != Float32 || len(shape) < 1 {
		f.Close()
		return nil, fmt.Errorf("read %s: want a float32 array with at least one axis, got %s %v", path, dtype, shape)
	}
	return &RowReader{Dtype: dtype, Shape: shape, f: f, r: br, rowLen: shapeLen(shape[1:]), path: path}, nil
}

// RowLen returns the number of values in one row.
func (rr *RowReader) RowLen() int { return rr.rowLen }

// ReadF32 reads the next row into dst, which must hold RowLen values. It
// returns io.EOF after the last row.
func (rr *RowReader) ReadF32(dst []float32) error {
	if len(dst) != rr.rowLen {
		return fmt.Errorf("read %s: buffer of %d values, rows have %d", rr.path, len(dst), rr.rowLen)
	}
	if rr.read >= rr.Shape[0] {
		return io.EOF
	}
	if len(dst) > 0 {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst))
		if _, err := io.ReadFull(rr.r, b); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("read %s: file cut short at row %d of %d", rr.path, rr.read, rr.Shape[0])
			}
			return fmt.Errorf("read %s: %w", rr.path, err)
		}
		if !littleEndian {
			copy(b, swapped(b, 4))
		}
	}
	rr.read++
	return nil
}

// Close closes the file.
func (rr *RowReader) Close() error { return rr.f.Close() }
