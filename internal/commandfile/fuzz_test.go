package commandfile_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/messages"
)

// fuzzOptions read fuzzed files: a small size limit (so that limits are
// reached), a Check that refuses one resource, and a shared secret when
// withSecret.
func fuzzOptions(withSecret bool) commandfile.Options {
	opts := commandfile.Options{
		Batch:  testBatch,
		Decode: messages.DecodeOptions{MaxBytes: 2048},
		Check: func(c *messages.Command) error {
			if c.Resource == "refused" {
				return errReadOnly
			}
			return nil
		},
	}
	if withSecret {
		opts.ClientSecret = "from-env"
	}
	return opts
}

// checkLines verifies what every read returns, whatever the file: exactly
// one of Command and Err per line, bodies the worker accepts, line numbers
// strictly increasing, ids unique.
func checkLines(t *testing.T, lines []commandfile.Line, opts commandfile.Options) {
	t.Helper()
	prev := 0
	ids := map[string]int{}
	for _, l := range lines {
		if l.Number <= prev {
			t.Fatalf("line %d after line %d", l.Number, prev)
		}
		prev = l.Number
		if err := checkLine(l, opts); err != nil {
			t.Fatal(err)
		}
		if l.Command == nil {
			continue
		}
		if n, dup := ids[l.Command.ID]; dup {
			t.Fatalf("lines %d and %d share the id %q", n, l.Number, l.Command.ID)
		}
		ids[l.Command.ID] = l.Number
		if l.Command.Resource == "refused" {
			t.Fatalf("line %d: Check was not applied", l.Number)
		}
		if opts.ClientSecret != "" && (l.Command.Data.Changes.ClientSecret == nil || *l.Command.Data.Changes.ClientSecret != opts.ClientSecret) {
			t.Fatalf("line %d: the shared secret is not set", l.Number)
		}
	}
}

func FuzzReadNDJSON(f *testing.F) {
	seeds := []string{
		shortLine(rcRes),
		shortLine(rcRes) + "\n\n" + shortLine(rcRes2) + "\r\n",
		`{"id":"cmd-7","connection":"reelevant-prod","resource":"65a7d77142a7e12453052d60","sequence":1732269600000,"changes":{"name":"App","scopes":["read","write"]},"providerFields":{"mode":"refresh_token","configuration":{"a":[1,2.5,null]}}}`,
		fullEvent("cmd-1", testBatch, `{"sequence":1,"changes":{"redirectUri":"https://app.example.com/cb","active":true},"providerFields":{}}`),
		fullEvent("cmd-1", "", `{"changes":{"description":"<&>\u2028"}}`),
		fullEvent("cmd-1", "migration-41", `{"changes":{"active":true}}`),
		fullEvent("cmd-1", testBatch, `{"changes":{"active":true}}`) + "\n" + `{"id":"cmd-1","connection":"rc-prod","resource":"r1","changes":{"active":true}}`,
		`{"connection":"rc-prod","resource":"refused","changes":{"active":true}}`,
		`{"connection":"rc-prod","resource":"r1","changes":{"clientSecret":"own"}}`,
		`{"connection":"rc-prod","resource":"r1","changes":{"active":"yes"}}`,
		`{"connection":"rc-prod","resource":"r1","changes":{"colour":"red"}}`,
		`{"connection":"rc-prod","resource":"r1","changes":{}}`,
		`{"connection":"rc-prod","resource":"r1","changes":{"active":true},"Changes":{"active":false}}`,
		`{"connection":"rc-prod","resource":"r1","changes":{"active":true},"changes":{"active":false}}`,
		`{"connection":"rc-prod","resource":"r1","providerFields":{"a":1,"a":2}}`,
		`{"connection":"rc-prod","resource":"r1","changes":{"active":true}} {}`,
		`{"connection":"RC","resource":"r/1","changes":{"active":true}}`,
		`{"id":"a b","connection":"rc-prod","resource":"r1","changes":{"active":true}}`,
		`{"connection":"rc-prod","resource":"r1","sequence":"1","changes":{"active":true}}`,
		`{"connection":"rc-prod","resource":"r1","changes":{"description":"` + strings.Repeat("<", 500) + `"}}`,
		`{"connection":"rc-prod",`,
		"[]\nnull\n\"x\"\n1\n{}\n",
		"{\"connection\":\"rc-prod\",\"resource\":\"r1\",\"changes\":{\"name\":\"\xff\"}}",
		`{"specversion":null}`,
		`{"specversion":"1.0","connection":"rc-prod","resource":"r1","batch":"` + testBatch + `","batch":"x"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(shortLine(rcRes)+"\n"+`{"connection":"rc-prod","resource":"r1","changes":{"clientSecret":"own"}}`), true)
	f.Fuzz(func(t *testing.T, data []byte, withSecret bool) {
		opts := fuzzOptions(withSecret)
		lines, err := commandfile.ReadNDJSON(bytes.NewReader(data), opts)
		if err != nil {
			if lines != nil {
				t.Fatalf("lines returned with the error %v", err)
			}
			return
		}
		checkLines(t, lines, opts)
		// Reading again gives the same ids: derived ids are deterministic.
		again, err := commandfile.ReadNDJSON(bytes.NewReader(data), opts)
		if err != nil || len(again) != len(lines) {
			t.Fatalf("second read: %d lines, %v", len(again), err)
		}
		for i := range lines {
			if (lines[i].Err == nil) != (again[i].Err == nil) || lines[i].Command != nil && lines[i].Command.ID != again[i].Command.ID {
				t.Fatalf("line %d reads differently twice", lines[i].Number)
			}
		}
	})
}

func FuzzReadCSV(f *testing.F) {
	seeds := []struct{ text, mapping string }{
		{"connection,resource,id,sequence,name,active,scopes,providerFields.mode\nrc-prod," + rcRes + ",cmd-1,17,App,true,openid email,refresh_token\n", ""},
		{"conn,app,enabled\nrc-prod,r1,false\nrc-prod,r2,\n", "conn=connection,app=resource,enabled=active"},
		{"connection,resource,scopes\nrc-prod,r1,\"[\"\"a\"\",\"\"b\"\"]\"\nrc-prod,r2,\"a,b\"\nrc-prod,r3,[\n", ""},
		{"connection,resource,description\nrc-prod,r1,\"multi\nline\"\nrc-prod,r2\nrc-prod,r3,x,y\n", ""},
		{"connection,resource,providerFields.configuration\nrc-prod,r1,\"{\"\"a\"\":1}\"\nrc-prod,r2,plain\n", ""},
		{"connection,resource,clientSecret\nrc-prod,r1,own\nrc-prod,r2,\n", ""},
		{"connection,resource,active\nrc\"prod,r1,true\n", ""},
		{"connection,resource,active\n\"rc-prod,r1,true\n", ""},
		{"connection,resource,colour\nrc-prod,r1,red\n", ""},
		{"connection,active\nrc-prod,true\n", ""},
		{"\ufeffconnection,resource,sequence,id\nrc-prod,refused,1,a\nrc-prod,r1,x,a\nrc-prod,r2,2,a\n", ""},
		{"", ""},
		{"connection,resource,scopes,changes.scopes\n", ""},
	}
	for _, s := range seeds {
		f.Add([]byte(s.text), s.mapping, false)
	}
	f.Add([]byte("connection,resource,active\nrc-prod,r1,true\n"), "", true)
	f.Fuzz(func(t *testing.T, data []byte, mapping string, withSecret bool) {
		m, err := commandfile.ParseMapping(mapping)
		if err != nil {
			m = nil
		}
		opts := fuzzOptions(withSecret)
		lines, err := commandfile.ReadCSV(bytes.NewReader(data), m, opts)
		if err != nil {
			if lines != nil {
				t.Fatalf("lines returned with the error %v", err)
			}
			return
		}
		checkLines(t, lines, opts)
		for _, l := range lines {
			if l.Number < 2 {
				t.Fatalf("line %d: the header is line 1", l.Number)
			}
			var le *commandfile.LineError
			if errors.As(l.Err, &le) && le.Reason == "" {
				t.Fatalf("line %d: no reason", l.Number)
			}
		}
	})
}
