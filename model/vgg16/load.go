package vgg16

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"

	"tagimp/data/npy"
)

// PreprocessKey is the optional .npz entry naming the preprocessing the
// weights expect: a uint8 array holding the bytes "torchvision" or "caffe".
const PreprocessKey = "preprocess"

// Load reads VGG16 weights from path and checks every name and shape.
//
// Accepted files:
//   - torchvision's vgg16-397923af.pth, and any torch.save'd state_dict of
//     torchvision's vgg16 (legacy format or torch ≥ 1.6 zip; float32, float16
//     or float64 storages; a {"state_dict": …} wrapper is unwrapped);
//   - an .npz (numpy.savez, stored or compressed) with one float32 array per
//     parameter, named and shaped exactly as torchvision's state_dict:
//     features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.weight [out,in,3,3] and
//     .bias [out]; classifier.0.weight [4096,25088] (input in C,H,W flatten
//     order), classifier.0.bias [4096], classifier.3.weight [4096,4096],
//     classifier.3.bias [4096]; optionally classifier.6.weight [K,4096] and
//     classifier.6.bias [K]; optionally "preprocess" (see PreprocessKey).
//     Keras/Caffe weights must be converted to this layout and marked
//     preprocess=caffe; for Keras's VGG16 (numpy, k = kernel, b = bias of
//     each layer in order): conv weight k.transpose(3, 2, 0, 1); fc6 weight
//     k.T.reshape(4096, 7, 7, 512).transpose(0, 3, 1, 2).reshape(4096, -1)
//     (Keras flattens H,W,C, torch C,H,W); fc7 and fc8 weight k.T; biases
//     as they are; preprocess = numpy.frombuffer(b"caffe", numpy.uint8).
//
// The network's SHA256 is the file's.
func Load(path string) (*Net, error) { return LoadConfig(path, VGG16()) }

// LoadConfig is Load for a network of another configuration.
func LoadConfig(path string, cfg Config) (*Net, error) {
	sum, head, err := hashFile(path)
	if err != nil {
		return nil, err
	}
	var params map[string]Param
	preprocess := "torchvision"
	switch kind, kerr := sniff(path, head); {
	case kerr != nil:
		return nil, kerr
	case kind == "npz":
		params, preprocess, err = readNPZ(path)
	default:
		params, err = readTorch(path)
	}
	if err != nil {
		return nil, err
	}
	n, err := newNet(cfg, params)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	n.sha, n.source, n.preprocess = sum, path, preprocess
	return n, nil
}

// hashFile returns the SHA-256 of the file and its first bytes.
func hashFile(path string) (string, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, fmt.Errorf("open weights: %w", err)
	}
	defer f.Close()
	head := make([]byte, 8)
	k, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", nil, fmt.Errorf("read weights %s: %w", path, err)
	}
	h := sha256.New()
	h.Write(head[:k])
	if _, err := io.Copy(h, f); err != nil {
		return "", nil, fmt.Errorf("read weights %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), head[:k], nil
}

// sniff tells a torch checkpoint ("torch") from an .npz ("npz") by content.
func sniff(path string, head []byte) (string, error) {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		zr, err := zip.OpenReader(path)
		if err != nil {
			return "", fmt.Errorf("read weights %s: %w", path, err)
		}
		defer zr.Close()
		npys := 0
		for _, f := range zr.File {
			if f.Name == "data.pkl" || strings.HasSuffix(f.Name, "/data.pkl") {
				return "torch", nil
			}
			if strings.HasSuffix(f.Name, ".npy") {
				npys++
			}
		}
		if npys > 0 {
			return "npz", nil
		}
		return "", fmt.Errorf("read weights %s: a zip file that is neither a torch checkpoint (no data.pkl) nor an .npz (no .npy entries)", path)
	case len(head) >= 2 && head[0] == 0x80 && head[1] >= 2:
		return "torch", nil // legacy torch.save: a pickle stream
	case len(head) == 0:
		return "", fmt.Errorf("read weights %s: empty file; download it again (tagimp-gpu fetch)", path)
	}
	return "", fmt.Errorf("read weights %s: not a torch checkpoint (.pth) or .npz (file starts with %q)", path, head)
}

func readNPZ(path string) (map[string]Param, string, error) {
	arrays, err := npy.ReadNPZ(path)
	if err != nil {
		return nil, "", fmt.Errorf("load weights: %w", err)
	}
	preprocess := "torchvision"
	params := make(map[string]Param, len(arrays))
	for name, a := range arrays {
		if name == PreprocessKey {
			if a.Dtype != "|u1" {
				return nil, "", fmt.Errorf("load %s: entry %s has dtype %s, want uint8 bytes of \"torchvision\" or \"caffe\"", path, name, a.Dtype)
			}
			preprocess = string(a.U8)
			if preprocess != "torchvision" && preprocess != "caffe" {
				return nil, "", fmt.Errorf("load %s: entry %s says %q, want \"torchvision\" or \"caffe\"", path, name, preprocess)
			}
			continue
		}
		if a.Dtype != "<f4" {
			return nil, "", fmt.Errorf("load %s: array %s has dtype %s, want float32 (<f4); convert with arr.astype(numpy.float32)", path, name, a.Dtype)
		}
		params[name] = Param{Name: name, Shape: a.Shape, Data: a.F32}
	}
	return params, preprocess, nil
}

// SaveNPZ writes the network's parameters to path in the .npz layout Load
// reads (with the "preprocess" entry), atomically.
func (n *Net) SaveNPZ(path string) error {
	arrays := make([]npy.NamedArray, 0, len(n.params)+1)
	for _, p := range n.params {
		arrays = append(arrays, npy.NamedArray{Name: p.Name, Array: npy.F32(p.Data, p.Shape...)})
	}
	arrays = append(arrays, npy.NamedArray{Name: PreprocessKey, Array: npy.U8([]byte(n.preprocess), len(n.preprocess))})
	if err := npy.WriteNPZ(path, arrays...); err != nil {
		return fmt.Errorf("save vgg16 weights: %w", err)
	}
	return nil
}

// readTorch reads a torch state_dict (legacy or zip format) into float32
// parameters, applying each tensor's storage offset and strides.
func readTorch(path string) (params map[string]Param, err error) {
	defer func() {
		// gopickle panics on some inputs it does not implement (legacy tar
		// checkpoints, storage views); report those as errors.
		if r := recover(); r != nil {
			params, err = nil, fmt.Errorf("load %s: unsupported torch checkpoint layout: %v", path, r)
		}
	}()
	if err := checkTorchSizes(path); err != nil {
		return nil, fmt.Errorf("load %s: not a readable torch checkpoint (truncated or corrupt? download it again): %w", path, err)
	}
	obj, err := pytorch.LoadWithUnpickler(path, func(r io.Reader) pickle.Unpickler {
		u := pickle.NewUnpickler(r)
		u.FindClass = findTorchClass
		return u
	})
	if err != nil {
		return nil, fmt.Errorf("load %s: not a readable torch checkpoint (truncated or corrupt? download it again): %w", path, err)
	}
	entries, err := dictEntries(obj)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	for _, wrap := range []string{"state_dict", "model"} {
		for _, e := range entries {
			if k, _ := e.Key.(string); k == wrap {
				if inner, ierr := dictEntries(e.Value); ierr == nil {
					entries = inner
				}
			}
		}
	}
	params = make(map[string]Param, len(entries))
	for _, e := range entries {
		name, ok := e.Key.(string)
		if !ok {
			return nil, fmt.Errorf("load %s: state_dict key %v is not a string", path, e.Key)
		}
		if name == "_metadata" {
			continue // torch's per-module version info, set on the OrderedDict
		}
		t, ok := e.Value.(*pytorch.Tensor)
		if !ok {
			return nil, fmt.Errorf("load %s: %s is a %T, not a tensor", path, name, e.Value)
		}
		data, err := tensorData(t)
		if err != nil {
			return nil, fmt.Errorf("load %s: %s: %w", path, name, err)
		}
		params[name] = Param{Name: name, Shape: append([]int(nil), t.Size...), Data: data}
	}
	return params, nil
}

type entry struct{ Key, Value any }

// dictEntries lists the items of an unpickled dict or OrderedDict.
func dictEntries(obj any) ([]entry, error) {
	var out []entry
	switch d := obj.(type) {
	case *types.OrderedDict:
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			out = append(out, entry{e.Key, e.Value})
		}
	case *types.Dict:
		for _, e := range *d {
			out = append(out, entry{e.Key, e.Value})
		}
	default:
		return nil, fmt.Errorf("the checkpoint holds a %T, not a state_dict; save model.state_dict()", obj)
	}
	return out, nil
}

// findTorchClass resolves the torch globals gopickle does not know itself.
func findTorchClass(module, name string) (any, error) {
	switch module + "." + name {
	case "torch._utils._rebuild_parameter":
		return rebuildParameter{}, nil
	case "torch._utils._rebuild_tensor":
		return rebuildTensorV1{}, nil
	}
	return types.NewGenericClass(module, name), nil
}

// rebuildParameter is torch._utils._rebuild_parameter(data, requires_grad,
// backward_hooks): the parameter's tensor is all we need.
type rebuildParameter struct{}

func (rebuildParameter) Call(args ...any) (any, error) {
	if len(args) < 1 {
		return nil, fmt.Errorf("_rebuild_parameter: no arguments")
	}
	if _, ok := args[0].(*pytorch.Tensor); !ok {
		return nil, fmt.Errorf("_rebuild_parameter: argument is a %T, not a tensor", args[0])
	}
	return args[0], nil
}

// rebuildTensorV1 is torch._utils._rebuild_tensor(storage, offset, size,
// stride) of torch < 0.4 checkpoints.
type rebuildTensorV1 struct{}

func (rebuildTensorV1) Call(args ...any) (any, error) {
	if len(args) != 4 {
		return nil, fmt.Errorf("_rebuild_tensor: %d arguments, want 4", len(args))
	}
	return (&pytorch.RebuildTensorV2{}).Call(args[0], args[1], args[2], args[3], false, nil)
}

// tensorData returns the tensor's values as float32 in row-major order,
// sharing the storage when the tensor is contiguous.
func tensorData(t *pytorch.Tensor) ([]float32, error) {
	var src []float32
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		src = s.Data
	case *pytorch.HalfStorage:
		src = s.Data
	case *pytorch.BFloat16Storage:
		src = s.Data
	case *pytorch.DoubleStorage:
		src = make([]float32, len(s.Data))
		for i, v := range s.Data {
			src[i] = float32(v)
		}
	default:
		return nil, fmt.Errorf("storage %T is not floating point", t.Source)
	}
	if len(t.Stride) != len(t.Size) {
		return nil, fmt.Errorf("%d strides for %d dimensions", len(t.Stride), len(t.Size))
	}
	for _, d := range t.Size {
		if d < 0 {
			return nil, fmt.Errorf("negative size %v", t.Size)
		}
	}
	numel := prod(t.Size)
	if numel == 0 {
		return []float32{}, nil
	}
	// The last element's index must lie inside the storage.
	last := t.StorageOffset
	for i, d := range t.Size {
		if t.Stride[i] < 0 {
			return nil, fmt.Errorf("negative stride %v", t.Stride)
		}
		last += (d - 1) * t.Stride[i]
	}
	if t.StorageOffset < 0 || last >= len(src) {
		return nil, fmt.Errorf("offset %d, size %v, stride %v run past the storage of %d values", t.StorageOffset, t.Size, t.Stride, len(src))
	}
	contiguous, want := true, 1
	for i := len(t.Size) - 1; i >= 0; i-- {
		if t.Size[i] != 1 && t.Stride[i] != want {
			contiguous = false
		}
		want *= t.Size[i]
	}
	if contiguous {
		return src[t.StorageOffset : t.StorageOffset+numel : t.StorageOffset+numel], nil
	}
	out := make([]float32, numel)
	idx := make([]int, len(t.Size))
	for k := range out {
		off := t.StorageOffset
		for i, v := range idx {
			off += v * t.Stride[i]
		}
		out[k] = src[off]
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < t.Size[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out, nil
}
