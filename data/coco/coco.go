package coco

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Captions holds the captions of a COCO caption file, grouped by image.
type Captions struct {
	Path     string     // the file read
	IDs      []int64    // image ids, ascending
	Captions [][]string // Captions[i] are the captions of IDs[i] in file order, trimmed
	// FileNames[i] is the "file_name" of image IDs[i] in "images"
	// (COCO_train2014_000000000009.jpg, 000000000009.jpg), "" where the
	// file gives none.
	FileNames []string
}

// HasFileNames reports whether the file named the image file of any image.
func (c *Captions) HasFileNames() bool {
	for _, f := range c.FileNames {
		if f != "" {
			return true
		}
	}
	return false
}

// NumCaptions is the number of captions of all images.
func (c *Captions) NumCaptions() int {
	n := 0
	for _, cs := range c.Captions {
		n += len(cs)
	}
	return n
}

// Flat returns all captions as one slice, image after image, and for each
// caption the index of its image in IDs.
func (c *Captions) Flat() (texts []string, image []int) {
	texts = make([]string, 0, c.NumCaptions())
	image = make([]int, 0, cap(texts))
	for i, cs := range c.Captions {
		for _, s := range cs {
			texts = append(texts, s)
			image = append(image, i)
		}
	}
	return texts, image
}

// TextsOf returns the captions of the images whose ids are in ids (sorted
// ascending, as labels.Splits holds them), in Flat's order.
func (c *Captions) TextsOf(ids []int64) []string {
	var texts []string
	for i, cs := range c.Captions {
		if _, ok := slices.BinarySearch(ids, c.IDs[i]); ok {
			texts = append(texts, cs...)
		}
	}
	return texts
}

// annotation is one element of "annotations".
type annotation struct {
	ID      int64   `json:"id"`
	ImageID *int64  `json:"image_id"`
	Caption *string `json:"caption"`
}

// image is one element of "images".
type image struct {
	ID       *int64 `json:"id"`
	FileName string `json:"file_name"`
}

// Read streams the COCO caption file at path. progress, when not nil, is
// called with the bytes read so far and the file size.
func Read(path string, progress func(done, total int)) (*Captions, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("captions: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("captions: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("captions %s: is a directory, want a COCO captions_*.json file", path)
	}
	cr := &countingReader{r: f, total: int(st.Size()), progress: progress}
	c, err := decode(json.NewDecoder(bufio.NewReaderSize(cr, 1<<16)), path)
	if err != nil {
		return nil, describe(path, err)
	}
	if progress != nil {
		progress(cr.total, cr.total)
	}
	return c, nil
}

// decode reads the top-level object and checks it.
func decode(dec *json.Decoder, path string) (*Captions, error) {
	if err := expectDelim(dec, '{', "the file to be a JSON object"); err != nil {
		return nil, err
	}
	byImage := map[int64][]string{}
	images := map[int64]string{} // id → file_name
	var sawAnns, sawImages bool
	var unknown, noCaption int
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		switch key {
		case "annotations":
			sawAnns = true
			if err := expectDelim(dec, '[', `"annotations" to be an array`); err != nil {
				return nil, err
			}
			for n := 0; dec.More(); n++ {
				var a annotation
				if err := decodeAt(dec, &a); err != nil {
					return nil, err
				}
				if a.ImageID == nil || a.Caption == nil {
					return nil, fmt.Errorf(`annotation %d (id %d) has no "image_id" or no "caption"; is this a captions file and not an instances file?`, n, a.ID)
				}
				byImage[*a.ImageID] = append(byImage[*a.ImageID], strings.TrimSpace(*a.Caption))
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
		case "images":
			sawImages = true
			if err := expectDelim(dec, '[', `"images" to be an array`); err != nil {
				return nil, err
			}
			for n := 0; dec.More(); n++ {
				var im image
				if err := decodeAt(dec, &im); err != nil {
					return nil, err
				}
				if im.ID == nil {
					return nil, fmt.Errorf(`image %d of "images" has no "id"`, n)
				}
				if _, dup := images[*im.ID]; dup {
					return nil, fmt.Errorf(`image id %d appears twice in "images"`, *im.ID)
				}
				images[*im.ID] = im.FileName
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
		default:
			if err := skipValue(dec); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the top-level object")
		}
		return nil, err
	}
	if !sawAnns {
		return nil, errors.New(`no "annotations" array; want a COCO captions file (captions_*.json)`)
	}
	if !sawImages {
		return nil, errors.New(`no "images" array; want a COCO captions file (captions_*.json)`)
	}

	c := &Captions{Path: path, IDs: make([]int64, 0, len(images)), FileNames: make([]string, 0, len(images))}
	for id := range images {
		c.IDs = append(c.IDs, id)
	}
	slices.Sort(c.IDs)
	var firstNoCaption int64
	for _, id := range c.IDs {
		c.FileNames = append(c.FileNames, images[id])
		caps := byImage[id]
		if len(caps) == 0 {
			if noCaption == 0 {
				firstNoCaption = id
			}
			noCaption++
		}
		c.Captions = append(c.Captions, caps)
	}
	var unknownIDs []int64
	for id, caps := range byImage {
		if _, ok := images[id]; !ok {
			unknown += len(caps)
			unknownIDs = append(unknownIDs, id)
		}
	}
	if unknown > 0 {
		return nil, fmt.Errorf(`%d captions refer to %d image ids that are not in "images" (smallest: %d); the file is inconsistent`, unknown, len(unknownIDs), slices.Min(unknownIDs))
	}
	if noCaption > 0 {
		return nil, fmt.Errorf(`%d of %d images have no caption (first: id %d); the file is inconsistent`, noCaption, len(c.IDs), firstNoCaption)
	}
	return c, nil
}

// decodeAt decodes the next value into v; a type error's offset, relative
// to the value in encoding/json, is made relative to the file.
func decodeAt(dec *json.Decoder, v any) error {
	start := dec.InputOffset()
	err := dec.Decode(v)
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		typ.Offset += start
	}
	return err
}

// expectDelim reads one token and checks that it is the delimiter d.
func expectDelim(dec *json.Decoder, d json.Delim, want string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("want %s, found %v at byte %d", want, tok, dec.InputOffset())
	}
	return nil
}

// skipValue reads and drops one JSON value without keeping it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// describe wraps a decoding error with the file name and, for JSON syntax
// and type errors, the line and column.
func describe(path string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(path, syn.Offset)
		return fmt.Errorf("captions %s: malformed JSON at line %d, column %d (byte %d): %w", path, line, col, syn.Offset, err)
	case errors.As(err, &typ):
		line, col := position(path, typ.Offset)
		return fmt.Errorf("captions %s: wrong JSON type at line %d, column %d (byte %d): %w", path, line, col, typ.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return fmt.Errorf("captions %s: file ends in the middle of the JSON (cut short?)", path)
	}
	return fmt.Errorf("captions %s: %w", path, err)
}

// position turns a byte offset of path into a 1-based line and column.
func position(path string, offset int64) (line, col int) {
	line, col = 1, 1
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	r := bufio.NewReader(io.LimitReader(f, offset))
	for {
		b, err := r.ReadByte()
		if err != nil {
			return line, col
		}
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
}

// countingReader reports read progress.
type countingReader struct {
	r        io.Reader
	done     int
	total    int
	progress func(done, total int)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.done += n
	if c.progress != nil && n > 0 {
		c.progress(c.done, c.total)
	}
	return n, err
}
