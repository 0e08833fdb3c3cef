package labels

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// TagCount is one vocabulary entry: a tag and the number of captions that
// mention it.
type TagCount struct {
	Tag   string `json:"tag"`
	Count int    `json:"count"`
	// NounShare is the share of the tag's tokens in the counted captions
	// that were counted as nouns (0: not measured, as in vocabularies made
	// from noun lists or before this field existed).
	NounShare float64 `json:"noun_share,omitempty"`
}

// Vocab is the tag vocabulary, the content of vocab.json.
type Vocab struct {
	MinCount int `json:"min_count"` // tags counted fewer times were dropped
	// NounShare is the --noun-share the tags had to reach (0: not checked).
	NounShare float64    `json:"noun_share,omitempty"`
	Images    int        `json:"images"`   // images of the caption file it was built from
	Captions  int        `json:"captions"` // captions of that file
	Tags      []TagCount `json:"tags"`     // descending count, ties alphabetical
}

// Names returns the tags in vocabulary order.
func (v *Vocab) Names() []string {
	names := make([]string, len(v.Tags))
	for i, t := range v.Tags {
		names[i] = t.Tag
	}
	return names
}

// check reports an empty vocabulary, empty or repeated tags.
func (v *Vocab) check() error {
	if len(v.Tags) == 0 {
		return errors.New("vocabulary has no tags")
	}
	seen := make(map[string]bool, len(v.Tags))
	for i, t := range v.Tags {
		if t.Tag == "" {
			return fmt.Errorf("tag %d is empty", i)
		}
		if seen[t.Tag] {
			return fmt.Errorf("tag %q appears twice", t.Tag)
		}
		seen[t.Tag] = true
	}
	return nil
}

// ReadVocab reads a vocab.json written by WriteDir (tagimp-gpu vocab).
func ReadVocab(path string) (*Vocab, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read vocabulary: %w", err)
	}
	if err := checkCommitted(filepath.Dir(path), filepath.Base(path)); err != nil {
		return nil, err
	}
	var v Vocab
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("read vocabulary %s: %w (want the vocab.json written by tagimp-gpu vocab)", path, err)
	}
	if err := v.check(); err != nil {
		return nil, fmt.Errorf("read vocabulary %s: %w", path, err)
	}
	return &v, nil
}

// writeJSON writes v as indented JSON, one tag per line.
func (v *Vocab) writeJSON(w io.Writer) error {
	share := ""
	if v.NounShare > 0 {
		share = fmt.Sprintf(", \"noun_share\": %g", v.NounShare)
	}
	if _, err := fmt.Fprintf(w, "{\"min_count\": %d%s, \"images\": %d, \"captions\": %d, \"tags\": [", v.MinCount, share, v.Images, v.Captions); err != nil {
		return err
	}
	for i, t := range v.Tags {
		tag, err := json.Marshal(t.Tag)
		if err != nil {
			return err
		}
		sep := ","
		if i == len(v.Tags)-1 {
			sep = ""
		}
		share := ""
		if t.NounShare > 0 {
			share = fmt.Sprintf(", \"noun_share\": %.4f", t.NounShare)
		}
		if _, err := fmt.Fprintf(w, "\n  {\"tag\": %s, \"count\": %d%s}%s", tag, t.Count, share, sep); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "\n]}\n")
	return err
}
