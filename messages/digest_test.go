package messages_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/messages"
)

// testDigestKey is the digest key of the tests (and of the vectors with a
// secret in docs/payload-digest.md).
var testDigestKey = []byte("0123456789abcdef0123456789abcdef")

// hashOf is c's payload digest under testDigestKey.
func hashOf(c *messages.Command) string {
	d, err := c.PayloadDigest(testDigestKey)
	if err != nil {
		panic(err)
	}
	return d
}

func mustDecode(t testing.TB, subject string, body []byte) *messages.Command {
	t.Helper()
	cmd, err := messages.DecodeCommand(subject, body, messages.DecodeOptions{})
	if err != nil {
		t.Fatalf("DecodeCommand: %v\n%s", err, body)
	}
	return cmd
}

func TestPayloadDigestInvariant(t *testing.T) {
	base := mustDecode(t, testSubject, mutate(t, func(m map[string]any) {
		data(m)["providerFields"] = map[string]any{"configuration": map[string]any{"a": 1, "b": []any{"x", map[string]any{"d": true, "c": nil}}}}
	}))
	want := hashOf(base)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(want) {
		t.Fatalf("PayloadDigest() = %q, want sha256: and 64 lowercase hex digits", want)
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
		"numbers as written differently": `{"specversion":"1.0","id":"x","source":"/s","type":"oauthsync.client.update.v1","connection":"rc-prod","resource":"65a7d77142a7e12453052d59",
			"data":{"sequence":1732269600000,"changes":{"redirectUri":"https://app.example.com/cb","active":true},
			"providerFields":{"configuration":{"a":1.0e0,"b":["x",{"d":true,"c":null}]}}}}`,
		"string escapes": `{"specversion":"1.0","id":"x","source":"/s","type":"oauthsync.client.update.v1","connection":"rc-prod","resource":"65a7d77142a7e12453052d59",
			"data":{"sequence":1732269600000,"changes":{"redirectUri":"https:\/\/app.example.com\/cb","active":true},
			"providerFields":{"configuration":{"\u0061":1,"b":["\u0078",{"d":true,"c":null}]}}}}`,
	}
	for name, body := range same {
		if got := hashOf(mustDecode(t, testSubject, []byte(body))); got != want {
			t.Errorf("%s: PayloadDigest changed", name)
		}
	}

	// Empty providerFields or changes are the same as none.
	a := mustDecode(t, testSubject, mutate(t, func(m map[string]any) { data(m)["providerFields"] = map[string]any{} }))
	b := mustDecode(t, testSubject, mutate(t, func(map[string]any) {}))
	if hashOf(a) != hashOf(b) {
		t.Errorf("empty providerFields changed the hash")
	}
}

func TestPayloadDigestSensitive(t *testing.T) {
	base := hashOf(mustDecode(t, testSubject, mutate(t, func(map[string]any) {})))
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
		h := hashOf(c)
		if prev, dup := seen[h]; dup {
			t.Errorf("%s and %s have the same PayloadDigest", name, prev)
		}
		seen[h] = name
	}
}

func TestPayloadDigestSecretsEnterKeyed(t *testing.T) {
	withSecret := func(secret, nested string) *messages.Command {
		return mustDecode(t, testSubject, mutate(t, func(m map[string]any) {
			changes(m)["clientSecret"] = secret
			data(m)["providerFields"] = map[string]any{"configuration": map[string]any{"mode": "client_credentials", "clientSecret": nested}}
		}))
	}
	a := withSecret("s3cret-one", "n3sted-one")
	canon, err := a.CanonicalPayload(testDigestKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret-one", "n3sted-one"} {
		if strings.Contains(string(canon), secret) {
			t.Errorf("canonical payload holds the secret %q: %s", secret, canon)
		}
	}
	if n := strings.Count(string(canon), `"hmac-sha256:`); n != 2 {
		t.Errorf("canonical payload has %d keyed secrets, want 2: %s", n, canon)
	}
	if _, err := a.PayloadDigest(nil); !errors.Is(err, messages.ErrNoDigestKey) {
		t.Errorf("PayloadDigest(nil) with a secret: err = %v, want ErrNoDigestKey", err)
	}
	otherKey, _ := a.PayloadDigest([]byte("another key, another deployment"))
	if otherKey == hashOf(a) {
		t.Errorf("the digest of a command with a secret does not depend on the key")
	}
	for name, c := range map[string]*messages.Command{
		"other clientSecret":               withSecret("s3cret-two", "n3sted-one"),
		"other configuration.clientSecret": withSecret("s3cret-one", "n3sted-two"),
	} {
		if hashOf(c) == hashOf(a) {
			t.Errorf("%s: same digest", name)
		}
	}

	// Without a secret, the key does not matter and is not needed.
	plain := mustDecode(t, testSubject, mutate(t, func(map[string]any) {}))
	d0, err := plain.PayloadDigest(nil)
	if err != nil || d0 != hashOf(plain) {
		t.Errorf("PayloadDigest(nil) without a secret = %q, %v; want %q", d0, err, hashOf(plain))
	}

	// The invalid-body digest is keyed too.
	body := []byte(`{"id":"x","data":{"changes":{"clientSecret":"s3cret-one"}}}`)
	if _, err := messages.InvalidBodyDigest(nil, body); !errors.Is(err, messages.ErrNoDigestKey) {
		t.Errorf("InvalidBodyDigest(nil) err = %v", err)
	}
	d1, _ := messages.InvalidBodyDigest(testDigestKey, body)
	d2, _ := messages.InvalidBodyDigest([]byte("k2"), body)
	if d1 == d2 || !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(d1) {
		t.Errorf("InvalidBodyDigest = %q / %q", d1, d2)
	}
}

func TestConflictEventIDNamesDigestHex(t *testing.T) {
	d := "sha256:0123456789abcdef" + strings.Repeat("0", 48)
	if got := messages.ConflictEventID("cmd-1", d); got != "result-cmd-1-conflict-0123456789abcdef" {
		t.Errorf("ConflictEventID = %q", got)
	}
}
