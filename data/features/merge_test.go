package features

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"tagimp/data/npy"
)

// byID returns the rows of m keyed by image id.
func byID(m *Matrix) map[int64][]float32 {
	out := map[int64][]float32{}
	for i, id := range m.IDs {
		out[id] = m.Row(i)
	}
	return out
}

func TestSplitAndMerge(t *testing.T) {
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 31))
	whole := t.TempDir()
	build(t, testConfig(whole, imgDir, images, &fakeExtractor{}))
	want, err := Load(whole)
	if err != nil {
		t.Fatal(err)
	}

	// Three machines, each with its own folder.
	var dirs []string
	for k := 0; k < 3; k++ {
		dir := t.TempDir()
		cfg := testConfig(dir, imgDir, images, &fakeExtractor{})
		cfg.Shard = Shard{K: k, N: 3}
		sum := build(t, cfg)
		if sum.Images != 10 {
			t.Errorf("part %d/3 has %d images, want 10", k, sum.Images)
		}
		if _, err := os.Stat(filepath.Join(dir, "manifest-"+string(rune('0'+k))+"of3.json")); err != nil {
			t.Errorf("part manifest: %v", err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "features merge") {
			t.Errorf("Load of one part: %v, want advice to merge", err)
		}
		dirs = append(dirs, dir)
	}
	out := filepath.Join(t.TempDir(), "merged")
	ms, err := Merge(out, dirs)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms.Missing) != 0 || !reflect.DeepEqual(ms.Parts, []string{"0/3", "1/3", "2/3"}) {
		t.Errorf("merge summary %+v", ms)
	}
	got, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Meta != want.Meta || !reflect.DeepEqual(byID(got), byID(want)) {
		t.Errorf("merged cache differs from the unsplit one")
	}
	if len(ms.Manifest.Failed) != 3 || ms.Manifest.Images != 30 {
		t.Errorf("merged manifest: %d failed, %d images", len(ms.Manifest.Failed), ms.Manifest.Images)
	}

	// All parts written into one shared folder at the same time, as a job
	// array on a shared file system does, then merged in place.
	shared := t.TempDir()
	errs := make(chan error, 3)
	for k := 0; k < 3; k++ {
		cfg := testConfig(shared, imgDir, images, &fakeExtractor{})
		cfg.Shard = Shard{K: k, N: 3}
		go func() {
			_, err := Build(context.Background(), cfg)
			errs <- err
		}()
	}
	for k := 0; k < 3; k++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Merge(shared, []string{shared}); err != nil {
		t.Fatal(err)
	}
	inPlace, err := Load(shared)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(byID(inPlace), byID(want)) {
		t.Errorf("in-place merge differs from the unsplit cache")
	}

	// A missing part is reported, not hidden.
	partial, err := Merge(t.TempDir(), dirs[:2])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(partial.Missing, []string{"2/3"}) || !strings.Contains(partial.String(), "MISSING parts 2/3") {
		t.Errorf("partial merge: missing %v", partial.Missing)
	}
}

func TestMergeRefuses(t *testing.T) {
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 13))
	part := func(k, n int, mutate func(*Config)) string {
		dir := t.TempDir()
		cfg := testConfig(dir, imgDir, images, &fakeExtractor{})
		cfg.Shard = Shard{K: k, N: n}
		if mutate != nil {
			mutate(&cfg)
		}
		build(t, cfg)
		return dir
	}
	p0, p1 := part(0, 2, nil), part(1, 2, nil)
	otherWeights := part(1, 2, func(c *Config) { c.Meta.WeightsSHA256 = "ffff" })
	otherSplit := part(0, 3, nil) // overlaps 0/2 on ids divisible by 6
	incomplete := part(1, 2, nil)
	man, _ := ReadManifest(filepath.Join(incomplete, "manifest-1of2.json"))
	man.Complete = false
	if err := man.write(filepath.Join(incomplete, "manifest-1of2.json")); err != nil {
		t.Fatal(err)
	}
	damaged := part(1, 2, nil)
	os.WriteFile(filepath.Join(damaged, "fc7-1of2-00000.npy"), []byte("junk"), 0o644)
	occupied := t.TempDir()
	os.WriteFile(filepath.Join(occupied, "manifest.json"), []byte("{}"), 0o644)

	tests := []struct {
		name string
		out  string
		ins  []string
		want string
	}{
		{"different weights", t.TempDir(), []string{p0, otherWeights}, "same weights"},
		{"same part twice", t.TempDir(), []string{p0, p0}, "given twice"},
		{"id twice across splits", t.TempDir(), []string{p0, otherSplit}, "image id 6"},
		{"incomplete part", t.TempDir(), []string{p0, incomplete}, "incomplete"},
		{"damaged shard", t.TempDir(), []string{p0, damaged}, "SHA-256"},
		{"output holds a cache", occupied, []string{p0, p1}, "already exists"},
		{"not a cache", t.TempDir(), []string{imgDir}, "no manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Merge(tc.out, tc.ins)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLoadNPY(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, a *npy.Array) string {
		p := filepath.Join(dir, name)
		if err := npy.WriteFile(p, a); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.npy", npy.F32([]float32{1, 2, 3, 4, 5, 6}, 3, 2))
	write("good.ids.npy", npy.I64([]int64{10, 20, 30}, 3))
	m, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if m.Dim != 2 || !reflect.DeepEqual(m.IDs, []int64{10, 20, 30}) || !reflect.DeepEqual(m.Row(2), []float32{5, 6}) || m.Meta != (Meta{}) {
		t.Errorf("loaded %+v", m)
	}

	nan := write("nan.npy", npy.F32([]float32{1, 2, 3, float32(nanValue()), 5, 6}, 3, 2))
	write("nan.ids.npy", npy.I64([]int64{10, 20, 30}, 3))
	dup := write("dup.npy", npy.F32([]float32{1, 2, 3, 4}, 2, 2))
	write("dup.ids.npy", npy.I64([]int64{10, 10}, 2))
	short := write("short.npy", npy.F32([]float32{1, 2, 3, 4}, 2, 2))
	write("short.ids.npy", npy.I64([]int64{10}, 1))
	noIDs := write("noids.npy", npy.F32([]float32{1, 2}, 1, 2))
	oneD := write("oned.npy", npy.F32([]float32{1, 2}, 2))
	write("oned.ids.npy", npy.I64([]int64{1, 2}, 2))
	ints := write("ints.npy", npy.I64([]int64{1, 2}, 1, 2))
	write("ints.ids.npy", npy.I64([]int64{1}, 1))

	tests := []struct{ path, want string }{
		{nan, "image id 20 has NaN"},
		{dup, "id 10 appears twice"},
		{short, "ids of shape"},
		{noIDs, "noids.ids.npy"},
		{oneD, "want [images, dim]"},
		{ints, "want float32"},
		{filepath.Join(dir, "absent.npy"), "no such file"},
		{filepath.Join(dir, "good.ids.npy.txt"), "no such file"},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			_, err := Load(tc.path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestLoadRejectsNaNInCache(t *testing.T) {
	// A cache whose file was replaced consistently (hash updated) with a
	// NaN row is still refused, naming the id.
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 5))
	out := t.TempDir()
	build(t, testConfig(out, imgDir, images, &fakeExtractor{}))
	mpath := filepath.Join(out, "manifest.json")
	man, _ := ReadManifest(mpath)
	feat := filepath.Join(out, man.Shards[0].Features)
	a, err := npy.ReadFile(feat)
	if err != nil {
		t.Fatal(err)
	}
	a.F32[6] = float32(nanValue()) // row 1 = image id 2
	if err := npy.WriteFile(feat, a); err != nil {
		t.Fatal(err)
	}
	man.Shards[0].FeaturesSHA256, _ = FileSHA256(feat)
	if err := man.write(mpath); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(out); err == nil || !strings.Contains(err.Error(), "image id 2 has NaN") {
		t.Fatalf("Load: %v, want NaN error naming id 2", err)
	}
}

func TestMetaCheck(t *testing.T) {
	have := Meta{Backbone: "vgg16-fc7", Weights: "vgg16-397923af.pth", WeightsSHA256: "397923af", Preprocess: "torchvision", ImageSize: 224}
	tests := []struct {
		name string
		want Meta
		err  string
	}{
		{"same", have, ""},
		{"nothing asked", Meta{}, ""},
		{"only weights asked", Meta{WeightsSHA256: "397923af"}, ""},
		{"other weights", Meta{WeightsSHA256: "64373286", Weights: "keras"}, "weights SHA-256 is 397923af (vgg16-397923af.pth), expected 64373286 (keras)"},
		{"other preprocessing", Meta{Preprocess: "caffe"}, `preprocessing is "torchvision", expected "caffe"`},
		{"center crop", Meta{Preprocess: "torchvision", CenterCrop: true}, "center crop"},
		{"image size", Meta{ImageSize: 256}, "image size is 224"},
		{"backbone", Meta{Backbone: "resnet"}, "backbone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := have.Check(tc.want)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestShardSelection(t *testing.T) {
	var all []int64
	for k := 0; k < 4; k++ {
		s := Shard{K: k, N: 4}
		for id := int64(0); id < 40; id++ {
			if s.Has(id) {
				all = append(all, id)
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if !reflect.DeepEqual(all, ids(0, 40)) {
		t.Errorf("4 parts do not cover ids 0..39 exactly once: %v", all)
	}
	if !(Shard{}).Has(12345) || !(Shard{K: 0, N: 1}).Has(-7) {
		t.Errorf("the whole-set shard must hold every id")
	}
}

func TestParseShard(t *testing.T) {
	tests := []struct {
		in   string
		want Shard
		ok   bool
	}{
		{"0/1", Shard{0, 1}, true},
		{"3/4", Shard{3, 4}, true},
		{" 1 / 2 ", Shard{1, 2}, true},
		{"4/4", Shard{}, false},
		{"-1/4", Shard{}, false},
		{"1/0", Shard{}, false},
		{"1", Shard{}, false},
		{"a/b", Shard{}, false},
	}
	for _, tc := range tests {
		got, err := ParseShard(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseShard(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		count int
		want  Shard
		found bool
		err   string
	}{
		{"nothing", nil, 0, Shard{0, 1}, false, ""},
		{"slurm", map[string]string{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "4"}, 0, Shard{2, 4}, true, ""},
		{"slurm from 1", map[string]string{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "4"}, 0, Shard{3, 4}, true, ""},
		{"slurm with count flag", map[string]string{"SLURM_ARRAY_TASK_ID": "5"}, 8, Shard{5, 8}, true, ""},
		{"slurm without count", map[string]string{"SLURM_ARRAY_TASK_ID": "5"}, 0, Shard{}, true, "--shard-count"},
		{"slurm out of range", map[string]string{"SLURM_ARRAY_TASK_ID": "4", "SLURM_ARRAY_TASK_COUNT": "4"}, 0, Shard{}, true, "out of range"},
		{"slurm bad id", map[string]string{"SLURM_ARRAY_TASK_ID": "x"}, 2, Shard{}, true, "not a number"},
		{"kubernetes", map[string]string{"JOB_COMPLETION_INDEX": "1"}, 3, Shard{1, 3}, true, ""},
		{"kubernetes without count", map[string]string{"JOB_COMPLETION_INDEX": "1"}, 0, Shard{}, true, "--shard-count"},
		{"kubernetes out of range", map[string]string{"JOB_COMPLETION_INDEX": "3"}, 3, Shard{}, true, "not below"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, found, err := ShardFromEnv(func(k string) string { return tc.env[k] }, tc.count)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want || found != tc.found {
				t.Fatalf("got %v found %v err %v, want %v found %v", got, found, err, tc.want, tc.found)
			}
		})
	}
}

func TestBuildCancelled(t *testing.T) {
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, ids(1, 30))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Build(ctx, testConfig(t.TempDir(), imgDir, images, &fakeExtractor{}))
	if err == nil {
		t.Fatal("Build with a cancelled context succeeded")
	}
}

func TestMatchFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"COCO_train2014_000000000009.jpg", "000000000025.JPG", "000000000030.png", "notes.txt", "cover.jpg", "000000000031.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "000000000040.jpg"), 0o755)
	images, missing, err := MatchFiles(dir, []int64{9, 25, 30, 31, 40})
	if err != nil {
		t.Fatal(err)
	}
	want := []Image{{9, "COCO_train2014_000000000009.jpg"}, {25, "000000000025.JPG"}, {30, "000000000030.png"}, {31, ""}, {40, ""}}
	if !reflect.DeepEqual(images, want) || missing != 2 {
		t.Errorf("MatchFiles = %v, %d missing; want %v, 2", images, missing, want)
	}
	os.WriteFile(filepath.Join(dir, "000000000009.png"), nil, 0o644)
	if _, _, err := MatchFiles(dir, []int64{9}); err == nil || !strings.Contains(err.Error(), "both name image 9") {
		t.Errorf("duplicate: %v", err)
	}
	if _, _, err := MatchFiles(filepath.Join(dir, "absent"), []int64{9}); err == nil {
		t.Errorf("missing folder: no error")
	}
}

func TestBuildImageWithoutFile(t *testing.T) {
	imgDir := t.TempDir()
	images := writeImages(t, imgDir, []int64{1, 2})
	images = append(images, Image{ID: 40})
	sum := build(t, testConfig(t.TempDir(), imgDir, images, &fakeExtractor{}))
	if sum.Rows != 2 || len(sum.Manifest.Failed) != 1 || !strings.Contains(sum.Manifest.Failed[0].Reason, "no file for image id 40") {
		t.Errorf("summary %+v, failed %+v", sum, sum.Manifest.Failed)
	}
}
