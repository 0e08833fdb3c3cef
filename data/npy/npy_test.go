package npy

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		a    *Array
	}{
		{"f32 2d", F32([]float32{1, -2.5, 3, 4, 5, 6}, 2, 3)},
		{"f64 1d", F64([]float64{1e-300, 2}, 2)},
		{"i64", I64([]int64{-1, 1 << 40, 7}, 3)},
		{"i32", I32([]int32{-5, 9}, 1, 2)},
		{"u8 3d", U8([]uint8{0, 1, 255, 3, 4, 5, 6, 7}, 2, 2, 2)},
		{"empty", F32([]float32{}, 0, 300)},
		{"scalar", F32([]float32{42})},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, c.a); err != nil {
				t.Fatal(err)
			}
			if buf.Len() < 64 || (buf.Len()-c.a.Len()*mustSize(t, c.a.Dtype))%64 != 0 {
				t.Fatalf("header not 64-byte aligned: file of %d bytes", buf.Len())
			}
			got, err := Read(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if got.Shape == nil {
				got.Shape = []int{}
			}
			want := *c.a
			if want.Shape == nil {
				want.Shape = []int{}
			}
			if !reflect.DeepEqual(got, &want) {
				t.Fatalf("got %+v, want %+v", got, &want)
			}
		})
	}
}

func mustSize(t *testing.T, dtype string) int {
	n, err := itemSize(dtype)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWriteShapeMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.npy")
	err := WriteFile(path, F32([]float32{1, 2, 3}, 2, 2))
	if err == nil || !strings.Contains(err.Error(), "holds 3 elements, want 4") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("partial file left: %v", err)
	}
}

func TestReadErrors(t *testing.T) {
	var buf bytes.Buffer
	Write(&buf, F32([]float32{1, 2, 3, 4}, 4))
	full := buf.Bytes()
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a .npy file"},
		{"bad magic", []byte("PK\x03\x04 not numpy"), "bad magic"},
		{"cut data", full[:len(full)-3], "data cut short"},
		{"cut header", full[:20], "header cut short"},
		{"fortran", []byte(strings.Replace(string(full), "'fortran_order': False", "'fortran_order': True ", 1)), "Fortran"},
		{"dtype", []byte(strings.Replace(string(full), "<f4", "<c8", 1)), "unsupported dtype"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestNPZ(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.npz")
	ids := I64([]int64{3, 1}, 2)
	imp := F32([]float32{0.2, 0.4, 1, 0}, 2, 2)
	if err := WriteNPZ(path, NamedArray{"ids", ids}, NamedArray{"importance", imp}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadNPZ(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(Names(m), []string{"ids", "importance"}) ||
		!reflect.DeepEqual(m["ids"], ids) || !reflect.DeepEqual(m["importance"], imp) {
		t.Fatalf("got %v", m)
	}
	if err := WriteNPZ(path, NamedArray{"a", ids}, NamedArray{"a", ids}); err == nil {
		t.Fatal("repeated name accepted")
	}
}

func TestRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rows.npy")
	w, err := CreateRows(path, Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	var want []float32
	for i := 0; i < 1000; i++ {
		row := []float32{float32(i), float32(-i), 0.5}
		want = append(want, row...)
		if err := w.WriteF32(row); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("file visible before Close")
	}
	if err := w.WriteF32([]float32{1}); err == nil {
		t.Fatal("short row accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.Shape, []int{1000, 3}) || !reflect.DeepEqual(a.F32, want) {
		t.Fatalf("shape %v", a.Shape)
	}
	r, err := OpenRows(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	row := make([]float32, r.RowLen())
	n := 0
	for {
		err := r.ReadF32(row)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(row, want[3*n:3*n+3]) {
			t.Fatalf("row %d = %v", n, row)
		}
		n++
	}
	if n != 1000 {
		t.Fatalf("read %d rows", n)
	}
}

func TestRowsCutShort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rows.npy")
	w, _ := CreateRows(path, Float32, 4)
	for i := 0; i < 10; i++ {
		w.WriteF32(make([]float32, 4))
	}
	w.Close()
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-8], 0o644)
	r, err := OpenRows(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	row := make([]float32, 4)
	for i := 0; i < 9; i++ {
		if err := r.ReadF32(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.ReadF32(row); err == nil || !strings.Contains(err.Error(), "cut short at row 9") {
		t.Fatalf("err = %v", err)
	}
}

// TestNumpyInterop checks that numpy reads what we write and we read what
// numpy writes, including compressed archives.
func TestNumpyInterop(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import numpy").Run(); err != nil {
		t.Skip("no /usr/bin/python3 with numpy: install python3-numpy to run this test")
	}
	dir := t.TempDir()
	w, _ := CreateRows(filepath.Join(dir, "rows.npy"), Float32, 2)
	w.WriteF32([]float32{1, 2})
	w.WriteF32([]float32{3, 4})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := WriteNPZ(filepath.Join(dir, "ours.npz"), NamedArray{"ids", I64([]int64{7, 8}, 2)},
		NamedArray{"presence", U8([]uint8{1, 0, 0, 1}, 2, 2)}); err != nil {
		t.Fatal(err)
	}
	script := `
import numpy as np, sys
d = sys.argv[1]
r = np.load(d + "/rows.npy")
assert r.dtype == np.float32 and r.shape == (2, 2) and r.tolist() == [[1, 2], [3, 4]], r
z = np.load(d + "/ours.npz")
assert z["ids"].dtype == np.int64 and z["ids"].tolist() == [7, 8]
assert z["presence"].dtype == np.uint8 and z["presence"].tolist() == [[1, 0], [0, 1]]
np.savez_compressed(d + "/theirs.npz", x=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.array([True, False]))
np.save(d + "/f64.npy", np.array([[0.5, 1.5]]))
`
	out, err := exec.Command(py, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	m, err := ReadNPZ(filepath.Join(dir, "theirs.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m["x"], F32([]float32{0, 1, 2, 3, 4, 5}, 2, 3)) || !reflect.DeepEqual(m["b"].U8, []uint8{1, 0}) {
		t.Fatalf("got %+v %+v", m["x"], m["b"])
	}
	a, err := ReadFile(filepath.Join(dir, "f64.npy"))
	if err != nil || !reflect.DeepEqual(a, F64([]float64{0.5, 1.5}, 1, 2)) {
		t.Fatalf("got %+v, %v", a, err)
	}
}
