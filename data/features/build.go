package features

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"tagimp/data/dirlock"
	"tagimp/data/imageprep"
	"tagimp/data/npy"
)

// Extractor turns a batch of preprocessed images into feature rows. x holds
// n images of 3×S×S float32 (CHW) back to back; the result holds n rows of
// Dim() values. The CPU VGG16 (vgg16.Net) and the GPU one implement it.
type Extractor interface {
	Extract(x []float32, n int) ([]float32, error)
	Dim() int
}

// RawExtractor is an extractor that takes decoded images and preprocesses
// them itself (the GPU: only their 8-bit planes cross PCIe), with several
// batches on their way at once. SubmitRaw queues a batch and returns after
// copying what it needs from raws (Build then releases their pixels);
// wait returns the batch's rows. Build keeps at most InFlight batches
// submitted and not yet waited for.
type RawExtractor interface {
	SubmitRaw(raws []imageprep.Raw) (wait func() ([]float32, error), err error)
	InFlight() int
	Dim() int
}

// RawLoadFunc decodes one image file for a RawExtractor
// (imageprep.Config.LoadRaw). It is called from several goroutines at once.
type RawLoadFunc func(path string) (imageprep.Raw, error)

// LoadFunc decodes and preprocesses one image file into the Extractor's
// input layout (imageprep.Config.LoadFile). It is called from several
// goroutines at once.
type LoadFunc func(path string) ([]float32, error)

// Image is one image to extract: its id and its file name relative to the
// images folder.
type Image struct {
	ID   int64
	File string
}

// Config describes a Build run.
type Config struct {
	Out       string    // cache folder (created if missing)
	ImagesDir string    // folder holding the image files
	Images    []Image   // all images of the caption file; Build keeps Shard's part
	Load      LoadFunc  // decoder + preprocessing
	Extractor Extractor // the network
	// LoadRaw and RawExtractor, when both set, replace Load and Extractor:
	// images are decoded on the CPU and preprocessed by the extractor, and
	// decoding, copying and computing overlap.
	LoadRaw      RawLoadFunc
	RawExtractor RawExtractor
	Meta         Meta  // recorded in the manifest; checked when resuming
	Shard        Shard // this machine's part; zero value = everything
	ShardSize    int   // images per shard file; 0 means 1000
	Batch        int   // images per Extract call; 0 means 16
	Workers      int   // decoding goroutines; 0 means runtime.NumCPU()
	// Plan is recorded in the manifest (the GPU's choices; see Plan).
	Plan *Plan
	// Progress, when set, is called with images done and total for this run
	// (images of shards reused from an earlier run count as done).
	Progress func(done, total int)
}

// Summary says what Build did.
type Summary struct {
	Manifest     *Manifest
	ManifestPath string
	Reused       int // shards kept from an earlier run
	Computed     int // shards computed by this run
	Images       int // images of this part
	Rows         int // feature rows in the cache
	Failed       int // images that produced no features
	// PlanChanged, when set, says how this run's Plan differs from the one
	// that computed the shards it kept: their bytes may differ in the last
	// bits from what this run would have written.
	PlanChanged string
}

// Build computes the features of cfg.Images (cfg.Shard's part) into
// cfg.Out, resuming an earlier run of the same job. Images that fail to
// load or give non-finite features are listed in the manifest and the run
// goes on; any other error stops it, leaving the finished shards in place.
// Different parts may run into one folder at the same time; a second run of
// the same part is refused (each part holds its own lock, LockName).
func Build(ctx context.Context, cfg Config) (*Summary, error) {
	if cfg.ShardSize <= 0 {
		cfg.ShardSize = 1000
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 16
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	if cfg.Shard.N == 0 {
		cfg.Shard = Shard{K: 0, N: 1}
	}
	if err := cfg.Shard.validate(); err != nil {
		return nil, err
	}
	raw := cfg.LoadRaw != nil && cfg.RawExtractor != nil
	if !raw && (cfg.Load == nil || cfg.Extractor == nil) {
		return nil, errors.New("features: Build needs a Load function and an Extractor (or LoadRaw and a RawExtractor)")
	}
	var dim int
	if raw {
		dim = cfg.RawExtractor.Dim()
	} else {
		dim = cfg.Extractor.Dim()
	}
	if dim <= 0 {
		return nil, fmt.Errorf("features: extractor reports feature width %d", dim)
	}
	if st, err := os.Stat(cfg.ImagesDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("images folder %s: not found or not a folder; pass --images DIR holding the caption file's images", cfg.ImagesDir)
	}
	images, err := selectImages(cfg.Images, cfg.Shard)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("create cache folder %s: %w", cfg.Out, err)
	}
	prefix := filePrefix(cfg.Shard)
	// One writer per part: a second run of the same part into this folder
	// is refused, naming the first; other parts lock their own.
	lock, err := dirlock.Acquire(cfg.Out, LockName(cfg.Shard))
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	removeStaleTemps(cfg.Out, prefix, ManifestName(cfg.Shard))

	fresh := &Manifest{
		Format: Format, Meta: cfg.Meta, Dim: dim, Dtype: npy.Float32, ShardRule: ShardRule,
		Shard: cfg.Shard.String(), ShardSize: cfg.ShardSize,
		ImageListSHA256: listHash(images), Images: len(images), Plan: cfg.Plan,
	}
	mpath := filepath.Join(cfg.Out, ManifestName(cfg.Shard))
	man, err := resumeManifest(mpath, fresh)
	if err != nil {
		return nil, err
	}
	sum := &Summary{Manifest: man, ManifestPath: mpath, Images: len(images)}
	if old, err := ReadManifest(mpath); err == nil && len(man.Shards) > 0 && !old.Plan.equal(cfg.Plan) {
		sum.PlanChanged = fmt.Sprintf("the %d shards kept were computed with %s, this run uses %s", len(man.Shards), old.Plan, cfg.Plan)
	}

	nShards := (len(images) + cfg.ShardSize - 1) / cfg.ShardSize
	done := map[int]bool{}
	doneImages := 0
	for _, s := range man.Shards {
		done[s.Index] = true
		doneImages += s.Images
	}
	sum.Reused = len(done)
	progress := func(n int) {
		if cfg.Progress != nil {
			cfg.Progress(n, len(images))
		}
	}
	progress(doneImages)
	for idx := 0; idx < nShards; idx++ {
		if done[idx] {
			continue
		}
		lo, hi := idx*cfg.ShardSize, min((idx+1)*cfg.ShardSize, len(images))
		base := fmt.Sprintf("%s-%05d", prefix, idx)
		sf, failed, err := buildShard(ctx, cfg, images[lo:hi], base, dim, func(n int) { progress(doneImages + n) })
		if err != nil {
			return nil, err
		}
		sf.Index = idx
		doneImages += hi - lo
		man.Shards = append(man.Shards, sf)
		man.Failed = append(man.Failed, failed...)
		man.Rows += sf.Rows
		man.Complete = len(man.Shards) == nShards
		if err := man.write(mpath); err != nil {
			return nil, err
		}
		sum.Computed++
	}
	if !man.Complete || nShards == 0 {
		man.Complete = true
		if err := man.write(mpath); err != nil {
			return nil, err
		}
	}
	sum.Rows, sum.Failed = man.Rows, len(man.Failed)
	return sum, nil
}

// selectImages keeps the part's images, sorted by id, and rejects repeats.
func selectImages(all []Image, s Shard) ([]Image, error) {
	var out []Image
	for _, im := range all {
		if s.Has(im.ID) {
			out = append(out, im)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	for i := 1; i < len(out); i++ {
		if out[i].ID == out[i-1].ID {
			return nil, fmt.Errorf("image id %d appears twice in the image list (%s and %s)", out[i].ID, out[i-1].File, out[i].File)
		}
	}
	return out, nil
}

func filePrefix(s Shard) string { return fmt.Sprintf("fc7-%dof%d", s.K, s.n()) }

// LockName names the folder lock (package dirlock) that a run of part s
// holds: one per part, so the parts of a split job can share a folder.
// Merge, which writes manifest.json as a whole run does, takes the lock of
// the whole part (0/1).
func LockName(s Shard) string { return filePrefix(s) }

// removeStaleTemps deletes temporary files a killed run of this part left
// (only this part's: other parts may be running into the same folder).
func removeStaleTemps(dir, prefix, manifest string) {
	stale, _ := filepath.Glob(filepath.Join(dir, "."+prefix+"-*.tmp-*"))
	manifests, _ := filepath.Glob(filepath.Join(dir, "."+manifest+".tmp-*"))
	for _, p := range append(stale, manifests...) {
		os.Remove(p)
	}
}

// listHash identifies the image list of a run.
func listHash(images []Image) string {
	h := sha256.New()
	var b [8]byte
	for _, im := range images {
		binary.LittleEndian.PutUint64(b[:], uint64(im.ID))
		h.Write(b[:])
		io.WriteString(h, im.File)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// resumeManifest returns the manifest to continue: the one at path when it
// describes the same job, with its shards checked against their hashes
// (shards whose files are missing or changed are dropped, to be computed
// again), or fresh when there is none.
func resumeManifest(path string, fresh *Manifest) (*Manifest, error) {
	old, err := ReadManifest(path)
	if errors.Is(err, os.ErrNotExist) {
		return fresh, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w; delete it to start over", err)
	}
	dir := filepath.Dir(path)
	var diffs []string
	if old.Meta != fresh.Meta {
		diffs = append(diffs, fmt.Sprintf("weights/preprocessing %+v vs now %+v", old.Meta, fresh.Meta))
	}
	if old.Dim != fresh.Dim {
		diffs = append(diffs, fmt.Sprintf("feature width %d vs now %d", old.Dim, fresh.Dim))
	}
	if old.ShardSize != fresh.ShardSize {
		diffs = append(diffs, fmt.Sprintf("shard size %d vs now %d", old.ShardSize, fresh.ShardSize))
	}
	if old.ImageListSHA256 != fresh.ImageListSHA256 || old.Images != fresh.Images {
		diffs = append(diffs, fmt.Sprintf("a different image list (%d images vs now %d)", old.Images, fresh.Images))
	}
	if len(diffs) > 0 {
		return nil, fmt.Errorf("cache folder %s holds an earlier run with %s; use a new --out folder, or delete %s to start over",
			dir, strings.Join(diffs, ", "), path)
	}
	kept := *fresh // with this run's Plan: the manifest describes the run that completes it
	keptShards := map[string]bool{}
	for _, s := range old.Shards {
		if checkFileHash(filepath.Join(dir, s.Features), s.FeaturesSHA256) != nil ||
			checkFileHash(filepath.Join(dir, s.IDs), s.IDsSHA256) != nil {
			continue
		}
		kept.Shards = append(kept.Shards, s)
		kept.Rows += s.Rows
		keptShards[s.Features] = true
	}
	for _, f := range old.Failed {
		if keptShards[f.Shard] {
			kept.Failed = append(kept.Failed, f)
		}
	}
	return &kept, nil
}

// FileSHA256 returns the SHA-256 of a file, hex.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func checkFileHash(path, want string) error {
	got, err := FileSHA256(path)
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: SHA-256 %s, the manifest says %s", path, got, want)
	}
	return nil
}

type decoded struct {
	x   []float32     // preprocessed (Load)
	raw imageprep.Raw // decoded only (LoadRaw)
	err error
}

// decodeAhead loads images with cfg.Workers goroutines, at most `ahead`
// images in front of the consumer, and hands the results over in order
// through get(i). release(i) frees the slot of image i. stop ends it early.
type decodeAhead struct {
	ready   []chan decoded
	slots   chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func startDecode(images []Image, dir string, load func(path string) decoded, workers, ahead int) *decodeAhead {
	d := &decodeAhead{ready: make([]chan decoded, len(images)), slots: make(chan struct{}, ahead), stopped: make(chan struct{})}
	for i := range d.ready {
		d.ready[i] = make(chan decoded, 1)
	}
	jobs := make(chan int)
	go func() {
		defer close(jobs)
		for i := range images {
			select {
			case d.slots <- struct{}{}:
			case <-d.stopped:
				return
			}
			select {
			case jobs <- i:
			case <-d.stopped:
				return
			}
		}
	}()
	for w := 0; w < workers; w++ {
		go func() {
			for i := range jobs {
				if images[i].File == "" {
					d.ready[i] <- decoded{err: fmt.Errorf("no file for image id %d in the images folder", images[i].ID)}
					continue
				}
				d.ready[i] <- load(filepath.Join(dir, images[i].File))
			}
		}()
	}
	return d
}

func (d *decodeAhead) get(i int) decoded { r := <-d.ready[i]; <-d.slots; return r }
func (d *decodeAhead) stop()             { d.once.Do(func() { close(d.stopped) }) }

// pendingBatch is a batch handed to the extractor whose rows are not
// written yet.
type pendingBatch struct {
	images []Image
	wait   func() ([]float32, error)
}

// buildShard computes one shard and writes its two files. With a
// RawExtractor, up to InFlight batches are on their way while the next is
// decoded; rows are written in image order either way.
func buildShard(ctx context.Context, cfg Config, images []Image, base string, dim int, progress func(int)) (ShardFile, []Failure, error) {
	featName, idsName := base+".npy", base+".ids.npy"
	featPath, idsPath := filepath.Join(cfg.Out, featName), filepath.Join(cfg.Out, idsName)
	rw, err := npy.CreateRows(featPath, npy.Float32, dim)
	if err != nil {
		return ShardFile{}, nil, err
	}
	defer rw.Abort()
	raw := cfg.LoadRaw != nil && cfg.RawExtractor != nil
	load := func(path string) decoded {
		x, err := cfg.Load(path)
		return decoded{x: x, err: err}
	}
	depth := 1
	if raw {
		load = func(path string) decoded {
			r, err := cfg.LoadRaw(path)
			return decoded{raw: r, err: err}
		}
		depth = max(cfg.RawExtractor.InFlight(), 1)
	}
	dec := startDecode(images, cfg.ImagesDir, load, cfg.Workers, 2*cfg.Batch+cfg.Workers)
	defer dec.stop()

	var ids []int64
	var failed []Failure
	fail := func(im Image, reason string) {
		failed = append(failed, Failure{ID: im.ID, File: im.File, Shard: featName, Reason: reason})
	}
	// write waits for a batch's rows and appends them.
	write := func(p pendingBatch) error {
		out, err := p.wait()
		if err != nil {
			return fmt.Errorf("extract features of images %d..%d: %w", p.images[0].ID, p.images[len(p.images)-1].ID, err)
		}
		if len(out) != len(p.images)*dim {
			return fmt.Errorf("extractor returned %d values for %d images of width %d", len(out), len(p.images), dim)
		}
		for j, im := range p.images {
			row := out[j*dim : (j+1)*dim]
			if bad := firstNonFinite(row); bad >= 0 {
				fail(im, fmt.Sprintf("features contain %v at column %d", row[bad], bad))
				continue
			}
			if err := rw.WriteF32(row); err != nil {
				return err
			}
			ids = append(ids, im.ID)
		}
		return nil
	}
	var queue []pendingBatch
	queued := 0 // images in queue
	var batch []Image
	var input []float32
	var raws []imageprep.Raw
	inLen := 0
	// flush hands the batch to the extractor and writes the oldest
	// batches' rows until fewer than depth are on their way.
	flush := func() error {
		if len(batch) > 0 {
			p := pendingBatch{images: append([]Image(nil), batch...)}
			if raw {
				wait, err := cfg.RawExtractor.SubmitRaw(raws)
				for i := range raws { // staged by SubmitRaw: the pixels go back to the decoder's pool
					raws[i].Release()
				}
				if err != nil {
					return fmt.Errorf("extract features of images %d..%d: %w", batch[0].ID, batch[len(batch)-1].ID, err)
				}
				p.wait = wait
			} else {
				out, err := cfg.Extractor.Extract(input, len(batch))
				p.wait = func() ([]float32, error) { return out, err }
			}
			queue, queued = append(queue, p), queued+len(batch)
			batch, input, raws = batch[:0], input[:0], raws[:0]
		}
		for len(queue) >= depth {
			if err := write(queue[0]); err != nil {
				return err
			}
			queued -= len(queue[0].images)
			queue = queue[1:]
		}
		return nil
	}
	for i, im := range images {
		if err := ctx.Err(); err != nil {
			return ShardFile{}, nil, err
		}
		r := dec.get(i)
		switch {
		case r.err != nil:
			fail(im, r.err.Error())
		case raw:
			batch = append(batch, im)
			raws = append(raws, r.raw)
		case inLen != 0 && len(r.x) != inLen:
			fail(im, fmt.Sprintf("preprocessed to %d values, other images to %d", len(r.x), inLen))
		default:
			inLen = len(r.x)
			batch = append(batch, im)
			input = append(input, r.x...)
		}
		if len(batch) == cfg.Batch {
			if err := flush(); err != nil {
				return ShardFile{}, nil, err
			}
		}
		progress(i + 1 - len(batch) - queued) // images extracted or failed
	}
	if err := flush(); err != nil {
		return ShardFile{}, nil, err
	}
	for _, p := range queue {
		if err := write(p); err != nil {
			return ShardFile{}, nil, err
		}
	}
	progress(len(images))
	if ids == nil {
		ids = []int64{}
	}
	if err := npy.WriteFile(idsPath, npy.I64(ids, len(ids))); err != nil {
		return ShardFile{}, nil, err
	}
	if err := rw.Close(); err != nil {
		return ShardFile{}, nil, err
	}
	sf := ShardFile{Features: featName, IDs: idsName, Images: len(images), Rows: len(ids)}
	if sf.FeaturesSHA256, err = FileSHA256(featPath); err != nil {
		return ShardFile{}, nil, err
	}
	if sf.IDsSHA256, err = FileSHA256(idsPath); err != nil {
		return ShardFile{}, nil, err
	}
	return sf, failed, nil
}

// firstNonFinite returns the index of the first NaN or ±Inf in row (all
// exponent bits set), or -1.
func firstNonFinite(row []float32) int {
	for i, v := range row {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}

// UseExtractor makes ex the network of c. When ex preprocesses decoded
// images itself (a RawExtractor: the GPU, where only 8-bit planes cross
// PCIe), images are decoded with prep.LoadRaw and handed over as they are,
// and Meta.Decoder says that the resize ran on the device; otherwise
// prep.LoadFile preprocesses them on the CPU. When ex has a batch of its
// own (a Batch() int method), c.Batch 0 takes it and a larger c.Batch is
// lowered to it.
func (c *Config) UseExtractor(ex Extractor, prep imageprep.Config) {
	c.Extractor, c.Load = ex, prep.LoadFile
	c.LoadRaw, c.RawExtractor = nil, nil
	if rx, ok := ex.(RawExtractor); ok {
		c.LoadRaw, c.RawExtractor = prep.LoadRaw, rx
		if c.Meta.Decoder != "" {
			c.Meta.Decoder += ", resized on the device"
		}
	}
	if b, ok := ex.(interface{ Batch() int }); ok && b.Batch() > 0 && (c.Batch <= 0 || c.Batch > b.Batch()) {
		c.Batch = b.Batch()
	}
}
