package demo

import (
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"tagimp/data/atomicfile"
)

// Files written by Write, relative to its directory.
const (
	ImagesDir     = "images"
	CaptionsFile  = "captions.json"
	InstancesFile = "instances.json"
)

// Set is a generated set as written to disk.
type Set struct {
	Dir       string
	Config    Config
	Images    []Image
	Captions  string // path of the COCO captions JSON
	Instances string // path of the COCO instances JSON
	ImageDir  string // folder holding the images
}

// ImageByID returns the image with the given id, or nil.
func (s *Set) ImageByID(id int64) *Image {
	if id >= 1 && int(id) <= len(s.Images) && s.Images[id-1].ID == id {
		return &s.Images[id-1]
	}
	for i := range s.Images {
		if s.Images[i].ID == id {
			return &s.Images[i]
		}
	}
	return nil
}

type cocoImage struct {
	ID       int64  `json:"id"`
	FileName string `json:"file_name"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	License  int    `json:"license"`
}

type cocoCaption struct {
	ID      int64  `json:"id"`
	ImageID int64  `json:"image_id"`
	Caption string `json:"caption"`
}

type cocoInstance struct {
	ID         int64      `json:"id"`
	ImageID    int64      `json:"image_id"`
	CategoryID int        `json:"category_id"`
	BBox       [4]float64 `json:"bbox"`
	Area       float64    `json:"area"`
	IsCrowd    int        `json:"iscrowd"`
	Centrality float64    `json:"centrality"`
	Mention    float64    `json:"mention_probability"`
}

type cocoCategory struct {
	ID            int    `json:"id"`
	Name          string `json:"name"`
	Supercategory string `json:"supercategory"`
}

type cocoInfo struct {
	Description string `json:"description"`
	Seed        int64  `json:"seed"`
	Images      int    `json:"images"`
	Size        int    `json:"size"`
}

// Write generates the set described by cfg and writes it under dir:
// dir/images/*.png, dir/captions.json and dir/instances.json. Existing
// images with the same name are overwritten; every file is written
// atomically. progress, when not nil, is called after each image.
func Write(dir string, cfg Config, progress func(done, total int)) (*Set, error) {
	images, err := Generate(cfg)
	if err != nil {
		return nil, err
	}
	imgDir := filepath.Join(dir, ImagesDir)
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return nil, fmt.Errorf("demo: create %s: %w (choose an --out folder you can write to)", imgDir, err)
	}
	if err := writeImages(imgDir, images, cfg.Size, progress); err != nil {
		return nil, err
	}
	set := &Set{
		Dir: dir, Config: cfg, Images: images, ImageDir: imgDir,
		Captions:  filepath.Join(dir, CaptionsFile),
		Instances: filepath.Join(dir, InstancesFile),
	}
	info := cocoInfo{Description: "tagimp-gpu synthetic demo set", Seed: cfg.Seed, Images: cfg.Images, Size: cfg.Size}
	cimgs := make([]cocoImage, len(images))
	var caps []cocoCaption
	var inst []cocoInstance
	catID := map[string]int{}
	var cats []cocoCategory
	for i, n := range append(Nouns(), Scenes()...) {
		catID[n] = i + 1
		super := "object"
		if i >= len(catalog) {
			super = "scene"
		}
		cats = append(cats, cocoCategory{ID: i + 1, Name: n, Supercategory: super})
	}
	s := float64(cfg.Size)
	for i, im := range images {
		cimgs[i] = cocoImage{ID: im.ID, FileName: im.FileName, Width: cfg.Size, Height: cfg.Size}
		for _, c := range im.Captions {
			caps = append(caps, cocoCaption{ID: int64(len(caps) + 1), ImageID: im.ID, Caption: c})
		}
		inst = append(inst, cocoInstance{
			ID: int64(len(inst) + 1), ImageID: im.ID, CategoryID: catID[im.Scene],
			BBox: [4]float64{0, 0, s, s}, Area: im.Visible * s * s, Mention: im.SceneP,
		})
		for _, o := range im.Objects {
			inst = append(inst, cocoInstance{
				ID: int64(len(inst) + 1), ImageID: im.ID, CategoryID: catID[o.Noun],
				BBox:       [4]float64{(o.X - o.R) * s, (o.Y - o.R) * s, 2 * o.R * s, 2 * o.R * s},
				Area:       o.Area * s * s,
				Centrality: o.Centrality, Mention: o.Mention,
			})
		}
	}
	if err := writeJSON(set.Captions, map[string]any{"info": info, "images": cimgs, "annotations": caps}); err != nil {
		return nil, err
	}
	if err := writeJSON(set.Instances, map[string]any{"info": info, "images": cimgs, "annotations": inst, "categories": cats}); err != nil {
		return nil, err
	}
	return set, nil
}

func writeJSON(path string, v any) error {
	err := atomicfile.WriteFile(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		return enc.Encode(v)
	})
	if err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return nil
}

// writeImages renders and saves the images with a few workers.
func writeImages(dir string, images []Image, size int, progress func(done, total int)) error {
	workers := min(runtime.GOMAXPROCS(0), 4)
	jobs := make(chan int)
	var (
		mu       sync.Mutex
		done     int
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := png.Encoder{CompressionLevel: png.BestSpeed}
			for i := range jobs {
				path := filepath.Join(dir, images[i].FileName)
				err := atomicfile.WriteFile(path, func(w io.Writer) error {
					return enc.Encode(w, Render(&images[i], size))
				})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("demo: write image %s: %w", path, err)
				}
				done++
				if progress != nil {
					progress(done, len(images))
				}
				mu.Unlock()
			}
		}()
	}
	for i := range images {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return firstErr
}
