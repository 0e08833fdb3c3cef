package model

import (
	"fmt"

	"tagimp/model/metrics"
)

// Threshold choices (Run.ChooseThreshold, train --choose-threshold).
const (
	// ChooseNone keeps Config.Threshold: the default, and the setting
	// Table 1 is compared at (the paper states no θ and no validation).
	ChooseNone = "none"
	// ChooseGlobal picks one θ on the validation split, the one with the
	// highest mean Jaccard (metrics.ChooseThreshold).
	ChooseGlobal = "global"
	// ChoosePerTag picks the global θ as ChooseGlobal (for Model 2's WA)
	// and one θ per tag for the decisions, each with the highest F1 of
	// its tag (metrics.ChooseTagThresholds).
	ChoosePerTag = "per-tag"
)

// ThetaChoice records a θ chosen on a validation split (Meta.Theta); eval
// scores the test split with it and says where it came from.
type ThetaChoice struct {
	Mode   string    `json:"mode"`              // ChooseGlobal or ChoosePerTag
	Global float64   `json:"global"`            // θ of the decisions (global) and of Model 2's WA
	PerTag []float64 `json:"per_tag,omitempty"` // with ChoosePerTag: θ of each tag's decisions
	// Images is the size of the validation split, ValIDsSHA256 its ids.
	Images       int    `json:"images"`
	ValIDsSHA256 string `json:"val_ids_sha256"`
	// ValJaccard is the validation split's mean Jaccard at Global,
	// ValJaccardConfig at Config.Threshold (what the choice gained).
	ValJaccard       float64 `json:"val_jaccard"`
	ValJaccardConfig float64 `json:"val_jaccard_config"`
	// Epoch is the epoch whose model chose it.
	Epoch int `json:"epoch"`
}

// String says what was chosen and where, for eval's output.
func (t *ThetaChoice) String() string {
	what := fmt.Sprintf("θ = %g", t.Global)
	if t.Mode == ChoosePerTag {
		lo, hi := t.PerTag[0], t.PerTag[0]
		for _, v := range t.PerTag {
			lo, hi = min(lo, v), max(hi, v)
		}
		what = fmt.Sprintf("θ per tag in [%g, %g] (highest F1 of each tag; global θ = %g for Model 2's WA)", lo, hi, t.Global)
	}
	return fmt.Sprintf("%s, chosen by train --choose-threshold %s on the validation split of %d images after epoch %d (validation Jaccard %.4f at θ = %g, %.4f at the configured θ)",
		what, t.Mode, t.Images, t.Epoch, t.ValJaccard, t.Global, t.ValJaccardConfig)
}

// CheckChoice reports an unknown --choose-threshold mode.
func CheckChoice(mode string) error {
	switch mode {
	case "", ChooseNone, ChooseGlobal, ChoosePerTag:
		return nil
	}
	return fmt.Errorf("--choose-threshold %q: want %s, %s or %s", mode, ChooseNone, ChooseGlobal, ChoosePerTag)
}

// ChooseTheta predicts the validation split val with tr and chooses θ on
// it (mode ChooseGlobal or ChoosePerTag). The tag probabilities do not
// depend on θ, so neither does the choice.
func ChooseTheta(tr Trainer, c Config, tagVecs []float32, val *Data, mode string) (*ThetaChoice, error) {
	if val == nil || val.N == 0 {
		return nil, fmt.Errorf("%s: --choose-threshold %s needs a validation split (tagimp-gpu vocab --val N)", c.Kind, mode)
	}
	prob, _, err := Predict(tr, c, tagVecs, val.X, val.N, nil)
	if err != nil {
		return nil, err
	}
	th, jac, err := metrics.ChooseThreshold(val.Presence, prob, val.N, c.T)
	if err != nil {
		return nil, err
	}
	at, err := metrics.Evaluate(val.Presence, val.Importance, prob, prob, val.N, c.T, c.Threshold)
	if err != nil {
		return nil, err
	}
	ch := &ThetaChoice{Mode: mode, Global: th, Images: val.N, ValIDsSHA256: IDsSHA256(val.IDs), ValJaccard: jac, ValJaccardConfig: at.Jaccard}
	if mode == ChoosePerTag {
		if ch.PerTag, err = metrics.ChooseTagThresholds(val.Presence, prob, val.N, c.T, th); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// EvaluateChosen is Evaluate with the θ of ch: Global for Model 2's WA and
// the decisions, or PerTag for the decisions. A nil ch is Evaluate.
func EvaluateChosen(tr Trainer, c Config, tagVecs []float32, d *Data, ch *ThetaChoice, progress func(done, total int)) (metrics.Report, error) {
	if ch == nil {
		return Evaluate(tr, c, tagVecs, d, progress)
	}
	c.Threshold = ch.Global
	if ch.PerTag == nil {
		return Evaluate(tr, c, tagVecs, d, progress)
	}
	prob, imp, err := Predict(tr, c, tagVecs, d.X, d.N, progress)
	if err != nil {
		return metrics.Report{}, err
	}
	rep, err := metrics.EvaluateTagThresholds(d.Presence, d.Importance, prob, imp, d.N, c.T, c.Threshold, ch.PerTag)
	if err != nil {
		return metrics.Report{}, fmt.Errorf("metrics: %w", err)
	}
	rep.Model = string(c.Kind)
	return rep, nil
}
