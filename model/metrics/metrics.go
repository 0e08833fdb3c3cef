package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// Report holds every metric of one model on one evaluation set. The JSON
// keys are the ones the eval and metrics commands write; the count fields
// after NDCG say which images and tags the averages cover and are not part
// of the JSON.
type Report struct {
	Model     string  `json:"model"`
	NImages   int     `json:"n_images"`
	NTags     int     `json:"n_tags"`
	Threshold float64 `json:"threshold"`
	// Thresholds, when set, are per-tag θs (chosen on a validation split)
	// used instead of Threshold for the decisions; Threshold then holds
	// the global θ used for Model 2's WA.
	Thresholds []float64 `json:"thresholds,omitempty"`
	MAPImage   float64   `json:"map_image"`
	MAPClass   float64   `json:"map_class"`
	Jaccard    float64   `json:"jaccard"`
	MAE        float64   `json:"mae"`
	MSE        float64   `json:"mse"`
	CP         float64   `json:"cp"`
	CR         float64   `json:"cr"`
	CF1        float64   `json:"cf1"`
	OP         float64   `json:"op"`
	OR         float64   `json:"or"`
	OF1        float64   `json:"of1"`
	CPTop3     float64   `json:"cp_top3"`
	CRTop3     float64   `json:"cr_top3"`
	CF1Top3    float64   `json:"cf1_top3"`
	OPTop3     float64   `json:"op_top3"`
	ORTop3     float64   `json:"or_top3"`
	OF1Top3    float64   `json:"of1_top3"`
	Spearman   float64   `json:"spearman"`
	NDCG       float64   `json:"ndcg"`

	// ImagesWithoutTags counts images with no true tag, left out of
	// map_image and ndcg.
	ImagesWithoutTags int `json:"-"`
	// TagsWithoutPositives counts tags with no positive image, left out of
	// map_class, cp and cr (and their top-3 variants).
	TagsWithoutPositives int `json:"-"`
	// TrueTags counts the (image, tag) pairs with presence 1: the pairs
	// behind mae and mse.
	TrueTags int `json:"-"`
	// SpearmanImages counts the images averaged into spearman.
	SpearmanImages int `json:"-"`
}

// TopK is the k of the top-k metrics (cp_top3 …).
const TopK = 3

// Evaluate scores predictions for n images and t tags. presence (0 or 1)
// and importance are the labels; prob are the predicted tag probabilities
// in [0, 1] and predImportance the predicted importances;
// all are n×t row-major. threshold is θ, in (0, 1): the paper does not
// state its θ; 0.5, the default of train, eval and metrics, is our choice.
// Probabilities and importances must lie in [0, 1] (logits are refused,
// with the advice to apply a sigmoid). The package documentation defines
// each metric. Report.Model is left empty for the caller to set.
func Evaluate(presence []uint8, importance []float32, prob []float32, predImportance []float32, n, t int, threshold float64) (Report, error) {
	return evaluateNamed(presence, importance, prob, predImportance, n, t, threshold, nil, nil)
}

// evaluateNamed is Evaluate with errors naming images by ids and tags by
// tags (by row and column index where nil).
func evaluateNamed(presence []uint8, importance []float32, prob []float32, predImportance []float32, n, t int, threshold float64, ids []int64, tags []string) (Report, error) {
	return evaluate(presence, importance, prob, predImportance, n, t, threshold, nil, ids, tags)
}

// EvaluateTagThresholds is Evaluate with one θ per tag (thresholds, T
// values in (0, 1)) for the decisions: Jaccard, CP … OF1 and top-3.
// threshold is recorded as the global θ (the one Model 2's WA used).
func EvaluateTagThresholds(presence []uint8, importance []float32, prob []float32, predImportance []float32, n, t int, threshold float64, thresholds []float64) (Report, error) {
	if len(thresholds) != t {
		return Report{}, fmt.Errorf("metrics: %d per-tag thresholds for %d tags", len(thresholds), t)
	}
	for j, th := range thresholds {
		if err := CheckThreshold(th); err != nil {
			return Report{}, fmt.Errorf("metrics: tag %d: %w", j, err)
		}
	}
	return evaluate(presence, importance, prob, predImportance, n, t, threshold, thresholds, nil, nil)
}

func evaluate(presence []uint8, importance []float32, prob []float32, predImportance []float32, n, t int, threshold float64, thetas []float64, ids []int64, tags []string) (Report, error) {
	if err := check(presence, importance, prob, predImportance, n, t, threshold, cellNamer(ids, tags, t)); err != nil {
		return Report{}, err
	}
	r := Report{NImages: n, NTags: t, Threshold: threshold, Thresholds: thetas}
	e := evaluator{presence: presence, importance: importance, prob: prob, pred: predImportance, n: n, t: t, theta: threshold, thetas: thetas}
	e.ranking(&r)
	e.decisions(&r)
	e.importanceErrors(&r)
	return r, nil
}

// cellNamer returns a function naming the cell at flat index k: "image
// 139 tag \"dog\"" with ids and tags, "image 0 tag 3" (row and column)
// without.
func cellNamer(ids []int64, tags []string, t int) func(k int) string {
	return func(k int) string {
		img := fmt.Sprintf("image %d", k/t)
		if ids != nil {
			img = fmt.Sprintf("image %d", ids[k/t])
		}
		if tags != nil {
			return fmt.Sprintf("%s tag %q", img, tags[k%t])
		}
		return fmt.Sprintf("%s tag %d", img, k%t)
	}
}

// CheckThreshold reports a θ outside (0, 1): with θ ≤ 0 every tag is
// predicted, with θ ≥ 1 none (a sigmoid never reaches 1 in float32 short
// of saturation).
func CheckThreshold(threshold float64) error {
	if !(threshold > 0 && threshold < 1) {
		return fmt.Errorf("threshold θ = %v outside (0, 1)", threshold)
	}
	return nil
}

// check validates shapes and values.
func check(presence []uint8, importance, prob, pred []float32, n, t int, threshold float64, name func(k int) string) error {
	if n <= 0 || t <= 0 {
		return fmt.Errorf("metrics: need at least one image and one tag, have %d images and %d tags", n, t)
	}
	want := n * t
	for _, s := range []struct {
		name string
		len  int
	}{{"presence", len(presence)}, {"importance", len(importance)}, {"prob", len(prob)}, {"predicted importance", len(pred)}} {
		if s.len != want {
			return fmt.Errorf("metrics: %s holds %d values, want %d images × %d tags = %d", s.name, s.len, n, t, want)
		}
	}
	if err := CheckThreshold(threshold); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	for i, p := range presence {
		if p > 1 {
			return fmt.Errorf("metrics: presence of %s is %d, want 0 or 1", name(i), p)
		}
	}
	for _, s := range []struct {
		name string
		v    []float32
	}{{"true importance", importance}, {"probability", prob}, {"predicted importance", pred}} {
		lo, hi := float32(0), float32(1)
		for i, v := range s.v {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("metrics: %s of %s is %v", s.name, name(i), v)
			}
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo < 0 || hi > 1 {
			for i, v := range s.v {
				if v < 0 || v > 1 {
					return fmt.Errorf("metrics: %s of %s is %g, outside [0, 1] (values range over [%g, %g]); if these are logits, apply a sigmoid, 1/(1+exp(-x)), before scoring", s.name, name(i), v, lo, hi)
				}
			}
		}
	}
	return nil
}

type evaluator struct {
	presence   []uint8
	importance []float32
	prob, pred []float32
	n, t       int
	theta      float64
	thetas     []float64 // per-tag θ, or nil
	items      []item    // scratch for orderings
	gains      []float64 // scratch for ndcg
	discount   []float64 // discount[k] = 1/log2(k+2), rank k+1
}

// item is one entry of a ranking packed for a fast sort: the high 32 bits
// order scores descending (equal scores, -0 and +0 included, give equal
// high bits), the low 32 bits hold the index, so ties sort by index.
type item uint64

func (it item) index() int            { return int(uint32(it)) }
func (it item) sameScore(o item) bool { return it>>32 == o>>32 }

// order fills items with scores sorted by descending score, ties by
// ascending index, and returns them. Scores are finite (checked).
func order(items []item, scores []float32) []item {
	items = items[:len(scores)]
	for i, s := range scores {
		if s == 0 {
			s = 0 // -0 ranks with +0
		}
		b := math.Float32bits(s)
		if b&(1<<31) != 0 {
			b = ^b
		} else {
			b |= 1 << 31
		}
		// b now grows with the score; invert it for a descending order.
		items[i] = item(uint64(^b)<<32 | uint64(i))
	}
	slices.Sort(items)
	return items
}

// ranking computes map_image, map_class, spearman and ndcg.
func (e *evaluator) ranking(r *Report) {
	e.items = make([]item, max(e.n, e.t))
	e.gains = make([]float64, e.t)
	e.discount = make([]float64, e.t)
	for k := range e.discount {
		e.discount[k] = 1 / math.Log2(float64(k)+2)
	}
	var apSum, ndcgSum, rhoSum float64
	var apN int
	for i := 0; i < e.n; i++ {
		row := i * e.t
		labels := e.presence[row : row+e.t]
		if count(labels) == 0 {
			r.ImagesWithoutTags++
			continue
		}
		apSum += averagePrecision(order(e.items, e.prob[row:row+e.t]), labels)
		ndcgSum += e.ndcg(row)
		apN++
		if rho, ok := e.spearman(row); ok {
			rhoSum += rho
			r.SpearmanImages++
		}
	}
	r.MAPImage = mean(apSum, apN)
	r.NDCG = mean(ndcgSum, apN)
	r.Spearman = mean(rhoSum, r.SpearmanImages)

	scores := make([]float32, e.n)
	labels := make([]uint8, e.n)
	var classSum float64
	var classN int
	for j := 0; j < e.t; j++ {
		for i := 0; i < e.n; i++ {
			scores[i] = e.prob[i*e.t+j]
			labels[i] = e.presence[i*e.t+j]
		}
		if count(labels) == 0 {
			r.TagsWithoutPositives++
			continue
		}
		classSum += averagePrecision(order(e.items, scores), labels)
		classN++
	}
	r.MAPClass = mean(classSum, classN)
}

// averagePrecision returns the AP of a ranking (from order) against labels
// (at least one label 1), ties entering as one group.
func averagePrecision(ranked []item, labels []uint8) float64 {
	positives := float64(count(labels))
	var ap float64
	tp, seen := 0, 0
	for a := 0; a < len(ranked); {
		b := a
		groupTP := 0
		for b < len(ranked) && ranked[b].sameScore(ranked[a]) {
			groupTP += int(labels[ranked[b].index()])
			b++
		}
		tp += groupTP
		seen += b - a
		if groupTP > 0 {
			ap += float64(groupTP) / positives * float64(tp) / float64(seen)
		}
		a = b
	}
	return ap
}

// ndcg of one image's tags ranked by predicted importance.
func (e *evaluator) ndcg(row int) float64 {
	gains := e.gains
	for j := range gains {
		gains[j] = 0
		if e.presence[row+j] == 1 {
			gains[j] = float64(e.importance[row+j])
		}
	}
	ranked := order(e.items, e.pred[row:row+e.t])
	var dcg float64
	for a := 0; a < len(ranked); {
		b := a
		var g float64
		for b < len(ranked) && ranked[b].sameScore(ranked[a]) {
			g += gains[ranked[b].index()]
			b++
		}
		g /= float64(b - a)
		for k := a; k < b; k++ {
			dcg += g * e.discount[k]
		}
		a = b
	}
	slices.Sort(gains)
	var ideal float64
	for k := range gains {
		ideal += gains[len(gains)-1-k] * e.discount[k]
	}
	if ideal == 0 {
		return 0
	}
	return dcg / ideal
}

// spearman returns the rank correlation of predicted and true importance
// over one image's true tags, and whether the image counts.
func (e *evaluator) spearman(row int) (float64, bool) {
	var truth, pred []float64
	for j := 0; j < e.t; j++ {
		if e.presence[row+j] == 1 {
			truth = append(truth, float64(e.importance[row+j]))
			pred = append(pred, float64(e.pred[row+j]))
		}
	}
	if len(truth) < 2 || constant(truth) {
		return 0, false
	}
	if constant(pred) {
		return 0, true
	}
	return pearson(ranks(truth), ranks(pred)), true
}

func constant(x []float64) bool {
	for _, v := range x {
		if v != x[0] {
			return false
		}
	}
	return true
}

// ranks returns 1-based ascending ranks, ties given their average rank.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for a := 0; a < len(idx); {
		b := a
		for b < len(idx) && x[idx[b]] == x[idx[a]] {
			b++
		}
		avg := float64(a+b+1) / 2 // mean of ranks a+1 … b
		for k := a; k < b; k++ {
			r[idx[k]] = avg
		}
		a = b
	}
	return r
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	return sxy / math.Sqrt(sxx*syy)
}

// counts of decisions per tag: correct, predicted and true.
type counts struct{ nc, np, ng []int }

func newCounts(t int) counts {
	return counts{make([]int, t), make([]int, t), make([]int, t)}
}

// scores turns per-tag counts into CP, CR, CF1, OP, OR, OF1 over the tags
// with a positive (per-class) and all decisions (overall).
func (c counts) scores() (cp, cr, cf1, op, or, of1 float64) {
	var sumNc, sumNp, sumNg, classes int
	for j := range c.nc {
		sumNc += c.nc[j]
		sumNp += c.np[j]
		sumNg += c.ng[j]
		if c.ng[j] == 0 {
			continue
		}
		classes++
		if c.np[j] > 0 {
			cp += float64(c.nc[j]) / float64(c.np[j])
		}
		cr += float64(c.nc[j]) / float64(c.ng[j])
	}
	cp, cr = mean(cp, classes), mean(cr, classes)
	op, or = ratio(sumNc, sumNp), ratio(sumNc, sumNg)
	return cp, cr, f1(cp, cr), op, or, f1(op, or)
}

// decisions computes jaccard and the precision/recall family at θ, plain
// and top-3.
func (e *evaluator) decisions(r *Report) {
	all, top := newCounts(e.t), newCounts(e.t)
	var jaccard float64
	inTop := make([]bool, e.t)
	k := min(TopK, e.t)
	for i := 0; i < e.n; i++ {
		row := i * e.t
		probs := e.prob[row : row+e.t]
		for j := range inTop {
			inTop[j] = false
		}
		for _, it := range order(e.items, probs)[:k] {
			inTop[it.index()] = true
		}
		inter, union := 0, 0
		for j := 0; j < e.t; j++ {
			truth := e.presence[row+j] == 1
			theta := e.theta
			if e.thetas != nil {
				theta = e.thetas[j]
			}
			pred := float64(probs[j]) >= theta
			if truth && pred {
				inter++
			}
			if truth || pred {
				union++
			}
			tally(all, j, truth, pred)
			tally(top, j, truth, pred && inTop[j])
		}
		if union == 0 {
			jaccard++
		} else {
			jaccard += float64(inter) / float64(union)
		}
	}
	r.Jaccard = jaccard / float64(e.n)
	r.CP, r.CR, r.CF1, r.OP, r.OR, r.OF1 = all.scores()
	r.CPTop3, r.CRTop3, r.CF1Top3, r.OPTop3, r.ORTop3, r.OF1Top3 = top.scores()
}

func tally(c counts, j int, truth, pred bool) {
	if truth {
		c.ng[j]++
	}
	if pred {
		c.np[j]++
		if truth {
			c.nc[j]++
		}
	}
}

// importanceErrors computes mae and mse over the true tags.
func (e *evaluator) importanceErrors(r *Report) {
	var abs, sq float64
	for i, p := range e.presence {
		if p == 1 {
			d := float64(e.pred[i]) - float64(e.importance[i])
			abs += math.Abs(d)
			sq += d * d
			r.TrueTags++
		}
	}
	r.MAE = mean(abs, r.TrueTags)
	r.MSE = mean(sq, r.TrueTags)
}

func count(labels []uint8) int {
	n := 0
	for _, l := range labels {
		n += int(l)
	}
	return n
}

// mean returns sum/n, 0 for n = 0.
func mean(sum float64, n int) float64 {
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

func ratio(a, b int) float64 { return mean(float64(a), b) }

func f1(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}
