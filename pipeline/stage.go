package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"

	"tagimp/data/atomicfile"
	"tagimp/data/features"
)

// StagesFile is the record of the stages done, relative to the output folder.
const StagesFile = "stages.json"

// Hooks receive what the pipeline has to say while it works. Nil fields are
// skipped.
type Hooks struct {
	// Log receives one-line notes.
	Log func(msg string)
	// Progress starts a progress display for a step of total items (-1:
	// unknown) and returns its update and finish functions.
	Progress func(what string, total int) (update func(done, total int), finish func())
}

func (h Hooks) logf(format string, args ...any) {
	if h.Log != nil {
		h.Log(fmt.Sprintf(format, args...))
	}
}

func (h Hooks) progress(what string, total int) (func(done, total int), func()) {
	if h.Progress == nil {
		return func(int, int) {}, func() {}
	}
	return h.Progress(what, total)
}

// stageRecord is one stage's entry in stages.json.
type stageRecord struct {
	Inputs  string            `json:"inputs"`  // SHA-256 of the stage's input description
	Outputs map[string]string `json:"outputs"` // file (relative to the output folder) → SHA-256
	Seconds float64           `json:"seconds"`
	Done    time.Time         `json:"done"`
}

// stages tracks the stages of one output folder and their timings.
type stages struct {
	dir     string
	records map[string]stageRecord
	// Seconds and Skipped say what this invocation spent on each stage.
	Seconds map[string]float64
	Skipped []string
	hooks   Hooks
}

func openStages(dir string, h Hooks) (*stages, error) {
	s := &stages{dir: dir, records: map[string]stageRecord{}, Seconds: map[string]float64{}, hooks: h}
	b, err := os.ReadFile(filepath.Join(dir, StagesFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(b, &s.records); err != nil {
		// A damaged record only costs a rerun of the cheap stages.
		h.logf("%s unreadable (%v): its stages run again", filepath.Join(dir, StagesFile), err)
		s.records = map[string]stageRecord{}
	}
	return s, nil
}

// fingerprint hashes a stage's input description (settings and input
// file hashes) as JSON.
func fingerprint(inputs any) (string, error) {
	b, err := json.Marshal(inputs)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:]), nil
}

// upToDate reports whether stage name was done with these inputs and its
// outputs are still what it wrote.
func (s *stages) upToDate(name, inputs string) bool {
	r, ok := s.records[name]
	if !ok || r.Inputs != inputs || len(r.Outputs) == 0 {
		return false
	}
	for rel, want := range r.Outputs {
		got, err := features.FileSHA256(filepath.Join(s.dir, rel))
		if err != nil || got != want {
			return false
		}
	}
	return true
}

// run runs stage name unless it is up to date for inputs; outputs lists the
// files (relative to the output folder) it writes, called after run.
func (s *stages) run(name string, inputs any, run func() error, outputs func() []string) error {
	start := time.Now()
	fp, err := fingerprint(inputs)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if s.upToDate(name, fp) {
		s.Skipped = append(s.Skipped, name)
		s.hooks.logf("%s: up to date (inputs and outputs as recorded in %s), skipped", name, StagesFile)
		s.Seconds[name] = time.Since(start).Seconds()
		return nil
	}
	delete(s.records, name)
	if err := run(); err != nil {
		return err
	}
	rec := stageRecord{Inputs: fp, Outputs: map[string]string{}, Done: time.Now().UTC()}
	for _, rel := range outputs() {
		h, err := features.FileSHA256(filepath.Join(s.dir, rel))
		if err != nil {
			return fmt.Errorf("%s: output %s: %w", name, rel, err)
		}
		rec.Outputs[rel] = h
	}
	s.Seconds[name] = time.Since(start).Seconds()
	rec.Seconds = s.Seconds[name]
	s.records[name] = rec
	return s.save()
}

// timed runs a stage that decides for itself what is left to do (features,
// training) and records its time.
func (s *stages) timed(name string, run func() error) error {
	start := time.Now()
	err := run()
	s.Seconds[name] = time.Since(start).Seconds()
	return err
}

func (s *stages) save() error {
	return atomicfile.WriteFile(filepath.Join(s.dir, StagesFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s.records)
	})
}

// fileHash is the SHA-256 of a stage's input file.
func fileHash(path string) (string, error) {
	h, err := features.FileSHA256(path)
	if err != nil {
		return "", fmt.Errorf("input %s: %w", path, err)
	}
	return h, nil
}

// relFiles lists the regular files under dir/sub, relative to dir, sorted.
func relFiles(dir, sub string) []string {
	var out []string
	filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if rel, err := filepath.Rel(dir, p); err == nil {
				out = append(out, rel)
			}
		}
		return nil
	})
	sort.Strings(out)
	return out
}
