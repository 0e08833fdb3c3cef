package vgg16

import (
	"archive/zip"
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/types"
)

// checkTorchSizes reads the storages a torch checkpoint declares, without
// their data, and refuses one whose size the file cannot hold. gopickle
// allocates every storage at the size the file claims before reading it,
// so an 859-byte file claiming a 1.7 GB storage would otherwise allocate
// it (found by FuzzLoad).
func checkTorchSizes(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	var head [4]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return fmt.Errorf("cut short: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if string(head[:]) == "PK\x03\x04" {
		return checkZipSizes(f, size)
	}
	return checkLegacySizes(f, size)
}

// storageRef is one storage a checkpoint's pickle declares.
type storageRef struct {
	key   string
	numel int
	elem  int // bytes per element
}

// storageClass stands for torch.<Name>Storage in the pre-pass.
type storageClass struct{ elem int }

// anyCall is a callable that returns nothing (the pre-pass only wants the
// persistent ids, not the tensors).
type anyCall struct{}

func (anyCall) Call(args ...any) (any, error) { return nil, nil }

var storageElem = map[string]int{
	"FloatStorage": 4, "DoubleStorage": 8, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
	"IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
}

// declaredStorages unpickles one pickle of r, recording its storages.
func declaredStorages(r io.Reader) ([]storageRef, error) {
	var refs []storageRef
	u := pickle.NewUnpickler(r)
	u.FindClass = func(module, name string) (any, error) {
		if module == "torch" {
			if e, ok := storageElem[name]; ok {
				return storageClass{e}, nil
			}
		}
		if module == "torch._utils" {
			return anyCall{}, nil
		}
		return types.NewGenericClass(module, name), nil
	}
	u.PersistentLoad = func(id any) (any, error) {
		t, ok := id.(*types.Tuple)
		if !ok || t.Len() < 5 {
			return nil, fmt.Errorf("persistent id %v is not a storage tuple", id)
		}
		cls, _ := t.Get(1).(storageClass)
		key, ok1 := t.Get(2).(string)
		numel, ok2 := t.Get(4).(int)
		if cls.elem == 0 || !ok1 || !ok2 || numel < 0 {
			return nil, fmt.Errorf("persistent id %v is not a storage tuple", id)
		}
		refs = append(refs, storageRef{key, numel, cls.elem})
		return nil, nil
	}
	_, err := u.Load()
	return refs, err
}

func checkZipSizes(f *os.File, size int64) error {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return err
	}
	entries := map[string]*zip.File{}
	var pkl *zip.File
	for _, e := range zr.File {
		entries[e.Name] = e
		if e.Name == "data.pkl" || strings.HasSuffix(e.Name, "/data.pkl") {
			pkl = e
		}
	}
	if pkl == nil {
		return errors.New("no data.pkl")
	}
	pklLimit := min(int64(pkl.UncompressedSize64), 1100*size)
	rc, err := pkl.Open()
	if err != nil {
		return err
	}
	err = walkPickles(bufio.NewReader(rc), pklLimit, 1)
	rc.Close()
	if err != nil {
		return err
	}
	if rc, err = pkl.Open(); err != nil {
		return err
	}
	refs, err := declaredStorages(bufio.NewReader(io.LimitReader(rc, pklLimit)))
	rc.Close()
	if err != nil {
		return err
	}
	dir := path.Dir(pkl.Name)
	for _, r := range refs {
		e := entries[path.Join(dir, "data", r.key)]
		if e == nil {
			return fmt.Errorf("storage %s has no data entry", r.key)
		}
		limit := int64(e.UncompressedSize64)
		if e.Method == zip.Store {
			limit = min(limit, size)
		} else {
			limit = min(limit, 1100*int64(e.CompressedSize64))
		}
		if int64(r.numel) > limit/int64(r.elem) {
			return fmt.Errorf("storage %s claims %d elements, its entry holds at most %d bytes", r.key, r.numel, limit)
		}
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func checkLegacySizes(f *os.File, size int64) error {
	// magic number, protocol version, sys info, state dict, storage keys
	if err := walkPickles(bufio.NewReader(f), size, 5); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	cr := &countingReader{r: f}
	br := bufio.NewReader(cr)
	for i := 0; i < 3; i++ { // magic number, protocol version, sys info
		u := pickle.NewUnpickler(br)
		if _, err := u.Load(); err != nil {
			return err
		}
	}
	refs, err := declaredStorages(br)
	if err != nil {
		return err
	}
	byKey := map[string]storageRef{}
	for _, r := range refs {
		byKey[r.key] = r
	}
	u := pickle.NewUnpickler(br)
	keys, err := u.Load()
	if err != nil {
		return err
	}
	list, ok := keys.(*types.List)
	if !ok {
		return fmt.Errorf("storage keys are a %T, not a list", keys)
	}
	for _, k := range *list {
		key, _ := k.(string)
		r, ok := byKey[key]
		if !ok {
			return fmt.Errorf("storage key %v is not declared", k)
		}
		var b [8]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return fmt.Errorf("storage %s: %w", key, err)
		}
		n := binary.LittleEndian.Uint64(b[:])
		left := size - (cr.n - int64(br.Buffered()))
		if n > uint64(left)/uint64(r.elem) {
			return fmt.Errorf("storage %s claims %d elements, %d bytes are left", key, n, left)
		}
		if _, err := br.Discard(int(n) * r.elem); err != nil {
			return fmt.Errorf("storage %s: %w", key, err)
		}
	}
	return nil
}

// walkPickles reads n pickles from r (at most left bytes) opcode by opcode
// without building anything, and refuses one whose length-prefixed
// arguments (strings, bytes, long integers) claim more bytes than are
// left: gopickle allocates such an argument at its claimed length before
// reading it (FuzzLoad: an 859-byte file claiming a 1.7 GB string).
func walkPickles(r *bufio.Reader, left int64, n int) error {
	fixed := map[byte]int{'K': 1, 'M': 2, 'J': 4, 'G': 8, 'q': 1, 'r': 4, 'h': 1, 'j': 4, 0x80: 1, 0x82: 1, 0x83: 2, 0x84: 4, 0x95: 8}
	prefixed := map[byte]int{'T': 4, 'U': 1, 'X': 4, 'B': 4, 'C': 1, 0x8a: 1, 0x8b: 4, 0x8c: 1, 0x8d: 8, 0x8e: 8, 0x96: 8}
	lines := map[byte]int{'I': 1, 'L': 1, 'F': 1, 'S': 1, 'V': 1, 'P': 1, 'p': 1, 'g': 1, 'c': 2, 'i': 2}
	bare := "(012NRbd}el]ostu)a\x81\x85\x86\x87\x88\x89\x8f\x90\x91\x92\x93\x94\x97\x98Q"
	take := func(k int64) ([]byte, error) {
		if k > left {
			return nil, fmt.Errorf("pickle argument of %d bytes, %d are left", k, left)
		}
		left -= k
		b := make([]byte, k)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	for p := 0; p < n; p++ {
		for {
			op, err := take(1)
			if err != nil {
				return err
			}
			c := op[0]
			switch {
			case c == '.':
			case strings.IndexByte(bare, c) >= 0:
				continue
			case fixed[c] > 0:
				if _, err := take(int64(fixed[c])); err != nil {
					return err
				}
				continue
			case prefixed[c] > 0:
				lb, err := take(int64(prefixed[c]))
				if err != nil {
					return err
				}
				var k uint64
				for i := len(lb) - 1; i >= 0; i-- {
					k = k<<8 | uint64(lb[i])
				}
				if k > uint64(left) {
					return fmt.Errorf("pickle argument of %d bytes, %d are left", k, left)
				}
				if _, err := r.Discard(int(k)); err != nil {
					return err
				}
				left -= int64(k)
				continue
			case lines[c] > 0:
				for l := 0; l < lines[c]; l++ {
					s, err := r.ReadSlice('\n')
					left -= int64(len(s))
					if err != nil {
						return fmt.Errorf("pickle line: %w", err)
					}
				}
				if left < 0 {
					return errors.New("pickle runs past the file")
				}
				continue
			default:
				return fmt.Errorf("unknown pickle opcode 0x%02x", c)
			}
			break // STOP
		}
	}
	return nil
}
