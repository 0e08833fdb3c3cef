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
