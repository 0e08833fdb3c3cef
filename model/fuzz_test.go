package model_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tagimp/internal/fuzzcheck"
	"tagimp/model"
)

// FuzzReadMeta: no checkpoint JSON (RUN/<model>.json) panics, hangs or
// allocates beyond the bound, and none is accepted that names parameter
// files outside the run folder or whose configuration does not validate.
// Seeds: the metadata of a real (small) training run and damaged ones.
func FuzzReadMeta(f *testing.F) {
	run := f.TempDir()
	r := smallRunTB(f, run, model.Model2, 1)
	if _, err := model.Train(r); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(run, "model2.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(strings.Replace(string(b), `"model2.e0001.npz"`, `"../../etc/passwd"`, 1)))
	f.Add([]byte(`{"format":"tagimp-checkpoint/1","config":{"kind":"model2","t":1000000000},"tags":[]}`))
	f.Add([]byte(`{"format":"tagimp-checkpoint/2"}`))
	dir := f.TempDir()
	path := filepath.Join(dir, "model2.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fuzzcheck.Check(t, len(b), func() {
			m, err := model.ReadMeta(dir, model.Model2)
			if err != nil {
				return
			}
			if err := m.Config.Validate(); err != nil {
				t.Errorf("accepted an invalid config: %v", err)
			}
			for _, name := range []string{m.Files.Params, m.Files.Opt} {
				if m.Format == model.CheckpointFormat && (name != filepath.Base(name) || strings.HasPrefix(name, ".")) {
					t.Errorf("accepted checkpoint file %q", name)
				}
			}
		})
	})
}
