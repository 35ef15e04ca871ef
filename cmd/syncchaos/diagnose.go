package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// logSummary is one kind of warning or error the workers logged: how many
// times, and when first and last.
type logSummary struct {
	Level, Msg  string
	N           int
	First, Last time.Time
}

// maxLogLine bounds one worker log line read by summarizeWarnings.
const maxLogLine = 1 << 20

// summarizeWarnings reads the workers' JSON logs and returns their
// warnings and errors grouped by message, in the order they first
// appeared: what a run that did not settle needs to be understood where
// its directory is gone (a CI run's).
func summarizeWarnings(paths []string) ([]logSummary, error) {
	byMsg := map[string]*logSummary{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		err = scanWarnings(f, byMsg)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	var out []logSummary
	for _, s := range byMsg {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b logSummary) int { return a.First.Compare(b.First) })
	return out, nil
}

func scanWarnings(r io.Reader, byMsg map[string]*logSummary) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLogLine)
	for sc.Scan() {
		var line struct {
			Time  time.Time `json:"time"`
			Level string    `json:"level"`
			Msg   string    `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || (line.Level != "WARN" && line.Level != "ERROR") {
			continue
		}
		k := line.Level + " " + line.Msg
		s := byMsg[k]
		if s == nil {
			s = &logSummary{Level: line.Level, Msg: line.Msg, First: line.Time}
			byMsg[k] = s
		}
		s.N++
		if line.Time.Before(s.First) {
			s.First = line.Time
		}
		if line.Time.After(s.Last) {
			s.Last = line.Time
		}
	}
	return sc.Err()
}

// formatWarnings writes ss one per line.
func formatWarnings(ss []logSummary) string {
	if len(ss) == 0 {
		return "  (none)\n"
	}
	var b strings.Builder
	for _, s := range ss {
		fmt.Fprintf(&b, "  %s %s..%s %dx %q\n", s.Level, s.First.Format("15:04:05"), s.Last.Format("15:04:05"), s.N, s.Msg)
	}
	return b.String()
}
