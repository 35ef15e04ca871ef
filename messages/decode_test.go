package messages_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/messages"
)

const (
	testSubject    = "sync.commands.rc-prod.65a7d77142a7e12453052d59"
	testConnection = "rc-prod"
	testResource   = "65a7d77142a7e12453052d59"
	testID         = "cmd-2026-11-22-000123"
)

// baseline returns a valid command body as a generic JSON tree, to be mutated.
func baseline() map[string]any {
	return map[string]any{
		"specversion":     "1.0",
		"id":              testID,
		"source":          "/billing-service",
		"type":            "oauthsync.client.update.v1",
		"time":            "2026-11-22T10:00:00Z",
		"datacontenttype": "application/json",
		"connection":      testConnection,
		"resource":        testResource,
		"batch":           "migration-42",
		"data": map[string]any{
			"sequence": 1732269600000,
			"changes": map[string]any{
				"redirectUri": "https://app.example.com/cb",
				"active":      true,
			},
		},
	}
}

func data(m map[string]any) map[string]any    { return m["data"].(map[string]any) }
func changes(m map[string]any) map[string]any { return data(m)["changes"].(map[string]any) }

func encode(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mutate returns the baseline body changed by f.
func mutate(t testing.TB, f func(m map[string]any)) []byte {
	t.Helper()
	m := baseline()
	f(m)
	return encode(t, m)
}

// withRaw returns the baseline body with the JSON text at key in the object
// at path (dot-separated, "" for the top) replaced by raw, verbatim.
func withRaw(t testing.TB, path, key, raw string) []byte {
	t.Helper()
	const marker = "\x00MARK\x00"
	m := baseline()
	obj := m
	if path != "" {
		for _, p := range strings.Split(path, ".") {
			obj = obj[p].(map[string]any)
		}
	}
	obj[key] = marker
	return []byte(strings.Replace(string(encode(t, m)), `"\u0000MARK\u0000"`, raw, 1))
}

func TestDecodeCommand(t *testing.T) {
	long := strings.Repeat("x", 2049)
	type row struct {
		name    string
		subject string // testSubject when empty
		body    []byte
		opts    messages.DecodeOptions
		field   string // "" means valid
		// notIdentified marks rows where the id (or the subject) cannot be read.
		notIdentified bool
	}
	rows := []row{
		{name: "valid baseline", body: mutate(t, func(map[string]any) {})},
		{name: "valid minimal", body: []byte(`{"specversion":"1.0","id":"a","source":"/s","type":"oauthsync.client.update.v1","connection":"rc-prod","resource":"65a7d77142a7e12453052d59","data":{"changes":{"active":false}}}`)},
		{name: "valid providerFields only", body: mutate(t, func(m map[string]any) {
			data(m)["changes"] = map[string]any{}
			data(m)["providerFields"] = map[string]any{"mode": "client_credentials", "configuration": map[string]any{"b": 1, "a": []any{nil, true}}}
		})},
		{name: "valid every canonical field", body: mutate(t, func(m map[string]any) {
			data(m)["changes"] = map[string]any{
				"name": "App", "description": "", "clientId": "id", "clientSecret": "s",
				"redirectUri": "https://a.example.com/cb,com.example.app:/cb", "scopes": []any{"openid", "email"},
				"authorizeUrl": "https://idp.example.com/authorize", "tokenUrl": "http://idp.example.com:8080/token?x=1",
				"active": false,
			}
		})},
		{name: "valid empty scopes", body: mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{} })},
		{name: "valid time with offset", body: mutate(t, func(m map[string]any) { m["time"] = "2026-11-22T11:00:00.123+01:00" })},
		{name: "valid bulk", subject: "sync.commands.rc-prod.65a7d77142a7e12453052d59.bulk", body: mutate(t, func(map[string]any) {})},
		{name: "valid custom prefix", subject: "acme.commands.rc-prod.65a7d77142a7e12453052d59", opts: messages.DecodeOptions{Subjects: messages.Subjects{Prefix: "acme"}}, body: mutate(t, func(map[string]any) {})},

		// Size, before anything else.
		{name: "body over default limit", body: mutate(t, func(m map[string]any) {
			changes(m)["description"] = strings.Repeat("x", messages.DefaultMaxCommandBytes)
		}), field: "body", notIdentified: true},
		{name: "body over configured limit", opts: messages.DecodeOptions{MaxBytes: 100}, body: mutate(t, func(map[string]any) {}), field: "body", notIdentified: true},

		// Body shape.
		{name: "empty body", body: []byte(``), field: "body", notIdentified: true},
		{name: "not JSON", body: []byte(`{"id":"` + testID + `", nope}`), field: "body"},
		{name: "truncated JSON", body: []byte(`{"id":"` + testID + `","data":{`), field: "body"},
		{name: "trailing data", body: append(mutate(t, func(map[string]any) {}), []byte(` {}`)...), field: "body"},
		{name: "array body", body: []byte(`[1]`), field: "body", notIdentified: true},
		{name: "null body", body: []byte(`null`), field: "body", notIdentified: true},
		{name: "invalid UTF-8", body: withRaw(t, "data.changes", "name", "\"\xff\xfe\""), field: "body"},
		{name: "unknown top-level key", body: mutate(t, func(m map[string]any) { m["subject"] = "x" }), field: "subject"},
		{name: "unknown key, case differs", body: mutate(t, func(m map[string]any) { m["Connection"] = testConnection }), field: "Connection"},
		{name: "duplicate top-level key", body: []byte(strings.Replace(string(mutate(t, func(map[string]any) {})), `"batch":`, `"batch":"b1","batch":`, 1)), field: "batch"},
		{name: "duplicate id key", body: []byte(strings.Replace(string(mutate(t, func(map[string]any) {})), `"id":`, `"id":"other","id":`, 1)), field: "id", notIdentified: true},
		{name: "unknown data key", body: mutate(t, func(m map[string]any) { data(m)["order"] = 1 }), field: "data.order"},
		{name: "unknown changes key", body: mutate(t, func(m map[string]any) { changes(m)["secret"] = "x" }), field: "data.changes.secret"},
		{name: "unknown odd key", body: mutate(t, func(m map[string]any) { changes(m)["a.b"] = "x" }), field: `data.changes["a.b"]`},
		{name: "duplicate changes key", body: []byte(strings.Replace(string(mutate(t, func(map[string]any) {})), `"active":true`, `"active":true,"active":false`, 1)), field: "data.changes.active"},

		// Subject.
		{name: "subject wrong prefix", subject: "other.commands.rc-prod.x", body: mutate(t, func(map[string]any) {}), field: "subject", notIdentified: true},
		{name: "subject too many tokens", subject: "sync.commands.rc-prod.a.b", body: mutate(t, func(map[string]any) {}), field: "subject", notIdentified: true},
		{name: "subject too many tokens after a bulk one", subject: "sync.commands.rc-prod.a.b.bulk", body: mutate(t, func(map[string]any) {}), field: "subject", notIdentified: true},
		{name: "subject bulk without a resource", subject: "sync.commands.rc-prod..bulk", body: mutate(t, func(map[string]any) {}), field: "subject", notIdentified: true},
		{name: "subject bad connection", subject: "sync.commands.RC.65a7d77142a7e12453052d59", body: mutate(t, func(map[string]any) {}), field: "subject", notIdentified: true},

		// CloudEvents attributes.
		{name: "specversion missing", body: mutate(t, func(m map[string]any) { delete(m, "specversion") }), field: "specversion"},
		{name: "specversion wrong", body: mutate(t, func(m map[string]any) { m["specversion"] = "0.3" }), field: "specversion"},
		{name: "specversion number", body: mutate(t, func(m map[string]any) { m["specversion"] = 1.0 }), field: "specversion"},
		{name: "type missing", body: mutate(t, func(m map[string]any) { delete(m, "type") }), field: "type"},
		{name: "type wrong", body: mutate(t, func(m map[string]any) { m["type"] = messages.ResultType }), field: "type"},
		{name: "id missing", body: mutate(t, func(m map[string]any) { delete(m, "id") }), field: "id", notIdentified: true},
		{name: "id bad charset", body: mutate(t, func(m map[string]any) { m["id"] = "cmd 1" }), field: "id", notIdentified: true},
		{name: "id too long", body: mutate(t, func(m map[string]any) { m["id"] = strings.Repeat("a", 129) }), field: "id", notIdentified: true},
		{name: "id empty", body: mutate(t, func(m map[string]any) { m["id"] = "" }), field: "id", notIdentified: true},
		{name: "id number", body: mutate(t, func(m map[string]any) { m["id"] = 12 }), field: "id", notIdentified: true},
		{name: "source missing", body: mutate(t, func(m map[string]any) { delete(m, "source") }), field: "source"},
		{name: "source empty", body: mutate(t, func(m map[string]any) { m["source"] = "" }), field: "source"},
		{name: "source null", body: mutate(t, func(m map[string]any) { m["source"] = nil }), field: "source"},
		{name: "time not RFC 3339", body: mutate(t, func(m map[string]any) { m["time"] = "22/11/2026 10:00" }), field: "time"},
		{name: "time number", body: mutate(t, func(m map[string]any) { m["time"] = 1732269600 }), field: "time"},
		{name: "datacontenttype wrong", body: mutate(t, func(m map[string]any) { m["datacontenttype"] = "text/plain" }), field: "datacontenttype"},

		// Routing.
		{name: "connection missing", body: mutate(t, func(m map[string]any) { delete(m, "connection") }), field: "connection"},
		{name: "connection differs from subject", body: mutate(t, func(m map[string]any) { m["connection"] = "rc-dev" }), field: "connection"},
		{name: "resource missing", body: mutate(t, func(m map[string]any) { delete(m, "resource") }), field: "resource"},
		{name: "resource differs from subject", body: mutate(t, func(m map[string]any) { m["resource"] = "65a7d77142a7e12453052d5a" }), field: "resource"},
		{name: "batch bad charset", body: mutate(t, func(m map[string]any) { m["batch"] = "migration 42" }), field: "batch"},
		{name: "batch empty", body: mutate(t, func(m map[string]any) { m["batch"] = "" }), field: "batch"},

		// data.
		{name: "data missing", body: mutate(t, func(m map[string]any) { delete(m, "data") }), field: "data"},
		{name: "data null", body: mutate(t, func(m map[string]any) { m["data"] = nil }), field: "data"},
		{name: "data string", body: mutate(t, func(m map[string]any) { m["data"] = "{}" }), field: "data"},
		{name: "sequence fraction", body: withRaw(t, "data", "sequence", "1.5"), field: "data.sequence"},
		{name: "sequence integral fraction", body: withRaw(t, "data", "sequence", "1.0"), field: "data.sequence"},
		{name: "sequence exponent", body: withRaw(t, "data", "sequence", "1e3"), field: "data.sequence"},
		{name: "sequence negative", body: withRaw(t, "data", "sequence", "-1"), field: "data.sequence"},
		{name: "sequence overflows int64", body: withRaw(t, "data", "sequence", "9223372036854775808"), field: "data.sequence"},
		{name: "sequence string", body: withRaw(t, "data", "sequence", `"1"`), field: "data.sequence"},
		{name: "sequence null", body: withRaw(t, "data", "sequence", `null`), field: "data.sequence"},
		{name: "changes not object", body: mutate(t, func(m map[string]any) { data(m)["changes"] = []any{"name"} }), field: "data.changes"},
		{name: "providerFields not object", body: mutate(t, func(m map[string]any) { data(m)["providerFields"] = "mode" }), field: "data.providerFields"},
		{name: "providerFields bad key", body: mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{"1mode": "x"} }), field: `data.providerFields["1mode"]`},
		{name: "providerFields empty key", body: mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{"": "x"} }), field: `data.providerFields[""]`},
		{name: "providerFields duplicate nested key", body: withRaw(t, "data", "providerFields", `{"configuration":{"a":1,"a":2}}`), field: "data.providerFields.configuration"},
		// Past 16 keys an object is searched through a map: both ways find a duplicate.
		{name: "providerFields duplicate key among many", body: withRaw(t, "data", "providerFields", `{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18,"k19":19,"k20":20,"k3":0}`), field: "data.providerFields.k3"},
		{name: "providerFields duplicate key as the 17th", body: withRaw(t, "data", "providerFields", `{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k1":0}`), field: "data.providerFields.k1"},
		{name: "no change at all", body: mutate(t, func(m map[string]any) { delete(data(m), "changes") }), field: "data.changes"},
		{name: "empty changes and providerFields", body: mutate(t, func(m map[string]any) {
			data(m)["changes"] = map[string]any{}
			data(m)["providerFields"] = map[string]any{}
		}), field: "data.changes"},

		// Canonical fields.
		{name: "name null", body: mutate(t, func(m map[string]any) { changes(m)["name"] = nil }), field: "data.changes.name"},
		{name: "name blank", body: mutate(t, func(m map[string]any) { changes(m)["name"] = " \t" }), field: "data.changes.name"},
		{name: "name number", body: mutate(t, func(m map[string]any) { changes(m)["name"] = 3 }), field: "data.changes.name"},
		{name: "name too long", body: mutate(t, func(m map[string]any) { changes(m)["name"] = long }), field: "data.changes.name"},
		{name: "description bool", body: mutate(t, func(m map[string]any) { changes(m)["description"] = false }), field: "data.changes.description"},
		{name: "clientId empty", body: mutate(t, func(m map[string]any) { changes(m)["clientId"] = "" }), field: "data.changes.clientId"},
		{name: "clientSecret empty", body: mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = "" }), field: "data.changes.clientSecret"},
		{name: "clientSecret object", body: mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = map[string]any{"v": "x"} }), field: "data.changes.clientSecret"},
		{name: "clientSecret too long", body: mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = long }), field: "data.changes.clientSecret"},
		{name: "scopes string", body: mutate(t, func(m map[string]any) { changes(m)["scopes"] = "openid email" }), field: "data.changes.scopes"},
		{name: "scopes item number", body: mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{"openid", 1} }), field: "data.changes.scopes[1]"},
		{name: "scopes item empty", body: mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{""} }), field: "data.changes.scopes[0]"},
		{name: "scopes item with space", body: mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{"openid email"} }), field: "data.changes.scopes[0]"},
		{name: "scopes duplicate", body: mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{"a", "b", "a"} }), field: "data.changes.scopes[2]"},
		{name: "authorizeUrl relative", body: mutate(t, func(m map[string]any) { changes(m)["authorizeUrl"] = "/authorize" }), field: "data.changes.authorizeUrl"},
		{name: "authorizeUrl ftp", body: mutate(t, func(m map[string]any) { changes(m)["authorizeUrl"] = "ftp://idp.example.com/a" }), field: "data.changes.authorizeUrl"},
		{name: "tokenUrl without host", body: mutate(t, func(m map[string]any) { changes(m)["tokenUrl"] = "https:///token" }), field: "data.changes.tokenUrl"},
		{name: "tokenUrl with space", body: mutate(t, func(m map[string]any) { changes(m)["tokenUrl"] = "https://idp.example.com/a b" }), field: "data.changes.tokenUrl"},
		{name: "redirectUri empty", body: mutate(t, func(m map[string]any) { changes(m)["redirectUri"] = "" }), field: "data.changes.redirectUri"},
		{name: "redirectUri relative", body: mutate(t, func(m map[string]any) { changes(m)["redirectUri"] = "/cb" }), field: "data.changes.redirectUri"},
		{name: "redirectUri bad list entry", body: mutate(t, func(m map[string]any) { changes(m)["redirectUri"] = "https://a.example.com/cb,cb" }), field: "data.changes.redirectUri"},
		{name: "redirectUri empty list entry", body: mutate(t, func(m map[string]any) { changes(m)["redirectUri"] = "https://a.example.com/cb," }), field: "data.changes.redirectUri"},
		{name: "redirectUri with whitespace", body: mutate(t, func(m map[string]any) {
			changes(m)["redirectUri"] = "https://a.example.com/cb, https://b.example.com/cb"
		}), field: "data.changes.redirectUri"},
		{name: "redirectUri http without host", body: mutate(t, func(m map[string]any) { changes(m)["redirectUri"] = "http:cb" }), field: "data.changes.redirectUri"},
		{name: "active string", body: mutate(t, func(m map[string]any) { changes(m)["active"] = "true" }), field: "data.changes.active"},
		{name: "active null", body: mutate(t, func(m map[string]any) { changes(m)["active"] = nil }), field: "data.changes.active"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			subject := r.subject
			if subject == "" {
				subject = testSubject
			}
			cmd, err := messages.DecodeCommand(subject, r.body, r.opts)
			if r.field == "" {
				if err != nil {
					t.Fatalf("DecodeCommand: %v", err)
				}
				if cmd.ID == "" || cmd.Connection == "" || cmd.Resource == "" {
					t.Fatalf("decoded command lacks ids: %+v", cmd)
				}
				return
			}
			if err == nil {
				t.Fatalf("DecodeCommand accepted the body, want refusal at %q", r.field)
			}
			if cmd != nil {
				t.Errorf("DecodeCommand returned a command with its error")
			}
			var ie *messages.InvalidError
			if !errors.As(err, &ie) {
				t.Fatalf("error %T %v, want *InvalidError", err, err)
			}
			if ie.Field != r.field {
				t.Errorf("Field = %q, want %q (reason: %s)", ie.Field, r.field, ie.Reason)
			}
			if ie.Reason == "" {
				t.Errorf("Reason is empty")
			}
			if got := ie.Identified(); got == r.notIdentified {
				t.Errorf("Identified() = %v, want %v (%+v)", got, !r.notIdentified, *ie)
			}
			if ie.Identified() {
				if ie.ID != testID || ie.Connection != testConnection || ie.Resource != testResource {
					t.Errorf("ids = %q %q %q", ie.ID, ie.Connection, ie.Resource)
				}
			}
		})
	}
}

func TestDecodeCommandOversizeKeepsSubjectIDs(t *testing.T) {
	_, err := messages.DecodeCommand(testSubject, mutate(t, func(map[string]any) {}), messages.DecodeOptions{MaxBytes: 10})
	var ie *messages.InvalidError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want *InvalidError", err)
	}
	if ie.Field != "body" || ie.ID != "" || ie.Connection != testConnection || ie.Resource != testResource {
		t.Errorf("got %+v, want field body, no id, the subject's connection and resource", *ie)
	}
}

func TestDecodeCommandValues(t *testing.T) {
	body := mutate(t, func(m map[string]any) {
		data(m)["changes"] = map[string]any{
			"name": "App", "description": "d", "clientId": "cid", "clientSecret": "shh",
			"redirectUri": "https://a.example.com/cb", "scopes": []any{"openid"},
			"authorizeUrl": "https://idp.example.com/authorize", "tokenUrl": "https://idp.example.com/token",
			"active": false,
		}
		data(m)["providerFields"] = map[string]any{"configuration": map[string]any{"b": []any{1, 2}, "a": "x"}}
	})
	cmd, err := messages.DecodeCommand(testSubject, body, messages.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := cmd.Data.Changes
	if *c.Name != "App" || *c.Description != "d" || *c.ClientID != "cid" || c.ClientSecret.Reveal() != "shh" ||
		*c.RedirectURI != "https://a.example.com/cb" || len(*c.Scopes) != 1 || (*c.Scopes)[0] != "openid" ||
		*c.AuthorizeURL != "https://idp.example.com/authorize" || *c.TokenURL != "https://idp.example.com/token" || *c.Active {
		t.Errorf("changes decoded wrong: %+v", c)
	}
	if got := string(cmd.Data.ProviderFields["configuration"]); got != `{"a":"x","b":[1,2]}` {
		t.Errorf("providerFields.configuration = %s", got)
	}
	if cmd.Data.Sequence == nil || *cmd.Data.Sequence != 1732269600000 {
		t.Errorf("sequence = %v", cmd.Data.Sequence)
	}
	if cmd.Time == nil || cmd.Time.Unix() != 1795341600 {
		t.Errorf("time = %v", cmd.Time)
	}
	stored := time.UnixMilli(1795341600123)
	if got := cmd.OrderKey(stored, 7); got != (messages.OrderKey{Key: 1732269600000, Seq: 7}) {
		t.Errorf("OrderKey with sequence = %v", got)
	}
	cmd.Data.Sequence = nil
	if got := cmd.OrderKey(stored, 7); got != (messages.OrderKey{Key: 1795341600123, Seq: 7}) {
		t.Errorf("OrderKey without sequence = %v, want the stored time in ms", got)
	}
	want := []string{"name", "description", "clientId", "clientSecret", "redirectUri", "scopes", "authorizeUrl", "tokenUrl", "active", "providerFields.configuration"}
	if got := cmd.Data.Fields(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Fields() = %v, want %v", got, want)
	}
}

func TestDecodeCommandEmptyProviderFieldsIsNil(t *testing.T) {
	cmd, err := messages.DecodeCommand(testSubject, mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{} }), messages.DecodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Data.ProviderFields != nil {
		t.Errorf("ProviderFields = %v, want nil", cmd.Data.ProviderFields)
	}
}
