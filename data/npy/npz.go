package npy

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"tagimp/data/atomicfile"
)

// NamedArray is one entry of an .npz archive.
type NamedArray struct {
	Name string
	*Array
}

// WriteNPZ writes the arrays to path as an uncompressed .npz archive, as
// numpy.savez does, atomically. Entries keep the order given.
func WriteNPZ(path string, arrays ...NamedArray) error {
	seen := map[string]bool{}
	for _, a := range arrays {
		if a.Name == "" || seen[a.Name] {
			return fmt.Errorf("write %s: empty or repeated array name %q", path, a.Name)
		}
		seen[a.Name] = true
		if _, err := a.bytes(); err != nil {
			return fmt.Errorf("write %s: array %s: %w", path, a.Name, err)
		}
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		zw := zip.NewWriter(w)
		for _, a := range arrays {
			ew, err := zw.CreateHeader(&zip.FileHeader{Name: a.Name + ".npy", Method: zip.Store})
			if err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			if err := Write(ew, a.Array); err != nil {
				return fmt.Errorf("write %s: array %s: %w", path, a.Name, err)
			}
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}

// ReadNPZ reads every array of an .npz archive (stored or deflated, as
// numpy.savez and numpy.savez_compressed write them), keyed by name without
// the .npy suffix.
func ReadNPZ(path string) (map[string]*Array, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer zr.Close()
	size := int64(-1)
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	return readZip(&zr.Reader, path, size)
}

// readZip reads every array of an opened .npz archive of size bytes (< 0:
// unknown); path names it in errors.
func readZip(zr *zip.Reader, path string, size int64) (map[string]*Array, error) {
	out := make(map[string]*Array, len(zr.File))
	for _, f := range zr.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("read %s: array %s: %w", path, name, err)
		}
		// A stored entry holds exactly its data: a header claiming more
		// is refused before allocating. Deflated ones are read as they
		// come (Read).
		avail := int64(-1)
		if f.Method == zip.Store && size >= 0 {
			avail = min(int64(f.CompressedSize64), size)
		}
		a, err := readSized(bufio.NewReaderSize(rc, 1<<20), avail)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: array %s: %w", path, name, err)
		}
		out[name] = a
	}
	return out, nil
}

// Names returns the keys of an .npz map in sorted order.
func Names(m map[string]*Array) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
