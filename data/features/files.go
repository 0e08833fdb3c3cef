package features

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// imageExts are the file extensions MatchFiles considers.
var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true}

// MatchFiles finds the file of each image id in dir by the number at the
// end of its name: COCO 2014's COCO_train2014_000000000009.jpg, COCO
// 2017's 000000000009.jpg and the demo's 000000000009.png all name image 9.
// An id without a file gets an Image with an empty File, which Build lists
// as failed; missing counts them. Two files naming one id is an error.
func MatchFiles(dir string, ids []int64) (images []Image, missing int, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("images folder: %w", err)
	}
	byID := make(map[int64]string, len(entries))
	for _, e := range entries {
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if e.IsDir() || !imageExts[ext] {
			continue
		}
		id, ok := trailingNumber(strings.TrimSuffix(name, filepath.Ext(name)))
		if !ok {
			continue
		}
		if prev, dup := byID[id]; dup {
			return nil, 0, fmt.Errorf("images folder %s: %s and %s both name image %d; keep one", dir, prev, name, id)
		}
		byID[id] = name
	}
	images = make([]Image, len(ids))
	for i, id := range ids {
		images[i] = Image{ID: id, File: byID[id]}
		if images[i].File == "" {
			missing++
		}
	}
	return images, missing, nil
}

// MatchCaptionFiles finds the file of each image ids[i] in dir: by its
// file name fileNames[i], the "file_name" of the COCO caption file, taken
// relative to dir (dir/file_name); for images whose file name is empty (a
// caption file without file_name, or a nil fileNames) by the number at the
// end of the file name, as MatchFiles does. An image whose named file is not
// in dir keeps its File, so Build lists it as failed naming the file it
// looked for; missing counts the images without a file.
func MatchCaptionFiles(dir string, ids []int64, fileNames []string) (images []Image, missing int, err error) {
	if fileNames != nil && len(fileNames) != len(ids) {
		return nil, 0, fmt.Errorf("match image files: %d file names for %d images", len(fileNames), len(ids))
	}
	var unnamed []int64
	for i, id := range ids {
		if fileNames == nil || fileNames[i] == "" {
			unnamed = append(unnamed, id)
		}
	}
	byNumber := map[int64]string{}
	if len(unnamed) > 0 {
		found, _, err := MatchFiles(dir, unnamed)
		if err != nil {
			return nil, 0, err
		}
		for _, im := range found {
			byNumber[im.ID] = im.File
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, fmt.Errorf("images folder: %w", err)
	}
	present := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			present[e.Name()] = true
		}
	}
	images = make([]Image, len(ids))
	for i, id := range ids {
		if fileNames == nil || fileNames[i] == "" {
			images[i] = Image{ID: id, File: byNumber[id]}
			if images[i].File == "" {
				missing++
			}
			continue
		}
		name := filepath.FromSlash(fileNames[i])
		if !filepath.IsLocal(name) {
			return nil, 0, fmt.Errorf("image %d: file_name %q leaves the images folder; the caption file must name files inside --images", id, fileNames[i])
		}
		images[i] = Image{ID: id, File: name}
		if !present[name] {
			if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.IsDir() {
				missing++
			}
		}
	}
	return images, missing, nil
}

// trailingNumber parses the run of digits at the end of s.
func trailingNumber(s string) (int64, bool) {
	i := len(s)
	for i > 0 && s[i-1] >= '0' && s[i-1] <= '9' {
		i--
	}
	if i == len(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s[i:], 10, 64)
	return n, err == nil
}
