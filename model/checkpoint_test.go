package model_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tagimp/data/features"
	"tagimp/data/npy"
	"tagimp/model"
)

var errKilled = errors.New("killed")

// sameParams fails unless a and b hold the same parameter values.
func sameParams(t *testing.T, what string, a, b *model.Params) {
	t.Helper()
	for i, ta := range a.Tensors {
		if !slices.Equal(ta.Data, b.Tensors[i].Data) {
			t.Fatalf("%s: %s differs", what, ta.Name)
		}
	}
}

// TestSaveCrashPoints kills the save of epoch 2 after each of its stages
// and checks that the run folder still loads (epoch 1 before the commit,
// epoch 2 after it), that <model>.npz is the parameters of a committed
// epoch, and that rerunning the command finishes the run exactly as an
// uninterrupted one.
func TestSaveCrashPoints(t *testing.T) {
	straight := t.TempDir()
	if _, err := model.Train(smallRun(t, straight, model.Model1, 3)); err != nil {
		t.Fatal(err)
	}
	_, want, err := model.LoadCheckpoint(straight, model.Model1, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stage string
		epoch int // epoch loaded after the crash
	}{{"params", 1}, {"opt", 1}, {"meta", 2}, {"published", 2}, {"cleaned", 2}} {
		t.Run(tc.stage, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := model.Train(smallRun(t, dir, model.Model1, 1)); err != nil {
				t.Fatal(err)
			}
			_, e1, err := model.LoadCheckpoint(dir, model.Model1, false)
			if err != nil {
				t.Fatal(err)
			}
			restore := model.SetSaveFaultForTest(func(stage string) error {
				if stage == tc.stage {
					return errKilled
				}
				return nil
			})
			_, err = model.Train(smallRun(t, dir, model.Model1, 3))
			restore()
			if !errors.Is(err, errKilled) {
				t.Fatalf("the save was not interrupted: %v", err)
			}
			m, st, err := model.LoadCheckpoint(dir, model.Model1, true)
			if err != nil {
				t.Fatalf("after a crash at %s: %v", tc.stage, err)
			}
			if m.Epoch != tc.epoch {
				t.Errorf("after a crash at %s: epoch %d loaded, want %d", tc.stage, m.Epoch, tc.epoch)
			}
			// <model>.npz holds epoch 1 or the committed epoch, never an
			// uncommitted one.
			arrays, err := npy.ReadNPZ(filepath.Join(dir, "model1.npz"))
			if err != nil {
				t.Fatal(err)
			}
			got := arrays["fc1.weight"].F32
			if !slices.Equal(got, st.Params.Get("fc1.weight").Data) && !slices.Equal(got, e1.Params.Get("fc1.weight").Data) {
				t.Error("model1.npz holds parameters of no committed epoch")
			}
			if tc.epoch == 1 && !slices.Equal(got, e1.Params.Get("fc1.weight").Data) {
				t.Error("model1.npz changed before the commit")
			}
			m, err = model.Train(smallRun(t, dir, model.Model1, 3))
			if err != nil {
				t.Fatalf("rerun after a crash at %s: %v", tc.stage, err)
			}
			if m.Epoch != 3 || len(m.History) != 3 {
				t.Fatalf("rerun: epoch %d, %d history rows", m.Epoch, len(m.History))
			}
			_, st, err = model.LoadCheckpoint(dir, model.Model1, true)
			if err != nil {
				t.Fatal(err)
			}
			if st.Step != want.Step {
				t.Fatalf("step %d after the rerun, %d straight", st.Step, want.Step)
			}
			sameParams(t, "rerun vs straight", want.Params, st.Params)
			sameParams(t, "rerun optimizer m", want.M, st.M)
			arrays, err = npy.ReadNPZ(filepath.Join(dir, "model1.npz"))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(arrays["fc1.weight"].F32, want.Params.Get("fc1.weight").Data) {
				t.Error("model1.npz is not the final parameters")
			}
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			wantNames := []string{".tagimp.lock", "model1-history.csv", "model1.e0003.npz", "model1.e0003.opt.npz", "model1.json", "model1.npz"}
			if !slices.Equal(names, wantNames) {
				t.Errorf("run folder holds %q, want %q", names, wantNames)
			}
		})
	}
}

// TestRerunFinishesLastSave: a kill after the last epoch's commit leaves the
// superseded epoch files; the rerun finds the run finished and must still
// delete them, so that the folder equals an uninterrupted run's (found by
// TestFaultInjectionTrain).
func TestRerunFinishesLastSave(t *testing.T) {
	for _, stage := range []string{"meta", "published"} {
		t.Run(stage, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := model.Train(smallRun(t, dir, model.Model1, 1)); err != nil {
				t.Fatal(err)
			}
			restore := model.SetSaveFaultForTest(func(s string) error {
				if s == stage {
					return errKilled
				}
				return nil
			})
			_, err := model.Train(smallRun(t, dir, model.Model1, 2))
			restore()
			if !errors.Is(err, errKilled) {
				t.Fatalf("the save was not interrupted: %v", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "model1.e0001.npz")); err != nil {
				t.Fatalf("the interrupted save should have left epoch 1's files: %v", err)
			}
			m, err := model.Train(smallRun(t, dir, model.Model1, 2))
			if err != nil {
				t.Fatal(err)
			}
			if m.Epoch != 2 {
				t.Fatalf("rerun: epoch %d, want 2", m.Epoch)
			}
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			want := []string{".tagimp.lock", "model1-history.csv", "model1.e0002.npz", "model1.e0002.opt.npz", "model1.json", "model1.npz"}
			if !slices.Equal(names, want) {
				t.Errorf("run folder holds %q, want %q", names, want)
			}
		})
	}
}

// TestSaveSameEpochTwice: saving a state at the epoch of the committed
// checkpoint must not write over the committed files.
func TestSaveSameEpochTwice(t *testing.T) {
	dir := t.TempDir()
	c := model.DefaultConfig(model.Baseline)
	c.D, c.H, c.T, c.E, c.H2 = 4, 3, 2, 0, 0
	tags := []string{"a", "b"}
	first := model.NewState(c)
	if err := model.SaveCheckpoint(dir, &model.Meta{Config: c, Tags: tags}, first); err != nil {
		t.Fatal(err)
	}
	second := model.NewState(c)
	second.Params.Tensors[0].Data[0] = 42
	second.Step = 1
	restore := model.SetSaveFaultForTest(func(stage string) error {
		if stage == "opt" {
			return errKilled
		}
		return nil
	})
	err := model.SaveCheckpoint(dir, &model.Meta{Config: c, Tags: tags}, second)
	restore()
	if !errors.Is(err, errKilled) {
		t.Fatal(err)
	}
	_, st, err := model.LoadCheckpoint(dir, model.Baseline, true)
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, "after an interrupted second save", first.Params, st.Params)
	if err := model.SaveCheckpoint(dir, &model.Meta{Config: c, Tags: tags}, second); err != nil {
		t.Fatal(err)
	}
	m, st, err := model.LoadCheckpoint(dir, model.Baseline, true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Params.Tensors[0].Data[0] != 42 || m.Files.Params != "baseline.e0000.1.npz" {
		t.Errorf("second save: %v in %s", st.Params.Tensors[0].Data[0], m.Files.Params)
	}
}

// TestLegacyCheckpoint: a run written in the first format (fixed file
// names, overwritten in place) loads and resumes, and its first new save
// moves it to the current format.
func TestLegacyCheckpoint(t *testing.T) {
	straight, dir := t.TempDir(), t.TempDir()
	if _, err := model.Train(smallRun(t, straight, model.Model2, 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := model.Train(smallRun(t, dir, model.Model2, 1)); err != nil {
		t.Fatal(err)
	}
	// Rewrite dir as the first format wrote it.
	os.Remove(filepath.Join(dir, "model2.npz"))
	if err := os.Rename(filepath.Join(dir, "model2.e0001.npz"), filepath.Join(dir, "model2.npz")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "model2.e0001.opt.npz"), filepath.Join(dir, "model2.opt.npz")); err != nil {
		t.Fatal(err)
	}
	mPath := filepath.Join(dir, "model2.json")
	b, _ := os.ReadFile(mPath)
	s := strings.Replace(string(b), `"format": "tagimp-checkpoint/2"`, `"format": "tagimp-checkpoint/1"`, 1)
	s = strings.Replace(s, `"params": "model2.e0001.npz"`, `"params": ""`, 1)
	s = strings.Replace(s, `"opt": "model2.e0001.opt.npz"`, `"opt": ""`, 1)
	if s == string(b) {
		t.Fatal("could not rewrite the metadata")
	}
	os.WriteFile(mPath, []byte(s), 0o644)
	if m, _, err := model.LoadCheckpoint(dir, model.Model2, true); err != nil || m.Epoch != 1 {
		t.Fatalf("legacy checkpoint: %v", err)
	}
	m, err := model.Train(smallRun(t, dir, model.Model2, 2))
	if err != nil {
		t.Fatal(err)
	}
	if m.Format != model.CheckpointFormat || m.Files.Params != "model2.e0002.npz" {
		t.Errorf("after resuming a legacy run: format %q, files %+v", m.Format, m.Files)
	}
	_, a, _ := model.LoadCheckpoint(straight, model.Model2, true)
	_, r, err := model.LoadCheckpoint(dir, model.Model2, true)
	if err != nil {
		t.Fatal(err)
	}
	sameParams(t, "legacy resumed vs straight", a.Params, r.Params)
	if _, err := os.Stat(filepath.Join(dir, "model2.opt.npz")); !os.IsNotExist(err) {
		t.Errorf("the legacy optimizer file was not removed: %v", err)
	}
}

// TestCheckpointMissingFile: a file the metadata names is missing: a
// one-line error naming it, not "no checkpoint".
func TestCheckpointMissingFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := model.Train(smallRun(t, dir, model.Baseline, 1)); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "baseline.e0001.npz"))
	_, _, err := model.LoadCheckpoint(dir, model.Baseline, false)
	if err == nil || model.IsNotExist(err) || !strings.Contains(err.Error(), "baseline.e0001.npz cannot be read") {
		t.Errorf("missing parameter file: %v", err)
	}
}

func cacheSource(path string) model.FeatureSource {
	return model.NewFeatureSource(path, 24, features.Meta{Backbone: "vgg16-fc7", Weights: "vgg16.pth",
		WeightsSHA256: strings.Repeat("ab", 32), Preprocess: "torchvision", CenterCrop: true, ImageSize: 224})
}

// TestResumeRefusesOtherData: resuming with features computed another way
// or with other training or test images is refused naming what differs;
// a moved cache of the same features is taken and recorded.
func TestResumeRefusesOtherData(t *testing.T) {
	dir := t.TempDir()
	r := smallRun(t, dir, model.Model1, 1)
	r.Source.Features = cacheSource("fc7")
	r.Source.Labels = "labels"
	if _, err := model.Train(r); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "model1.json"))
	for _, tc := range []struct {
		name string
		edit func(r *model.Run)
		want string
	}{
		{"weights", func(r *model.Run) { r.Source.Features.WeightsSHA256 = strings.Repeat("cd", 32) }, "weights SHA-256"},
		{"preprocessing", func(r *model.Run) { r.Source.Features.Preprocess = "caffe" }, `preprocessing "caffe", not "torchvision"`},
		{"center crop", func(r *model.Run) { f := false; r.Source.Features.CenterCrop = &f }, "center crop false, not true"},
		{"image size", func(r *model.Run) { r.Source.Features.ImageSize = 256 }, "image size 256, not 224"},
		{"backbone", func(r *model.Run) { r.Source.Features.Backbone = "resnet" }, "backbone"},
		{"bare npy", func(r *model.Run) { r.Source.Features = model.FeatureSource{Path: "x.npy", Dim: 24} }, "weights SHA-256 none recorded"},
		{"training images", func(r *model.Run) { r.Train.IDs[3] = 99999 }, "other training images (500 now, 500 then"},
		{"test images", func(r *model.Run) { r.Test.IDs[0] = 99999 }, "other test images"},
		{"fewer test images", func(r *model.Run) {
			r.Test = planted(150, r.Config.D, r.Config.T, 2)
			r.Source.NTest = 150
		}, "other test images (150 now, 200 then"},
	} {
		r := smallRun(t, dir, model.Model1, 2)
		r.Source.Features = cacheSource("fc7")
		r.Source.Labels = "labels"
		tc.edit(r)
		_, err := model.Train(r)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "model1.json was trained on other data") ||
			!strings.Contains(err.Error(), "use the original --features fc7 and --labels labels, or train into a new --out") {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error spans lines", tc.name)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "model1.json")); string(after) != string(before) {
		t.Error("a refused resume changed the checkpoint")
	}
	// The same cache, moved and listed in another order: resumed, and the
	// new path recorded.
	r = smallRun(t, dir, model.Model1, 2)
	r.Source.Features = cacheSource("moved/fc7")
	r.Source.Labels = "labels"
	r.Test.IDs[0], r.Test.IDs[1] = r.Test.IDs[1], r.Test.IDs[0]
	m, err := model.Train(r)
	if err != nil {
		t.Fatal(err)
	}
	if m.Epoch != 2 || m.Data.Features.Path != "moved/fc7" || m.Data.TrainIDsSHA256 != model.IDsSHA256(r.Train.IDs) {
		t.Errorf("resumed run records %+v at epoch %d", m.Data, m.Epoch)
	}
}

// TestResumeBareNPY: features without provenance must be the same file.
func TestResumeBareNPY(t *testing.T) {
	dir := t.TempDir()
	r := smallRun(t, dir, model.Baseline, 1)
	r.Source.Features = model.FeatureSource{Path: "a/fc7.npy", Dim: 24}
	if _, err := model.Train(r); err != nil {
		t.Fatal(err)
	}
	r = smallRun(t, dir, model.Baseline, 2)
	r.Source.Features = model.FeatureSource{Path: "b/fc7.npy", Dim: 24}
	if _, err := model.Train(r); err == nil || !strings.Contains(err.Error(), "features b/fc7.npy, not a/fc7.npy") {
		t.Errorf("another bare .npy: %v", err)
	}
	r.Source.Features.Path = "a/./fc7.npy"
	if _, err := model.Train(r); err != nil {
		t.Errorf("the same bare .npy: %v", err)
	}
}

func TestFeatureSource(t *testing.T) {
	a := cacheSource("fc7")
	if a.CenterCrop == nil || !*a.CenterCrop || a.Weights != "vgg16.pth" {
		t.Fatalf("NewFeatureSource: %+v", a)
	}
	if d := a.Mismatch(cacheSource("elsewhere")); len(d) != 0 {
		t.Errorf("same features elsewhere: %q", d)
	}
	b := a
	b.CenterCrop = nil // not recorded: not compared
	b.Dim = 4096
	if d := a.Mismatch(b); len(d) != 1 || d[0] != "width 4096, not 24" {
		t.Errorf("width: %q", d)
	}
	if bare := model.NewFeatureSource("x.npy", 24, features.Meta{}); bare.HasProvenance() || bare.CenterCrop != nil {
		t.Errorf("bare .npy: %+v", bare)
	}
	if model.IDsSHA256([]int64{3, 1, 2}) != model.IDsSHA256([]int64{1, 2, 3}) || model.IDsSHA256([]int64{1, 2}) == model.IDsSHA256([]int64{1, 3}) {
		t.Error("IDsSHA256 depends on order or ignores ids")
	}
}

// TestPublishedParamsAreACopy: writing over <model>.npz in place (as
// numpy.savez does) leaves the committed checkpoint intact.
func TestPublishedParamsAreACopy(t *testing.T) {
	dir := t.TempDir()
	if _, err := model.Train(smallRun(t, dir, model.Baseline, 1)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "baseline.npz"), []byte("user data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := model.LoadCheckpoint(dir, model.Baseline, true); err != nil {
		t.Errorf("after baseline.npz was overwritten: %v", err)
	}
}

// TestCheckpointBitRot: a byte changed in place in a saved parameter or
// optimizer file is refused on load and on resume, naming the file;
// SkipChecksum loads it anyway.
func TestCheckpointBitRot(t *testing.T) {
	dir := t.TempDir()
	m, err := model.Train(smallRun(t, dir, model.Model1, 1))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files.ParamsSHA256) != 64 || len(m.Files.OptSHA256) != 64 {
		t.Fatalf("files recorded without SHA-256: %+v", m.Files)
	}
	flip := func(name string) (restore func()) {
		p := filepath.Join(dir, name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		orig := slices.Clone(b)
		b[len(b)/2] ^= 0x01 // inside the data of a float32 array
		os.WriteFile(p, b, 0o644)
		return func() { os.WriteFile(p, orig, 0o644) }
	}
	restore := flip(m.Files.Params)
	_, _, err = model.LoadCheckpoint(dir, model.Model1, false)
	if err == nil || !strings.Contains(err.Error(), m.Files.Params+" has SHA-256") || !strings.Contains(err.Error(), "--skip-checksum") {
		t.Errorf("changed parameters: %v", err)
	}
	if _, _, err := model.LoadCheckpointWith(dir, model.Model1, model.LoadOptions{SkipChecksum: true}); err != nil && strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("SkipChecksum still checks: %v", err)
	}
	restore()
	if _, _, err := model.LoadCheckpoint(dir, model.Model1, true); err != nil {
		t.Fatalf("restored: %v", err)
	}
	restore = flip(m.Files.Opt)
	defer restore()
	_, err = model.Train(smallRun(t, dir, model.Model1, 2))
	if err == nil || !strings.Contains(err.Error(), m.Files.Opt+" has SHA-256") {
		t.Errorf("resume over a changed optimizer state: %v", err)
	}
}
