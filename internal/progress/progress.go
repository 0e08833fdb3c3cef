// Package progress reports the progress of long work on stderr, for people
// and for logs: on a terminal a one-line bar is redrawn in place (count,
// percentage, rate, ETA); anywhere else (a log file, a pipe, a batch
// system) a plain line is printed every Interval, and once at the end, so
// logs stay readable and small.
//
// Rates count only the work done since the first report: work a resumed
// run finds already done (reused shards, completed epochs) is not divided
// by the few milliseconds it took to find it. No rate is shown until at
// least MinRateTime has passed, so a run never claims 245898 images/s for
// 11 images.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// Interval is how often a line is printed when the output is not a
// terminal; TAGIMP_PROGRESS_SECONDS overrides it.
var Interval = 10 * time.Second

// MinRateTime is the least time over which a rate (and an ETA) is shown.
const MinRateTime = time.Second

// redraw is how often the terminal bar is redrawn at most.
const redraw = 100 * time.Millisecond

// Bar reports the progress of one piece of work. Its methods are safe for
// concurrent use.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	interval time.Duration
	now      func() time.Time

	desc, unit string
	max        int // < 0: unknown
	cur        int
	started    bool
	base       int // count at the first report
	baseAt     time.Time
	lastOut    time.Time
	drawn      bool // a terminal line is on screen
	finished   bool
}

// New returns a Bar for total items of unit (total < 0 when unknown) that
// writes to w: redrawn in place when w is a terminal, a line every
// Interval otherwise.
func New(w io.Writer, total int, unit string) *Bar {
	b := &Bar{w: w, max: total, unit: unit, desc: unit, interval: Interval, now: time.Now}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b.tty = true
	}
	if s := os.Getenv("TAGIMP_PROGRESS_SECONDS"); s != "" {
		var sec float64
		if _, err := fmt.Sscan(s, &sec); err == nil && sec > 0 {
			b.interval = time.Duration(sec * float64(time.Second))
		}
	}
	return b
}

// Describe sets the text before the counts (by default the unit).
func (b *Bar) Describe(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.desc = s
}

// GetMax returns the total (< 0 when unknown).
func (b *Bar) GetMax() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.max
}

// ChangeMax sets the total.
func (b *Bar) ChangeMax(total int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.max = total
}

// Set reports n items done. Reaching a known total finishes the bar.
func (b *Bar) Set(n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.set(n)
	return nil
}

// Add reports n more items done.
func (b *Bar) Add(n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.set(b.cur + n)
	return nil
}

func (b *Bar) set(n int) {
	if b.finished {
		return
	}
	now := b.now()
	if !b.started {
		b.started, b.base, b.baseAt, b.lastOut = true, n, now, now
		b.cur = n
		if b.tty {
			b.draw(now)
		}
		return
	}
	b.cur = n
	if b.max > 0 && n >= b.max {
		b.end(true) // complete: the next output starts on a line of its own
		return
	}
	switch {
	case b.tty && now.Sub(b.lastOut) >= redraw:
		b.draw(now)
	case !b.tty && now.Sub(b.lastOut) >= b.interval:
		fmt.Fprintln(b.w, b.line(now))
		b.lastOut = now
	}
}

// Finish ends the work: a terminal bar is drawn a last time and its line
// ended; in a log, a closing line says what was done when the work took
// long enough to have printed lines or to give a rate.
func (b *Bar) Finish() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		return nil
	}
	if b.max >= 0 && b.cur < b.max && b.started {
		b.cur = b.max
	}
	b.end(true)
	return nil
}

// Exit ends the bar where the work stopped (an error, a partial read)
// without counting it as complete.
func (b *Bar) Exit() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.finished {
		b.end(false)
	}
	return nil
}

func (b *Bar) end(complete bool) {
	b.finished = true
	if !b.started {
		return
	}
	now := b.now()
	switch {
	case b.tty:
		b.draw(now)
		fmt.Fprintln(b.w)
	case now.Sub(b.baseAt) >= MinRateTime || b.lastOut.After(b.baseAt):
		fmt.Fprintln(b.w, b.line(now))
	}
}

// IsFinished reports whether Finish or Exit was called.
func (b *Bar) IsFinished() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.finished
}

func (b *Bar) draw(now time.Time) {
	fmt.Fprintf(b.w, "\r%s\033[K", b.line(now))
	b.lastOut, b.drawn = now, true
}

// line formats "DESC: 120/938 batches (13%), 45.2 batches/s, ETA 18s".
func (b *Bar) line(now time.Time) string {
	var s strings.Builder
	s.WriteString(b.desc)
	s.WriteString(": ")
	if b.max >= 0 {
		fmt.Fprintf(&s, "%d/%d %s", b.cur, b.max, b.unit)
		if b.max > 0 {
			fmt.Fprintf(&s, " (%d%%)", int(100*float64(b.cur)/float64(b.max)))
		}
	} else {
		fmt.Fprintf(&s, "%d %s", b.cur, b.unit)
	}
	elapsed := now.Sub(b.baseAt)
	if done := b.cur - b.base; done > 0 && elapsed >= MinRateTime {
		rate := float64(done) / elapsed.Seconds()
		fmt.Fprintf(&s, ", %s %s/s", rateString(rate), b.unit)
		if b.max > b.cur && !b.finished {
			fmt.Fprintf(&s, ", ETA %s", durString(time.Duration(float64(b.max-b.cur)/rate*float64(time.Second))))
		}
	}
	if b.finished {
		fmt.Fprintf(&s, ", %s", durString(elapsed))
	}
	return s.String()
}

func rateString(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	default:
		return fmt.Sprintf("%.2f", r)
	}
}

// durString formats d as 45s, 12m03s or 3h07m.
func durString(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	default:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
}
