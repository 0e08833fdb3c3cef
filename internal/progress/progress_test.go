package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock advances only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTest(total int, unit string, tty bool) (*Bar, *bytes.Buffer, *fakeClock) {
	var buf bytes.Buffer
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := &Bar{w: &buf, tty: tty, max: total, unit: unit, desc: unit, interval: 10 * time.Second, now: clk.now}
	return b, &buf, clk
}

// TestLogLines: in a log, one line per interval with count, rate and ETA,
// one at the end, and no carriage returns.
func TestLogLines(t *testing.T) {
	b, buf, clk := newTest(1000, "images", false)
	b.Describe("features")
	b.Set(0)
	for i := 1; i <= 1000; i++ {
		clk.t = clk.t.Add(50 * time.Millisecond) // 20 images/s
		b.Set(i)
	}
	b.Finish()
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// 50 s of work: lines at 10, 20, 30 and 40 s, and the closing one
	// when the total is reached (Finish adds nothing).
	if len(lines) != 5 || strings.Contains(out, "\r") {
		t.Fatalf("%d lines:\n%s", len(lines), out)
	}
	if want := "features: 200/1000 images (20%), 20.0 images/s, ETA 40s"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	if want := "features: 1000/1000 images (100%), 20.0 images/s, 50s"; lines[4] != want {
		t.Errorf("last line %q, want %q", lines[5], want)
	}
}

// TestNoNonsenseRate: work found done at the start (a resumed run) is not
// counted in the rate, and a job shorter than MinRateTime shows no rate.
func TestNoNonsenseRate(t *testing.T) {
	b, buf, clk := newTest(-1, "images", false)
	b.Set(990) // reused shards, found in a millisecond
	clk.t = clk.t.Add(time.Millisecond)
	b.Set(1001)
	clk.t = clk.t.Add(5 * time.Millisecond)
	b.Finish()
	if out := buf.String(); out != "" {
		t.Errorf("an 11-image job of 6 ms printed %q in a log", out)
	}
	b, buf, clk = newTest(1001, "images", false)
	b.Set(990)
	clk.t = clk.t.Add(11 * time.Second)
	b.Set(1001)
	if out := strings.TrimSpace(buf.String()); !strings.Contains(out, "1.00 images/s") {
		t.Errorf("11 images in 11 s after 990 reused: %q, want a rate of 1.00 images/s", out)
	}
}

// TestTerminalRedraws: on a terminal the line is redrawn in place (\r),
// throttled, and ended with a newline at Finish.
func TestTerminalRedraws(t *testing.T) {
	b, buf, clk := newTest(100, "batches", true)
	for i := 0; i <= 100; i++ {
		clk.t = clk.t.Add(10 * time.Millisecond)
		b.Set(i)
	}
	if !b.IsFinished() {
		t.Error("reaching the total did not finish the bar")
	}
	b.Finish()
	out := buf.String()
	if n := strings.Count(out, "\r"); n < 5 || n > 15 {
		t.Errorf("%d redraws in 1 s, want about 10 (every 100 ms)", n)
	}
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("terminal output does not end in one newline: %q", out)
	}
	if !strings.Contains(out, "100/100 batches (100%)") {
		t.Errorf("final draw missing: %q", out)
	}
}

func TestExitAndAdd(t *testing.T) {
	b, buf, clk := newTest(10, "MB", false)
	b.Add(3)
	clk.t = clk.t.Add(2 * time.Second)
	b.Add(2)
	b.Exit()
	if out := strings.TrimSpace(buf.String()); out != "MB: 5/10 MB (50%), 1.00 MB/s, 2s" {
		t.Errorf("Exit line %q", out)
	}
	if !b.IsFinished() {
		t.Error("not finished after Exit")
	}
}

func TestDurString(t *testing.T) {
	for d, want := range map[time.Duration]string{45 * time.Second: "45s", 723 * time.Second: "12m03s", 3*time.Hour + 7*time.Minute: "3h07m"} {
		if got := durString(d); got != want {
			t.Errorf("durString(%v) = %q, want %q", d, got, want)
		}
	}
}
