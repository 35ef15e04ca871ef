package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/oauthsync/oauthsync/internal/migrate"
	"github.com/oauthsync/oauthsync/messages"
)

// Terminal widths the bar fits: unknown widths count as defaultWidth.
const (
	defaultWidth = 80
	minWidth     = 20
	maxWidth     = 300
)

// progressDisplay shows a run's progress on stderr: a one-line bar on a
// terminal, redrawn in place and fitted to its width; a line every 5s
// otherwise. The counts are the run's own (acknowledged publishes, results
// received); the bar never claims more than that, not even at the end or on
// Ctrl-C. The last drawing ends its line, so what follows starts on its own.
type progressDisplay struct {
	w     io.Writer
	mode  string
	every time.Duration
	width func() int

	mu    sync.Mutex
	drawn bool // a bar line is on screen, not ended yet
}

func newProgress(g *globals, mode string) *progressDisplay {
	if mode == "auto" {
		mode = "lines"
		if g.isTerminal {
			mode = "bar"
		}
	}
	d := &progressDisplay{w: g.stderr, mode: mode, every: 5 * time.Second, width: g.termWidth}
	switch mode {
	case "bar":
		d.every = 200 * time.Millisecond
	case "none":
		d.every = time.Hour
	}
	if d.width == nil {
		d.width = func() int { return 0 }
	}
	return d
}

func (d *progressDisplay) update(p migrate.Progress) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.mode {
	case "none":
		return
	case "bar":
		// \r back to the line's start, the bar, and clear what a longer
		// earlier drawing left.
		fmt.Fprintf(d.w, "\r%s\x1b[K", barLine(p, fitWidth(d.width())))
		d.drawn = true
		if p.Final {
			fmt.Fprint(d.w, "\n")
			d.drawn = false
		}
		return
	}
	fmt.Fprintf(d.w, "progress: %d/%d results, %s\n", p.Done, p.Total, progressLine(p))
}

// close ends a bar line a run left open (it stopped without a final
// drawing), so nothing is written after it on the same line.
func (d *progressDisplay) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.drawn {
		fmt.Fprint(d.w, "\n")
		d.drawn = false
	}
}

// fitWidth clamps a terminal's width; 0 (unknown) is defaultWidth.
func fitWidth(w int) int {
	if w <= 0 {
		return defaultWidth
	}
	return min(max(w, minWidth), maxWidth)
}

// barLine draws p in at most width-1 columns (a line that fills the last
// column makes some terminals wrap): the bar and the results count first,
// then as much of the detail as fits, shortest forms last.
func barLine(p migrate.Progress, width int) string {
	r := p.Results
	eta := ""
	switch {
	case p.Final:
		eta = "in " + p.Elapsed.Round(time.Second).String()
	case p.ETA > 0:
		eta = "ETA " + p.ETA.Round(time.Second).String()
	}
	earlier := ""
	if p.Previous > 0 {
		earlier = fmt.Sprintf(" (+%d earlier)", p.Previous)
	}
	count := fmt.Sprintf("%d/%d", p.Done, p.Total)
	pct := 0
	if p.Total > 0 {
		pct = p.Done * 100 / p.Total
	}
	details := []string{
		fmt.Sprintf(" %s %3d%% | published %d%s | applied %d, unchanged %d, superseded %d, rejected %d, failed %d | %s",
			count, pct, p.Published, earlier, r[messages.StatusApplied], r[messages.StatusUnchanged],
			r[messages.StatusSuperseded], r[messages.StatusRejected], r[messages.StatusFailed], eta),
		fmt.Sprintf(" %s | pub %d | ok %d, = %d, sup %d, rej %d, fail %d | %s", count, p.Published,
			r[messages.StatusApplied], r[messages.StatusUnchanged], r[messages.StatusSuperseded],
			r[messages.StatusRejected], r[messages.StatusFailed], eta),
		fmt.Sprintf(" %s | pub %d | rej %d, fail %d", count, p.Published, r[messages.StatusRejected], r[messages.StatusFailed]),
		" " + count,
	}
	avail := width - 1
	const minBar, maxBar = 10, 40
	for _, text := range details {
		text = strings.TrimRight(strings.TrimSuffix(strings.TrimRight(text, " "), " |"), " ")
		if n := avail - len(text) - 2; n >= minBar {
			return bar(p.Done, p.Total, min(n, maxBar)) + text
		}
	}
	// Too narrow even for that: the count alone, cut to fit.
	text := strings.TrimSpace(details[len(details)-1])
	if len(text) > avail {
		text = text[:avail]
	}
	return text
}

// bar is "[####------]" of inner width n for done of total.
func bar(done, total, n int) string {
	fill := 0
	if total > 0 {
		fill = min(n, done*n/total)
	}
	return "[" + strings.Repeat("#", fill) + strings.Repeat("-", n-fill) + "]"
}
