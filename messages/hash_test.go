package messages_test

import (
	"regexp"
	"testing"

	"github.com/oauthsync/oauthsync/messages"
)

func mustDecode(t testing.TB, subject string, body []byte) *messages.Command {
	t.Helper()
	cmd, err := messages.DecodeCommand(subject, body, messages.DecodeOptions{})
	if err != nil {
		t.Fatalf("DecodeCommand: %v\n%s", err, body)
	}
	return cmd
}

func TestPayloadHashInvariant(t *testing.T) {
	base := mustDecode(t, testSubject, mutate(t, func(m map[string]any) {
		data(m)["providerFields"] = map[string]any{"configuration": map[string]any{"a": 1, "b": []any{"x", map[string]any{"d": true, "c": nil}}}}
	}))
	want := base.PayloadHash()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(want) {
		t.Fatalf("PayloadHash() = %q, want 64 lowercase hex digits", want)
	}
	same := map[string]string{
		"key order and whitespace": `{ "data" : { "providerFields": {"configuration": {"b": ["x", {"c": null, "d": true}], "a": 1}},
			"changes": {"active": true, "redirectUri": "https://app.example.com/cb"}, "sequence": 1732269600000 },
			"resource": "65a7d77142a7e12453052d59", "connection": "rc-prod", "type": "oauthsync.client.update.v1",
			"source": "/billing-service", "id": "cmd-2026-11-22-000123", "specversion": "1.0" }`,
		"other time, source, batch, id, no datacontenttype": `{"specversion":"1.0","id":"another-id","source":"/elsewhere","type":"oauthsync.client.update.v1",
			"time":"2030-01-01T00:00:00+02:00","connection":"rc-prod","resource":"65a7d77142a7e12453052d59","batch":"other-batch",
			"data":{"sequence":1732269600000,"changes":{"redirectUri":"https://app.example.com/cb","active":true},
			"providerFields":{"configuration":{"a":1,"b":["x",{"d":true,"c":null}]}}}}`,
		"string escapes": `{"specversion":"1.0","id":"x","source":"/s","type":"oauthsync.client.update.v1","connection":"rc-prod","resource":"65a7d77142a7e12453052d59",
			"data":{"sequence":1732269600000,"changes":{"redirectUri":"https:\/\/app.example.com\/cb","active":true},
			"providerFields":{"configuration":{"\u0061":1,"b":["\u0078",{"d":true,"c":null}]}}}}`,
	}
	for name, body := range same {
		if got := mustDecode(t, testSubject, []byte(body)).PayloadHash(); got != want {
			t.Errorf("%s: PayloadHash changed", name)
		}
	}

	// Empty providerFields or changes are the same as none.
	a := mustDecode(t, testSubject, mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{} }))
	b := mustDecode(t, testSubject, mutate(t, func(map[string]any) {}))
	if a.PayloadHash() != b.PayloadHash() {
		t.Errorf("empty providerFields changed the hash")
	}
}

func TestPayloadHashSensitive(t *testing.T) {
	base := mustDecode(t, testSubject, mutate(t, func(map[string]any) {})).PayloadHash()
	other := "sync.commands.rc-dev.65a7d77142a7e12453052d5a"
	variants := map[string]*messages.Command{
		"connection":            mustDecode(t, "sync.commands.rc-dev.65a7d77142a7e12453052d59", mutate(t, func(m map[string]any) { m["connection"] = "rc-dev" })),
		"resource":              mustDecode(t, "sync.commands.rc-prod.65a7d77142a7e12453052d5a", mutate(t, func(m map[string]any) { m["resource"] = "65a7d77142a7e12453052d5a" })),
		"both":                  mustDecode(t, other, mutate(t, func(m map[string]any) { m["connection"] = "rc-dev"; m["resource"] = "65a7d77142a7e12453052d5a" })),
		"sequence":              mustDecode(t, testSubject, mutate(t, func(m map[string]any) { data(m)["sequence"] = 1 })),
		"no sequence":           mustDecode(t, testSubject, mutate(t, func(m map[string]any) { delete(data(m), "sequence") })),
		"sequence 0":            mustDecode(t, testSubject, mutate(t, func(m map[string]any) { data(m)["sequence"] = 0 })),
		"change value":          mustDecode(t, testSubject, mutate(t, func(m map[string]any) { changes(m)["active"] = false })),
		"change added":          mustDecode(t, testSubject, mutate(t, func(m map[string]any) { changes(m)["name"] = "x" })),
		"change removed":        mustDecode(t, testSubject, mutate(t, func(m map[string]any) { delete(changes(m), "active") })),
		"secret":                mustDecode(t, testSubject, mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = "a" })),
		"secret 2":              mustDecode(t, testSubject, mutate(t, func(m map[string]any) { changes(m)["clientSecret"] = "b" })),
		"empty scopes":          mustDecode(t, testSubject, mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{} })),
		"scopes order":          mustDecode(t, testSubject, mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{"b", "a"} })),
		"scopes":                mustDecode(t, testSubject, mutate(t, func(m map[string]any) { changes(m)["scopes"] = []any{"a", "b"} })),
		"providerFields":        mustDecode(t, testSubject, mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{"mode": "a"} })),
		"providerFields value":  mustDecode(t, testSubject, mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{"mode": "b"} })),
		"providerFields nested": mustDecode(t, testSubject, mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{"mode": map[string]any{"b": 1}} })),
		"providerFields null":   mustDecode(t, testSubject, mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{"mode": nil} })),
	}
	seen := map[string]string{base: "baseline"}
	for name, c := range variants {
		h := c.PayloadHash()
		if prev, dup := seen[h]; dup {
			t.Errorf("%s and %s have the same PayloadHash", name, prev)
		}
		seen[h] = name
	}
}
