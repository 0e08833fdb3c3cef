package main

import (
	"os"

	"tagimp/internal/progress"
)

// newProgress returns a progress report on stderr for `total` items of
// `what` (e.g. "captions"; total < 0 when unknown): a bar redrawn in place
// on a terminal, a line with count, rate and ETA every few seconds in a
// log (package progress).
func newProgress(total int, what string) *progress.Bar {
	return progress.New(os.Stderr, total, what)
}

// progressFunc adapts bar to the progress callback of library code
// (done, total), whose total may become known only as the work goes.
func progressFunc(bar *progress.Bar) func(done, total int) {
	return func(done, total int) {
		if bar.GetMax() != total {
			bar.ChangeMax(total)
		}
		bar.Set(done)
	}
}
