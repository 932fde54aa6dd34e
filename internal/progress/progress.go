// Package progress reports the progress of long jobs: a bar with count, rate
// and ETA on a terminal, plain lines in logs and CI.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Bar reports progress towards a total. It is safe for concurrent use.
type Bar struct {
	mu       sync.Mutex
	w        io.Writer
	desc     string
	unit     string
	total    int
	done     int
	start    time.Time
	lastLine time.Time
	detail   string
	bar      *progressbar.ProgressBar // nil when not a terminal
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// New returns a bar for total items of the given unit ("img", "pair",
// "step"), written to w. On a terminal it draws a live bar; otherwise it
// prints a line at most every 10 seconds and at the end.
func New(w io.Writer, total int, desc, unit string) *Bar {
	b := &Bar{w: w, desc: desc, unit: unit, total: total, start: time.Now()}
	if IsTerminal(w) {
		b.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(unit),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
		)
	}
	return b
}

// Add records n more finished items.
func (b *Bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done += n
	if b.bar != nil {
		b.bar.Add(n)
		return
	}
	if time.Since(b.lastLine) >= 10*time.Second || b.done == b.total {
		b.printLine()
	}
}

// SetDetail sets a short text shown with the bar (for example a smoothed loss).
func (b *Bar) SetDetail(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.detail = s
	if b.bar != nil {
		b.bar.Describe(b.desc + " " + s)
	}
}

func (b *Bar) printLine() {
	b.lastLine = time.Now()
	el := time.Since(b.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(b.done) / el
	}
	eta := "?"
	if rate > 0 && b.total > 0 {
		eta = (time.Duration(float64(b.total-b.done)/rate) * time.Second).Round(time.Second).String()
	}
	pct := 0.0
	if b.total > 0 {
		pct = 100 * float64(b.done) / float64(b.total)
	}
	detail := ""
	if b.detail != "" {
		detail = " " + b.detail
	}
	fmt.Fprintf(b.w, "%s: %d/%d (%.0f%%) %.3g %s/s ETA %s%s\n", b.desc, b.done, b.total, pct, rate, b.unit, eta, detail)
}

// Finish ends the bar.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		b.bar.Finish()
		fmt.Fprintln(b.w)
		return
	}
	if b.lastLine.IsZero() || b.done != b.total {
		b.printLine()
	}
}

// Elapsed returns the time since the bar started.
func (b *Bar) Elapsed() time.Duration { return time.Since(b.start) }
