package metrics

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tagimp/data/npy"
)

func TestPredictionsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pred.npz")
	p := &Predictions{IDs: []int64{7, 3}, Tags: 2, Prob: []float32{.1, .2, .3, .4}, Importance: []float32{.5, .6, .7, .8}}
	if err := WritePredictions(path, p); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPredictions(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.IDs, p.IDs) || got.Tags != 2 || !slices.Equal(got.Prob, p.Prob) || !slices.Equal(got.Importance, p.Importance) {
		t.Errorf("read %+v, wrote %+v", got, p)
	}
	if err := WritePredictions(path, &Predictions{IDs: []int64{1}, Tags: 2, Prob: []float32{1}}); err == nil {
		t.Error("wrote predictions with too few values")
	}
}

func TestReadPredictionsErrors(t *testing.T) {
	dir := t.TempDir()
	ids := npy.NamedArray{Name: "ids", Array: npy.I64([]int64{1, 2}, 2)}
	prob := npy.NamedArray{Name: "prob", Array: npy.F32(make([]float32, 6), 2, 3)}
	imp := npy.NamedArray{Name: "importance", Array: npy.F32(make([]float32, 6), 2, 3)}
	cases := []struct {
		name   string
		arrays []npy.NamedArray
		want   string
	}{
		{"no prob", []npy.NamedArray{ids, imp}, "arrays are [ids importance]"},
		{"ids float", []npy.NamedArray{{Name: "ids", Array: npy.F32([]float32{1, 2}, 2)}, prob, imp}, "ids is <f4"},
		{"prob rows", []npy.NamedArray{{Name: "ids", Array: npy.I64([]int64{1}, 1)}, prob, imp}, "prob is <f4 [2 3] for 1 ids"},
		{"importance shape", []npy.NamedArray{ids, prob, {Name: "importance", Array: npy.F32(make([]float32, 4), 2, 2)}}, "importance is <f4 [2 2]"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".npz")
		if err := npy.WriteNPZ(path, c.arrays...); err != nil {
			t.Fatal(err)
		}
		_, err := ReadPredictions(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", c.name, err, path, c.want)
		}
	}
}

func TestJoin(t *testing.T) {
	labelIDs := []int64{10, 11, 12}
	presence := []uint8{1, 0, 0, 1, 1, 1}
	importance := []float32{.2, 0, 0, .4, .6, .8}
	p := &Predictions{IDs: []int64{12, 99, 10}, Tags: 2,
		Prob:       []float32{.9, .8, .5, .5, .7, .1},
		Importance: []float32{.3, .2, .5, .5, .1, .0}}
	j, err := Join(labelIDs, presence, importance, 2, p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(j.IDs, []int64{12, 10}) || !slices.Equal(j.PredOnly, []int64{99}) || !slices.Equal(j.LabelsOnly, []int64{11}) {
		t.Errorf("ids %v pred-only %v labels-only %v", j.IDs, j.PredOnly, j.LabelsOnly)
	}
	if !slices.Equal(j.Presence, []uint8{1, 1, 1, 0}) || !slices.Equal(j.Importance, []float32{.6, .8, .2, 0}) ||
		!slices.Equal(j.Prob, []float32{.9, .8, .7, .1}) || !slices.Equal(j.PredImportance, []float32{.3, .2, .1, 0}) {
		t.Errorf("rows not aligned: %+v", j)
	}
	r, err := j.Evaluate(0.5)
	if err != nil || r.NImages != 2 || r.TrueTags != 3 {
		t.Errorf("evaluate: %+v, %v", r, err)
	}

	errCases := []struct {
		name string
		p    *Predictions
		want string
	}{
		{"tags", &Predictions{IDs: []int64{10}, Tags: 3, Prob: make([]float32, 3), Importance: make([]float32, 3)}, "3 tags, the labels 2"},
		{"repeated id", &Predictions{IDs: []int64{10, 10}, Tags: 2, Prob: make([]float32, 4), Importance: make([]float32, 4)}, "image id 10 twice"},
		{"no common id", &Predictions{IDs: []int64{1, 2}, Tags: 2, Prob: make([]float32, 4), Importance: make([]float32, 4)}, "no image id in common: labels have 3 images (10, 11, 12), predictions 2 (1, 2)"},
	}
	for _, c := range errCases {
		if _, err := Join(labelIDs, presence, importance, 2, c.p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestFirstIDs(t *testing.T) {
	for _, c := range []struct {
		ids  []int64
		k    int
		want string
	}{
		{nil, 2, "none"},
		{[]int64{4}, 2, "4"},
		{[]int64{1, 2, 3}, 3, "1, 2, 3"},
		{[]int64{1, 2, 3, 4}, 2, "1, 2, … (4 in all)"},
	} {
		if got := FirstIDs(c.ids, c.k); got != c.want {
			t.Errorf("FirstIDs(%v, %d) = %q, want %q", c.ids, c.k, got, c.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	a := Report{Model: "baseline", NImages: 8, NTags: 3, Threshold: 0.5, MAPImage: 0.5086, MAE: 0.2778, CP: .1, CR: .2, CF1: .3}
	m := Report{Model: "model2", NImages: 8, NTags: 3, Threshold: 0.5, MAPImage: 0.566, MAE: 0.2143, ImagesWithoutTags: 2}
	if err := WriteTable(&b, a, m); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(tableRows)+1 {
		t.Errorf("%d lines, want %d:\n%s", len(lines), len(tableRows)+1, out)
	}
	for _, want := range []string{"baseline", "model2", "0.5086", "0.5660", "0.2778", "0.2143", "0.1000 / 0.2000 / 0.3000"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Columns line up: "model2" starts at the same column in the header as
	// its values do below.
	col := strings.Index(lines[0], "model2")
	if !strings.HasPrefix(lines[5][col:], "0.5660") {
		t.Errorf("columns misaligned:\n%s", out)
	}
}

// numpy's default dtypes are accepted: float64 scores are converted, int32
// ids widened, and 0/1 integer or bool arrays taken as hard outputs.
func TestReadPredictionsConverts(t *testing.T) {
	dir := t.TempDir()
	ids32 := npy.NamedArray{Name: "ids", Array: &npy.Array{Dtype: npy.Int32, Shape: []int{2}, I32: []int32{7, 3}}}
	f64 := func(name string, v ...float64) npy.NamedArray {
		return npy.NamedArray{Name: name, Array: npy.F64(v, 2, 2)}
	}
	cases := []struct {
		name    string
		arrays  []npy.NamedArray
		prob    []float32
		imp     []float32
		wantErr string
	}{
		{"float64", []npy.NamedArray{ids32, f64("prob", .1, .2, .3, .4), f64("importance", .5, .6, .7, .8)},
			[]float32{.1, .2, .3, .4}, []float32{.5, .6, .7, .8}, ""},
		{"bool prob", []npy.NamedArray{ids32, {Name: "prob", Array: npy.U8([]uint8{1, 0, 0, 1}, 2, 2)}, f64("importance", .5, .6, .7, .8)},
			[]float32{1, 0, 0, 1}, []float32{.5, .6, .7, .8}, ""},
		{"int64 importance", []npy.NamedArray{ids32, f64("prob", .1, .2, .3, .4), {Name: "importance", Array: npy.I64([]int64{0, 1, 1, 0}, 2, 2)}},
			[]float32{.1, .2, .3, .4}, []float32{0, 1, 1, 0}, ""},
		{"int counts", []npy.NamedArray{ids32, {Name: "prob", Array: npy.I64([]int64{0, 1, 2, 0}, 2, 2)}, f64("importance", .5, .6, .7, .8)},
			nil, nil, "prob: <i8 value 2 at flat index 2"},
	}
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".npz")
		if err := npy.WriteNPZ(path, c.arrays...); err != nil {
			t.Fatal(err)
		}
		p, err := ReadPredictions(path)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%s: error %v, want one saying %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(p.IDs, []int64{7, 3}) || p.Tags != 2 || !slices.Equal(p.Prob, c.prob) || !slices.Equal(p.Importance, c.imp) {
			t.Errorf("%s: read %+v", c.name, p)
		}
	}
}
