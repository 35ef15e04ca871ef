package commandfile_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/messages"
)

const fileSecret = "s3cr3t-VALUE-xyz"

// leaksSecret reports the longest piece (of at least 6 characters) of
// fileSecret that text holds, or "".
func leaksSecret(text string) string {
	const minPiece = 6
	for n := len(fileSecret); n >= minPiece; n-- {
		for i := 0; i+n <= len(fileSecret); i++ {
			if strings.Contains(text, fileSecret[i:i+n]) {
				return fileSecret[i : i+n]
			}
		}
	}
	return ""
}

// errorTexts is every way an invalid line's error may be shown.
func errorTexts(l commandfile.Line) []string {
	texts := []string{l.Err.Error(), fmt.Sprintf("%v", l.Err), fmt.Sprintf("%+v", l.Err), fmt.Sprintf("%#v", l.Err)}
	var le *commandfile.LineError
	if errors.As(l.Err, &le) {
		texts = append(texts, fmt.Sprintf("%+v", *le), le.Field, le.Reason)
	}
	return texts
}

func TestErrorsNeverShowTheSecret(t *testing.T) {
	const (
		head = `{"connection":"rc-prod","resource":"65a7d77142a7e12453052d59","changes":{`
		sec  = `"clientSecret":"` + fileSecret + `"`
	)
	full := func(data string) string { return fullEvent("cmd-1", testBatch, data) }
	tests := []struct {
		name string
		line string
		opts func(*commandfile.Options)
	}{
		{name: "wrong type next to it", line: head + sec + `,"active":"yes"}}`},
		{name: "wrong type before it", line: head + `"scopes":"a b",` + sec + `}}`},
		{name: "unknown canonical field", line: head + sec + `,"colour":"red"}}`},
		{name: "unknown short-form key", line: head + sec + `},"extra":1}`},
		{name: "bad connection", line: `{"connection":"RC","resource":"r1","changes":{` + sec + `}}`},
		{name: "bad resource", line: `{"connection":"rc-prod","resource":"r/1","changes":{` + sec + `}}`},
		{name: "bad id", line: `{"id":"a b","connection":"rc-prod","resource":"r1","changes":{` + sec + `}}`},
		{name: "line cut inside the secret", line: head + `"clientSecret":"s3cr3t-VALUE`},
		{name: "line cut after the secret", line: head + sec},
		{name: "bad escape inside the secret", line: head + `"clientSecret":"s3cr3t-V\ALUE-xyz"}}`},
		{name: "control character inside the secret", line: head + `"clientSecret":"s3cr3t-VALUE` + "\x01" + `-xyz"}}`},
		{name: "unescaped quote inside the secret", line: head + `"clientSecret":"s3cr3t-VA"LUE-xyz"}}`},
		{name: "invalid UTF-8 inside the secret", line: head + `"clientSecret":"s3cr3t-VALUE-xyz` + "\xff" + `"}}`},
		{name: "trailing comma after the secret", line: head + sec + `,}}`},
		{name: "missing comma after the secret", line: head + sec + ` "active":true}}`},
		{name: "secret unquoted", line: head + `"clientSecret":s3cr3t-VALUE-xyz}}`},
		{name: "secret as a number-like word", line: head + `"clientSecret":-s3cr3t-VALUE-xyz}}`},
		{name: "secret in an array", line: head + `"clientSecret":["` + fileSecret + `"]}}`},
		{name: "secret as an object", line: head + `"clientSecret":{"v":"` + fileSecret + `"}}}`},
		{name: "secret twice", line: head + `"clientSecret":"other",` + sec + `}}`},
		{name: "secret in the sequence", line: `{"connection":"rc-prod","resource":"r1","sequence":"` + fileSecret + `","changes":{"active":true}}`},
		{name: "secret in the sequence, unquoted", line: `{"connection":"rc-prod","resource":"r1","sequence":s3cr3t-VALUE-xyz,"changes":{"active":true}}`},
		{name: "secret in a provider field, bad name", line: `{"connection":"rc-prod","resource":"r1","providerFields":{"1x":"` + fileSecret + `"}}`},
		{name: "secret in a provider field, broken", line: `{"connection":"rc-prod","resource":"r1","providerFields":{"p":"s3cr3t-VALUE-xyz}}`},
		{name: "two JSON values", line: head + sec + `}} ` + head + sec + `}}`},
		{name: "data after the object", line: head + sec + `}}s3cr3t-VALUE-xyz`},
		{name: "over MaxBytes", line: head + sec + `,"description":"` + strings.Repeat("d", 600) + `"}}`,
			opts: func(o *commandfile.Options) { o.Decode.MaxBytes = 512 }},
		{name: "also given by the option", line: head + sec + `}}`,
			opts: func(o *commandfile.Options) { o.ClientSecret = "from-env" }},
		{name: "Check refuses", line: head + sec + `}}`,
			opts: func(o *commandfile.Options) {
				o.Check = func(*messages.Command) error { return errors.New("clientSecret is not supported by rocketchat") }
			}},
		{name: "full event, wrong type next to it", line: full(`{"changes":{` + sec + `,"active":"yes"}}`)},
		{name: "full event, other batch", line: strings.Replace(full(`{"changes":{`+sec+`}}`), testBatch, "migration-41", 1)},
		{name: "full event, cut inside the secret", line: fullEvent("cmd-1", testBatch, `{"changes":{"clientSecret":"s3cr3t-VALUE`)},
		{name: "full event, unknown data key", line: full(`{"changes":{` + sec + `},"extra":1}`)},
		{name: "full event, data after it", line: full(`{"changes":{`+sec+`}}`) + `"s3cr3t-VALUE-xyz"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			lines := readNDJSON(t, shortLine(rcRes2)+"\n"+tt.line+"\n", opts)
			if len(lines) != 2 {
				t.Fatalf("got %d lines", len(lines))
			}
			l := lines[1]
			if l.Err == nil {
				t.Fatalf("line 2 is valid, want it refused")
			}
			if le := mustLineError(t, l); le.Line != 2 {
				t.Errorf("Line = %d", le.Line)
			}
			for _, text := range errorTexts(l) {
				if piece := leaksSecret(text); piece != "" {
					t.Errorf("error shows %q of the secret: %s", piece, text)
				}
			}
		})
	}
}

func TestCSVErrorsNeverShowTheSecret(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{name: "bad active next to it", text: "connection,resource,clientSecret,active\nrc-prod,r1," + fileSecret + ",yes\n"},
		{name: "bad scopes next to it", text: "connection,resource,clientSecret,scopes\nrc-prod,r1," + fileSecret + ",\"[\"\"a\"\"\"\n"},
		{name: "bad sequence next to it", text: "connection,resource,clientSecret,sequence\nrc-prod,r1," + fileSecret + ",12x\n"},
		{name: "too few cells", text: "connection,resource,clientSecret,active\nrc-prod,r1," + fileSecret + "\n"},
		{name: "too many cells", text: "connection,resource,clientSecret\nrc-prod,r1," + fileSecret + ",x\n"},
		{name: "bad connection", text: "connection,resource,clientSecret\nRC,r1," + fileSecret + "\n"},
		{name: "secret in the sequence", text: "connection,resource,sequence\nrc-prod,r1," + fileSecret + "\n"},
		{name: "secret in active", text: "connection,resource,active\nrc-prod,r1," + fileSecret + "\n"},
		{name: "secret in scopes as bad JSON", text: "connection,resource,scopes\nrc-prod,r1,[" + fileSecret + "\n"},
		{name: "secret with a space in redirectUri", text: "connection,resource,redirectUri\nrc-prod,r1,\"" + fileSecret + " x\"\n"},
		{name: "secret in a provider field with a bad name", text: "connection,resource,providerFields.1x\nrc-prod,r1," + fileSecret + "\n"},
		{name: "secret too long", text: "connection,resource,clientSecret\nrc-prod,r1," + strings.Repeat(fileSecret, 200) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := readCSV(t, tt.text, nil, testOptions())
			if len(lines) != 1 {
				t.Fatalf("got %d lines", len(lines))
			}
			le := mustLineError(t, lines[0])
			if le.Line != 2 {
				t.Errorf("Line = %d, want 2", le.Line)
			}
			for _, text := range errorTexts(lines[0]) {
				if piece := leaksSecret(text); piece != "" {
					t.Errorf("error shows %q of the secret: %s", piece, text)
				}
			}
		})
	}
	// A broken quote in the secret fails the whole file: that error must
	// not show it either.
	_, err := commandfile.ReadCSV(strings.NewReader("connection,resource,clientSecret\nrc-prod,r1,s3cr3t\"VALUE-xyz\n"), nil, testOptions())
	if err == nil {
		t.Fatal("bare quote: no error")
	}
	if piece := leaksSecret(err.Error()); piece != "" {
		t.Errorf("error shows %q of the secret: %v", piece, err)
	}
}
