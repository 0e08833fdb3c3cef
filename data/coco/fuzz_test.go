package coco

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"tagimp/internal/fuzzcheck"
)

// FuzzRead: no captions file panics, hangs or allocates beyond the bound.
// Seeds: small hand-written files and a 40-image excerpt of the real
// captions_val2017.json.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		`{"images":[{"id":1,"file_name":"a.jpg"}],"annotations":[{"id":1,"image_id":1,"caption":"A dog."}]}`,
		`{"info":{},"images":[{"id":1},{"id":2}],"annotations":[{"image_id":1,"caption":"a"},{"image_id":2,"caption":"b"},{"image_id":3,"caption":"c"}]}`,
		`{"annotations":[]}`, `[]`, `{"images":[{"id":null}]}`, `{"annotations":[{"image_id":1}]}`,
	} {
		f.Add([]byte(s))
	}
	if p, ok := fuzzcheck.SharedData("coco/captions_val2017.json"); ok {
		if b, err := excerpt(p, 40); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.Check(t, len(b), func() {
			c, err := decode(json.NewDecoder(bytes.NewReader(b)), "fuzz.json")
			if err == nil {
				c.Flat()
			}
		})
	})
}

// excerpt returns a valid captions file with the first n images of path
// and their captions.
func excerpt(path string, n int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var all struct {
		Images      []map[string]any `json:"images"`
		Annotations []map[string]any `json:"annotations"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, err
	}
	keep := map[float64]bool{}
	var out struct {
		Images      []map[string]any `json:"images"`
		Annotations []map[string]any `json:"annotations"`
	}
	for _, im := range all.Images[:min(n, len(all.Images))] {
		keep[im["id"].(float64)] = true
		out.Images = append(out.Images, im)
	}
	for _, a := range all.Annotations {
		if keep[a["image_id"].(float64)] {
			out.Annotations = append(out.Annotations, a)
		}
	}
	return json.Marshal(out)
}
