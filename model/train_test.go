package model_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tagimp/data/npy"
	"tagimp/internal/realdata"
	"tagimp/model"
	"tagimp/model/cpu"
	"tagimp/model/metrics"
)

// planted returns a synthetic split with a planted signal: each image has
// 1–3 of t tags with importance in {0.2, …, 1.0}, and its features are
// Σ importance·prototype(tag) + noise, so presence and importance are both
// learnable, and importance is not the same as the probability of presence.
func planted(n, d, t int, seed uint64) *model.Data {
	protos := rand.New(rand.NewPCG(42, 42))
	proto := make([]float32, t*d)
	for i := range proto {
		proto[i] = float32(protos.NormFloat64())
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	data := &model.Data{N: n, D: d, T: t, IDs: make([]int64, n), X: make([]float32, n*d), Presence: make([]uint8, n*t), Importance: make([]float32, n*t)}
	for i := 0; i < n; i++ {
		data.IDs[i] = int64(1000 + i)
		k := 1 + rng.IntN(3)
		for _, j := range rng.Perm(t)[:k] {
			imp := float32(1+rng.IntN(5)) / 5
			data.Presence[i*t+j] = 1
			data.Importance[i*t+j] = imp
			for c := 0; c < d; c++ {
				data.X[i*d+c] += 2 * imp * proto[j*d+c]
			}
		}
		for c := 0; c < d; c++ {
			data.X[i*d+c] += 0.3 * float32(rng.NormFloat64())
		}
	}
	return data
}

func tagVecs(t, e int) []float32 {
	rng := rand.New(rand.NewPCG(9, 9))
	v := make([]float32, t*e)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

func smallRun(t *testing.T, dir string, kind model.Kind, epochs int) *model.Run {
	t.Helper()
	return smallRunTB(t, dir, kind, epochs)
}

// smallRunTB is smallRun for any testing.TB (fuzz targets' seeds).
func smallRunTB(t testing.TB, dir string, kind model.Kind, epochs int) *model.Run {
	t.Helper()
	c := model.DefaultConfig(kind)
	c.D, c.H, c.T, c.E, c.H2 = 24, 64, 6, 5, 64
	c.Epochs, c.LR = epochs, 3e-3
	tags := []string{"dog", "cat", "man", "car", "tree", "ball"}
	return &model.Run{
		Dir: dir, Config: c, Tags: tags, TagVecs: tagVecs(c.T, c.E),
		Train: planted(500, c.D, c.T, 1), Test: planted(200, c.D, c.T, 2),
		Source: model.DataSource{Labels: "synthetic", NTrain: 500, NTest: 200}, Device: "cpu", Factory: cpu.New,
	}
}

// plantedSets is a harder planted task, where importance depends on which
// other tags the image has: each image has 1–3 of t tags, its features are
// Σ 2·prototype(tag) over its tags + N(0, noise²) noise, and the present tag
// with the lowest index is the main object (importance 1.0), the others
// 0.4. With noise 3 the tags are found well but not perfectly (mAP ≈ 0.96),
// the importance needs the whole tag set (which WA hands Model 2), and the
// Baseline's probabilities carry no importance at all.
func plantedSets(n, d, t int, seed uint64, noise float32) *model.Data {
	protos := rand.New(rand.NewPCG(42, 42))
	proto := make([]float32, t*d)
	for i := range proto {
		proto[i] = float32(protos.NormFloat64())
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	data := &model.Data{N: n, D: d, T: t, IDs: make([]int64, n), X: make([]float32, n*d), Presence: make([]uint8, n*t), Importance: make([]float32, n*t)}
	for i := 0; i < n; i++ {
		data.IDs[i] = int64(1000 + i)
		k := 1 + rng.IntN(3)
		set := rng.Perm(t)[:k]
		main := slices.Min(set)
		for _, j := range set {
			data.Presence[i*t+j] = 1
			data.Importance[i*t+j] = 0.4
			if j == main {
				data.Importance[i*t+j] = 1
			}
			for c := 0; c < d; c++ {
				data.X[i*d+c] += 2 * proto[j*d+c]
			}
		}
		for c := 0; c < d; c++ {
			data.X[i*d+c] += noise * float32(rng.NormFloat64())
		}
	}
	return data
}

// TestEndToEnd trains the three models, and Model 2 with all-zero tag
// vectors (a broken WA input), on plantedSets. Model 2's tag vectors are
// one-hot (E = T), so WA names the predicted tag set exactly. The margins
// come from training seeds 1–4 on this data (12 epochs, noise 3):
//
//	             mAP(image)   Jaccard     MAE          MSE
//	Baseline     .955–.963    .779–.801   .254–.262    .119–.124
//	Model 1      .955–.963    .785–.798   .243–.253    .104–.108
//	Model 2      (Model 1's tags)         .215–.228    .089–.097
//	Model 2, WA=0                         .270–.278    .112–.119
//
// so every assertion holds with room on all four; the test runs seed 1.
// (On other draws of the data the WA=0 gap in MAE shrank to 0.011 in one
// of four, so the data seeds are fixed.)
func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	reports := map[string]metrics.Report{}
	for _, name := range []string{"baseline", "model1", "model2", "model2-zero-wa"} {
		kind := model.Kind(name)
		if name == "model2-zero-wa" {
			kind = model.Model2
		}
		r := smallRun(t, filepath.Join(dir, name), kind, 12)
		r.Train = plantedSets(500, r.Config.D, r.Config.T, 1, 3)
		r.Test = plantedSets(200, r.Config.D, r.Config.T, 2, 3)
		if kind == model.Model2 {
			r.Config.E = r.Config.T
			r.TagVecs = make([]float32, r.Config.T*r.Config.T)
			if name == "model2" {
				for j := 0; j < r.Config.T; j++ {
					r.TagVecs[j*r.Config.T+j] = 1
				}
			}
		}
		m, err := model.Train(r)
		if err != nil {
			t.Fatal(err)
		}
		rep := m.Metrics
		reports[name] = rep
		t.Logf("%s: loss %.4f → %.4f, mAP(image) %.3f mAP(class) %.3f Jaccard %.3f MAE %.3f MSE %.3f",
			name, m.History[0].Loss.Total, m.History[len(m.History)-1].Loss.Total, rep.MAPImage, rep.MAPClass, rep.Jaccard, rep.MAE, rep.MSE)
		if len(m.History) != 12 || m.Epoch != 12 {
			t.Errorf("%s: %d history rows, epoch %d, want 12", name, len(m.History), m.Epoch)
		}
		// Chance: 2 of 6 tags true on average → random mAP(image) ≈ 0.5.
		// Below 0.99: the task must not saturate, or the models cannot
		// differ.
		if rep.MAPImage < 0.93 || rep.MAPImage > 0.99 || rep.Jaccard < 0.74 {
			t.Errorf("%s: mAP(image) %.3f, Jaccard %.3f: want mAP in [0.93, 0.99] and Jaccard ≥ 0.74", name, rep.MAPImage, rep.Jaccard)
		}
		if _, err := os.Stat(model.HistoryPath(filepath.Join(dir, name), kind)); err != nil {
			t.Errorf("%s: no history: %v", name, err)
		}
	}
	b, m1, m2, zero := reports["baseline"], reports["model1"], reports["model2"], reports["model2-zero-wa"]
	if m1.MSE > 0.95*b.MSE {
		t.Errorf("Model 1 importance MSE %.4f not 5%% below the Baseline's %.4f", m1.MSE, b.MSE)
	}
	if m2.MAE > b.MAE-0.015 || m2.MAE > m1.MAE-0.01 {
		t.Errorf("Model 2 importance MAE %.4f not below the Baseline's %.4f by 0.015 and Model 1's %.4f by 0.01", m2.MAE, b.MAE, m1.MAE)
	}
	if zero.MAE < m2.MAE+0.025 || zero.MSE < m2.MSE+0.008 {
		t.Errorf("Model 2 with zero tag vectors: MAE %.4f MSE %.4f, want at least 0.025 and 0.008 worse than with them (%.4f, %.4f)", zero.MAE, zero.MSE, m2.MAE, m2.MSE)
	}
}

// TestResume checks that 2 epochs, then 2 more from the checkpoint, give
// the same parameters as 4 epochs straight, and that the checkpoint is
// numpy-readable named float32 arrays.
func TestResume(t *testing.T) {
	straight, split := t.TempDir(), t.TempDir()
	if _, err := model.Train(smallRun(t, straight, model.Model2, 4)); err != nil {
		t.Fatal(err)
	}
	if _, err := model.Train(smallRun(t, split, model.Model2, 2)); err != nil {
		t.Fatal(err)
	}
	m, err := model.Train(smallRun(t, split, model.Model2, 4))
	if err != nil {
		t.Fatal(err)
	}
	if m.Epoch != 4 || len(m.History) != 4 {
		t.Fatalf("resumed run: epoch %d with %d history rows, want 4", m.Epoch, len(m.History))
	}
	_, a, err := model.LoadCheckpoint(straight, model.Model2, true)
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := model.LoadCheckpoint(split, model.Model2, true)
	if err != nil {
		t.Fatal(err)
	}
	if a.Step != b.Step {
		t.Fatalf("steps %d and %d", a.Step, b.Step)
	}
	for i, ta := range a.Params.Tensors {
		for j, v := range ta.Data {
			if b.Params.Tensors[i].Data[j] != v {
				t.Fatalf("%s[%d]: %v straight, %v resumed", ta.Name, j, v, b.Params.Tensors[i].Data[j])
			}
		}
	}
	arrays, err := npy.ReadNPZ(filepath.Join(split, "model2.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if w := arrays["imp2.fc1.weight"]; w == nil || w.Dtype != "<f4" || w.Shape[0] != 64 || w.Shape[1] != 24+5 {
		t.Fatalf("imp2.fc1.weight in the checkpoint: %+v", w)
	}
	// A finished run returns at once; other settings are refused.
	r := smallRun(t, split, model.Model2, 4)
	r.Config.LR = 1
	if _, err := model.Train(r); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("resume with another learning rate: %v", err)
	}
	r = smallRun(t, split, model.Model2, 4)
	r.Tags[0] = "horse"
	if _, err := model.Train(r); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Errorf("resume with another vocabulary: %v", err)
	}
}

// TestNaNStops checks that a diverging run stops naming epoch and batch
// and keeps the last good checkpoint.
func TestNaNStops(t *testing.T) {
	dir := t.TempDir()
	if _, err := model.Train(smallRun(t, dir, model.Model1, 1)); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, "model1.npz"))
	if err != nil {
		t.Fatal(err)
	}
	r := smallRun(t, dir, model.Model1, 3)
	bad := r.Train.X[5*r.Config.D : 6*r.Config.D] // row 5 only: found in some batch of epoch 2
	bad[0] = float32(math.Inf(1))
	_, err = model.Train(r)
	if !errors.Is(err, model.ErrNonFinite) || !strings.Contains(err.Error(), "epoch 2, batch") || !strings.Contains(err.Error(), "(epoch 1)") {
		t.Fatalf("want a NaN/Inf error naming epoch 2 and the kept epoch 1, got %v", err)
	}
	after, err := os.ReadFile(filepath.Join(dir, "model1.npz"))
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("the last good checkpoint was overwritten")
	}
	m, err := model.ReadMeta(dir, model.Model1)
	if err != nil || m.Epoch != 1 {
		t.Errorf("metadata after the failure: %+v, %v", m, err)
	}
}

func TestJoinErrors(t *testing.T) {
	featIDs := []int64{1, 2, 3}
	feat := []float32{1, 1, 2, 2, 3, 3}
	labIDs := []int64{3, 2, 1}
	pres := []uint8{1, 0, 0, 1, 1, 1}
	imp := []float32{1, 0, 0, 0.4, 0.2, 0.6}
	nan := append([]float32(nil), feat...)
	nan[3] = float32(math.NaN())
	for _, tc := range []struct {
		name string
		ids  []int64
		feat []float32
		d    int
		want string
	}{
		{"empty", nil, feat, 2, "split is empty"},
		{"no features", []int64{1, 9}, feat, 2, "have no features (first: 9)"},
		{"twice", []int64{1, 1}, feat, 2, "twice"},
		{"nan", []int64{2}, nan, 2, "features of image 2 hold NaN at column 1"},
		{"width", []int64{1}, feat, 4, "features: 6 values for 3 images of width 4"},
	} {
		_, err := model.Join("test", tc.ids, featIDs, tc.feat, tc.d, labIDs, pres, imp, 2)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	_, err := model.Join("train", []int64{1, 4}, []int64{1, 2, 3, 4}, append(feat, 4, 4), 2, labIDs, pres, imp, 2)
	if err == nil || !strings.Contains(err.Error(), "have no labels (first: 4)") {
		t.Errorf("missing labels: %v", err)
	}
	d, err := model.Join("train", []int64{2, 1}, featIDs, feat, 2, labIDs, pres, imp, 2)
	if err != nil {
		t.Fatal(err)
	}
	if d.X[0] != 2 || d.X[2] != 1 || d.Presence[0] != 0 || d.Presence[1] != 1 || d.Presence[2] != 1 || d.Importance[1] != 0.4 || d.Importance[3] != 0.6 {
		t.Errorf("joined wrongly: %+v", d)
	}
}

// TestTagVecWord2Vec reads tag vectors straight from the real GoogleNews
// word2vec file: known words get unit vectors, an unknown one a zero row
// that is reported.
func TestTagVecWord2Vec(t *testing.T) {
	path := filepath.Join(realdata.Dir(t), "word2vec", "googlenews-top1000.bin")
	vecs, e, missing, err := model.LoadTagVecsForTest(path, []string{"dog", "man", "zzqx"})
	if err != nil {
		t.Fatal(err)
	}
	if e != 300 || len(vecs) != 3*300 {
		t.Fatalf("width %d, %d values", e, len(vecs))
	}
	for i, want := range []float64{1, 1, 0} {
		var ss float64
		for _, v := range vecs[i*e : (i+1)*e] {
			ss += float64(v) * float64(v)
		}
		if math.Abs(math.Sqrt(ss)-want) > 1e-3 {
			t.Errorf("tag %d: norm %v, want %v", i, math.Sqrt(ss), want)
		}
	}
	if len(missing) != 1 || missing[0] != "zzqx" {
		t.Errorf("missing %v, want [zzqx]", missing)
	}
}

// TestNaNFirstEpoch: a run that diverges in its first epoch says that no
// checkpoint exists rather than naming an "epoch 0" one.
func TestNaNFirstEpoch(t *testing.T) {
	dir := t.TempDir()
	r := smallRun(t, dir, model.Model1, 2)
	r.Config.LR = 1e30
	_, err := model.Train(r)
	if !errors.Is(err, model.ErrNonFinite) {
		t.Fatalf("lr 1e30: %v, want a NaN/Inf stop", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "epoch 1, batch") || !strings.Contains(msg, "no epoch had completed, so "+dir+" holds no model1 checkpoint") || strings.Contains(msg, "epoch 0") {
		t.Errorf("message %q", msg)
	}
	if _, err := model.ReadMeta(dir, model.Model1); !model.IsNotExist(err) {
		t.Errorf("a checkpoint exists: %v", err)
	}
}

// TestCheckpointEvery: with CheckpointEvery 2 the checkpoint is written
// after epochs 2 and 3 of 3 (the last is always saved) but not after epoch
// 1, and resuming that run to 5 epochs gives the same model as 5 epochs
// saved after every epoch.
func TestCheckpointEvery(t *testing.T) {
	every1, every2 := t.TempDir(), t.TempDir()
	if _, err := model.Train(smallRun(t, every1, model.Model1, 5)); err != nil {
		t.Fatal(err)
	}
	r := smallRun(t, every2, model.Model1, 3)
	r.CheckpointEvery = 2
	var saved []int
	r.OnEpoch = func(cur *model.Meta) {
		if m, err := model.ReadMeta(every2, model.Model1); err == nil && m.Epoch == cur.Epoch {
			saved = append(saved, cur.Epoch)
		}
	}
	if _, err := model.Train(r); err != nil {
		t.Fatal(err)
	}
	if m, err := model.ReadMeta(every2, model.Model1); err != nil || m.Epoch != 3 {
		t.Fatalf("after 3 epochs saving every 2: %+v, %v (the last epoch must be saved)", m, err)
	}
	if fmt.Sprint(saved) != "[2 3]" {
		t.Fatalf("checkpoints written after epochs %v, want [2 3]", saved)
	}
	r = smallRun(t, every2, model.Model1, 5)
	r.CheckpointEvery = 2
	if _, err := model.Train(r); err != nil {
		t.Fatal(err)
	}
	_, a, err := model.LoadCheckpoint(every1, model.Model1, true)
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := model.LoadCheckpoint(every2, model.Model1, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, ta := range a.Params.Tensors {
		for j, v := range ta.Data {
			if b.Params.Tensors[i].Data[j] != v {
				t.Fatalf("%s[%d]: %v saving every epoch, %v every 2", ta.Name, j, v, b.Params.Tensors[i].Data[j])
			}
		}
	}
}

// TestValidationSplit checks that with a validation split the history is
// scored on it, and that θ chosen on it is recorded and used for the test
// metrics; without one, choosing θ is refused.
func TestValidationSplit(t *testing.T) {
	for _, mode := range []string{model.ChooseGlobal, model.ChoosePerTag} {
		dir := t.TempDir()
		r := smallRun(t, dir, model.Model2, 3)
		r.Val = plantedSets(150, r.Config.D, r.Config.T, 3, 3)
		r.ChooseThreshold = mode
		m, err := model.Train(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range m.History {
			if h.Split != "validation" || h.Val.NImages != 150 {
				t.Errorf("%s: epoch %d scored on %q (%d images), want the 150 validation images", mode, h.Epoch, h.Split, h.Val.NImages)
			}
		}
		th := m.Theta
		if th == nil || th.Mode != mode || th.Images != 150 || th.Epoch != 3 || th.Global < 0.05 || th.Global > 0.95 || th.ValJaccard < th.ValJaccardConfig {
			t.Fatalf("%s: θ choice %+v", mode, th)
		}
		if m.Metrics.Threshold != th.Global || m.Metrics.NImages != r.Test.N {
			t.Errorf("%s: test metrics at θ %g over %d images, want θ %g over the %d test images", mode, m.Metrics.Threshold, m.Metrics.NImages, th.Global, r.Test.N)
		}
		if mode == model.ChoosePerTag && (len(th.PerTag) != r.Config.T || len(m.Metrics.Thresholds) != r.Config.T) {
			t.Errorf("per-tag: θs %v, test metrics at %v", th.PerTag, m.Metrics.Thresholds)
		}
		if m.Data.NVal != 150 || m.Data.ValIDsSHA256 == "" {
			t.Errorf("%s: data source %+v records no validation split", mode, m.Data)
		}
		if !strings.Contains(th.String(), "validation split of 150 images") {
			t.Errorf("%s: %s", mode, th)
		}
		// The recorded choice is kept when the finished run is resumed.
		again, err := model.Train(r)
		if err != nil || again.Theta == nil || again.Theta.Global != th.Global {
			t.Errorf("%s: resume of the finished run: %+v, %v", mode, again.Theta, err)
		}
	}
	r := smallRun(t, t.TempDir(), model.Model1, 1)
	r.ChooseThreshold = model.ChooseGlobal
	if _, err := model.Train(r); err == nil || !strings.Contains(err.Error(), "needs a validation split") {
		t.Errorf("choosing θ without a validation split: %v", err)
	}
	r.ChooseThreshold = "best"
	if _, err := model.Train(r); err == nil || !strings.Contains(err.Error(), `"best"`) {
		t.Errorf("unknown choice: %v", err)
	}
	// Without a validation split the history is the test split's.
	m, err := model.Train(smallRun(t, t.TempDir(), model.Baseline, 1))
	if err != nil || m.History[0].Split != "test" || m.Theta != nil {
		t.Errorf("no validation split: %+v %+v, %v", m.History, m.Theta, err)
	}
}
