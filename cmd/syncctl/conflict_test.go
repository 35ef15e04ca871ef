package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/messages"
)

// TestReusedIDInsideTheDuplicateWindowIsAnIDConflict: publishing another
// payload under an id JetStream still holds is dropped as a duplicate
// (PubAck.Duplicate); publish --wait must not print the first payload's
// result as this one's, but id_conflict with exit code 3, whether only the
// secret changed or another field; migrate likewise, per line.
func TestReusedIDInsideTheDuplicateWindowIsAnIDConflict(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "hdp-client", ClientSecret: "hdp-old-secret-8812",
		AuthorizeURI: "https://login.salesforce.com/services/oauth2/authorize", TokenURI: "https://login.salesforce.com/services/oauth2/token", Scope: "api"})
	ctx := context.Background()
	const secretA, secretB = "first-Secret-5b21c0", "second-Secret-9e77aa"
	publish := func(secret string, extra ...string) result {
		args := append([]string{"publish", "--connection", "hdp", "--resource", "93", "--id", "rotate-93",
			"--secret-from-env", "S", "--wait", "-o", "json"}, extra...)
		return s.syncctl(t, ctx, map[string]string{"S": secret}, args...)
	}
	first := publish(secretA)
	if first.code != 0 || !strings.Contains(first.stdout, `"applied"`) {
		t.Fatalf("first publish: exit %d\n%s%s", first.code, first.stdout, first.stderr)
	}
	for name, r := range map[string]result{
		"secret changed only":   publish(secretB),
		"another field changed": publish(secretA, "--set", "name=Renamed"),
		"both changed":          publish(secretB, "--set", "description=x"),
	} {
		var out publishOutput
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
			t.Fatalf("%s: output %q: %v", name, r.stdout, err)
		}
		if !out.Duplicate {
			t.Errorf("%s: JetStream did not drop the publish as a duplicate; the test does not test the window", name)
		}
		if r.code != exitRejected || out.Result == nil || out.Result.Status != messages.StatusRejected ||
			out.Result.Error == nil || out.Result.Error.Code != messages.CodeIDConflict {
			t.Errorf("%s: exit %d, result %+v; want exit %d, rejected id_conflict\n%s", name, r.code, out.Result, exitRejected, r.stderr)
		}
		for _, secret := range []string{secretA, secretB} {
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("%s: output shows a secret", name)
			}
		}
	}
	if app, _ := s.hdp.App(93); app.ClientSecret != secretA || app.Name != "Salesforce" {
		t.Errorf("a conflicting payload was applied: name %q, secret is the first: %v", app.Name, app.ClientSecret == secretA)
	}
	// The same payload again is the same command: its result, exit 0.
	if again := publish(secretA); again.code != 0 {
		t.Errorf("republishing the first payload: exit %d\n%s%s", again.code, again.stdout, again.stderr)
	}

	// migrate: one line reuses the id with another secret.
	file := filepath.Join(t.TempDir(), "m.ndjson")
	lines := `{"id":"rotate-93","connection":"hdp","resource":"93","changes":{"clientSecret":"` + secretB + `"}}` + "\n" +
		`{"id":"fresh-94","connection":"hdp","resource":"93","changes":{"name":"Renamed"}}` + "\n"
	if err := os.WriteFile(file, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.csv")
	r := s.syncctl(t, ctx, nil, "migrate", file, "--batch", "conflicts", "--report", report)
	if r.code != exitRejected {
		t.Errorf("migrate: exit %d, want %d\n%s%s", r.code, exitRejected, r.stdout, r.stderr)
	}
	rep, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rep), "id_conflict") || strings.Contains(string(rep)+r.stdout+r.stderr, secretB) {
		t.Errorf("migrate report:\n%s\noutput:\n%s%s", rep, r.stdout, r.stderr)
	}
	if app, _ := s.hdp.App(93); app.ClientSecret != secretA || app.Name != "Renamed" {
		t.Errorf("after migrate: name %q, first secret kept: %v", app.Name, app.ClientSecret == secretA)
	}
}
