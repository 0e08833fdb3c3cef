package metrics

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

const tol = 1e-6

func near(a, b float64) bool { return math.Abs(a-b) <= tol }

// The hand-computed case: 4 images, 4 tags. Image 2 has no true tag, tag 3
// no positive image; image 1 ties two scores around its only positive;
// image 3 ties all four scores (3 positives) and two true importances.
var (
	casePresence = []uint8{
		1, 0, 1, 0,
		0, 1, 0, 0,
		0, 0, 0, 0,
		1, 1, 1, 0,
	}
	caseImportance = []float32{
		.6, 0, .2, 0,
		0, 1, 0, 0,
		0, 0, 0, 0,
		.4, .8, .4, 0,
	}
	caseProb = []float32{
		.9, .8, .3, .1,
		.6, .6, .55, .7,
		.2, .1, .6, .4,
		.7, .7, .7, .7,
	}
	casePred = []float32{
		.5, .5, .4, 0,
		.2, .25, .1, .3,
		.1, .1, .1, .1,
		.35, .9, .3, .2,
	}
)

func TestEvaluateHandComputed(t *testing.T) {
	r, err := Evaluate(casePresence, caseImportance, caseProb, casePred, 4, 4, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	d2, d3 := 1/math.Log2(3), 0.5 // discounts of ranks 2 and 3
	want := []struct {
		name      string
		got, want float64
	}{
		// AP per image: image 0 hits at ranks 1 and 3: (1 + 2/3)/2; image 1:
		// a negative, then a tied pair holding the positive: 1 · 1/3;
		// image 3: one tie group, 3 of 4 positive: 3/4; image 2 excluded.
		{"map_image", r.MAPImage, (5.0/6 + 1.0/3 + 3.0/4) / 3},
		// AP per tag: tag 0: 1; tag 1: hits at ranks 2, 3: (1/2 + 2/3)/2;
		// tag 2: hits at ranks 1, 4: (1 + 2/4)/2; tag 3 excluded.
		{"map_class", r.MAPClass, (1 + 7.0/12 + 3.0/4) / 3},
		// |Yt∩Yp|/|Yt∪Yp|: 1/3, 1/4, 0/1 (image 2 predicts tag 2), 3/4.
		{"jaccard", r.Jaccard, (1.0/3 + 1.0/4 + 0 + 3.0/4) / 4},
		// Errors over the 6 true tags: .1 .2 | .75 | .05 .1 .1.
		{"mae", r.MAE, 1.3 / 6},
		{"mse", r.MSE, (.01 + .04 + .5625 + .0025 + .01 + .01) / 6},
		// Per tag at θ: correct/predicted/true = 2/3/2, 2/3/2, 1/3/2, 0/2/0.
		{"cp", r.CP, (2.0/3 + 2.0/3 + 1.0/3) / 3},
		{"cr", r.CR, (1 + 1 + 1.0/2) / 3},
		{"cf1", r.CF1, 2.0 / 3},
		{"op", r.OP, 5.0 / 11},
		{"or", r.OR, 5.0 / 6},
		{"of1", r.OF1, 10.0 / 17},
		// Top 3 ≥ θ: image 1 drops tag 2 (4th), image 3 drops tag 3 (tie,
		// higher index): 2/3/2, 2/3/2, 1/2/2, 0/1/0.
		{"cp_top3", r.CPTop3, (2.0/3 + 2.0/3 + 1.0/2) / 3},
		{"cr_top3", r.CRTop3, 5.0 / 6},
		{"cf1_top3", r.CF1Top3, 2 * (11.0 / 18) * (5.0 / 6) / (11.0/18 + 5.0/6)},
		{"op_top3", r.OPTop3, 5.0 / 9},
		{"or_top3", r.ORTop3, 5.0 / 6},
		{"of1_top3", r.OF1Top3, 2.0 / 3},
		// Image 0: ranks agree, ρ = 1; image 3: true ranks (1.5, 3, 1.5),
		// predicted (2, 3, 1): ρ = 1.5/√(1.5·2); images 1, 2 excluded.
		{"spearman", r.Spearman, (1 + 1.5/math.Sqrt(3)) / 2},
		// Image 0: tags 0 (gain .6) and 1 (gain 0) tie at rank 1-2 and share
		// .3 each, tag 2 (.2) at rank 3; image 1: its only gain at rank 2;
		// image 3: ideal order.
		{"ndcg", r.NDCG, ((.3*(1+d2)+.2*d3)/(.6+.2*d2) + d2 + 1) / 3},
	}
	for _, w := range want {
		if !near(w.got, w.want) {
			t.Errorf("%s = %.9f, want %.9f", w.name, w.got, w.want)
		}
	}
	if r.NImages != 4 || r.NTags != 4 || r.Threshold != 0.5 || r.ImagesWithoutTags != 1 || r.TagsWithoutPositives != 1 || r.TrueTags != 6 || r.SpearmanImages != 2 {
		t.Errorf("counts: %+v", r)
	}
}

func TestAveragePrecisionTies(t *testing.T) {
	cases := []struct {
		name   string
		scores []float32
		labels []uint8
		want   float64
	}{
		{"perfect", []float32{.9, .5, .1}, []uint8{1, 1, 0}, 1},
		{"worst", []float32{.9, .5, .1}, []uint8{0, 0, 1}, 1.0 / 3},
		{"tie pair, positive first in index", []float32{.5, .5}, []uint8{1, 0}, 0.5},
		{"tie pair, positive second in index", []float32{.5, .5}, []uint8{0, 1}, 0.5},
		{"all tied", []float32{.3, .3, .3, .3}, []uint8{1, 0, 1, 0}, 0.5},
		{"tie after a hit", []float32{.9, .4, .4, .1}, []uint8{1, 0, 1, 0}, 0.5*1 + 0.5*2.0/3},
		{"all positive", []float32{.1, .2}, []uint8{1, 1}, 1},
		{"negative scores, -0 ties +0", []float32{-1, 0, float32(math.Copysign(0, -1)), 2}, []uint8{0, 1, 0, 1}, 0.5*1 + 0.5*2.0/3},
	}
	for _, c := range cases {
		items := make([]item, len(c.scores))
		if got := averagePrecision(order(items, c.scores), c.labels); !near(got, c.want) {
			t.Errorf("%s: AP = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestOrder(t *testing.T) {
	scores := []float32{.5, -2, .5, 3, float32(math.Copysign(0, -1)), 0, -.5}
	got := order(make([]item, len(scores)), scores)
	want := []int{3, 0, 2, 4, 5, 6, 1}
	for k, it := range got {
		if it.index() != want[k] {
			t.Fatalf("order = %v, want indices %v", got, want)
		}
	}
	if !got[3].sameScore(got[4]) || got[1].sameScore(got[3]) || !got[1].sameScore(got[2]) {
		t.Errorf("tie groups wrong: -0 and +0 must tie, .5 and .5 must tie")
	}
}

func TestRanks(t *testing.T) {
	got := ranks([]float64{.4, .8, .4, .1})
	want := []float64{2.5, 4, 2.5, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ranks = %v, want %v", got, want)
		}
	}
}

// TestEdgeCases checks the documented behaviour at the edges, each on one
// small case.
func TestEdgeCases(t *testing.T) {
	cases := []struct {
		name       string
		presence   []uint8
		importance []float32
		prob, pred []float32
		n, t       int
		check      func(r Report) string
	}{
		{
			name:     "no true and no predicted tag: jaccard 1",
			presence: []uint8{0, 0}, importance: []float32{0, 0},
			prob: []float32{.1, .2}, pred: []float32{.1, .2}, n: 1, t: 2,
			check: func(r Report) string {
				if r.Jaccard != 1 || r.MAPImage != 0 || r.MAPClass != 0 || r.MAE != 0 || r.NDCG != 0 ||
					r.ImagesWithoutTags != 1 || r.TagsWithoutPositives != 2 || r.TrueTags != 0 || r.OP != 0 || r.CP != 0 {
					return "want jaccard 1, empty means 0, all counted"
				}
				return ""
			},
		},
		{
			name:     "constant true importance: image left out of spearman",
			presence: []uint8{1, 1, 0}, importance: []float32{.4, .4, 0},
			prob: []float32{.9, .8, .1}, pred: []float32{.1, .9, .5}, n: 1, t: 3,
			check: func(r Report) string {
				if r.SpearmanImages != 0 || r.Spearman != 0 {
					return "want no spearman image"
				}
				return ""
			},
		},
		{
			name:     "constant predicted importance: spearman 0",
			presence: []uint8{1, 1, 0}, importance: []float32{.4, .8, 0},
			prob: []float32{.9, .8, .1}, pred: []float32{.5, .5, .9}, n: 1, t: 3,
			check: func(r Report) string {
				if r.SpearmanImages != 1 || r.Spearman != 0 {
					return "want one image at 0"
				}
				return ""
			},
		},
		{
			name:     "reversed importance: spearman -1",
			presence: []uint8{1, 1, 1}, importance: []float32{.2, .4, .6},
			prob: []float32{.9, .8, .7}, pred: []float32{.9, .5, .1}, n: 1, t: 3,
			check: func(r Report) string {
				if r.SpearmanImages != 1 || !near(r.Spearman, -1) {
					return "want -1"
				}
				return ""
			},
		},
		{
			name:     "one true tag: no spearman, ndcg from its rank",
			presence: []uint8{0, 1}, importance: []float32{0, .6},
			prob: []float32{.9, .8}, pred: []float32{.7, .6}, n: 1, t: 2,
			check: func(r Report) string {
				if r.SpearmanImages != 0 || !near(r.NDCG, 1/math.Log2(3)) || !near(r.MAE, 0) {
					return "want no spearman, ndcg 1/log2(3), mae 0"
				}
				return ""
			},
		},
		{
			name:     "threshold is inclusive; tag never predicted has precision 0",
			presence: []uint8{1, 1}, importance: []float32{1, 1},
			prob: []float32{.5, .4}, pred: []float32{1, 1}, n: 1, t: 2,
			check: func(r Report) string {
				if !near(r.CP, 0.5) || !near(r.CR, 0.5) || !near(r.OP, 1) || !near(r.OR, 0.5) || !near(r.Jaccard, 0.5) {
					return "want cp .5 cr .5 op 1 or .5 jaccard .5"
				}
				return ""
			},
		},
		{
			name:     "fewer than 3 tags: top-3 takes them all",
			presence: []uint8{1, 0}, importance: []float32{1, 0},
			prob: []float32{.9, .8}, pred: []float32{1, 0}, n: 1, t: 2,
			check: func(r Report) string {
				if r.OPTop3 != r.OP || r.CPTop3 != r.CP || !near(r.OP, 0.5) {
					return "want top-3 equal to plain"
				}
				return ""
			},
		},
	}
	for _, c := range cases {
		r, err := Evaluate(c.presence, c.importance, c.prob, c.pred, c.n, c.t, 0.5)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if msg := c.check(r); msg != "" {
			t.Errorf("%s: %s; got %+v", c.name, msg, r)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	ok := func() ([]uint8, []float32, []float32, []float32) {
		return []uint8{1, 0}, []float32{1, 0}, []float32{.9, .1}, []float32{.8, .1}
	}
	cases := []struct {
		name   string
		modify func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64)
		want   string
	}{
		{"no images", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { *n = 0 }, "at least one image"},
		{"short prob", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { *s = (*s)[:1] }, "prob holds 1 values, want"},
		{"presence 2", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { (*p)[1] = 2 }, "presence of image 0 tag 1 is 2"},
		{"NaN prob", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { (*s)[0] = float32(math.NaN()) }, "probability of image 0 tag 0 is NaN"},
		{"logit prob", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { (*s)[1] = -2.5 }, "probability of image 0 tag 1 is -2.5, outside [0, 1] (values range over [-2.5, 1]); if these are logits, apply a sigmoid"},
		{"importance 1.2", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { (*q)[0] = 1.2 }, "predicted importance of image 0 tag 0 is 1.2, outside [0, 1]"},
		{"true importance -1", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { (*i)[1] = -1 }, "true importance of image 0 tag 1 is -1"},
		{"threshold 0", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { *th = 0 }, "threshold θ = 0 outside (0, 1)"},
		{"threshold 1", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { *th = 1 }, "threshold θ = 1 outside (0, 1)"},
		{"Inf importance", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { (*q)[1] = float32(math.Inf(1)) }, "predicted importance of image 0 tag 1"},
		{"NaN threshold", func(p *[]uint8, i, s, q *[]float32, n, t *int, th *float64) { *th = math.NaN() }, "threshold"},
	}
	for _, c := range cases {
		p, i, s, q := ok()
		n, tags, th := 1, 2, 0.5
		c.modify(&p, &i, &s, &q, &n, &tags, &th)
		_, err := Evaluate(p, i, s, q, n, tags, th)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestReportJSONKeys(t *testing.T) {
	b, err := json.Marshal(Report{Model: "model2"})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	keys := strings.Fields("model n_images n_tags threshold map_image map_class jaccard mae mse cp cr cf1 op or of1 cp_top3 cr_top3 cf1_top3 op_top3 or_top3 of1_top3 spearman ndcg")
	if len(m) != len(keys) {
		t.Errorf("JSON has %d keys, want %d: %s", len(m), len(keys), b)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, b)
		}
	}
}

// TestOrderInvariance: permuting tags (columns) or images (rows) changes
// nothing, which the tie conventions promise.
func TestOrderInvariance(t *testing.T) {
	base, err := Evaluate(casePresence, caseImportance, caseProb, casePred, 4, 4, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	rows := []int{3, 1, 0, 2}
	var p []uint8
	var imp, prob, pred []float32
	for _, i := range rows {
		p = append(p, casePresence[i*4:i*4+4]...)
		imp = append(imp, caseImportance[i*4:i*4+4]...)
		prob = append(prob, caseProb[i*4:i*4+4]...)
		pred = append(pred, casePred[i*4:i*4+4]...)
	}
	got, err := Evaluate(p, imp, prob, pred, 4, 4, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if !near(got.MAPImage, base.MAPImage) || !near(got.MAPClass, base.MAPClass) || !near(got.NDCG, base.NDCG) || !near(got.Spearman, base.Spearman) || !near(got.CF1, base.CF1) || !near(got.OF1Top3, base.OF1Top3) {
		t.Errorf("rows permuted: %+v, want %+v", got, base)
	}
	// Swapping tags 0 and 2 keeps everything but the top-3 tie-break of
	// image 3 (all tied), which prefers lower indices by definition.
	swap := func(x []float32) []float32 {
		y := append([]float32(nil), x...)
		for i := 0; i < 4; i++ {
			y[i*4], y[i*4+2] = y[i*4+2], y[i*4]
		}
		return y
	}
	sp := append([]uint8(nil), casePresence...)
	for i := 0; i < 4; i++ {
		sp[i*4], sp[i*4+2] = sp[i*4+2], sp[i*4]
	}
	got, err = Evaluate(sp, swap(caseImportance), swap(caseProb), swap(casePred), 4, 4, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if !near(got.MAPImage, base.MAPImage) || !near(got.MAPClass, base.MAPClass) || !near(got.NDCG, base.NDCG) || !near(got.Spearman, base.Spearman) || !near(got.Jaccard, base.Jaccard) || !near(got.MAE, base.MAE) {
		t.Errorf("tags swapped: %+v, want %+v", got, base)
	}
}

// BenchmarkEvaluate scores the paper's test split shape: 8,000 images, 116
// tags.
func BenchmarkEvaluate(b *testing.B) {
	const n, t = 8000, 116
	presence := make([]uint8, n*t)
	importance := make([]float32, n*t)
	prob := make([]float32, n*t)
	pred := make([]float32, n*t)
	state := uint32(1)
	rnd := func() float32 {
		state = state*1664525 + 1013904223
		return float32(state>>8) / (1 << 24)
	}
	for i := range presence {
		if rnd() < 0.05 {
			presence[i] = 1
			importance[i] = float32(1+int(rnd()*5)) / 5
		}
		prob[i] = rnd()
		pred[i] = rnd()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Evaluate(presence, importance, prob, pred, n, t, 0.5); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPerfectPredictions: predicting the labels themselves scores 1 on
// every ranking and decision metric and 0 on the errors.
func TestPerfectPredictions(t *testing.T) {
	prob := make([]float32, len(casePresence))
	for i, p := range casePresence {
		prob[i] = float32(p)
	}
	r, err := Evaluate(casePresence, caseImportance, prob, caseImportance, 4, 4, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name      string
		got, want float64
	}{
		{"map_image", r.MAPImage, 1}, {"map_class", r.MAPClass, 1}, {"jaccard", r.Jaccard, 1},
		{"mae", r.MAE, 0}, {"mse", r.MSE, 0}, {"cp", r.CP, 1}, {"cr", r.CR, 1}, {"op", r.OP, 1}, {"or", r.OR, 1},
		{"spearman", r.Spearman, 1}, {"ndcg", r.NDCG, 1},
	} {
		if !near(m.got, m.want) {
			t.Errorf("%s = %v, want %v", m.name, m.got, m.want)
		}
	}
}

// TestChooseThresholds checks the θ choice on a case worked by hand: image
// 0 holds tag 0 (prob .3, tag 1 at .2), image 1 holds tag 1 (.25, tag 0 at
// .1). Only θ = .25 separates both images (mean Jaccard 1); per tag, tag 0
// is separated by any θ in (.1, .3] (.30 is nearest 0.5) and tag 1 only by
// .25 on the grid.
func TestChooseThresholds(t *testing.T) {
	presence := []uint8{1, 0, 0, 1}
	prob := []float32{.3, .2, .1, .25}
	th, j, err := ChooseThreshold(presence, prob, 2, 2)
	if err != nil || math.Abs(th-0.25) > 1e-9 || j != 1 {
		t.Errorf("ChooseThreshold = %v, %v, %v; want 0.25, 1", th, j, err)
	}
	per, err := ChooseTagThresholds(presence, prob, 2, 2, 0.5)
	if err != nil || len(per) != 2 || math.Abs(per[0]-0.3) > 1e-9 || math.Abs(per[1]-0.25) > 1e-9 {
		t.Errorf("ChooseTagThresholds = %v, %v; want [0.3 0.25]", per, err)
	}
	// A tag without positives keeps the fallback.
	per, _ = ChooseTagThresholds([]uint8{1, 0, 1, 0}, prob, 2, 2, 0.4)
	if per[1] != 0.4 {
		t.Errorf("tag without positives: θ %v, want the fallback 0.4", per[1])
	}
	// Per-tag θs drive the decisions: at θ = (.3, .25) both images are right.
	rep, err := EvaluateTagThresholds(presence, []float32{1, 0, 0, 1}, prob, []float32{1, 0, 0, 1}, 2, 2, 0.5, []float64{0.3, 0.25})
	if err != nil || rep.Jaccard != 1 || len(rep.Thresholds) != 2 {
		t.Errorf("EvaluateTagThresholds: Jaccard %v thresholds %v, %v", rep.Jaccard, rep.Thresholds, err)
	}
	if rep, _ := Evaluate(presence, []float32{1, 0, 0, 1}, prob, []float32{1, 0, 0, 1}, 2, 2, 0.5); rep.Jaccard != 0 {
		t.Errorf("at θ 0.5 nothing is predicted: Jaccard %v, want 0", rep.Jaccard)
	}
}
