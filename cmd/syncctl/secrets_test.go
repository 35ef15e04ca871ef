package main

import (
	"context"
	"encoding/base64"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// urlCanary is a NATS password that syncctl must never print.
const urlCanary = "Ctl-Url-Canary-Pw-3Zk"

// TestURLPasswordsNeverPrinted: a NATS URL with a password, from --server,
// $NATS_URL or the --config file, that is refused, does not parse or has a
// bad scheme, makes syncctl fail without printing the password.
func TestURLPasswordsNeverPrinted(t *testing.T) {
	cfgPath := func(natsURL string) string {
		p := filepath.Join(t.TempDir(), "c.yaml")
		yaml := "nats:\n  url: \"" + natsURL + "\"\nconnections:\n  rc:\n    provider: rocketchat\n    baseURL: http://127.0.0.1:1\n" +
			"    auth: { userId: ctlSecretsUser001, authToken: ctl-secrets-token }\n"
		if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"--server refused", []string{"--server", "nats://svc:" + urlCanary + "@127.0.0.1:1", "status"}, nil},
		{"--server token refused", []string{"--server", "nats://" + urlCanary + "@127.0.0.1:1", "status"}, nil},
		{"--server does not parse", []string{"--server", "nats://svc:" + urlCanary + "@127.0.0.1:notaport", "dlq", "list"}, nil},
		{"--server bad escape", []string{"--server", "nats://svc:" + urlCanary + "%zz@127.0.0.1:1", "dlq", "list"}, nil},
		{"--server bad scheme", []string{"--server", "ftp://svc:" + urlCanary + "@127.0.0.1:1", "status"}, nil},
		{"$NATS_URL refused", []string{"status"}, map[string]string{"NATS_URL": "nats://svc:" + urlCanary + "@127.0.0.1:1"}},
		{"config nats.url refused", []string{"--config", cfgPath("nats://svc:" + urlCanary + "@127.0.0.1:1"), "status"}, nil},
		{"config nats.url does not parse", []string{"--config", cfgPath("nats://svc:" + urlCanary + "@127.0.0.1:notaport"), "status"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr lockedBuffer
			code := run(context.Background(), tc.args, envFor(&stdout, &stderr, tc.env))
			out := stdout.String() + stderr.String()
			if code == exitOK || !strings.Contains(out, "NATS") {
				t.Fatalf("exit %d, want a failure to connect:\n%s", code, out)
			}
			for _, form := range []string{urlCanary, url.QueryEscape(urlCanary), strings.ToUpper(urlCanary),
				base64.StdEncoding.EncodeToString([]byte(urlCanary))} {
				if strings.Contains(out, form) {
					t.Fatalf("the password %q is printed:\n%s", form, out)
				}
			}
		})
	}
}
