package features

import (
	"os"
	"path/filepath"
	"testing"

	"tagimp/internal/fuzzcheck"
)

// FuzzReadManifest: no manifest.json panics, hangs or allocates beyond the
// bound, and none is accepted that names a shard file outside the cache
// folder. Seeds: manifests as Build writes them (complete, with failures)
// and damaged ones.
func FuzzReadManifest(f *testing.F) {
	dir := f.TempDir()
	m := &Manifest{Format: Format, Meta: Meta{Backbone: "vgg16-fc7", Weights: "random:1", Preprocess: "torchvision", ImageSize: 224},
		Dim: 4096, Dtype: "<f4", ShardRule: ShardRule, Shard: "0/1", ShardSize: 2, Images: 3, Rows: 2, Complete: true,
		Shards: []ShardFile{{Index: 0, Features: "fc7-0of1-00000.npy", IDs: "fc7-0of1-00000.ids.npy", Rows: 2, Images: 2,
			FeaturesSHA256: "ab", IDsSHA256: "cd"}},
		Failed: []Failure{{ID: 7, File: "x.jpg", Reason: "truncated"}}}
	p := filepath.Join(dir, "manifest.json")
	if err := m.write(p); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	f.Add(b)
	f.Add([]byte(`{"format":"` + Format + `","shards":[{"features":"../etc/passwd","ids":"x"}]}`))
	f.Add([]byte(`{"format":"` + Format + `","shards":[{"features":"/abs","ids":"x"}]}`))
	f.Add([]byte(`{"format":"other"}`))
	path := filepath.Join(dir, "fuzz.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fuzzcheck.Check(t, len(b), func() {
			m, err := ReadManifest(path)
			if err != nil {
				return
			}
			for _, s := range m.Shards {
				for _, name := range []string{s.Features, s.IDs} {
					if name != filepath.Base(name) || name == ".." || name == "." || name == "" {
						t.Errorf("accepted shard file %q", name)
					}
				}
			}
		})
	})
}
