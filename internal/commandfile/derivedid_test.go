package commandfile_test

import (
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/messages"
)

func TestDerivedID(t *testing.T) {
	a, b := []byte(shortLine(rcRes)), []byte(shortLine(rcRes2))
	id := commandfile.DerivedID(testBatch, 3, a)
	if !messages.ValidCommandID(id) || !strings.HasPrefix(id, testBatch+":3:") {
		t.Errorf("DerivedID = %q", id)
	}
	if again := commandfile.DerivedID(testBatch, 3, a); again != id {
		t.Errorf("not deterministic: %q then %q", id, again)
	}
	for name, other := range map[string]string{
		"other content": commandfile.DerivedID(testBatch, 3, b),
		"other line":    commandfile.DerivedID(testBatch, 4, a),
		"other batch":   commandfile.DerivedID("migration-43", 3, a),
		"one byte more": commandfile.DerivedID(testBatch, 3, append([]byte(shortLine(rcRes)), ' ')),
	} {
		if other == id {
			t.Errorf("%s: same id %q", name, id)
		}
	}
	for _, batch := range []string{"", "b", strings.Repeat("b", 96), strings.Repeat("b", 127), strings.Repeat("b", 128)} {
		for _, line := range []int{1, 10_000, 1 << 40} {
			id := commandfile.DerivedID(batch, line, a)
			if len(id) > 128 || !messages.ValidCommandID(id) {
				t.Errorf("DerivedID(%d-char batch, %d) = %q (%d chars): not a valid id", len(batch), line, id, len(id))
			}
			if !strings.HasPrefix(id, batch[:min(len(batch), 100)]) {
				t.Errorf("DerivedID(%d-char batch, %d) = %q: does not start with the batch", len(batch), line, id)
			}
		}
	}
}

func TestReadNDJSONDerivedIDsAreStable(t *testing.T) {
	lines := []string{
		shortLine(rcRes),
		shortLine(rcRes2),
		`{"id":"cmd-own","connection":"rc-prod","resource":"` + rcRes + `","changes":{"name":"App"}}`,
		shortLine(rcRes), // same content as line 1, other line: another id
		fullEvent("cmd-full", "", `{"changes":{"name":"App"}}`),
	}
	ids := func(text string, opts commandfile.Options) []string {
		t.Helper()
		var out []string
		for _, l := range readNDJSON(t, text, opts) {
			out = append(out, mustValid(t, l, opts).ID)
		}
		return out
	}
	text := strings.Join(lines, "\n")
	first, second := ids(text, testOptions()), ids(text, testOptions())
	for i := range first {
		if first[i] != second[i] {
			t.Errorf("line %d: id %q then %q", i+1, first[i], second[i])
		}
	}
	if first[0] == first[3] {
		t.Errorf("lines 1 and 4 (same content) share the id %q", first[0])
	}
	if first[2] != "cmd-own" || first[4] != "cmd-full" {
		t.Errorf("own ids are not kept: %q, %q", first[2], first[4])
	}

	// An edited line gets a new id; the others keep theirs.
	edited := append([]string(nil), lines...)
	edited[1] = strings.Replace(lines[1], `"active":true`, `"active":false`, 1)
	got := ids(strings.Join(edited, "\n"), testOptions())
	if got[1] == first[1] {
		t.Errorf("edited line 2 keeps its id %q", got[1])
	}
	if got[0] != first[0] || got[3] != first[3] {
		t.Errorf("unedited lines changed ids: %q→%q, %q→%q", first[0], got[0], first[3], got[3])
	}

	// Another batch gives other ids.
	other := testOptions()
	other.Batch = "migration-43"
	if got := ids(text, other); got[0] == first[0] {
		t.Errorf("another batch gives the same id %q", got[0])
	}
}

func TestReadNDJSONDerivedIDLongBatch(t *testing.T) {
	opts := commandfile.Options{Batch: strings.Repeat("m", 64) + "." + strings.Repeat("9", 63)}
	if len(opts.Batch) != 128 {
		t.Fatalf("batch has %d chars", len(opts.Batch))
	}
	text := strings.Repeat("\n", 99_999) + shortLine(rcRes) + "\n" + shortLine(rcRes2)
	lines := readNDJSON(t, text, opts)
	if len(lines) != 2 || lines[0].Number != 100_000 {
		t.Fatalf("lines %v", lineNumbers(lines))
	}
	for _, l := range lines {
		c := mustValid(t, l, opts)
		if len(c.ID) > 128 || !messages.ValidCommandID(c.ID) {
			t.Errorf("line %d: id %q (%d chars) is not valid", l.Number, c.ID, len(c.ID))
		}
		if c.Batch != opts.Batch {
			t.Errorf("line %d: the batch is cut in the command: %q", l.Number, c.Batch)
		}
	}
	if lines[0].Command.ID == lines[1].Command.ID {
		t.Errorf("two lines share the id %q", lines[0].Command.ID)
	}
}
