package tagger

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Line is one image's line of the tag command's JSON Lines output, and the
// serve command's answer.
type Line struct {
	File string `json:"file"`
	// ID is the image id when the file name ends in one (COCO:
	// COCO_train2014_000000000009.jpg → 9).
	ID   *int64    `json:"id,omitempty"`
	Tags []LineTag `json:"tags"`
	// Error says why the image could not be tagged; Tags is then empty.
	Error string `json:"error,omitempty"`
}

// LineTag is one predicted tag of a Line.
type LineTag struct {
	Tag         string  `json:"tag"`
	Importance  float64 `json:"importance"`
	Probability float64 `json:"probability"`
}

// Line returns row i of prob and imp (n×T) as a Line for file: the tags at
// or above the threshold, most important first.
func (m *Model) Line(file string, prob, imp []float32, i int) Line {
	l := Line{File: file, ID: FileID(file), Tags: []LineTag{}}
	for _, t := range m.Rank(prob, imp, i, false) {
		l.Tags = append(l.Tags, LineTag{Tag: t.Tag, Importance: t.Importance, Probability: t.Probability})
	}
	return l
}

// FileID returns the number a file's name ends in (before the extension),
// or nil when it ends in none.
func FileID(file string) *int64 {
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	i := len(base)
	for i > 0 && base[i-1] >= '0' && base[i-1] <= '9' {
		i--
	}
	if i == len(base) || len(base)-i > 18 {
		return nil
	}
	id, err := strconv.ParseInt(base[i:], 10, 64)
	if err != nil {
		return nil
	}
	return &id
}

// imageExts are the file name endings ListImages takes from a folder.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true}

// ListImages expands args (files and folders) into image files: a folder
// gives its .jpg, .jpeg and .png files, searched recursively, in name order;
// a file is taken as given.
func ListImages(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a, err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !imageExts[strings.ToLower(filepath.Ext(p))] {
				return nil
			}
			// Regular files, and links to them (a folder of links is a
			// common way to pick images).
			if d.Type().IsRegular() {
				found = append(found, p)
			} else if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", a, err)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// ReadDone reads the files an earlier, possibly interrupted, tag run wrote
// to the JSON Lines file at path and returns them with the byte length of
// the file's complete, well-formed lines: a last line cut short by an
// interruption is not counted (the caller truncates it away). A missing
// file gives no files and length 0.
func ReadDone(path string) (map[string]bool, int64, error) {
	done := map[string]bool{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return done, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var good int64
	for n := 1; ; n++ {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return done, good, nil // a partial last line is dropped
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		var l Line
		if jerr := json.Unmarshal(line, &l); jerr != nil || l.File == "" {
			if _, perr := r.Peek(1); perr == io.EOF {
				return done, good, nil // a damaged last line is dropped too
			}
			return nil, 0, fmt.Errorf("%s line %d is not a tag line (%v): is it the output of tagimp-gpu tag? Give another --jsonl", path, n, jerr)
		}
		done[l.File] = true
		good += int64(len(line))
	}
}

// StreamOptions tunes Stream.
type StreamOptions struct {
	// Batch is the number of images per forward pass (0: 16).
	Batch int
	// Workers decode images (0: one per CPU); Parallel batches run VGG16
	// at once (0: 2), so decoding, the network and writing overlap.
	Workers, Parallel int
	// Skip lists files to leave out (done by an earlier run).
	Skip map[string]bool
	// Progress, when set, is called after each batch with the images done
	// and the total to do in this run.
	Progress func(done, total int)
}

// StreamSummary says what Stream did.
type StreamSummary struct {
	Tagged, Failed, Skipped int
}

// chunk is how many paths are handed to the decoder at a time, which
// bounds the decoder's bookkeeping whatever the number of files.
const chunk = 1024

// Stream tags files and writes one JSON line per image to w, in the order
// of files, each line written whole by one Write. Memory is bounded by the
// batch size and the number of batches in flight, not by len(files). An
// image that cannot be read gets a line with its error; the others go on.
func (m *Model) Stream(ctx context.Context, files []string, w io.Writer, opt StreamOptions) (StreamSummary, error) {
	var sum StreamSummary
	todo := files[:0:0]
	for _, f := range files {
		if opt.Skip[f] {
			sum.Skipped++
		} else {
			todo = append(todo, f)
		}
	}
	batch := opt.Batch
	if batch <= 0 {
		batch = 16
	}
	par := opt.Parallel
	if par <= 0 {
		par = 2
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type job struct {
		seq   int
		files []string
		errs  []error
		x     []float32 // the good images, back to back
		good  []int     // their positions in files
		lines [][]byte
		err   error
	}
	jobs := make(chan *job)
	results := make(chan *job, par)
	// Producer: decoded images into batches.
	go func() {
		defer close(jobs)
		seq := 0
		var cur *job
		flush := func() bool {
			if cur == nil {
				return true
			}
			select {
			case jobs <- cur:
			case <-ctx.Done():
				return false
			}
			cur, seq = nil, seq+1
			return true
		}
		for lo := 0; lo < len(todo); lo += chunk {
			part := todo[lo:min(lo+chunk, len(todo))]
			for r := range m.Prep.Stream(ctx, part, opt.Workers) {
				if cur == nil {
					cur = &job{seq: seq, x: make([]float32, 0, batch*m.Prep.Len())}
				}
				cur.files = append(cur.files, r.Path)
				cur.errs = append(cur.errs, r.Err)
				if r.Err == nil {
					cur.good = append(cur.good, len(cur.files)-1)
					cur.x = append(cur.x, r.Data...)
				}
				if len(cur.files) == batch && !flush() {
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
		}
		flush()
	}()
	// Workers: VGG16 and the model.
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				j.err = m.runJob(j.files, j.errs, j.x, j.good, &j.lines)
				j.x = nil
				select {
				case results <- j:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	// Writer: lines in order.
	pending := map[int]*job{}
	next, done := 0, 0
	var werr error
	for j := range results {
		pending[j.seq] = j
		for {
			j, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if werr != nil {
				continue
			}
			if j.err != nil {
				werr = j.err
				cancel()
				continue
			}
			for i, line := range j.lines {
				if _, err := w.Write(line); err != nil {
					werr = fmt.Errorf("write: %w", err)
					cancel()
					break
				}
				if j.errs[i] != nil {
					sum.Failed++
				} else {
					sum.Tagged++
				}
			}
			done += len(j.files)
			if opt.Progress != nil {
				opt.Progress(done, len(todo))
			}
		}
	}
	if werr != nil {
		return sum, werr
	}
	return sum, ctx.Err()
}

// runJob tags one batch and renders its lines.
func (m *Model) runJob(files []string, errs []error, x []float32, good []int, lines *[][]byte) error {
	var prob, imp []float32
	if len(good) > 0 {
		var err error
		if prob, imp, err = m.Predict(x, len(good)); err != nil {
			return err
		}
	}
	row := map[int]int{}
	for r, i := range good {
		row[i] = r
	}
	for i, f := range files {
		var l Line
		if errs[i] != nil {
			l = Line{File: f, ID: FileID(f), Tags: []LineTag{}, Error: errs[i].Error()}
		} else {
			l = m.Line(f, prob, imp, row[i])
		}
		b, err := MarshalLine(l)
		if err != nil {
			return err
		}
		*lines = append(*lines, b)
	}
	return nil
}

// MarshalLine renders l as one JSON line ending in a newline.
func MarshalLine(l Line) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(l); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode checks and preprocesses an image held in memory (the serve
// command's request bodies) under the pixel limit maxPixels.
// It is the tag command's preprocessing (Config.LoadFile) for bytes in
// memory, so answers equal tag's lines.
func (m *Model) Decode(body []byte, maxPixels int) ([]float32, error) {
	prep := m.Prep
	prep.MaxPixels = maxPixels
	x := make([]float32, prep.Len())
	if err := prep.TensorBytes(x, body); err != nil {
		return nil, err
	}
	return x, nil
}
