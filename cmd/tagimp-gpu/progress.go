package main

import (
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// newProgress returns a progress bar on stderr that shows count, rate and
// ETA for `total` items of `what` (e.g. "captions"). With total < 0 it
// spins without an end.
func newProgress(total int, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(what),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { os.Stderr.WriteString("\n") }),
		progressbar.OptionFullWidth(),
	)
}

// progressFunc adapts bar to the progress callback of library code
// (done, total), whose total may become known only as the work goes.
func progressFunc(bar *progressbar.ProgressBar) func(done, total int) {
	return func(done, total int) {
		if bar.GetMax() != total {
			bar.ChangeMax(total)
		}
		bar.Set(done)
	}
}
