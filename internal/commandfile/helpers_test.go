package commandfile_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/messages"
)

const (
	testBatch = "migration-42"
	rcConn    = "rc-prod"
	rcRes     = "65a7d77142a7e12453052d59"
	rcRes2    = "65a7d77142a7e12453052d5a"
)

// testOptions are the options most tests read with.
func testOptions() commandfile.Options {
	return commandfile.Options{Batch: testBatch}
}

// shortLine is a valid short-form line for resource res.
func shortLine(res string) string {
	return `{"connection":"` + rcConn + `","resource":"` + res + `","changes":{"active":true}}`
}

// fullEvent is a valid full command CloudEvent with id, batch (omitted
// when empty) and data.
func fullEvent(id, batch, data string) string {
	b := ""
	if batch != "" {
		b = `"batch":"` + batch + `",`
	}
	return `{"specversion":"1.0","id":"` + id + `","source":"/billing-service","type":"oauthsync.client.update.v1",` +
		`"time":"2026-11-22T10:00:00Z","datacontenttype":"application/json","connection":"` + rcConn +
		`","resource":"` + rcRes + `",` + b + `"data":` + data + `}`
}

// readNDJSON reads text, failing the test on a read error.
func readNDJSON(t testing.TB, text string, opts commandfile.Options) []commandfile.Line {
	t.Helper()
	lines, err := commandfile.ReadNDJSON(strings.NewReader(text), opts)
	if err != nil {
		t.Fatalf("ReadNDJSON: %v", err)
	}
	return lines
}

// readCSV reads text with mapping m, failing the test on a read error.
func readCSV(t testing.TB, text string, m commandfile.Mapping, opts commandfile.Options) []commandfile.Line {
	t.Helper()
	lines, err := commandfile.ReadCSV(strings.NewReader(text), m, opts)
	if err != nil {
		t.Fatalf("ReadCSV: %v", err)
	}
	return lines
}

// checkLine verifies the invariants every returned line keeps and returns
// an error describing the first one broken: exactly one of Command and Err;
// Err is a *LineError naming the line; Body is what the worker accepts on
// the command's subject, and carries the options' batch.
func checkLine(l commandfile.Line, opts commandfile.Options) error {
	if (l.Command == nil) == (l.Err == nil) {
		return fmt.Errorf("line %d: want exactly one of Command and Err, got Command %v, Err %v", l.Number, l.Command != nil, l.Err)
	}
	if l.Err != nil {
		var le *commandfile.LineError
		if !errors.As(l.Err, &le) {
			return fmt.Errorf("line %d: Err is %T, want *LineError", l.Number, l.Err)
		}
		if le.Line != l.Number {
			return fmt.Errorf("line %d: LineError.Line is %d", l.Number, le.Line)
		}
		if le.Reason == "" {
			return fmt.Errorf("line %d: LineError without a reason", l.Number)
		}
		if l.Body != nil {
			return fmt.Errorf("line %d: invalid line with a Body", l.Number)
		}
		return nil
	}
	c := l.Command
	got, err := messages.DecodeCommand(opts.Decode.Subjects.Command(c.Connection, c.Resource), l.Body, opts.Decode)
	if err != nil {
		return fmt.Errorf("line %d: Body does not decode: %v", l.Number, err)
	}
	if opts.Batch != "" && got.Batch != opts.Batch {
		return fmt.Errorf("line %d: Body's batch is %q, want %q", l.Number, got.Batch, opts.Batch)
	}
	if got.ID != c.ID || got.Connection != c.Connection || got.Resource != c.Resource || got.Batch != c.Batch {
		return fmt.Errorf("line %d: Body (%s %s %s %s) differs from Command (%s %s %s %s)", l.Number,
			got.ID, got.Connection, got.Resource, got.Batch, c.ID, c.Connection, c.Resource, c.Batch)
	}
	key := []byte("commandfile-test-digest-key")
	gotDigest, err1 := got.PayloadDigest(key)
	wantDigest, err2 := c.PayloadDigest(key)
	if err1 != nil || err2 != nil || gotDigest != wantDigest {
		return fmt.Errorf("line %d: Body asks for something else than Command", l.Number)
	}
	return nil
}

// mustValid fails the test unless l is a valid line.
func mustValid(t testing.TB, l commandfile.Line, opts commandfile.Options) *messages.Command {
	t.Helper()
	if l.Err != nil {
		t.Fatalf("line %d: unexpected error: %v", l.Number, l.Err)
	}
	if err := checkLine(l, opts); err != nil {
		t.Fatal(err)
	}
	return l.Command
}

// mustLineError fails the test unless l is invalid with a *LineError.
func mustLineError(t testing.TB, l commandfile.Line) *commandfile.LineError {
	t.Helper()
	if l.Err == nil {
		t.Fatalf("line %d: valid, want an error", l.Number)
	}
	if err := checkLine(l, commandfile.Options{}); err != nil {
		t.Fatal(err)
	}
	var le *commandfile.LineError
	errors.As(l.Err, &le)
	return le
}

// lineNumbers returns the numbers of lines.
func lineNumbers(lines []commandfile.Line) []int {
	n := make([]int, len(lines))
	for i, l := range lines {
		n[i] = l.Number
	}
	return n
}
