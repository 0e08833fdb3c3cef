package metrics

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// tableRows are the rows of WriteTable: a label and how to read the value.
var tableRows = []struct {
	label string
	value func(r Report) string
}{
	{"images", func(r Report) string { return fmt.Sprint(r.NImages) }},
	{"tags", func(r Report) string { return fmt.Sprint(r.NTags) }},
	{"threshold θ", func(r Report) string { return fmt.Sprint(r.Threshold) }},
	{"", nil},
	{"mAP per image (paper)", func(r Report) string { return f4(r.MAPImage) }},
	{"mAP per class (COCO)", func(r Report) string { return f4(r.MAPClass) }},
	{"Jaccard @θ", func(r Report) string { return f4(r.Jaccard) }},
	{"importance MAE (true tags)", func(r Report) string { return f4(r.MAE) }},
	{"importance MSE (true tags)", func(r Report) string { return f4(r.MSE) }},
	{"", nil},
	{"CP / CR / CF1 @θ", func(r Report) string { return f4s(r.CP, r.CR, r.CF1) }},
	{"OP / OR / OF1 @θ", func(r Report) string { return f4s(r.OP, r.OR, r.OF1) }},
	{"CP / CR / CF1 top-3", func(r Report) string { return f4s(r.CPTop3, r.CRTop3, r.CF1Top3) }},
	{"OP / OR / OF1 top-3", func(r Report) string { return f4s(r.OPTop3, r.ORTop3, r.OF1Top3) }},
	{"importance Spearman", func(r Report) string { return f4(r.Spearman) }},
	{"importance NDCG", func(r Report) string { return f4(r.NDCG) }},
	{"", nil},
	{"images without true tags (not in mAP/image, NDCG)", func(r Report) string { return fmt.Sprint(r.ImagesWithoutTags) }},
	{"tags without positives (not in mAP/class, CP, CR)", func(r Report) string { return fmt.Sprint(r.TagsWithoutPositives) }},
	{"true (image, tag) pairs (MAE, MSE)", func(r Report) string { return fmt.Sprint(r.TrueTags) }},
	{"images in Spearman", func(r Report) string { return fmt.Sprint(r.SpearmanImages) }},
}

func f4(v float64) string { return fmt.Sprintf("%.4f", v) }

func f4s(v ...float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = f4(x)
	}
	return strings.Join(s, " / ")
}

// WriteTable writes the reports side by side, one column per model, one
// row per metric, with the counts that say what the averages cover at the
// end (see the package documentation for the definitions).
func WriteTable(w io.Writer, reports ...Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := []string{"metric"}
	for _, r := range reports {
		name := r.Model
		if name == "" {
			name = "model"
		}
		header = append(header, name)
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range tableRows {
		if row.value == nil {
			// Empty cells, not an empty line, keep the columns aligned.
			fmt.Fprintln(tw, strings.Repeat("\t", len(reports)))
			continue
		}
		cells := []string{row.label}
		for _, r := range reports {
			cells = append(cells, row.value(r))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
