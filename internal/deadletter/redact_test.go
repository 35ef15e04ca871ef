package deadletter_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/oauthsync/oauthsync/internal/deadletter"
	"github.com/oauthsync/oauthsync/messages"
)

// TestLetterRedact: what dlq list and show print hides secret-named headers
// and every encoding of the body's secrets in the error and other headers,
// and leaves the stored letter (the one replayed) untouched.
func TestLetterRedact(t *testing.T) {
	const secret = "DLQ-Canary-ClientSecret-31"
	body := `{"id":"c1","data":{"changes":{"clientSecret":"` + secret + `"},"providerFields":{"api_key":"DLQ-Canary-ApiKey-77"}}}`
	h := nats.Header{
		"Authorization": {"Bearer abc.def"}, "Proxy-Authorization": {"Basic eA=="}, "Cookie": {"sid=42"},
		"X-Api-Key": {"k-1"}, "X-Auth-Token": {"t-1"}, "Auth-Key": {"a-1"},
		"Sync-Error":  {"provider said " + base64.StdEncoding.EncodeToString([]byte(secret)) + " / " + strings.ToUpper(secret[:12])},
		"Nats-Msg-Id": {"c1"}, "X-Note": {"key DLQ-Canary-ApiKey-77"},
	}
	l := deadletter.Letter{Seq: 7, Header: h, Body: []byte(body), Error: h.Get("Sync-Error")}
	r := l.Redact()
	for _, k := range []string{"Authorization", "Proxy-Authorization", "Cookie", "X-Api-Key", "X-Auth-Token", "Auth-Key"} {
		if v := r.Header.Get(k); v != messages.Redacted {
			t.Errorf("header %s shown as %q", k, v)
		}
	}
	if r.Header.Get("Nats-Msg-Id") != "c1" {
		t.Errorf("Nats-Msg-Id lost: %v", r.Header)
	}
	shown := r.Error + " " + r.Header.Get("Sync-Error") + " " + r.Header.Get("X-Note") + " " + string(r.Body)
	for _, leak := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret)), strings.ToUpper(secret[:12]), "DLQ-Canary-ApiKey-77"} {
		if strings.Contains(shown, leak) {
			t.Errorf("%q shown: %s", leak, shown)
		}
	}
	if !strings.Contains(r.Error, "provider said [REDACTED]") {
		t.Errorf("error text: %q", r.Error)
	}
	if string(l.Body) != body || l.Header.Get("Authorization") != "Bearer abc.def" {
		t.Error("Redact changed the stored letter")
	}
}
