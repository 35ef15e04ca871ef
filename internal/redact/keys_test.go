package redact_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/internal/redact"
)

func TestSecretKey(t *testing.T) {
	secret := []string{"password", "Password", "PASSWD", "secret", "client_secret", "clientSecret", "client-secret",
		"api_key", "apikey", "Api-Key", "X-Api-Key", "token", "access_token", "refresh_token", "refreshToken", "authToken",
		"X-Auth-Token", "private_key", "privateKey", "PRIVATE-KEY", "authorization", "Authorization", "Proxy-Authorization",
		"Cookie", "Set-Cookie", "credentials", "Auth-Key", "authKey", "db.password", "passphrase"}
	plain := []string{"clientId", "name", "redirectUri", "tokenUrl", "token_endpoint", "accessTokenHeader", "tokenExpiration",
		"token_type", "Content-Type", "Nats-Msg-Id", "traceparent", "Sync-Error", "grantTypes", "scope"}
	for _, k := range secret {
		if !redact.SecretKey(k) {
			t.Errorf("SecretKey(%q) = false, want true", k)
		}
	}
	for _, k := range plain {
		if redact.SecretKey(k) {
			t.Errorf("SecretKey(%q) = true, want false", k)
		}
	}
}

func TestSecretsInJSON(t *testing.T) {
	doc := `{"id":"c1","data":{"changes":{"clientSecret":"s-one","name":"app"},
	  "providerFields":{"configuration":{"private_key":"s-two","credentials":{"user":"s-three","n":[1,"s-four"]}},"API-KEY":"s-five"}},
	  "list":[{"passwd":"s-six"},{"token":null,"other":"plain"}],"tokenUrl":"https://x"}`
	got := redact.SecretsInJSON([]byte(doc))
	slices.Sort(got)
	want := []string{"s-five", "s-four", "s-one", "s-six", "s-three", "s-two"}
	if !slices.Equal(got, want) {
		t.Fatalf("SecretsInJSON = %q, want %q", got, want)
	}
	if got := redact.SecretsInJSON([]byte(`{"password":"p1", broken`)); !slices.Equal(got, []string{"p1"}) {
		t.Fatalf("on broken JSON: %q", got)
	}
	deep := strings.Repeat(`{"a":`, 20000) + `{"secret":"deep-one"}` + strings.Repeat("}", 20000)
	if got := redact.SecretsInJSON([]byte(deep)); !slices.Equal(got, []string{"deep-one"}) {
		t.Fatalf("deep: %q", got)
	}
}

func TestRedactJSON(t *testing.T) {
	doc := []byte(`{"id":"c1","n":12345678901234567890,"data":{"changes":{"clientSecret":"Hunter2-Secret-Value","description":"old secret hunter2-secret-value"},"api_key":{"k":"v"}}}`)
	out, ok := redact.RedactJSON(doc, nil, "")
	if !ok {
		t.Fatal("not JSON")
	}
	want := `{"data":{"api_key":"[REDACTED]","changes":{"clientSecret":"[REDACTED]","description":"old secret [REDACTED]"}},"id":"c1","n":12345678901234567890}`
	if string(out) != want {
		t.Fatalf("RedactJSON = %s\nwant %s", out, want)
	}
	if _, ok := redact.RedactJSON([]byte(`{"a":1} x`), nil, ""); ok {
		t.Fatal("trailing garbage accepted")
	}
}

func TestHeader(t *testing.T) {
	s := redact.New("Zq8-canary-secret")
	h := redact.Header(map[string][]string{
		"Authorization": {"Bearer abc"}, "X-Api-Key": {"k"}, "Cookie": {"sid=1"}, "Auth-Key": {"a"}, "X-Auth-Token": {"t"},
		"Proxy-Authorization": {"Basic eA=="}, "Sync-Error": {"provider said Zq8-canary-secret"}, "Nats-Msg-Id": {"c1"},
	}, s)
	for _, k := range []string{"Authorization", "X-Api-Key", "Cookie", "Auth-Key", "X-Auth-Token", "Proxy-Authorization"} {
		if v := h.Get(k); v != redact.Marker {
			t.Errorf("%s = %q", k, v)
		}
	}
	if v := h.Get("Sync-Error"); v != "provider said [REDACTED]" {
		t.Errorf("Sync-Error = %q", v)
	}
	if v := h.Get("Nats-Msg-Id"); v != "c1" {
		t.Errorf("Nats-Msg-Id = %q", v)
	}
}

const pw = "Pa55-Canary-W0rd"

func TestURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"nats://user:" + pw + "@127.0.0.1:4222", "nats://user:[REDACTED]@127.0.0.1:4222"},
		{"redis://:" + pw + "@localhost:6379/0", "redis://:[REDACTED]@localhost:6379/0"},
		{"nats://" + pw + "@h:4222", "nats://[REDACTED]@h:4222"},
		{"nats://a:" + pw + "@h1:4222,nats://b:" + pw + "@h2:4222", "nats://a:[REDACTED]@h1:4222,nats://b:[REDACTED]@h2:4222"},
		{"redis://u:" + pw + "@host:notaport/0", "redis://u:[REDACTED]@host:notaport/0"},
		{"redis://u:p@ss/" + pw + "@host:6379", "redis://u:[REDACTED]@host:6379"},
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"", ""},
	}
	for _, tc := range cases {
		if got := redact.URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestURLsInTextAndSecrets(t *testing.T) {
	raw := strings.Join([]string{"redis://u:", pw, "%zz@host:6379"}, "") // %zz: url.Parse refuses it
	_, perr := url.Parse(raw)
	if perr == nil || !strings.Contains(perr.Error(), pw) {
		t.Fatalf("test premise: url.Parse error should quote the password: %v", perr)
	}
	got := redact.URLsInText("redis.url: " + perr.Error())
	if strings.Contains(got, pw) {
		t.Fatalf("URLsInText left the password: %q", got)
	}
	secrets := redact.URLSecrets(raw)
	if s := redact.New(secrets...).String("some library said " + pw + " is wrong"); strings.Contains(s, pw) {
		t.Fatalf("URLSecrets %q do not cover the password: %q", secrets, s)
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	s := redact.New("Cred-Canary-123456")
	log := slog.New(redact.Handler(slog.NewJSONHandler(&buf, nil), s)).With("url", "nats://u:"+pw+"@h:4222")
	log.Info("connect failed: Cred-Canary-123456", "error", errors.New("dial redis://:"+pw+"@h:1: refused"),
		slog.Group("g", "k", "CRED-CANARY-123456"), "s", fmt.Stringer(stringer("x Cred-Canary-123456")), "n", 3)
	out := buf.String()
	for _, leak := range []string{pw, "Cred-Canary", "CRED-CANARY"} {
		if strings.Contains(out, leak) {
			t.Fatalf("log line leaks %q: %s", leak, out)
		}
	}
	if !strings.Contains(out, `"n":3`) {
		t.Fatalf("other attributes lost: %s", out)
	}
}

type stringer string

func (s stringer) String() string { return string(s) }
