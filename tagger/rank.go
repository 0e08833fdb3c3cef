package tagger

import (
	"sort"

	"tagimp/viz"
)

// Tag is one tag of one image's prediction.
type Tag struct {
	Tag         string  `json:"tag"`
	Importance  float64 `json:"importance"`
	Probability float64 `json:"probability"`
	Predicted   bool    `json:"predicted"` // probability ≥ threshold
}

// Prediction is the prediction for one image as predict and demo print it.
type Prediction struct {
	Image     string  `json:"image"`
	Model     string  `json:"model"`
	Threshold float64 `json:"threshold"`
	Tags      []Tag   `json:"tags"`
	Cloud     string  `json:"cloud,omitempty"`
	// Truth is the true importance of the image's tags, when known (demo).
	Truth map[string]float64 `json:"truth,omitempty"`
	// Error says why the image could not be tagged (unreadable file);
	// Tags is then empty.
	Error string `json:"error,omitempty"`
}

// Rank lists tags by importance (highest first), keeping those predicted
// (probability ≥ threshold) unless all is set; ties go by probability, then
// name.
func Rank(tags []string, prob, imp []float32, threshold float64, all bool) []Tag {
	var out []Tag
	for j, t := range tags {
		p := float64(prob[j])
		if p >= threshold || all {
			out = append(out, Tag{Tag: t, Importance: float64(imp[j]), Probability: p, Predicted: p >= threshold})
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Importance != out[b].Importance {
			return out[a].Importance > out[b].Importance
		}
		if out[a].Probability != out[b].Probability {
			return out[a].Probability > out[b].Probability
		}
		return out[a].Tag < out[b].Tag
	})
	return out
}

// WriteCloud draws the predicted tags of one image as a tag cloud (.png or
// .svg), font size following importance.
func WriteCloud(path string, tags []Tag, title string) error {
	var words []viz.CloudWord
	for _, t := range tags {
		if t.Predicted {
			words = append(words, viz.CloudWord{Text: t.Tag, Weight: max(t.Importance, 0)})
		}
	}
	if len(words) == 0 {
		title += " (no tag above the threshold)"
	}
	opt := viz.DefaultCloudOptions()
	opt.Title = title
	cl, err := viz.LayoutCloud(words, opt)
	if err != nil {
		return err
	}
	return viz.WriteCloud(path, cl)
}
