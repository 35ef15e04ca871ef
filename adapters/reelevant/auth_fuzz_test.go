package reelevant

import (
	"strings"
	"testing"
)

// FuzzTokenErrorText: a token endpoint's error body, whatever it holds,
// gives a bounded reason and never panics.
func FuzzTokenErrorText(f *testing.F) {
	f.Add([]byte(`{"status":"fail","code":401,"error":"invalid_credentials","error_description":"wrong","message":"invalid_credentials: wrong"}`))
	f.Add([]byte(`{"error":{"nested":true},"error_code":12}`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if s := tokenErrorText(b); len(s) > 4*(200+len("…"))+3*len(": ") {
			t.Fatalf("reason of %d bytes", len(s))
		}
	})
}

// FuzzExpiresIn: expires_in is a positive number of seconds or refused.
func FuzzExpiresIn(f *testing.F) {
	for _, s := range []string{`3600`, `"3600"`, `1.5`, `null`, ``, `-1`, `1e99`, `"x"`, `true`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := seconds([]byte(s))
		if ok && d < 0 {
			t.Fatalf("seconds(%q) = %v", s, d)
		}
		if !ok && strings.TrimSpace(s) == "" {
			t.Fatalf("an absent expires_in is refused")
		}
	})
}
