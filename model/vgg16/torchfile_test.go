package vgg16

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"testing"
)

// pickler writes the protocol-2 pickle opcodes torch.save emits.
type pickler struct{ bytes.Buffer }

func (p *pickler) op(b ...byte) { p.Write(b) }
func (p *pickler) global(module, name string) {
	p.WriteString("c" + module + "\n" + name + "\n")
}
func (p *pickler) str(s string) {
	p.op('X')
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
}
func (p *pickler) int(v int) {
	switch {
	case v >= 0 && v < 256:
		p.op('K', byte(v))
	case v >= 0 && v < 65536:
		p.op('M', byte(v), byte(v>>8))
	default:
		p.op('J')
		binary.Write(p, binary.LittleEndian, int32(v))
	}
}
func (p *pickler) ints(vs []int) {
	p.op('(')
	for _, v := range vs {
		p.int(v)
	}
	p.op('t')
}

// torchTensor describes one state_dict entry: a view of a named storage.
type torchTensor struct {
	name    string
	storage string
	offset  int
	size    []int
	stride  []int
	param   bool // wrapped in torch._utils._rebuild_parameter
	v1      bool // torch._utils._rebuild_tensor (torch < 0.4) instead of _v2
}

// statePickle writes an OrderedDict state_dict with a _metadata attribute,
// as torch.save(model.state_dict()) does. legacy selects the 6-field
// persistent id of the legacy format.
func statePickle(tensors []torchTensor, sizes map[string]int, legacy bool) []byte {
	var p pickler
	p.op(0x80, 2)
	p.global("collections", "OrderedDict")
	p.op(')', 'R', '(')
	for _, t := range tensors {
		p.str(t.name)
		if t.param {
			p.global("torch._utils", "_rebuild_parameter")
			p.op('(')
		}
		if t.v1 {
			p.global("torch._utils", "_rebuild_tensor")
		} else {
			p.global("torch._utils", "_rebuild_tensor_v2")
		}
		p.op('(')
		// persistent id ('storage', FloatStorage, key, 'cpu', numel[, None])
		p.op('(')
		p.str("storage")
		p.global("torch", "FloatStorage")
		p.str(t.storage)
		p.str("cpu")
		p.int(sizes[t.storage])
		if legacy {
			p.op('N')
		}
		p.op('t', 'Q')
		p.int(t.offset)
		p.ints(t.size)
		p.ints(t.stride)
		if !t.v1 {
			p.op(0x89) // requires_grad False
			p.global("collections", "OrderedDict")
			p.op(')', 'R')
		}
		p.op('t', 'R')
		if t.param {
			p.op(0x89)
			p.global("collections", "OrderedDict")
			p.op(')', 'R', 't', 'R')
		}
	}
	p.op('u')
	// state: {'_metadata': OrderedDict()} set with BUILD
	p.op('}')
	p.str("_metadata")
	p.global("collections", "OrderedDict")
	p.op(')', 'R', 's', 'b', '.')
	return p.Bytes()
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// writeTorchZip writes a torch ≥ 1.6 zip checkpoint.
func writeTorchZip(t testing.TB, path string, tensors []torchTensor, storages map[string][]float32, order []string) {
	t.Helper()
	sizes := map[string]int{}
	for k, v := range storages {
		sizes[k] = len(v)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	add("archive/data.pkl", statePickle(tensors, sizes, false))
	for _, k := range order {
		add("archive/data/"+k, f32bytes(storages[k]))
	}
	add("archive/version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeTorchLegacy writes the pre-1.6 format: magic, protocol, sys info and
// the state_dict as pickles, then the storage keys and each storage's data.
func writeTorchLegacy(t testing.TB, path string, tensors []torchTensor, storages map[string][]float32, order []string) {
	t.Helper()
	sizes := map[string]int{}
	for k, v := range storages {
		sizes[k] = len(v)
	}
	var b bytes.Buffer
	b.Write([]byte{0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'})
	b.Write([]byte{0x80, 2, 'M', 0xe9, 0x03, '.'}) // 1001
	b.Write([]byte{0x80, 2, '}', '.'})             // sys info
	b.Write(statePickle(tensors, sizes, true))
	var keys pickler
	keys.op(0x80, 2, ']', '(')
	for _, k := range order {
		keys.str(k)
	}
	keys.op('e', '.')
	b.Write(keys.Bytes())
	for _, k := range order {
		binary.Write(&b, binary.LittleEndian, uint64(len(storages[k])))
		b.Write(f32bytes(storages[k]))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// torchLayout turns parameters into storages and tensor views that exercise
// what a reader must handle: one storage per tensor for most, two biases
// sharing a storage (offsets), a weight stored transposed (strides), one
// Parameter-wrapped tensor and one old-style _rebuild_tensor.
func torchLayout(ps []Param) ([]torchTensor, map[string][]float32, []string) {
	storages := map[string][]float32{}
	var tensors []torchTensor
	var order []string
	shared := ""
	for i, p := range ps {
		key := string(rune('a'+i%26)) + string(rune('0'+i/26))
		stride := make([]int, len(p.Shape))
		for d, s := len(p.Shape)-1, 1; d >= 0; d-- {
			stride[d] = s
			s *= p.Shape[d]
		}
		tt := torchTensor{name: p.Name, storage: key, size: p.Shape, stride: stride, param: i == 1, v1: i == 2}
		switch {
		case p.Name == "classifier.3.weight":
			// stored column-major: element (r, c) at c·rows + r
			rows, cols := p.Shape[0], p.Shape[1]
			data := make([]float32, len(p.Data))
			for r := 0; r < rows; r++ {
				for c := 0; c < cols; c++ {
					data[c*rows+r] = p.Data[r*cols+c]
				}
			}
			storages[key] = data
			tt.stride = []int{1, rows}
		case len(p.Shape) == 1 && shared == "":
			shared = key
			storages[key] = append([]float32(nil), p.Data...)
		case len(p.Shape) == 1:
			tt.storage = shared
			tt.offset = len(storages[shared])
			storages[shared] = append(storages[shared], p.Data...)
			tensors = append(tensors, tt)
			continue
		default:
			storages[key] = p.Data
		}
		order = append(order, key)
		tensors = append(tensors, tt)
	}
	return tensors, storages, order
}
