package npy

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"tagimp/internal/fuzzcheck"
)

func npyBytes(tb testing.TB, a *Array) []byte {
	var b bytes.Buffer
	if err := Write(&b, a); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// FuzzRead: no .npy input panics, hangs or allocates beyond the bound,
// whatever shape its header claims.
func FuzzRead(f *testing.F) {
	f.Add(npyBytes(f, F32([]float32{1, 2, 3, 4, 5, 6}, 2, 3)))
	f.Add(npyBytes(f, I64([]int64{7, 8}, 2)))
	f.Add(npyBytes(f, U8([]uint8{1, 0, 1}, 3)))
	f.Add(npyBytes(f, F64(nil, 0, 4)))
	f.Add(claimShape(f, "(100000000000,)"))
	f.Add(claimShape(f, "(4611686018427387904, 4)"))
	f.Add([]byte("\x93NUMPY\x02\x00\x10\x00\x00\x00{'descr': '<f4'}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.Check(t, len(b), func() {
			a, err := Read(bytes.NewReader(b))
			if err == nil && a.Len()*itemSizeOf(a.Dtype) > len(b) {
				t.Errorf("read %v %s from %d bytes", a.Shape, a.Dtype, len(b))
			}
		})
	})
}

func itemSizeOf(dtype string) int { s, _ := itemSize(dtype); return s }

// FuzzReadNPZ: the same for .npz archives (zip, stored or deflated).
func FuzzReadNPZ(f *testing.F) {
	dir := f.TempDir()
	seed := filepath.Join(dir, "seed.npz")
	if err := WriteNPZ(seed, NamedArray{Name: "w", Array: F32([]float32{1, 2, 3, 4}, 2, 2)}, NamedArray{Name: "step", Array: I64([]int64{3}, 1)}); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(seed)
	f.Add(b)
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, _ := zw.Create("x.npy") // deflated
	w.Write(npyBytes(f, F32(make([]float32, 64), 8, 8)))
	zw.Close()
	f.Add(z.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.Check(t, len(b), func() {
			zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return
			}
			readZip(zr, "fuzz.npz", int64(len(b)))
		})
	})
}

// claimShape returns a one-float .npy whose header claims shape instead,
// its data cut short.
func claimShape(tb testing.TB, shape string) []byte {
	b := npyBytes(tb, F32([]float32{1}, 1))
	i := bytes.Index(b, []byte("(1,)"))
	extra := len(shape) - len("(1,)")
	nl := bytes.IndexByte(b, '\n')
	out := append([]byte{}, b[:i]...)
	out = append(out, shape...)
	out = append(out, b[i+4:nl-extra]...)
	return append(out, b[nl:]...)
}
