package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"tagimp/data/atomicfile"
	"tagimp/model"
	"tagimp/model/metrics"
	"tagimp/viz"
)

// Files of the reproduce report, under the output folder.
const (
	ReportFile      = "report.md"
	PerTagCSV       = "per-tag.csv"
	PerTagPNG       = "per-tag.png"
	reportListedTag = 10
)

var kindTitle = map[model.Kind]string{model.Baseline: "Baseline", model.Model1: "Model 1", model.Model2: "Model 2"}

// writeReport writes OUT/report.md, OUT/per-tag.csv and OUT/per-tag.png.
func writeReport(out string, rep *Reproduction, st *stages) error {
	if err := writePerTagCSV(filepath.Join(out, PerTagCSV), rep); err != nil {
		return err
	}
	if err := writePerTagPNG(filepath.Join(out, PerTagPNG), rep); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(out, ReportFile), func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		reportMarkdown(bw, rep, st)
		return bw.Flush()
	})
}

func f4(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.4f", v)
}

func signed(v float64) string { return fmt.Sprintf("%+.4f", v) }

func reportMarkdown(w io.Writer, rep *Reproduction, st *stages) {
	c := rep.Config
	l := rep.Labeled
	fmt.Fprintf(w, "# Reproduction of the paper's Table 1\n\n")
	fmt.Fprintf(w, "Written %s by `%s`.\n\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), c.Command)
	fmt.Fprintf(w, "Captions `%s`, images `%s`; %d training and %d test images (split seed %d; the paper: ~32k / ~8k of COCO train2014); "+
		"tags: nouns in ≥ %d captions of the training images; VGG16 `%s` (%s); tag vectors: %s; "+
		"%d epochs, batch %d, hidden %d (Model 2's MLP %d), dropout %g, Adam lr %g, θ = %g, importance loss over %s entries.\n\n",
		c.Captions, c.Images, rep.Trained.Train.N, rep.Trained.Test.N, c.Seed, c.MinCount,
		rep.Features.Meta.Weights, rep.Features.Prep, rep.VecFrom,
		c.Training.Epochs, c.Training.Batch, c.Training.Hidden, c.Training.Hidden2, c.Training.Dropout, c.Training.LR, c.Training.Threshold, c.Training.ImpLossMask)

	fmt.Fprintf(w, "## Table 1\n\n")
	fmt.Fprintf(w, "Ours on the test split beside the paper's numbers; Δ = ours − paper (for MAE and MSE lower is better). mAP is the per-image AP averaged over images, the paper's description; the per-class mAP of the COCO multi-label literature is in the last column.\n\n")
	fmt.Fprintln(w, "| method | MAE | paper | Δ | MSE | paper | Δ | Jaccard | paper | Δ | mAP | paper | Δ | mAP (per class) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rep.Reports {
		k := model.Kind(r.Model)
		p := PaperTable1[k]
		ours := [4]float64{r.MAE, r.MSE, r.Jaccard, r.MAPImage}
		fmt.Fprintf(w, "| %s |", kindTitle[k])
		for i := range ours {
			fmt.Fprintf(w, " %s | %.4f | %s |", f4(ours[i]), p[i], signed(ours[i]-p[i]))
		}
		fmt.Fprintf(w, " %s |\n", f4(r.MAPClass))
	}
	fmt.Fprintf(w, "\nBeyond the paper (θ = %g):\n\n", c.Training.Threshold)
	fmt.Fprintln(w, "| method | CP | CR | CF1 | OP | OR | OF1 | OF1@3 | Spearman | NDCG |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rep.Reports {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", kindTitle[model.Kind(r.Model)],
			f4(r.CP), f4(r.CR), f4(r.CF1), f4(r.OP), f4(r.OR), f4(r.OF1), f4(r.OF1Top3), f4(r.Spearman), f4(r.NDCG))
	}

	// Per tag.
	last := len(rep.Reports) - 1
	fmt.Fprintf(w, "\n## Per tag\n\n")
	fmt.Fprintf(w, "AP of each tag over the test images and the importance MAE over the test images that hold it; every tag and model is in [%s](%s), sorted curves in ![per-tag](%s).\n\n", PerTagCSV, PerTagCSV, PerTagPNG)
	if last >= 0 {
		kind := model.Kind(rep.Reports[last].Model)
		scores := append([]metrics.TagScore(nil), rep.PerTag[last]...)
		sort.SliceStable(scores, func(a, b int) bool { return nanLast(scores[a].AP, scores[b].AP) })
		n := min(reportListedTag, len(scores))
		fmt.Fprintf(w, "%s, the %d tags with the highest AP:\n\n", kindTitle[kind], n)
		tagTable(w, l.Tags, scores[:n])
		if rest := min(reportListedTag, len(scores)-n); rest > 0 {
			fmt.Fprintf(w, "\n%s, the %d tags with the lowest AP (no test image holds those shown as –):\n\n", kindTitle[kind], rest)
			tagTable(w, l.Tags, scores[len(scores)-rest:])
		}
	}

	// Curves.
	fmt.Fprintf(w, "\n## Training curves\n\n")
	for _, m := range rep.Trained.Metas {
		rel := filepath.Join(RunDir, string(m.Config.Kind)+"-curves.png")
		fmt.Fprintf(w, "%s (%d epochs, final loss %.4f): ![%s](%s)\n\n", kindTitle[m.Config.Kind], m.Epoch, lastLoss(m), m.Config.Kind, rel)
	}

	// Vocabulary.
	fmt.Fprintf(w, "## Vocabulary\n\n")
	fmt.Fprintf(w, "%d tags here, %d in the paper (nouns in ≥ 1000 captions of its training images). The paper gives the size of its vocabulary but not the list of its tags, so only the sizes can be compared; ours, most frequent first (captions mentioning the tag, over the training images):\n\n", len(l.Tags), PaperTags)
	var parts []string
	for _, tc := range l.Vocab.Tags {
		parts = append(parts, fmt.Sprintf("%s %d", tc.Tag, tc.Count))
	}
	fmt.Fprintf(w, "%s\n\n", strings.Join(parts, ", "))

	// Timings and machine.
	fmt.Fprintf(w, "## Time and machine\n\n| stage | seconds | |\n|---|---|---|\n")
	skipped := map[string]bool{}
	for _, s := range st.Skipped {
		skipped[s] = true
	}
	for _, s := range []string{"vocab", "features", "tagvec", "train", "eval", "report", "total"} {
		note := ""
		if skipped[s] {
			note = "done by an earlier run, checked and kept"
		}
		fmt.Fprintf(w, "| %s | %.1f | %s |\n", s, st.Seconds[s], note)
	}
	fmt.Fprintf(w, "\nMachine: %s. Features on %s, models on %s.\n", machine(), rep.Features.Device, rep.Engine)
}

// nanLast orders descending with NaN (no positive image) last.
func nanLast(a, b float64) bool {
	if math.IsNaN(b) {
		return !math.IsNaN(a)
	}
	return !math.IsNaN(a) && a > b
}

func tagTable(w io.Writer, tags []string, scores []metrics.TagScore) {
	fmt.Fprintln(w, "| tag | test images holding it | AP | importance MAE |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, s := range scores {
		fmt.Fprintf(w, "| %s | %d | %s | %s |\n", tags[s.Tag], s.Positives, f4(s.AP), f4(s.MAE))
	}
}

func lastLoss(m *model.Meta) float64 {
	if len(m.History) == 0 {
		return math.NaN()
	}
	return m.History[len(m.History)-1].Loss.Total
}

// machine describes the computer: CPU model, cores, memory, OS.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GiB memory", float64(kb)/(1<<20))
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = fmt.Sprintf(", load average %s %s %s at the end", f[0], f[1], f[2])
		}
	}
	return fmt.Sprintf("%s, %d logical CPUs%s, %s/%s, %s%s", cpu, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version(), load)
}

func writePerTagCSV(path string, rep *Reproduction) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		fmt.Fprint(bw, "tag,test_images")
		for _, r := range rep.Reports {
			fmt.Fprintf(bw, ",%s_ap,%s_importance_mae", r.Model, r.Model)
		}
		fmt.Fprintln(bw)
		for j, tag := range rep.Labeled.Tags {
			pos := 0
			if len(rep.PerTag) > 0 {
				pos = rep.PerTag[0][j].Positives
			}
			fmt.Fprintf(bw, "%s,%d", tag, pos)
			for m := range rep.Reports {
				s := rep.PerTag[m][j]
				fmt.Fprintf(bw, ",%s,%s", csvNum(s.AP), csvNum(s.MAE))
			}
			fmt.Fprintln(bw)
		}
		return bw.Flush()
	})
}

func csvNum(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return fmt.Sprintf("%.6f", v)
}

// writePerTagPNG draws each model's per-tag AP and importance MAE, each
// sorted from best to worst, against the tag's rank.
func writePerTagPNG(path string, rep *Reproduction) error {
	ap := viz.Panel{Title: "per-tag AP, best to worst", YLabel: "AP", XLabel: "rank of the tag"}
	mae := viz.Panel{Title: "per-tag importance MAE, best to worst", YLabel: "MAE", XLabel: "rank of the tag"}
	for m, r := range rep.Reports {
		var a, e []float64
		for _, s := range rep.PerTag[m] {
			if !math.IsNaN(s.AP) {
				a = append(a, s.AP)
				e = append(e, s.MAE)
			}
		}
		sort.Sort(sort.Reverse(sort.Float64Slice(a)))
		sort.Float64s(e)
		x := make([]float64, len(a))
		for i := range x {
			x[i] = float64(i + 1)
		}
		name := kindTitle[model.Kind(r.Model)]
		ap.Series = append(ap.Series, viz.Series{Name: name, X: x, Y: a})
		mae.Series = append(mae.Series, viz.Series{Name: name, X: x, Y: e})
	}
	return viz.WriteCurves(path, "per tag", ap, mae)
}
