package commandfile_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/messages"
)

func TestReadCSVOwnNames(t *testing.T) {
	text := "connection,resource,id,sequence,name,active,scopes,changes.redirectUri,providerFields.mode\n" +
		"rc-prod," + rcRes + ",cmd-1,1732269600000,Portal,true,openid email,https://app.example.com/cb,refresh_token\n" +
		"rc-prod," + rcRes2 + ",,,,false,,,\n"
	opts := testOptions()
	lines := readCSV(t, text, nil, opts)
	if got := lineNumbers(lines); !slices.Equal(got, []int{2, 3}) {
		t.Fatalf("line numbers %v, want [2 3]", got)
	}
	c := mustValid(t, lines[0], opts)
	if c.ID != "cmd-1" || c.Connection != rcConn || c.Resource != rcRes || c.Batch != testBatch || c.Source != commandfile.DefaultSource {
		t.Errorf("line 2: %s %s %s %s %s", c.ID, c.Connection, c.Resource, c.Batch, c.Source)
	}
	d := c.Data
	if d.Sequence == nil || *d.Sequence != 1732269600000 ||
		d.Changes.Name == nil || *d.Changes.Name != "Portal" ||
		d.Changes.Active == nil || !*d.Changes.Active ||
		d.Changes.Scopes == nil || !slices.Equal(*d.Changes.Scopes, []string{"openid", "email"}) ||
		d.Changes.RedirectURI == nil || *d.Changes.RedirectURI != "https://app.example.com/cb" ||
		string(d.ProviderFields["mode"]) != `"refresh_token"` {
		t.Errorf("line 2: data %s", mustJSON(t, d))
	}
	// Empty cells leave their fields out.
	c = mustValid(t, lines[1], opts)
	if got := c.Data.Fields(); !slices.Equal(got, []string{"active"}) || *c.Data.Changes.Active || c.Data.Sequence != nil {
		t.Errorf("line 3: fields %v, data %s", got, mustJSON(t, c.Data))
	}
	if want := commandfile.DerivedID(testBatch, 3, mustJSON(t, []string{"rc-prod", rcRes2, "", "", "", "false", "", "", ""})); c.ID != want {
		t.Errorf("line 3: id %q, want the derived %q", c.ID, want)
	}
}

func TestReadCSVMapping(t *testing.T) {
	m, err := commandfile.ParseMapping(" conn=connection, app = resource ,enabled=active,scope_list=changes.scopes,grant=providerFields.mode,ver=sequence,key=id")
	if err != nil {
		t.Fatal(err)
	}
	want := commandfile.Mapping{"conn": "connection", "app": "resource", "enabled": "active", "scope_list": "changes.scopes", "grant": "providerFields.mode", "ver": "sequence", "key": "id"}
	if !maps.Equal(m, want) {
		t.Fatalf("ParseMapping = %v, want %v", m, want)
	}
	text := "\ufeffconn, app ,enabled,scope_list,grant,ver,key,name\n" +
		"reelevant-prod,65a7d77142a7e12453052d60,false,\"[\"\"read\"\",\"\"write\"\"]\",client_credentials,5,mig-1,Billing\n"
	opts := testOptions()
	lines := readCSV(t, text, m, opts)
	if len(lines) != 1 {
		t.Fatalf("got %d lines", len(lines))
	}
	c := mustValid(t, lines[0], opts)
	if c.ID != "mig-1" || c.Connection != "reelevant-prod" || c.Resource != "65a7d77142a7e12453052d60" || *c.Data.Sequence != 5 {
		t.Errorf("command %s %s %s %v", c.ID, c.Connection, c.Resource, c.Data.Sequence)
	}
	if got := c.Data.Fields(); !slices.Equal(got, []string{"name", "scopes", "active", "providerFields.mode"}) {
		t.Errorf("fields %v", got)
	}

	// An empty spec maps every column to its own name.
	if m, err := commandfile.ParseMapping("  "); err != nil || len(m) != 0 {
		t.Errorf("ParseMapping(blank) = %v, %v", m, err)
	}
	for _, spec := range []string{"conn", "conn=", "=connection", "conn=connection,", "a=b", "a=changes.colour", "a=providerFields.", "a=data.changes.active", "a=connection;b=resource"} {
		if m, err := commandfile.ParseMapping(spec); err == nil {
			t.Errorf("ParseMapping(%q) = %v, want an error", spec, m)
		}
	}
}

func TestReadCSVTypedCells(t *testing.T) {
	tests := []struct {
		column, cell string
		want         string // the JSON of the value in changes or providerFields; "" for an error
		reason       string // in the error
	}{
		{column: "active", cell: "true", want: `true`},
		{column: "active", cell: "false", want: `false`},
		{column: "active", cell: " true ", want: `true`},
		{column: "active", cell: "yes", reason: "active must be true or false"},
		{column: "active", cell: `"true"`, reason: "active must be true or false"},
		{column: "scopes", cell: "openid email", want: `["openid","email"]`},
		{column: "scopes", cell: "openid,email", want: `["openid","email"]`},
		{column: "scopes", cell: "openid, email  profile", want: `["openid","email","profile"]`},
		{column: "scopes", cell: "openid", want: `["openid"]`},
		{column: "scopes", cell: `["openid","email"]`, want: `["openid","email"]`},
		{column: "scopes", cell: `["openid email"]`, reason: "whitespace"},
		{column: "scopes", cell: `["openid",1]`, reason: "JSON array of strings"},
		{column: "scopes", cell: `[openid`, reason: "JSON array of strings"},
		{column: "scopes", cell: "openid openid", reason: "unique"},
		{column: "changes.scopes", cell: "a b", want: `["a","b"]`},
		{column: "name", cell: "My App", want: `"My App"`},
		{column: "name", cell: "true", want: `"true"`},
		{column: "name", cell: "42", want: `"42"`},
		{column: "description", cell: `{"a":1}`, want: `"{\"a\":1}"`},
		{column: "redirectUri", cell: "app.example.com", reason: "absolute URI"},
		{column: "sequence", cell: "42", want: `42`},
		{column: "sequence", cell: "4.2", reason: "sequence must be an integer"},
		{column: "sequence", cell: "1e3", reason: "sequence must be an integer"},
		{column: "sequence", cell: "-1", reason: "between 0 and"},
		{column: "sequence", cell: "99999999999999999999", reason: "sequence must be an integer"},
		{column: "providerFields.tokenExpiration", cell: "3600", want: `3600`},
		{column: "providerFields.isDefault", cell: "true", want: `true`},
		{column: "providerFields.mode", cell: "refresh_token", want: `"refresh_token"`},
		{column: "providerFields.mode", cell: `"refresh_token"`, want: `"refresh_token"`},
		{column: "providerFields.configuration", cell: `{"b": [1, 2], "a": null}`, want: `{"b":[1,2],"a":null}`},
		{column: "providerFields.tags", cell: `[a, b]`, want: `"[a, b]"`},
		{column: "providerFields.note", cell: "café ☕", want: `"café ☕"`},
		{column: "providerFields.1x", cell: "x", reason: "must match"},
	}
	for _, tt := range tests {
		t.Run(tt.column+"="+tt.cell, func(t *testing.T) {
			cell := `"` + strings.ReplaceAll(tt.cell, `"`, `""`) + `"`
			text := "connection,resource,clientId," + tt.column + "\nrc-prod," + rcRes + ",cid," + cell + "\n"
			opts := testOptions()
			lines := readCSV(t, text, nil, opts)
			if len(lines) != 1 {
				t.Fatalf("got %d lines", len(lines))
			}
			if tt.want == "" {
				le := mustLineError(t, lines[0])
				if le.Line != 2 || !strings.Contains(le.Error(), tt.reason) {
					t.Errorf("error %v, want line 2 and %q", le, tt.reason)
				}
				return
			}
			c := mustValid(t, lines[0], opts)
			var got []byte
			target := strings.TrimPrefix(tt.column, "changes.")
			switch {
			case target == "sequence":
				got = mustJSON(t, c.Data.Sequence)
			case strings.HasPrefix(target, messages.ProviderFieldPrefix):
				got = c.Data.ProviderFields[strings.TrimPrefix(target, messages.ProviderFieldPrefix)]
			default:
				var changes map[string]json.RawMessage
				if err := json.Unmarshal(mustJSON(t, c.Data.Changes), &changes); err != nil {
					t.Fatal(err)
				}
				got = changes[target]
			}
			if string(got) != tt.want {
				t.Errorf("%s = %s, want %s", tt.column, got, tt.want)
			}
		})
	}
}

func TestReadCSVLineNumbers(t *testing.T) {
	text := strings.Join([]string{
		"connection,resource,description,active", // 1
		"rc-prod," + rcRes + ",one,true",         // 2
		"",                                       // 3: blank, skipped
		"rc-prod," + rcRes2 + `,"first line`,     // 4: a cell over three lines
		"second line",                            // 5
		`third line",false`,                      // 6
		"rc-prod," + rcRes + ",too few",          // 7: wrong cell count
		"rc-prod,r1,x,true,extra",                // 8: wrong cell count
		`rc-prod,r2,"a ""quoted"" word",maybe`,   // 9: bad active
		`"rc-prod","r3","`,                       // 10: another multi-line cell
		`",true`,                                 // 11
		"rc-prod,r4,,true",                       // 12
	}, "\n") + "\n"
	opts := testOptions()
	lines := readCSV(t, text, nil, opts)
	if got := lineNumbers(lines); !slices.Equal(got, []int{2, 4, 7, 8, 9, 10, 12}) {
		t.Fatalf("line numbers %v, want [2 4 7 8 9 10 12]", got)
	}
	mustValid(t, lines[0], opts)
	if c := mustValid(t, lines[1], opts); *c.Data.Changes.Description != "first line\nsecond line\nthird line" {
		t.Errorf("line 4: description %q", *c.Data.Changes.Description)
	}
	for i, want := range map[int]string{2: "cells", 3: "cells", 4: "active"} {
		le := mustLineError(t, lines[i])
		if le.Line != lines[i].Number || !strings.Contains(le.Reason, want) {
			t.Errorf("line %d: %v, want %q", lines[i].Number, le, want)
		}
	}
	if le := mustLineError(t, lines[2]); !strings.Contains(le.Reason, "3 cells, the header 4") {
		t.Errorf("line 7: %v", le)
	}
	mustValid(t, lines[5], opts)
	mustValid(t, lines[6], opts)
	if bad := lineNumbers(commandfile.Invalid(lines)); !slices.Equal(bad, []int{7, 8, 9}) {
		t.Errorf("invalid lines %v, want [7 8 9]", bad)
	}
}

func TestReadCSVHeaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		mapping string
		want    []string // each in the error
	}{
		{name: "unknown column", text: "connection,resource,colour\nrc-prod,r1,red\n", want: []string{`"colour"`, "--map colour="}},
		{name: "unknown column, mapped elsewhere", text: "connection,resource,colour\n", mapping: "color=name", want: []string{`"colour"`}},
		{name: "two columns to resource", text: "conn,resource,active\n", mapping: "conn=resource", want: []string{"both map to resource"}},
		{name: "missing connection", text: "resource,active\nr1,true\n", want: []string{"connection"}},
		{name: "missing resource", text: "connection,active\nrc-prod,true\n", want: []string{"resource"}},
		{name: "two columns to one target", text: "connection,resource,scopes,changes.scopes\n", want: []string{"scopes", "changes.scopes", "both map"}},
		{name: "empty column name", text: "connection,resource,,active\n", want: []string{`""`}},
		{name: "bad quote in the header", text: "connection,\"resource\n", want: []string{"csv header"}},
		{name: "bare quote in a first cell", text: "connection,resource,active\nrc\"prod,r1,true\n", want: []string{"line 2", "bare"}},
		{name: "bare quote in a later cell", text: "connection,resource,active\nrc-prod,r\"1,true\n", want: []string{"line 2", "bare"}},
		{name: "unterminated quote", text: "connection,resource,active\nrc-prod,r1,true\n\"rc-prod,r2,true\n", want: []string{"line 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := commandfile.ParseMapping(tt.mapping)
			if err != nil {
				t.Fatal(err)
			}
			lines, err := commandfile.ReadCSV(strings.NewReader(tt.text), m, testOptions())
			if err == nil {
				t.Fatalf("no error, %d lines", len(lines))
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
		})
	}
	// The mapping fixes the unknown column.
	m, _ := commandfile.ParseMapping("colour=description")
	lines := readCSV(t, "connection,resource,colour\nrc-prod,r1,red\n", m, testOptions())
	if c := mustValid(t, lines[0], testOptions()); *c.Data.Changes.Description != "red" {
		t.Errorf("description %q", *c.Data.Changes.Description)
	}
}

func TestReadCSVEmpty(t *testing.T) {
	for _, text := range []string{"", "\n\n", "connection,resource,active\n", "connection,resource,active\n\n\n"} {
		lines, err := commandfile.ReadCSV(strings.NewReader(text), nil, testOptions())
		if err != nil || len(lines) != 0 {
			t.Errorf("ReadCSV(%q) = %d lines, %v", text, len(lines), err)
		}
	}
}

func TestReadCSVDuplicatesAndDerivedIDs(t *testing.T) {
	text := "connection,resource,id,active\n" +
		"rc-prod,r1,cmd-1,true\n" +
		"rc-prod,r1,,true\n" +
		"rc-prod,r2,cmd-1,false\n" +
		"rc-prod,r1,,true\n"
	opts := testOptions()
	first := readCSV(t, text, nil, opts)
	second := readCSV(t, text, nil, opts)
	if le := mustLineError(t, first[2]); le.Field != "id" || !strings.Contains(le.Reason, "line 2") {
		t.Errorf("line 4: %v, want a duplicate of line 2", le)
	}
	for _, i := range []int{1, 3} {
		a, b := mustValid(t, first[i], opts), mustValid(t, second[i], opts)
		if a.ID != b.ID || !strings.HasPrefix(a.ID, testBatch+":") {
			t.Errorf("line %d: ids %q and %q", first[i].Number, a.ID, b.ID)
		}
	}
	if first[1].Command.ID == first[3].Command.ID {
		t.Errorf("lines 3 and 5 (same cells) share the id %q", first[1].Command.ID)
	}
}

func TestReadCSVCheckAndSecretOption(t *testing.T) {
	opts := testOptions()
	opts.ClientSecret = "from-env"
	opts.Check = func(c *messages.Command) error {
		if c.Resource == "r2" {
			return errReadOnly
		}
		return nil
	}
	lines := readCSV(t, "connection,resource,active,clientSecret\nrc-prod,r1,true,\nrc-prod,r2,true,\nrc-prod,r3,true,own\n", nil, opts)
	c := mustValid(t, lines[0], opts)
	if c.Data.Changes.ClientSecret == nil || c.Data.Changes.ClientSecret.Reveal() != "from-env" {
		t.Errorf("line 2: secret not set")
	}
	if le := mustLineError(t, lines[1]); le.Line != 3 || le.Err != errReadOnly {
		t.Errorf("line 3: %v", le)
	}
	if le := mustLineError(t, lines[2]); le.Line != 4 || le.Field != "data.changes.clientSecret" {
		t.Errorf("line 4: %v", le)
	}
}

var errReadOnly = errors.New("resource is read-only")

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
