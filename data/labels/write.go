package labels

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"tagimp/data/atomicfile"
	"tagimp/data/dirlock"
	"tagimp/data/npy"
)

// ManifestName is the file that makes a labels folder's files current:
// it names each of them with its SHA-256 (Manifest).
const ManifestName = "labels-manifest.json"

// ManifestFormat is the format of the manifest WriteDir writes.
const ManifestFormat = "tagimp-labels/1"

// dataFiles are the files a labels folder may hold besides its manifest.
var dataFiles = []string{"labels.npz", "vocab.json", "splits.json"}

// Manifest lists the files of one WriteDir, name → SHA-256 (hex).
type Manifest struct {
	Format string            `json:"format"`
	Files  map[string]string `json:"files"`
}

// WriteDir writes vocab.json, labels.npz and, when splits is not nil,
// splits.json into dir, creating dir when needed, as one commit:
//
//  1. dir is locked against other writers (package dirlock) and the
//     temporary files of earlier, killed writes (of any process) are
//     removed;
//  2. every file is written to a temporary file and flushed;
//  3. labels-manifest.json, naming each new file with its SHA-256, is
//     written atomically;
//  4. the files are renamed into place, and a splits.json of an earlier
//     write that this one does not make is removed.
//
// Readers (Read, ReadVocab, ReadSplits) check the files against the
// manifest, so a write killed between steps 3 and 4 leaves a folder they
// refuse, with a message to rerun vocab, never a mix of two writes. An
// error before step 3 leaves the folder as it was (and removes it if
// WriteDir made it).
func WriteDir(dir string, v *Vocab, s *Set, splits *Splits) (err error) {
	n, t := len(s.IDs), len(s.Tags)
	if len(v.Tags) != t || len(s.Presence) != n*t || len(s.Importance) != n*t {
		return fmt.Errorf("write labels to %s: %d vocabulary tags, %d set tags, %d×%d labels of sizes %d and %d", dir, len(v.Tags), t, n, t, len(s.Presence), len(s.Importance))
	}
	if err := v.check(); err != nil {
		return fmt.Errorf("write labels to %s: %w", dir, err)
	}
	for _, name := range append(slices.Clone(dataFiles), ManifestName) {
		path := filepath.Join(dir, name)
		if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
			return fmt.Errorf("write labels: %s exists and is not a regular file; remove it or choose another --out", path)
		}
	}
	created := false
	if _, statErr := os.Stat(dir); errors.Is(statErr, os.ErrNotExist) {
		created = true
	}
	lock, err := dirlock.Acquire(dir, "")
	if err != nil {
		return err
	}
	defer lock.Release()
	removeTemps(dir)

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
			lock.Release()
			os.Remove(filepath.Join(dir, dirlock.FileName("")))
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
	man := Manifest{Format: ManifestFormat, Files: map[string]string{}}
	if man.Files["labels.npz"], err = fileSHA256(npzTemp); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	stage := func(name string, write func(w io.Writer) error) error {
		f, err := atomicfile.Create(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("write labels: %w", err)
		}
		staged = append(staged, f)
		h := sha256.New()
		if err := write(io.MultiWriter(f, h)); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
		}
		man.Files[name] = hex.EncodeToString(h.Sum(nil))
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
	// The commit point: from here on the folder's files are those the
	// manifest names, or readers refuse them.
	if err := atomicfile.WriteFile(filepath.Join(dir, ManifestName), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(man)
	}); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	created = false // the folder holds a commit now; keep it even on error
	if err := os.Rename(npzTemp, filepath.Join(dir, "labels.npz")); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	for _, f := range staged {
		if err := f.Commit(); err != nil {
			return fmt.Errorf("write labels: %w", err)
		}
	}
	for _, name := range dataFiles {
		if _, ok := man.Files[name]; !ok {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("write labels: remove the stale %s: %w", name, err)
			}
		}
	}
	return nil
}

// removeTemps deletes the temporary files of earlier writes into dir, by
// any process: WriteDir holds dir's lock, so no other write is under way.
func removeTemps(dir string) {
	var stale []string
	for _, pat := range []string{".labels.npz.*.partial", ".labels.npz.tmp-*", ".vocab.json.tmp-*", ".splits.json.tmp-*", "." + ManifestName + ".tmp-*"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		stale = append(stale, m...)
	}
	for _, p := range stale {
		os.Remove(p)
	}
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// errStale is wrapped by checkCommitted for a data file the manifest does
// not name (left by an earlier write).
var errStale = fmt.Errorf("not part of the labels written last: %w", os.ErrNotExist)

// checkCommitted checks dir/name against dir's manifest: nil when the
// folder has no manifest (written before manifests, or a bare file) or the
// file's SHA-256 is the one the manifest records; an error naming the
// folder and the fix otherwise. A data file the manifest does not name
// gives an error wrapping os.ErrNotExist.
func checkCommitted(dir, name string) error {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	mpath := filepath.Join(dir, ManifestName)
	if err != nil {
		return fmt.Errorf("read %s: %w", mpath, err)
	}
	var man Manifest
	if err := json.Unmarshal(b, &man); err != nil || man.Format != ManifestFormat {
		return fmt.Errorf("read %s: not a %s manifest (damaged?); rerun tagimp-gpu vocab --out %s", mpath, ManifestFormat, dir)
	}
	want, listed := man.Files[name]
	if !listed {
		if slices.Contains(dataFiles, name) {
			return fmt.Errorf("%s: %w (%s does not name it); rerun tagimp-gpu vocab --out %s", filepath.Join(dir, name), errStale, ManifestName, dir)
		}
		return nil
	}
	got, err := fileSHA256(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("%s is incomplete: %s names %s, which cannot be read (%v); rerun tagimp-gpu vocab --out %s", dir, ManifestName, name, err, dir)
	}
	if got != want {
		return fmt.Errorf("%s is not the %s that %s names (SHA-256 %.12s…, not %.12s…): a vocab run was interrupted or the file was changed; rerun tagimp-gpu vocab --out %s",
			filepath.Join(dir, name), name, ManifestName, got, want, dir)
	}
	return nil
}
