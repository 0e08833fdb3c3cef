package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"tagimp/data/atomicfile"
)

// Dtypes this package reads and writes, in numpy's notation.
const (
	Float32 = "<f4"
	Float64 = "<f8"
	Int64   = "<i8"
	Int32   = "<i4"
	Uint8   = "|u1"
)

var magic = []byte("\x93NUMPY")

// Array is an n-dimensional array in memory. Exactly one of the typed slices
// is set, the one matching Dtype, and its length is the product of Shape.
type Array struct {
	Dtype string
	Shape []int
	F32   []float32
	F64   []float64
	I64   []int64
	I32   []int32
	U8    []uint8
}

// F32 wraps data as a float32 array of the given shape.
func F32(data []float32, shape ...int) *Array {
	return &Array{Dtype: Float32, Shape: shape, F32: data}
}

// F64 wraps data as a float64 array of the given shape.
func F64(data []float64, shape ...int) *Array {
	return &Array{Dtype: Float64, Shape: shape, F64: data}
}

// I64 wraps data as an int64 array of the given shape.
func I64(data []int64, shape ...int) *Array {
	return &Array{Dtype: Int64, Shape: shape, I64: data}
}

// I32 wraps data as an int32 array of the given shape.
func I32(data []int32, shape ...int) *Array {
	return &Array{Dtype: Int32, Shape: shape, I32: data}
}

// U8 wraps data as a uint8 array of the given shape.
func U8(data []uint8, shape ...int) *Array {
	return &Array{Dtype: Uint8, Shape: shape, U8: data}
}

// Len returns the number of elements the shape describes.
func (a *Array) Len() int { return shapeLen(a.Shape) }

func shapeLen(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// itemSize returns the size in bytes of one element of dtype.
func itemSize(dtype string) (int, error) {
	switch dtype {
	case Float32, Int32:
		return 4, nil
	case Float64, Int64:
		return 8, nil
	case Uint8:
		return 1, nil
	}
	return 0, fmt.Errorf("unsupported dtype %q (want one of <f4 <f8 <i8 <i4 |u1)", dtype)
}

// bytes returns the array's data as little-endian bytes and checks that the
// slice matching Dtype has the length Shape describes.
func (a *Array) bytes() ([]byte, error) {
	var n int
	var p unsafe.Pointer
	size, err := itemSize(a.Dtype)
	if err != nil {
		return nil, err
	}
	switch a.Dtype {
	case Float32:
		n = len(a.F32)
		if n > 0 {
			p = unsafe.Pointer(&a.F32[0])
		}
	case Float64:
		n = len(a.F64)
		if n > 0 {
			p = unsafe.Pointer(&a.F64[0])
		}
	case Int64:
		n = len(a.I64)
		if n > 0 {
			p = unsafe.Pointer(&a.I64[0])
		}
	case Int32:
		n = len(a.I32)
		if n > 0 {
			p = unsafe.Pointer(&a.I32[0])
		}
	case Uint8:
		n = len(a.U8)
		if n > 0 {
			p = unsafe.Pointer(&a.U8[0])
		}
	}
	if n != a.Len() {
		return nil, fmt.Errorf("array of shape %v holds %d elements, want %d", a.Shape, n, a.Len())
	}
	if n == 0 {
		return nil, nil
	}
	b := unsafe.Slice((*byte)(p), n*size)
	if !littleEndian {
		return swapped(b, size), nil
	}
	return b, nil
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// swapped returns a byte-swapped copy of b, elements of size bytes.
func swapped(b []byte, size int) []byte {
	out := make([]byte, len(b))
	for i := 0; i < len(b); i += size {
		for j := 0; j < size; j++ {
			out[i+j] = b[i+size-1-j]
		}
	}
	return out
}

// header returns the .npy v1.0 header for dtype and shape, padded with spaces
// so that the data starts at a multiple of 64 bytes and at least minLen bytes
// into the file.
func header(dtype string, shape []int, minLen int) []byte {
	var s strings.Builder
	s.WriteString("{'descr': '")
	s.WriteString(dtype)
	s.WriteString("', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		s.WriteString(strconv.Itoa(d))
		if len(shape) == 1 || i < len(shape)-1 {
			s.WriteString(",")
		}
		if i < len(shape)-1 {
			s.WriteString(" ")
		}
	}
	s.WriteString("), }")
	dict := s.String()
	total := len(magic) + 2 + 2 + len(dict) + 1
	if total < minLen {
		total = minLen
	}
	if r := total % 64; r != 0 {
		total += 64 - r
	}
	h := make([]byte, 0, total)
	h = append(h, magic...)
	h = append(h, 1, 0)
	h = binary.LittleEndian.AppendUint16(h, uint16(total-10))
	h = append(h, dict...)
	for len(h) < total-1 {
		h = append(h, ' ')
	}
	return append(h, '\n')
}

// Write writes a as a .npy file to w.
func Write(w io.Writer, a *Array) error {
	data, err := a.bytes()
	if err != nil {
		return err
	}
	if _, err := w.Write(header(a.Dtype, a.Shape, 0)); err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// WriteFile writes a to path atomically.
func WriteFile(path string, a *Array) error {
	if _, err := a.bytes(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		if err := Write(w, a); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}

// ReadFile reads a .npy file.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	avail := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		avail = st.Size()
	}
	a, err := readSized(bufio.NewReaderSize(f, 1<<20), avail)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return a, nil
}

// Read reads one .npy array from r. The shape its header claims is not
// trusted: beyond 16 MiB, memory grows with the data actually read, so a
// short input claiming a huge shape fails with "data cut short" instead of
// allocating it.
func Read(r io.Reader) (*Array, error) { return readSized(r, -1) }

// trustedChunk is the most readSized allocates ahead of the data.
const trustedChunk = 16 << 20

// readSized is Read where avail, when ≥ 0, is the most bytes r can still
// deliver (the size of a file): a header claiming more data than that is
// refused before anything is allocated.
func readSized(r io.Reader, avail int64) (*Array, error) {
	dtype, shape, hlen, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	a := &Array{Dtype: dtype, Shape: shape}
	size, _ := itemSize(dtype)
	n, ok := checkedLen(shape, (1<<40)/size)
	if !ok {
		return nil, fmt.Errorf("implausible shape %v", shape)
	}
	nbytes := int64(n) * int64(size)
	cutShort := fmt.Errorf("data cut short: shape %v needs %d bytes", shape, nbytes)
	if avail >= 0 && nbytes > avail-int64(hlen) {
		return nil, cutShort
	}
	if avail < 0 && nbytes > trustedChunk {
		// Read first, then allocate what was read.
		buf, err := readGrowing(r, nbytes)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return nil, cutShort
			}
			return nil, err
		}
		b := a.alloc(n, size)
		copy(b, buf)
		if !littleEndian {
			copy(b, swapped(b, size))
		}
		return a, nil
	}
	b := a.alloc(n, size)
	if n == 0 {
		return a, nil
	}
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, cutShort
		}
		return nil, err
	}
	if !littleEndian {
		copy(b, swapped(b, size))
	}
	return a, nil
}

// alloc makes a's typed slice of n elements and returns its bytes.
func (a *Array) alloc(n, size int) []byte {
	var p unsafe.Pointer
	switch a.Dtype {
	case Float32:
		a.F32 = make([]float32, n)
		if n > 0 {
			p = unsafe.Pointer(&a.F32[0])
		}
	case Float64:
		a.F64 = make([]float64, n)
		if n > 0 {
			p = unsafe.Pointer(&a.F64[0])
		}
	case Int64:
		a.I64 = make([]int64, n)
		if n > 0 {
			p = unsafe.Pointer(&a.I64[0])
		}
	case Int32:
		a.I32 = make([]int32, n)
		if n > 0 {
			p = unsafe.Pointer(&a.I32[0])
		}
	case Uint8:
		a.U8 = make([]uint8, n)
		if n > 0 {
			p = unsafe.Pointer(&a.U8[0])
		}
	}
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(p), n*size)
}

// readGrowing reads exactly n bytes from r into a buffer that grows as
// they arrive (doubling from trustedChunk).
func readGrowing(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, trustedChunk)
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), n-int64(len(buf)))))
		}
		want := int(min(int64(cap(buf)), n)) - len(buf)
		m, err := io.ReadFull(r, buf[len(buf):len(buf)+want])
		buf = buf[:len(buf)+m]
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// checkedLen returns the number of elements of shape, false when it
// exceeds limit (or overflows on the way).
func checkedLen(shape []int, limit int) (int, bool) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			return 0, true
		}
		if n > limit/d {
			return 0, false
		}
		n *= d
	}
	return n, n <= limit
}

// readHeader parses a .npy header and returns dtype, shape and the header's
// total length in bytes.
func readHeader(r io.Reader) (string, []int, int, error) {
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil {
		return "", nil, 0, fmt.Errorf("not a .npy file: %w", err)
	}
	if !bytes.Equal(pre[:6], magic) {
		return "", nil, 0, errors.New("not a .npy file (bad magic)")
	}
	var hlen, prefix int
	switch pre[6] {
	case 1:
		b := make([]byte, 2)
		if _, err := io.ReadFull(r, b); err != nil {
			return "", nil, 0, fmt.Errorf("header cut short: %w", err)
		}
		hlen, prefix = int(binary.LittleEndian.Uint16(b)), 10
	case 2, 3:
		b := make([]byte, 4)
		if _, err := io.ReadFull(r, b); err != nil {
			return "", nil, 0, fmt.Errorf("header cut short: %w", err)
		}
		hlen, prefix = int(binary.LittleEndian.Uint32(b)), 12
	default:
		return "", nil, 0, fmt.Errorf("unsupported .npy version %d.%d", pre[6], pre[7])
	}
	if hlen > 1<<20 {
		return "", nil, 0, fmt.Errorf("implausible header length %d", hlen)
	}
	h := make([]byte, hlen)
	if _, err := io.ReadFull(r, h); err != nil {
		return "", nil, 0, fmt.Errorf("header cut short: %w", err)
	}
	dtype, shape, err := parseDict(string(h))
	if err != nil {
		return "", nil, 0, err
	}
	return dtype, shape, prefix + hlen, nil
}

// parseDict parses the Python dict literal of a .npy header.
func parseDict(s string) (string, []int, error) {
	field := func(key string) (string, bool) {
		i := strings.Index(s, "'"+key+"'")
		if i < 0 {
			i = strings.Index(s, "\""+key+"\"")
		}
		if i < 0 {
			return "", false
		}
		rest := s[i+len(key)+2:]
		j := strings.Index(rest, ":")
		if j < 0 {
			return "", false
		}
		return strings.TrimSpace(rest[j+1:]), true
	}
	d, ok := field("descr")
	if !ok || len(d) < 2 {
		return "", nil, fmt.Errorf("header %q has no descr", s)
	}
	q := d[0]
	end := strings.IndexByte(d[1:], q)
	if end < 0 {
		return "", nil, fmt.Errorf("header %q: bad descr", s)
	}
	dtype := d[1 : end+1]
	switch dtype {
	case "<u1", "u1", "|b1", "<b1", "b1":
		dtype = Uint8
	case "|i1":
		return "", nil, fmt.Errorf("unsupported dtype %q", dtype)
	}
	if _, err := itemSize(dtype); err != nil {
		return "", nil, err
	}
	fo, ok := field("fortran_order")
	if !ok {
		return "", nil, fmt.Errorf("header %q has no fortran_order", s)
	}
	if strings.HasPrefix(fo, "True") {
		return "", nil, errors.New("Fortran-ordered arrays are not supported: save with numpy.ascontiguousarray")
	}
	sh, ok := field("shape")
	if !ok || !strings.HasPrefix(sh, "(") {
		return "", nil, fmt.Errorf("header %q has no shape", s)
	}
	close := strings.IndexByte(sh, ')')
	if close < 0 {
		return "", nil, fmt.Errorf("header %q: bad shape", s)
	}
	var shape []int
	for _, part := range strings.Split(sh[1:close], ",") {
		part = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(part), "L"))
		if part == "" {
			continue
		}
		v, err := strconv.Atoi(part)
		if err != nil || v < 0 {
			return "", nil, fmt.Errorf("header %q: bad dimension %q", s, part)
		}
		shape = append(shape, v)
	}
	if shape == nil {
		shape = []int{}
	}
	return dtype, shape, nil
}

// CheckFinite returns an error naming the first NaN or Inf in a float array.
func (a *Array) CheckFinite() error {
	for i, v := range a.F32 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("element %d is %v", i, v)
		}
	}
	for i, v := range a.F64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("element %d is %v", i, v)
		}
	}
	return nil
}
