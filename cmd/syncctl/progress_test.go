package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/oauthsync/oauthsync/internal/migrate"
	"github.com/oauthsync/oauthsync/messages"
)

// openPTY opens a pseudo-terminal of cols columns: the master to read what
// was written, the slave to give syncctl as its stdout and stderr.
func openPTY(t *testing.T, cols uint16) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("a pseudo-terminal is needed (/dev/ptmx): %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: cols}); err != nil {
		t.Fatal(err)
	}
	return master, slave
}

// terminalRun runs syncctl in process with a pseudo-terminal of 80 columns
// as its stdout and stderr, and returns everything the terminal received.
// onOutput, when set, sees the output as it arrives (to interrupt the run).
func (s *stack) terminalRun(t *testing.T, ctx context.Context, onOutput func(seen string), args ...string) (int, string) {
	t.Helper()
	master, slave := openPTY(t, 80)
	var out bytes.Buffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if onOutput != nil {
				onOutput(out.String())
			}
			if err != nil {
				return // EIO once the slave is closed
			}
		}
	}()
	code := run(ctx, append([]string{"--server", s.natsURL}, args...), env{stdin: strings.NewReader(""), stdout: slave, stderr: slave,
		lookup: func(string) (string, bool) { return "", false }})
	slave.Close()
	<-read
	master.Close()
	return code, out.String()
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

// screenRows splits terminal output into the rows it shows: each \n ends a
// row, and within a row every \r starts a drawing over the last; it
// returns, per row, the drawings (escape sequences removed).
func screenRows(out string) [][]string {
	var rows [][]string
	for _, row := range strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n") {
		var draws []string
		for _, d := range strings.Split(row, "\r") {
			if d = ansi.ReplaceAllString(d, ""); d != "" {
				draws = append(draws, d)
			}
		}
		rows = append(rows, draws)
	}
	return rows
}

var (
	barRe     = regexp.MustCompile(`^\[[#-]+\] (\d+)/(\d+)`)
	barPubRe  = regexp.MustCompile(`\| pub(?:lished)? (\d+)`)
	summaryRe = regexp.MustCompile(`(?m)^published\s+(\d+) in`)
)

// checkScreen asserts what a user sees at 80 columns: no drawing reaches
// the last column (so none wraps), the summary's first row on a row of its
// own, and the last bar's counts those of the summary. It returns the last
// bar drawing.
func checkScreen(t *testing.T, out string) string {
	t.Helper()
	last := ""
	bars := 0
	for i, draws := range screenRows(out) {
		for _, d := range draws {
			// A drawing redrawn in place must not wrap (plain messages may).
			if n := utf8.RuneCountInString(d); n >= 80 && (len(draws) > 1 || barRe.MatchString(d)) {
				t.Errorf("row %d is %d columns wide at 80 (it wraps): %q", i, n, d)
			}
			if barRe.MatchString(d) {
				last = d
				bars++
			}
		}
		for j, d := range draws {
			if strings.HasPrefix(d, "batch") && (j > 0 || strings.Contains(d, "[")) {
				t.Errorf("the summary's first row is glued to a drawing: %q", draws)
			}
		}
	}
	if bars < 2 {
		t.Fatalf("%d bar drawings; want a redrawn bar:\n%q", bars, out)
	}
	sum := summaryRe.FindStringSubmatch(out)
	pub := barPubRe.FindStringSubmatch(last)
	if sum == nil || pub == nil || sum[1] != pub[1] {
		t.Errorf("last bar %q says published %v, the summary %v", last, pub, sum)
	}
	return last
}

// TestProgressBarInATerminal runs a migration in a real pseudo-terminal of
// 80 columns: the bar fits, is redrawn in place, ends its line before the
// summary, and finishes at the true counts.
func TestProgressBarInATerminal(t *testing.T) {
	s := startStack(t, stackOptions{})
	const n = 300
	s.seedRC(n)
	path := writeMigration(t, n, nil)
	code, out := s.terminalRun(t, context.Background(), nil, "migrate", path, "--batch", "tty", "--rate", "300")
	if code != exitOK {
		t.Fatalf("exit %d:\n%q", code, out)
	}
	last := checkScreen(t, out)
	if m := barRe.FindStringSubmatch(last); m == nil || m[1] != strconv.Itoa(n) || m[2] != strconv.Itoa(n) || strings.Contains(last, "-]") {
		t.Errorf("last bar %q, want %d/%d, full", last, n, n)
	}
}

// TestProgressBarInterruptedShowsTheTrueCount interrupts a slow migration
// in the terminal: the bar stops at the count reached, not 100%.
func TestProgressBarInterruptedShowsTheTrueCount(t *testing.T) {
	s := startStack(t, stackOptions{})
	const n = 400
	s.seedRC(n)
	path := writeMigration(t, n, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code, out := s.terminalRun(t, ctx, func(seen string) {
		if strings.Count(seen, "\r[") >= 3 {
			cancel() // Ctrl-C
		}
	}, "migrate", path, "--batch", "tty-int", "--rate", "40")
	if code != exitInterrupted {
		t.Fatalf("exit %d, want %d:\n%q", code, exitInterrupted, out)
	}
	last := checkScreen(t, out)
	m := barRe.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("last bar %q", last)
	}
	done, _ := strconv.Atoi(m[1])
	if done >= n || strings.Contains(last, "100%") {
		t.Errorf("interrupted bar %q claims %d of %d", last, done, n)
	}
}

// TestBarLineFitsEveryWidth draws a busy progress line at widths from very
// narrow to wide: it never reaches the last column and keeps the count.
func TestBarLineFitsEveryWidth(t *testing.T) {
	p := migrate.Progress{Total: 123456, Done: 65432, Previous: 1000, Published: 70000, ETA: 95 * time.Minute,
		Results: map[messages.Status]int{messages.StatusApplied: 60000, messages.StatusUnchanged: 3000,
			messages.StatusSuperseded: 2000, messages.StatusRejected: 400, messages.StatusFailed: 32}}
	for w := 0; w <= 200; w++ {
		line := barLine(p, fitWidth(w))
		if got, limit := len(line), fitWidth(w)-1; got > limit {
			t.Errorf("width %d: %d columns, limit %d: %q", w, got, limit, line)
		}
		if !strings.Contains(line, "65432/123456") {
			t.Errorf("width %d: count lost: %q", w, line)
		}
	}
}
