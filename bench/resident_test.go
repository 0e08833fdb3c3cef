package bench

import (
	"fmt"
	"strings"
	"testing"

	"tagimp/model"
)

// noRoomFake is a resident trainer whose split never fits.
type noRoomFake struct{ residentFake }

func (f *noRoomFake) SetTrainingSet(x, y, imp []float32, n int, tagVecs []float32) error {
	return fmt.Errorf("fake split of %d rows: %w", n, model.ErrNoRoom)
}

// TestRunNoRoom: when the split does not fit, Run times host-fed steps
// and says so in Result.Mode.
func TestRunNoRoom(t *testing.T) {
	c := small(model.Model2)
	var made *noRoomFake
	f := func(c model.Config, st *model.State) (model.Trainer, error) {
		made = &noRoomFake{residentFake{fakeTrainer{c: c}}}
		return made, nil
	}
	r, err := Run(f, c, Options{Steps: 5, Warmup: 2, Rows: 12, Seed: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Resident || made.steps != 7 || made.queued != 0 {
		t.Errorf("resident %v, %d steps (%d queued), want host-fed 7 steps", r.Resident, made.steps, made.queued)
	}
	if !strings.Contains(r.Mode, "host-fed") || !strings.Contains(r.Mode, "does not fit") {
		t.Errorf("mode %q does not say the steps were host-fed because the split does not fit", r.Mode)
	}
}
