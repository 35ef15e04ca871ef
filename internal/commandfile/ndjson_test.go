package commandfile_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/messages"
)

func TestReadNDJSONValidLines(t *testing.T) {
	seq := int64(1732269600000)
	tests := []struct {
		name    string
		line    string
		opts    func(*commandfile.Options)
		check   func(t *testing.T, c *messages.Command)
		derived bool // the id is derived
	}{
		{
			name:    "short form, minimal",
			line:    shortLine(rcRes),
			derived: true,
			check: func(t *testing.T, c *messages.Command) {
				if c.Source != commandfile.DefaultSource {
					t.Errorf("Source = %q, want %q", c.Source, commandfile.DefaultSource)
				}
				if c.Data.Changes.Active == nil || !*c.Data.Changes.Active || c.Data.Sequence != nil || c.Data.ProviderFields != nil {
					t.Errorf("Data = %+v", c.Data)
				}
			},
		},
		{
			name: "short form, every key",
			line: `{"id":"cmd-7","connection":"reelevant-prod","resource":"65a7d77142a7e12453052d60","sequence":1732269600000,` +
				`"changes":{"name":"App","scopes":["read","write"],"tokenUrl":"https://idp.example.com/token"},` +
				`"providerFields":{"mode":"refresh_token","tokenExpiration":3600}}`,
			check: func(t *testing.T, c *messages.Command) {
				if c.ID != "cmd-7" || c.Connection != "reelevant-prod" || c.Resource != "65a7d77142a7e12453052d60" {
					t.Errorf("ids = %s %s %s", c.ID, c.Connection, c.Resource)
				}
				if c.Data.Sequence == nil || *c.Data.Sequence != seq {
					t.Errorf("Sequence = %v", c.Data.Sequence)
				}
				if got := c.Data.Fields(); !slices.Equal(got, []string{"name", "scopes", "tokenUrl", "providerFields.mode", "providerFields.tokenExpiration"}) {
					t.Errorf("Fields = %v", got)
				}
				if string(c.Data.ProviderFields["mode"]) != `"refresh_token"` || string(c.Data.ProviderFields["tokenExpiration"]) != `3600` {
					t.Errorf("ProviderFields = %s", c.Data.ProviderFields)
				}
			},
		},
		{
			name:    "short form, provider fields only",
			line:    `{"connection":"reelevant-prod","resource":"65a7d77142a7e12453052d60","providerFields":{"mode":"refresh_token"}}`,
			derived: true,
		},
		{
			name:    "short form, surrounding whitespace and a CR",
			line:    " \t" + shortLine(rcRes) + " \r",
			derived: true,
		},
		{
			name:    "short form, own source",
			line:    shortLine(rcRes),
			opts:    func(o *commandfile.Options) { o.Source = "/migrations/billing" },
			derived: true,
			check: func(t *testing.T, c *messages.Command) {
				if c.Source != "/migrations/billing" {
					t.Errorf("Source = %q", c.Source)
				}
			},
		},
		{
			name: "full event, same batch",
			line: fullEvent("cmd-2026-11-22-000123", testBatch, `{"sequence":1732269600000,"changes":{"redirectUri":"https://app.example.com/cb","active":true},"providerFields":{}}`),
			check: func(t *testing.T, c *messages.Command) {
				if c.ID != "cmd-2026-11-22-000123" || c.Source != "/billing-service" || c.Time == nil {
					t.Errorf("Command = %+v", c)
				}
				if got := c.Data.Fields(); !slices.Equal(got, []string{"redirectUri", "active"}) {
					t.Errorf("Fields = %v", got)
				}
			},
		},
		{
			name: "full event, no batch: gets the run's",
			line: fullEvent("cmd-1", "", `{"changes":{"name":"App"}}`),
		},
		{
			name: "full event, other subject prefix",
			line: fullEvent("cmd-1", "", `{"changes":{"name":"App"}}`),
			opts: func(o *commandfile.Options) { o.Decode.Subjects.Prefix = "staging.sync" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			lines := readNDJSON(t, tt.line+"\n", opts)
			if len(lines) != 1 || lines[0].Number != 1 {
				t.Fatalf("got lines %v, want one line 1", lineNumbers(lines))
			}
			c := mustValid(t, lines[0], opts)
			if c.Batch != testBatch {
				t.Errorf("Batch = %q, want %q", c.Batch, testBatch)
			}
			if tt.derived {
				want := commandfile.DerivedID(testBatch, 1, []byte(strings.TrimSpace(tt.line)))
				if c.ID != want {
					t.Errorf("ID = %q, want the derived %q", c.ID, want)
				}
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestReadNDJSONBlankLinesKeepNumbering(t *testing.T) {
	text := "\n" + shortLine(rcRes) + "\n   \n\t\r\n" + shortLine(rcRes2) + "\n\n" // no final line
	lines := readNDJSON(t, text, testOptions())
	if got := lineNumbers(lines); !slices.Equal(got, []int{2, 5}) {
		t.Fatalf("line numbers %v, want [2 5]", got)
	}
	for _, l := range lines {
		mustValid(t, l, testOptions())
	}
	// Without a final newline, and with CRLF line ends.
	lines = readNDJSON(t, shortLine(rcRes)+"\r\n\r\n"+shortLine(rcRes2), testOptions())
	if got := lineNumbers(lines); !slices.Equal(got, []int{1, 3}) {
		t.Fatalf("line numbers %v, want [1 3]", got)
	}
	if lines := readNDJSON(t, "", testOptions()); len(lines) != 0 {
		t.Errorf("empty file gives %d lines", len(lines))
	}
}

func TestReadNDJSONInvalidLines(t *testing.T) {
	const sf = `"connection":"rc-prod","resource":"65a7d77142a7e12453052d59"`
	long := strings.Repeat("x", 600)
	tests := []struct {
		name     string
		line     string
		maxBytes int
		field    string   // want LineError.Field
		reason   []string // each is in LineError.Reason
	}{
		{name: "not JSON", line: `{"connection":"rc-prod",`, reason: []string{"JSON"}},
		{name: "not JSON, bare word", line: `hello`, reason: []string{"JSON"}},
		{name: "JSON array", line: `[{"connection":"rc-prod"}]`, reason: []string{"JSON object"}},
		{name: "JSON string", line: `"rc-prod"`, reason: []string{"JSON object"}},
		{name: "JSON null", line: `null`, reason: []string{"JSON object"}},
		{name: "two JSON values", line: "{" + sf + `,"changes":{"active":true}} {` + sf + `,"changes":{"active":false}}`, reason: []string{"more than one JSON value"}},
		{name: "data after the object", line: "{" + sf + `,"changes":{"active":true}}]`, reason: []string{"more than one JSON value"}},
		{name: "unknown short-form key", line: "{" + sf + `,"changes":{"active":true},"colour":"red"}`, field: "colour", reason: []string{"unknown key"}},
		{name: "short-form key in other case", line: "{" + sf + `,"changes":{"active":true},"Changes":{"active":false}}`, field: "Changes", reason: []string{"unknown key"}},
		{name: "duplicate short-form key", line: "{" + sf + `,"changes":{"active":true},"changes":{"active":false}}`, field: "changes", reason: []string{"duplicate"}},
		{name: "duplicate provider field", line: "{" + sf + `,"providerFields":{"mode":"a","mode":"b"}}`, field: "providerFields.mode", reason: []string{"duplicate"}},
		{name: "duplicate canonical field", line: "{" + sf + `,"changes":{"active":true,"active":false}}`, field: "data.changes.active", reason: []string{"duplicate"}},
		{name: "bad connection", line: `{"connection":"RC_Prod","resource":"65a7d77142a7e12453052d59","changes":{"active":true}}`, field: "connection", reason: []string{"[a-z0-9_-]{1,64}"}},
		{name: "no connection", line: `{"resource":"65a7d77142a7e12453052d59","changes":{"active":true}}`, field: "connection", reason: []string{"must match"}},
		{name: "connection not a string", line: `{"connection":7,"resource":"r1","changes":{"active":true}}`, reason: []string{"connection", "string"}},
		{name: "bad resource pattern", line: `{"connection":"rc-prod","resource":"apps/65a7","changes":{"active":true}}`, field: "resource", reason: []string{"[A-Za-z0-9_-]{1,128}"}},
		{name: "resource too long", line: `{"connection":"rc-prod","resource":"` + strings.Repeat("a", 129) + `","changes":{"active":true}}`, field: "resource", reason: []string{"must match"}},
		{name: "no changes", line: "{" + sf + "}", field: "data.changes", reason: []string{"at least one change"}},
		{name: "empty changes", line: "{" + sf + `,"changes":{},"providerFields":{}}`, field: "data.changes", reason: []string{"at least one change"}},
		{name: "changes null", line: "{" + sf + `,"changes":null}`, field: "data.changes", reason: []string{"object", "null"}},
		{name: "changes not an object", line: "{" + sf + `,"changes":["active"]}`, field: "data.changes", reason: []string{"object"}},
		{name: "active is a string", line: "{" + sf + `,"changes":{"active":"yes"}}`, field: "data.changes.active", reason: []string{"boolean", "string"}},
		{name: "scopes is a string", line: "{" + sf + `,"changes":{"scopes":"read write"}}`, field: "data.changes.scopes", reason: []string{"array"}},
		{name: "scope with a space", line: "{" + sf + `,"changes":{"scopes":["read write"]}}`, field: "data.changes.scopes[0]", reason: []string{"whitespace"}},
		{name: "redirectUri not a URI", line: "{" + sf + `,"changes":{"redirectUri":"app.example.com"}}`, field: "data.changes.redirectUri", reason: []string{"absolute URI"}},
		{name: "unknown canonical field", line: "{" + sf + `,"changes":{"colour":"red"}}`, field: "data.changes.colour", reason: []string{"unknown key"}},
		{name: "provider field with a bad name", line: "{" + sf + `,"providerFields":{"1st":true}}`, field: `data.providerFields["1st"]`, reason: []string{"must match"}},
		{name: "sequence is a string", line: "{" + sf + `,"sequence":"12","changes":{"active":true}}`, reason: []string{"sequence", "string"}},
		{name: "sequence is negative", line: "{" + sf + `,"sequence":-1,"changes":{"active":true}}`, field: "data.sequence", reason: []string{"between 0 and"}},
		{name: "id with a bad character", line: "{" + sf + `,"id":"cmd 1","changes":{"active":true}}`, field: "id", reason: []string{"must match"}},
		{name: "id with a slash", line: "{" + sf + `,"id":"cmd/1","changes":{"active":true}}`, field: "id", reason: []string{"must match"}},
		{name: "full event, other batch", line: fullEvent("cmd-1", "migration-41", `{"changes":{"active":true}}`), field: "batch", reason: []string{"migration-41", testBatch}},
		{name: "full event, bad batch", line: fullEvent("cmd-1", "migration 41", `{"changes":{"active":true}}`), field: "batch", reason: []string{"must match"}},
		{name: "full event, bad connection", line: strings.Replace(fullEvent("cmd-1", "", `{"changes":{"active":true}}`), `"rc-prod"`, `"rc.prod"`, 1), field: "connection", reason: []string{"must match"}},
		{name: "full event, bad resource", line: strings.Replace(fullEvent("cmd-1", "", `{"changes":{"active":true}}`), rcRes, "a.b", 1), field: "resource", reason: []string{"must match"}},
		{name: "full event, wrong type", line: strings.Replace(fullEvent("cmd-1", "", `{"changes":{"active":true}}`), "update.v1", "delete.v1", 1), field: "type", reason: []string{"must be"}},
		{name: "full event, unknown key", line: strings.Replace(fullEvent("cmd-1", "", `{"changes":{"active":true}}`), `"source"`, `"subject":"x","source"`, 1), field: "subject", reason: []string{"unknown key"}},
		{name: "full event, no data", line: strings.Replace(fullEvent("cmd-1", "", `{"changes":{"active":true}}`), `,"data":{"changes":{"active":true}}`, "", 1), field: "data", reason: []string{"required"}},
		{name: "full event, active is a string", line: fullEvent("cmd-1", testBatch, `{"changes":{"active":"yes"}}`), field: "data.changes.active", reason: []string{"boolean"}},
		{name: "full event, bad id", line: fullEvent("cmd#1", testBatch, `{"changes":{"active":true}}`), field: "id", reason: []string{"must match"}},
		{name: "short form over MaxBytes", line: "{" + sf + `,"changes":{"description":"` + long + `"}}`, maxBytes: 512, field: "body", reason: []string{"over the limit of 512 bytes"}},
		{name: "full event over MaxBytes", line: fullEvent("cmd-1", testBatch, `{"changes":{"description":"`+long+`"}}`), maxBytes: 512, field: "body", reason: []string{"over the limit of 512 bytes"}},
		{name: "string over 2048 characters", line: "{" + sf + `,"changes":{"name":"` + strings.Repeat("n", 2049) + `"}}`, field: "data.changes.name", reason: []string{"2048"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.Decode.MaxBytes = tt.maxBytes
			// A valid line, blank lines, then the bad line as line 4,
			// then a valid line 5.
			text := shortLine(rcRes) + "\n\n \n" + tt.line + "\n" + shortLine(rcRes2) + "\n"
			lines := readNDJSON(t, text, opts)
			if got := lineNumbers(lines); !slices.Equal(got, []int{1, 4, 5}) {
				t.Fatalf("line numbers %v, want [1 4 5]", got)
			}
			mustValid(t, lines[0], opts)
			mustValid(t, lines[2], opts)
			le := mustLineError(t, lines[1])
			if le.Line != 4 {
				t.Errorf("Line = %d, want 4", le.Line)
			}
			if le.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", le.Field, tt.field, le)
			}
			for _, want := range tt.reason {
				if !strings.Contains(le.Reason, want) {
					t.Errorf("Reason %q does not contain %q", le.Reason, want)
				}
			}
			if !strings.HasPrefix(le.Error(), "line 4: ") {
				t.Errorf("Error() = %q, want the line first", le.Error())
			}
			if got := commandfile.Invalid(lines); len(got) != 1 || got[0].Number != 4 {
				t.Errorf("Invalid = %v, want line 4", lineNumbers(got))
			}
		})
	}
}

func TestReadNDJSONDuplicateIDs(t *testing.T) {
	dup := func(res string) string {
		return `{"id":"cmd-dup","connection":"rc-prod","resource":"` + res + `","changes":{"active":true}}`
	}
	text := strings.Join([]string{
		`{"id":"cmd-dup","connection":"rc-prod","resource":"` + rcRes + `","changes":{"active":"no"}}`, // 1: invalid, does not claim the id
		dup(rcRes),        // 2: first valid use
		shortLine(rcRes2), // 3
		"",                // 4
		dup(rcRes2),       // 5: duplicate of 2
		fullEvent("cmd-dup", testBatch, `{"changes":{"name":"App"}}`), // 6: duplicate of 2
		dup(rcRes), // 7: same content as 2, still a duplicate
	}, "\n")
	lines := readNDJSON(t, text, testOptions())
	if got := lineNumbers(lines); !slices.Equal(got, []int{1, 2, 3, 5, 6, 7}) {
		t.Fatalf("line numbers %v", got)
	}
	if le := mustLineError(t, lines[0]); le.Field != "data.changes.active" {
		t.Errorf("line 1: %v", le)
	}
	mustValid(t, lines[1], testOptions())
	mustValid(t, lines[2], testOptions())
	for _, l := range lines[3:] {
		le := mustLineError(t, l)
		if le.Field != "id" || !strings.Contains(le.Reason, "line 2") {
			t.Errorf("line %d: %v, want a duplicate of line 2", l.Number, le)
		}
	}
}

func TestReadNDJSONCheck(t *testing.T) {
	errRefused := errors.New("resource is read-only")
	var calls atomic.Int64
	opts := testOptions()
	opts.Check = func(c *messages.Command) error {
		calls.Add(1)
		if c.Batch != testBatch {
			return fmt.Errorf("batch %q not set before Check", c.Batch)
		}
		if c.Resource == rcRes2 {
			return errRefused
		}
		return nil
	}
	text := shortLine(rcRes) + "\n" + shortLine(rcRes2) + "\n" +
		`{"connection":"rc-prod","resource":"` + rcRes2 + `","changes":{"active":1}}` + "\n" + // invalid before Check
		fullEvent("cmd-1", "", `{"changes":{"active":true}}`) + "\n"
	lines := readNDJSON(t, text, opts)
	if len(lines) != 4 {
		t.Fatalf("got %d lines", len(lines))
	}
	mustValid(t, lines[0], opts)
	mustValid(t, lines[3], opts)
	le := mustLineError(t, lines[1])
	if le.Line != 2 || !errors.Is(lines[1].Err, errRefused) || !strings.Contains(le.Error(), "read-only") {
		t.Errorf("line 2: %v, want Check's error", le)
	}
	if le := mustLineError(t, lines[2]); errors.Is(le, errRefused) || le.Field != "data.changes.active" {
		t.Errorf("line 3: %v, want the decoder's error", le)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("Check called %d times, want 3 (once per line the decoder accepts)", n)
	}
}

func TestReadNDJSONClientSecretOption(t *testing.T) {
	const secret = "rotated-S3CRET-value"
	opts := testOptions()
	opts.ClientSecret = secret
	var seen atomic.Bool
	opts.Check = func(c *messages.Command) error {
		if c.Data.Changes.ClientSecret != nil && c.Data.Changes.ClientSecret.Reveal() == secret {
			seen.Store(true)
		}
		return nil
	}
	text := shortLine(rcRes) + "\n" +
		`{"connection":"rc-prod","resource":"` + rcRes2 + `","changes":{"clientSecret":"own-secret"}}` + "\n"
	lines := readNDJSON(t, text, opts)
	c := mustValid(t, lines[0], opts)
	if c.Data.Changes.ClientSecret == nil || c.Data.Changes.ClientSecret.Reveal() != secret {
		t.Errorf("line 1: the option's secret is not set")
	}
	if !strings.Contains(string(lines[0].Body), secret) {
		t.Errorf("line 1: Body does not carry the secret")
	}
	if !seen.Load() {
		t.Errorf("Check did not see the secret")
	}
	le := mustLineError(t, lines[1])
	if le.Field != "data.changes.clientSecret" {
		t.Errorf("line 2: %v", le)
	}
	if strings.Contains(le.Error(), secret) || strings.Contains(le.Error(), "own-secret") {
		t.Errorf("line 2: error shows a secret: %v", le)
	}
}

// TestReadNDJSONFinalBodyWithinLimit: the body published is the command as
// encoded after the run's batch and shared secret are set; it must still be
// within MaxBytes, or the worker would refuse what was accepted here.
func TestReadNDJSONFinalBodyWithinLimit(t *testing.T) {
	const limit = 1024
	// pad fills a line made by mk up to limit-2 bytes with n-byte runes r.
	pad := func(mk func(fill string) string, r string) string {
		return mk(strings.Repeat(r, (limit-2-len(mk("")))/len(r)))
	}
	noBatch := func(fill string) string {
		return fullEvent("cmd-1", "", `{"changes":{"description":"`+fill+`"}}`)
	}
	short := func(fill string) string {
		return `{"connection":"rc-prod","resource":"r1","changes":{"description":"` + fill + `"}}`
	}
	tests := []struct {
		name   string
		line   string
		secret messages.Secret
	}{
		{name: "the run's batch added", line: pad(noBatch, "d")},
		{name: "the shared secret added", line: pad(short, "d"), secret: "from-env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			opts.Decode.MaxBytes = limit
			opts.ClientSecret = tt.secret
			if len(tt.line) > limit {
				t.Fatalf("the line is %d bytes", len(tt.line))
			}
			// Without the limit the line is valid.
			big := opts
			big.Decode.MaxBytes = 1 << 20
			mustValid(t, readNDJSON(t, tt.line, big)[0], big)

			l := readNDJSON(t, tt.line, opts)[0]
			if l.Err == nil {
				t.Fatalf("accepted, but its %d-byte body is over the limit of %d", len(l.Body), limit)
			}
			if le := mustLineError(t, l); le.Field != "body" || !strings.Contains(le.Reason, "over the limit") {
				t.Errorf("%v, want a body size error", le)
			}
		})
	}
}

// A line that already carries the run's batch is published as it is, the
// bytes the decoder accepted: no second encoding can push it over the limit
// (U+2028 is 3 bytes raw, 6 once escaped by an encoder).
func TestReadNDJSONPublishesValidatedBytes(t *testing.T) {
	const limit = 1024
	opts := testOptions()
	opts.Decode.MaxBytes = limit
	mk := func(fill string) string {
		return fullEvent("cmd-1", testBatch, `{"changes":{"description":"`+fill+`"}}`)
	}
	line := mk(strings.Repeat("\u2028", (limit-2-len(mk("")))/3))
	l := readNDJSON(t, line, opts)[0]
	if l.Err != nil {
		t.Fatalf("refused: %v", l.Err)
	}
	if string(l.Body) != line {
		t.Errorf("body is not the line as validated:\n%s\n%s", l.Body, line)
	}
	short := `{"connection":"rc-prod","resource":"r1","changes":{"name":"x"}}`
	sl := readNDJSON(t, short, opts)[0]
	if sl.Err != nil {
		t.Fatal(sl.Err)
	}
	if _, err := messages.DecodeCommand(opts.Decode.Subjects.Command("rc-prod", "r1"), sl.Body, opts.Decode); err != nil {
		t.Errorf("a short form's body does not decode: %v", err)
	}
}

func TestReadNDJSONBadBatch(t *testing.T) {
	for _, batch := range []string{"", "migration 42", "migration/42", strings.Repeat("b", 129), "mïgration"} {
		opts := commandfile.Options{Batch: batch}
		if lines, err := commandfile.ReadNDJSON(strings.NewReader(shortLine(rcRes)), opts); err == nil || lines != nil {
			t.Errorf("ReadNDJSON batch %q: %d lines, error %v; want an error", batch, len(lines), err)
		}
		if lines, err := commandfile.ReadCSV(strings.NewReader("connection,resource,active\nrc-prod,r1,true\n"), nil, opts); err == nil || lines != nil {
			t.Errorf("ReadCSV batch %q: %d lines, error %v; want an error", batch, len(lines), err)
		}
	}
	if _, err := commandfile.ReadNDJSON(strings.NewReader(shortLine(rcRes)), commandfile.Options{Batch: strings.Repeat("b", 128)}); err != nil {
		t.Errorf("128-character batch: %v", err)
	}
}

func TestReadNDJSONLineTooLong(t *testing.T) {
	text := shortLine(rcRes) + "\n\n\n" + strings.Repeat(" ", commandfile.MaxLineBytes+1) + "x\n"
	_, err := commandfile.ReadNDJSON(strings.NewReader(text), testOptions())
	if err == nil || !strings.Contains(err.Error(), "line 4 ") {
		t.Errorf("error %v, want one naming line 4", err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadNDJSONReadError(t *testing.T) {
	errDisk := errors.New("disk on fire")
	if _, err := commandfile.ReadNDJSON(failingReader{errDisk}, testOptions()); !errors.Is(err, errDisk) {
		t.Errorf("error %v, want %v", err, errDisk)
	}
}

func TestParse(t *testing.T) {
	// Parse accepts an empty batch: a full event keeps its own.
	l := commandfile.Parse(7, []byte(" "+fullEvent("cmd-1", "migration-41", `{"changes":{"active":true}}`)+"\n"), commandfile.Options{})
	c := mustValid(t, l, commandfile.Options{})
	if l.Number != 7 || c.Batch != "migration-41" {
		t.Errorf("Number %d, Batch %q", l.Number, c.Batch)
	}
	// A short form without batch gets a derived id all the same.
	l = commandfile.Parse(3, []byte(shortLine(rcRes)), commandfile.Options{})
	c = mustValid(t, l, commandfile.Options{})
	if want := commandfile.DerivedID("", 3, []byte(shortLine(rcRes))); c.ID != want || c.Batch != "" {
		t.Errorf("ID %q batch %q, want %q and none", c.ID, c.Batch, want)
	}
	for _, text := range []string{"", "  ", "{"} {
		l := commandfile.Parse(2, []byte(text), commandfile.Options{})
		if le := mustLineError(t, l); le.Line != 2 {
			t.Errorf("Parse(%q): %v", text, le)
		}
	}
}

func TestLineError(t *testing.T) {
	inner := errors.New("inner")
	tests := []struct {
		err  *commandfile.LineError
		want string
	}{
		{&commandfile.LineError{Line: 3, Reason: "not a JSON object"}, "line 3: not a JSON object"},
		{&commandfile.LineError{Line: 12, Field: "data.changes.active", Reason: "must be a boolean"}, "line 12: data.changes.active: must be a boolean"},
		{&commandfile.LineError{Line: 1, Reason: "inner", Err: inner}, "line 1: inner"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(tests[2].err, inner) || errors.Is(tests[0].err, inner) {
		t.Error("Unwrap does not return the check's error")
	}
}
