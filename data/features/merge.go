package features

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"tagimp/data/atomicfile"
	"tagimp/data/dirlock"
	"tagimp/data/npy"
)

// MergeSummary says what Merge did.
type MergeSummary struct {
	Manifest     *Manifest
	ManifestPath string
	Parts        []string // "K/N" of the parts joined
	Missing      []string // "K/N" of parts of the same split that were not given
	Linked       int      // shard files hard-linked or copied into the output folder
}

// Merge joins the caches in ins (folders holding manifest-KofN.json parts
// of a split run, or a manifest.json) into out/manifest.json. It checks
// that every part is complete, computed with the same Meta and width, and
// that no image id appears twice; shard files are verified against their
// hashes and hard-linked (or copied) into out. out may be one of ins, for
// parts that were written into one shared folder. Parts of the split that
// were not given are reported in Missing and in the manifest.
func Merge(out string, ins []string) (*MergeSummary, error) {
	if len(ins) == 0 {
		return nil, errors.New("features merge: name at least one input folder")
	}
	// Merge writes manifest.json, as a run of the whole job (part 0/1)
	// does: it takes that part's lock.
	lock, err := dirlock.Acquire(out, LockName(Shard{K: 0, N: 1}))
	if err != nil {
		return nil, fmt.Errorf("features merge: %w", err)
	}
	defer lock.Release()
	type part struct {
		dir string
		man *Manifest
	}
	var parts []part
	for _, dir := range ins {
		paths, err := partManifests(dir)
		if err != nil {
			return nil, fmt.Errorf("features merge: %s: %w", dir, err)
		}
		var use []string
		for _, p := range paths {
			if filepath.Base(p) != "manifest.json" {
				use = append(use, p)
			}
		}
		if len(use) == 0 {
			use = paths
		}
		if len(use) == 0 {
			return nil, fmt.Errorf("features merge: %s holds no manifest.json or manifest-KofN.json; is it a feature cache?", dir)
		}
		for _, p := range use {
			m, err := ReadManifest(p)
			if err != nil {
				return nil, fmt.Errorf("features merge: %w", err)
			}
			if !m.Complete {
				return nil, fmt.Errorf("features merge: %s is incomplete (%d of %d images); finish it by running its `tagimp-gpu features` command again", p, doneImages(m), m.Images)
			}
			parts = append(parts, part{dir, m})
		}
	}

	first := parts[0]
	res := &Manifest{Format: Format, Meta: first.man.Meta, Dim: first.man.Dim, Dtype: npy.Float32, ShardRule: ShardRule,
		ShardSize: first.man.ShardSize, Complete: true}
	seenPart := map[string]string{}
	seenID := map[int64]string{}
	seenFile := map[string]string{}
	type link struct{ from, to, sha string }
	var links []link
	for _, p := range parts {
		where := p.dir
		if p.man.Meta != first.man.Meta {
			return nil, fmt.Errorf("features merge: %s was computed with %+v but %s with %+v; only caches with the same weights and preprocessing can be joined",
				where, p.man.Meta, first.dir, first.man.Meta)
		}
		if p.man.Dim != first.man.Dim {
			return nil, fmt.Errorf("features merge: %s has width %d but %s has %d", where, p.man.Dim, first.dir, first.man.Dim)
		}
		names := p.man.MergedFrom
		if p.man.Shard != "" {
			names = []string{p.man.Shard}
		}
		for _, n := range names {
			if prev, ok := seenPart[n]; ok {
				return nil, fmt.Errorf("features merge: part %s is given twice (%s and %s)", n, prev, where)
			}
			seenPart[n] = where
			res.MergedFrom = append(res.MergedFrom, n)
		}
		for _, s := range p.man.Shards {
			for _, f := range []struct{ name, sha string }{{s.Features, s.FeaturesSHA256}, {s.IDs, s.IDsSHA256}} {
				if prev, ok := seenFile[f.name]; ok {
					return nil, fmt.Errorf("features merge: shard file %s is in both %s and %s", f.name, prev, where)
				}
				seenFile[f.name] = where
				links = append(links, link{filepath.Join(p.dir, f.name), filepath.Join(out, f.name), f.sha})
			}
			ids, err := readChecked(filepath.Join(p.dir, s.IDs), s.IDsSHA256)
			if err != nil {
				return nil, fmt.Errorf("features merge: %w", err)
			}
			if ids.Dtype != npy.Int64 || len(ids.I64) != s.Rows {
				return nil, fmt.Errorf("features merge: %s: want %d int64 ids, found %s %v", filepath.Join(p.dir, s.IDs), s.Rows, ids.Dtype, ids.Shape)
			}
			for _, id := range ids.I64 {
				if prev, ok := seenID[id]; ok {
					return nil, fmt.Errorf("features merge: image id %d is in both %s and %s (%s); each image must be in one part only", id, prev, where, s.IDs)
				}
				seenID[id] = where
			}
			res.Shards = append(res.Shards, s)
		}
		for _, f := range p.man.Failed {
			if prev, ok := seenID[f.ID]; ok {
				return nil, fmt.Errorf("features merge: image id %d is in both %s and %s", f.ID, prev, where)
			}
		}
		res.Failed = append(res.Failed, p.man.Failed...)
		res.Images += p.man.Images
		res.Rows += p.man.Rows
		if p.man.ShardSize != res.ShardSize {
			res.ShardSize = 0 // mixed
		}
	}
	sort.Strings(res.MergedFrom)
	res.MissingParts = missingParts(res.MergedFrom)

	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("features merge: create %s: %w", out, err)
	}
	mpath := filepath.Join(out, "manifest.json")
	if _, err := os.Stat(mpath); err == nil && !sameDirIn(out, ins) {
		return nil, fmt.Errorf("features merge: %s already exists; choose an empty --out folder or delete it", mpath)
	}
	sum := &MergeSummary{Manifest: res, ManifestPath: mpath, Parts: res.MergedFrom, Missing: res.MissingParts}
	for _, l := range links {
		if err := checkFileHash(l.from, l.sha); err != nil {
			return nil, fmt.Errorf("features merge: %w; rerun that part's `tagimp-gpu features` command to repair it", err)
		}
		if same(l.from, l.to) {
			continue
		}
		if _, err := os.Stat(l.to); err == nil {
			if checkFileHash(l.to, l.sha) == nil {
				continue
			}
			return nil, fmt.Errorf("features merge: %s exists with other content; choose an empty --out folder", l.to)
		}
		if err := linkOrCopy(l.from, l.to); err != nil {
			return nil, fmt.Errorf("features merge: %w", err)
		}
		sum.Linked++
	}
	if err := res.write(mpath); err != nil {
		return nil, err
	}
	return sum, nil
}

// missingParts lists the K/N not in names when all names share one N.
func missingParts(names []string) []string {
	have := map[string]bool{}
	n := -1
	for _, s := range names {
		sh, err := ParseShard(s)
		if err != nil {
			return nil
		}
		if n >= 0 && sh.N != n {
			return nil
		}
		n = sh.N
		have[s] = true
	}
	var miss []string
	for k := 0; k < n; k++ {
		if s := fmt.Sprintf("%d/%d", k, n); !have[s] {
			miss = append(miss, s)
		}
	}
	return miss
}

func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func sameDirIn(dir string, dirs []string) bool {
	for _, d := range dirs {
		if same(dir, d) {
			return true
		}
	}
	return false
}

// linkOrCopy hard-links from to to, or copies it (atomically) when the two
// are on different file systems.
func linkOrCopy(from, to string) error {
	if err := os.Link(from, to); err == nil {
		return nil
	}
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	return atomicfile.WriteFile(to, func(w io.Writer) error {
		if _, err := io.Copy(w, src); err != nil {
			return fmt.Errorf("copy %s to %s: %w", from, to, err)
		}
		return nil
	})
}

// String summarises the merge for a log line.
func (s *MergeSummary) String() string {
	msg := fmt.Sprintf("%s: %d rows from parts %s, %d failed images", s.ManifestPath, s.Manifest.Rows, strings.Join(s.Parts, ", "), len(s.Manifest.Failed))
	if len(s.Missing) > 0 {
		msg += "; MISSING parts " + strings.Join(s.Missing, ", ")
	}
	return msg
}
