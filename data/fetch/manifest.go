package fetch

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Asset is one downloadable file of the manifest.
type Asset struct {
	Name    string `json:"name"`    // short name used on the command line
	File    string `json:"file"`    // file name to save as
	URL     string `json:"url"`     // where to download it
	Size    int64  `json:"size"`    // bytes; 0 when unknown
	SHA256  string `json:"sha256"`  // lower-case hex; empty when not published
	MD5     string `json:"md5"`     // lower-case hex; empty when not published
	License string `json:"license"` // license of the asset
	Note    string `json:"note"`    // where the checksum comes from, how to use it
}

// Verifiable reports whether the asset has a published checksum.
func (a Asset) Verifiable() bool { return a.SHA256 != "" || a.MD5 != "" }

// Manifest is the list of assets (third_party/assets.json).
type Manifest struct {
	Comment string  `json:"comment"`
	Assets  []Asset `json:"assets"`
}

// ParseManifest decodes and checks a manifest: names unique, file names
// plain, hashes well-formed hex of the right length.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("parse asset manifest: %w", err)
	}
	seen := map[string]bool{}
	for i, a := range m.Assets {
		if a.Name == "" || a.URL == "" || a.File == "" {
			return nil, fmt.Errorf("asset manifest entry %d: name, url and file are required", i)
		}
		if seen[a.Name] {
			return nil, fmt.Errorf("asset manifest: name %q appears twice", a.Name)
		}
		seen[a.Name] = true
		if a.File != filepath.Base(a.File) || a.File == "." || a.File == ".." {
			return nil, fmt.Errorf("asset %s: file %q must be a plain file name", a.Name, a.File)
		}
		if err := checkHex(a.SHA256, 64); err != nil {
			return nil, fmt.Errorf("asset %s: sha256: %w", a.Name, err)
		}
		if err := checkHex(a.MD5, 32); err != nil {
			return nil, fmt.Errorf("asset %s: md5: %w", a.Name, err)
		}
		if a.Size < 0 {
			return nil, fmt.Errorf("asset %s: negative size %d", a.Name, a.Size)
		}
	}
	return &m, nil
}

func checkHex(s string, n int) error {
	if s == "" {
		return nil
	}
	if len(s) != n {
		return fmt.Errorf("%q has %d hex digits, want %d", s, len(s), n)
	}
	if _, err := hex.DecodeString(s); err != nil || strings.ToLower(s) != s {
		return fmt.Errorf("%q is not lower-case hex", s)
	}
	return nil
}

// Find returns the asset called name, or an error listing the names there are.
func (m *Manifest) Find(name string) (Asset, error) {
	for _, a := range m.Assets {
		if a.Name == name {
			return a, nil
		}
	}
	return Asset{}, fmt.Errorf("no asset named %q; known assets: %s", name, strings.Join(m.Names(), ", "))
}

// Names returns the asset names, sorted.
func (m *Manifest) Names() []string {
	names := make([]string, len(m.Assets))
	for i, a := range m.Assets {
		names[i] = a.Name
	}
	sort.Strings(names)
	return names
}
