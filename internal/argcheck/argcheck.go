// Package argcheck checks command-line arguments before a command starts
// its work, so that a bad flag costs a one-line error at once instead of a
// failure after minutes of computing (or a silently replaced value). Each
// error names the flag, the value and the fix.
package argcheck

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Positive refuses a count flag below 1 (--batch 0, --workers 0, ...).
func Positive(flag string, v int) error {
	if v < 1 {
		return fmt.Errorf("--%s %d: must be at least 1", flag, v)
	}
	return nil
}

// WritableDir checks that dir is, or can be made, a folder this process
// can write files into: it creates dir when missing and writes and removes
// a probe file there.
func WritableDir(flag, dir string) error {
	if dir == "" {
		return fmt.Errorf("--%s: give a folder", flag)
	}
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fmt.Errorf("--%s %s: is a file, not a folder; give a folder", flag, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--%s %s: cannot create the folder: %v", flag, dir, unwrapPath(err))
	}
	f, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("--%s %s: cannot write into the folder: %v; choose a writable folder", flag, dir, unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// OutputFile checks that path can be written as a file: it is not a
// folder, its folder (or, when that is still to be made, the nearest one
// above it) is a writable folder, and, when exts are given, its extension
// is one of them (compared without case).
func OutputFile(flag, path string, exts ...string) error {
	if path == "" {
		return fmt.Errorf("--%s: give a file name", flag)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		hint := ""
		if len(exts) > 0 {
			hint = fmt.Sprintf(" such as %s", filepath.Join(path, "out"+exts[0]))
		}
		return fmt.Errorf("--%s %s: is a folder; give a file name%s", flag, path, hint)
	}
	if len(exts) > 0 && !slices.Contains(exts, strings.ToLower(filepath.Ext(path))) {
		return fmt.Errorf("--%s %s: name the file %s", flag, path, strings.Join(exts, " or "))
	}
	// The file's folder, or the nearest one above it that exists (the
	// writers create missing folders).
	dir := filepath.Dir(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("--%s %s: %s is not a folder", flag, path, dir)
			}
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("--%s %s: no folder above it exists", flag, path)
		}
		dir = parent
	}
	f, err := os.CreateTemp(dir, ".write-probe-*")
	if err != nil {
		return fmt.Errorf("--%s %s: cannot write into %s: %v", flag, path, dir, unwrapPath(err))
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// unwrapPath drops the *PathError's own path (the message names it).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
