// Package realdata locates the real test data shared with the project
// (../shared/data next to the repository root: COCO captions and images,
// word2vec vectors) for tests, and skips the test with a message when it is
// absent, as on a user's clone.
package realdata

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvDir names a data folder laid out as ../shared/data (coco/val2017/*.jpg
// …) that Dir returns instead of searching: for test binaries run away from
// the repository, as on a GPU machine (scripts/gpu-check.sh carries the
// images and sets it).
const EnvDir = "TAGIMP_TEST_DATA"

// Dir returns the shared data folder (TAGIMP_TEST_DATA when set), or skips
// tb when there is none.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv(EnvDir); d != "" {
		if _, err := os.Stat(d); err != nil {
			tb.Fatalf("%s=%s: %v", EnvDir, d, err)
		}
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("no go.mod above the test directory; real-data test skipped")
		}
		dir = parent
	}
	data := filepath.Join(dir, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		tb.Skipf("real data %s absent; real-data test skipped", data)
	}
	return data
}

// Images returns the real COCO val2017 JPEGs, or skips tb when there are none.
func Images(tb testing.TB) []string {
	tb.Helper()
	paths, _ := filepath.Glob(filepath.Join(Dir(tb), "coco", "val2017", "*.jpg"))
	if len(paths) == 0 {
		tb.Skip("real COCO images not found in ../shared/data/coco/val2017 (relative to the repository root)")
	}
	return paths
}
