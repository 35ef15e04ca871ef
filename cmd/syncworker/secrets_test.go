package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// urlCanary is a password in NATS and Redis URLs that must never be printed.
const urlCanary = "Url-Canary-Pw-6Hq2"

// TestURLPasswordsNeverPrinted runs syncworker with URLs whose passwords are
// canaries and that fail to connect or to parse: neither the returned error
// nor the log lines hold the password in any form. A server that does not
// answer is waited for (waitForServer) until the run is stopped: the wait's
// log lines are checked too.
func TestURLPasswordsNeverPrinted(t *testing.T) {
	cases := []struct {
		name, nats, redis string
		flags             []string
		want              string // what the error says
		waits             bool   // the worker waits for the server
	}{
		{name: "NATS connection refused", nats: "nats://svc:" + urlCanary + "@127.0.0.1:1", want: "connect to NATS", waits: true},
		{name: "NATS token refused", nats: "nats://" + urlCanary + "@127.0.0.1:1", want: "connect to NATS", waits: true},
		{name: "NATS URL that does not parse", nats: "nats://svc:" + urlCanary + "@127.0.0.1:notaport", want: "connect to NATS"},
		{name: "NATS URL flag refused", nats: "nats://127.0.0.1:1", flags: []string{"--nats-url", "nats://svc:" + urlCanary + "@127.0.0.1:1"}, want: "connect to NATS", waits: true},
		{name: "Redis URL that does not parse", nats: "nats://127.0.0.1:4222", redis: "redis://:" + urlCanary + "@localhost:notaport/0", want: "redis.url"},
		{name: "Redis URL with a bad escape", nats: "nats://127.0.0.1:4222", redis: "redis://u:" + urlCanary + "%zz@localhost:6379/0", want: "redis.url"},
		{name: "Redis bad scheme", nats: "nats://127.0.0.1:4222", redis: "rediss2://u:" + urlCanary + "@localhost:6379/0", want: "redis.url"},
		{name: "Redis connection refused", nats: "nats://127.0.0.1:4222", redis: "redis://u:" + urlCanary + "@127.0.0.1:1/0", want: "does not answer", waits: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := "nats:\n  url: " + quote(tc.nats) + "\nconnections:\n  rc:\n    provider: rocketchat\n    baseURL: http://127.0.0.1:1\n" +
				"    auth: { userId: secretsTestUser01, authToken: secrets-test-token }\n"
			if tc.redis != "" {
				cfg += "redis:\n  url: " + quote(tc.redis) + "\n"
			}
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			args := append([]string{"--config", path, "--http-addr", "127.0.0.1:0", "--log-format", "json"}, tc.flags...)
			// The stop a wait for an unreachable server ends with.
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
			defer cancel()
			code := run(ctx, args, &stdout, &stderr, func(string) (string, bool) { return "", false })
			if code == 0 {
				t.Fatal("run succeeded; the test wants a failure to connect or parse")
			}
			out := stdout.String() + stderr.String()
			if !strings.Contains(out, tc.want) {
				t.Fatalf("output %q, want it to say %q (the case tests nothing otherwise)", out, tc.want)
			}
			if waited := strings.Contains(out, "unreachable; waiting for it"); waited != tc.waits {
				t.Errorf("waited for the server: %v, want %v; output:\n%s", waited, tc.waits, out)
			}
			for _, form := range []string{urlCanary, url.QueryEscape(urlCanary), strings.ToLower(urlCanary),
				base64.StdEncoding.EncodeToString([]byte(urlCanary))} {
				if strings.Contains(out, form) {
					t.Fatalf("the password %q is printed:\n%s", form, out)
				}
			}
		})
	}
}

func quote(s string) string { return `"` + s + `"` }
