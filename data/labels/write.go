package labels

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"tagimp/data/atomicfile"
	"tagimp/data/npy"
)

// WriteDir writes vocab.json, labels.npz and, when splits is not nil,
// splits.json into dir, creating dir when needed. Every file is staged
// first and renamed into place only when all of them are written, so an
// error leaves the directory as it was (and removes it if WriteDir made it).
func WriteDir(dir string, v *Vocab, s *Set, splits *Splits) (err error) {
	n, t := len(s.IDs), len(s.Tags)
	if len(v.Tags) != t || len(s.Presence) != n*t || len(s.Importance) != n*t {
		return fmt.Errorf("write labels to %s: %d vocabulary tags, %d set tags, %d×%d labels of sizes %d and %d", dir, len(v.Tags), t, n, t, len(s.Presence), len(s.Importance))
	}
	if err := v.check(); err != nil {
		return fmt.Errorf("write labels to %s: %w", dir, err)
	}
	names := []string{"labels.npz", "vocab.json"}
	if splits != nil {
		names = append(names, "splits.json")
	}
	for _, name := range names {
		path := filepath.Join(dir, name)
		if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("write labels: %s exists and is not a regular file; remove it or choose another --out", path)
		}
	}
	created := false
	if _, statErr := os.Stat(dir); errors.Is(statErr, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("write labels: %w", err)
		}
		created = true
	}
	var staged []*atomicfile.File
	npzTemp := filepath.Join(dir, fmt.Sprintf(".labels.npz.%d.partial", os.Getpid()))
	defer func() {
		if err == nil {
			return
		}
		for _, f := range staged {
			f.Abort()
		}
		os.Remove(npzTemp)
		if created {
			os.Remove(dir) // only succeeds when empty
		}
	}()

	if err := npy.WriteNPZ(npzTemp,
		npy.NamedArray{Name: "ids", Array: npy.I64(s.IDs, n)},
		npy.NamedArray{Name: "presence", Array: npy.U8(s.Presence, n, t)},
		npy.NamedArray{Name: "importance", Array: npy.F32(s.Importance, n, t)},
	); err != nil {
		return fmt.Errorf("write labels to %s: %w", dir, err)
	}
	stage := func(name string, write func(w io.Writer) error) error {
		f, err := atomicfile.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("write labels: %w", err)
		}
		staged = append(staged, f)
		if err := write(f); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
		}
		return nil
	}
	if err := stage("vocab.json", v.writeJSON); err != nil {
		return err
	}
	if splits != nil {
		if err := stage("splits.json", func(w io.Writer) error {
			enc := json.NewEncoder(w)
			return enc.Encode(splits)
		}); err != nil {
			return err
		}
	}
	if err := os.Rename(npzTemp, filepath.Join(dir, "labels.npz")); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	for _, f := range staged {
		if err := f.Commit(); err != nil {
			return fmt.Errorf("write labels: %w", err)
		}
	}
	return nil
}
