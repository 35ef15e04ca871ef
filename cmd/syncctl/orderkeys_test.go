package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOrderKeysShowAndReset: an order key pinned far ahead (a data.sequence
// on the wrong scale) makes later commands skip the field; an operator sees
// it with `orderkeys show` and clears it with `orderkeys reset`, after which
// a command without a sequence writes the field again.
func TestOrderKeysShowAndReset(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.seedRC(1)
	ctx := context.Background()
	res := rcID(0)
	const pinned = "4102444800000" // 2100-01-01 in ms

	r := s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", res, "--set", "name=pinned",
		"--set", "active=false", "--sequence", pinned, "--id", "ok-pin", "--wait")
	if r.code != exitOK {
		t.Fatalf("pin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", res, "--set", "name=later", "--id", "ok-later", "--wait")
	if r.code != exitOK || !strings.Contains(r.stdout, "superseded") {
		t.Fatalf("later: exit %d, want superseded\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "orderkeys", "show", "rc", res)
	if r.code != exitOK {
		t.Fatalf("show: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"FIELD", "STREAM SEQ", "name    " + pinned + "  2100-01-01T00:00:00.000Z", "active  " + pinned} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}
	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "-o", "json", "orderkeys", "show", "rc", res)
	var shown struct {
		OrderKeys []orderKeyJSON `json:"orderKeys"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || len(shown.OrderKeys) != 2 || shown.OrderKeys[1].Field != "name" ||
		shown.OrderKeys[1].Key != 4102444800000 || shown.OrderKeys[1].StreamSequence != 1 {
		t.Fatalf("show -o json = %+v, %v\n%s", shown, err, r.stdout)
	}

	// Without --yes nothing is reset (usage error).
	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "orderkeys", "reset", "rc", res, "--field", "name")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("reset without --yes: exit %d\n%s", r.code, r.stderr)
	}
	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "orderkeys", "reset", "rc", res, "--field", "name", "--yes")
	if r.code != exitOK || !strings.Contains(r.stdout, "reset name of rc/"+res+" (was "+pinned+", stream sequence 1)") {
		t.Fatalf("reset: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "orderkeys", "show", "rc", res)
	if strings.Contains(r.stdout, "name ") || !strings.Contains(r.stdout, "active") {
		t.Fatalf("after reset of name:\n%s", r.stdout)
	}

	r = s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", res, "--set", "name=after-reset", "--id", "ok-after", "--wait")
	if r.code != exitOK || !strings.Contains(r.stdout, "result    applied") {
		t.Fatalf("after reset: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if app, _ := s.rc.App(res); app.Name != "after-reset" {
		t.Fatalf("provider name = %q", app.Name)
	}

	// Reset of every field; bad arguments are usage errors.
	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "-o", "json", "orderkeys", "reset", "rc", res, "--yes")
	var reset struct {
		Reset []orderKeyJSON `json:"reset"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &reset); err != nil || r.code != exitOK || len(reset.Reset) != 2 {
		t.Fatalf("reset all: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	for _, args := range [][]string{{"show", "RC", res}, {"show", "rc", "a.b"}, {"show", "rc"}, {"reset", "rc", res, "--field", "", "--yes"}} {
		if r := s.syncctl(t, ctx, nil, append([]string{"--config", s.configPath, "orderkeys"}, args...)...); r.code != exitUsage {
			t.Errorf("orderkeys %v: exit %d, want %d", args, r.code, exitUsage)
		}
	}
}

// TestMigratePlanShowsSkippedFieldsAndSupersededLines (issue 10 item 2): a
// plan reads the order keys, so a line whose fields a higher key already set
// shows as superseded (with the key that wins), a partly skipped line lists
// its skipped fields, and the migration's results then agree with the plan.
func TestMigratePlanShowsSkippedFieldsAndSupersededLines(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.seedRC(3)
	ctx := context.Background()
	const future = "4102444800000" // 2100-01-01 in ms
	r := s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", rcID(0), "--set", "name=pinned",
		"--sequence", future, "--id", "plan-pin", "--wait")
	if r.code != exitOK {
		t.Fatalf("pin: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	lines := []string{
		fmt.Sprintf(`{"id":"plan-1","connection":"rc","resource":%q,"changes":{"name":"n1","redirectUri":"https://one.example.com/cb"}}`, rcID(0)),
		fmt.Sprintf(`{"id":"plan-2","connection":"rc","resource":%q,"sequence":%d,"changes":{"name":"n2"}}`, rcID(0), hourAgo),
		fmt.Sprintf(`{"id":"plan-3","connection":"rc","resource":%q,"sequence":%d,"changes":{"active":false}}`, rcID(1), hourAgo),
		fmt.Sprintf(`{"id":"plan-4","connection":"rc","resource":%q,"changes":{"active":true}}`, rcID(1)),
		fmt.Sprintf(`{"id":"plan-5","connection":"rc","resource":%q,"sequence":%d,"changes":{"active":false}}`, rcID(1), hourAgo-1),
	}
	path := filepath.Join(t.TempDir(), "plan.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "migrate", path, "--plan")
	if r.code != exitOK {
		t.Fatalf("plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("~ rc/%s (line 1, plan-1)", rcID(0)),
		"    - name: skipped, order key " + future + " wins (stored)",
		fmt.Sprintf("- rc/%s (line 2, plan-2)\n    superseded: a higher order key already set every field\n    - name: skipped, order key %s wins (stored)", rcID(0), future),
		fmt.Sprintf("- rc/%s (line 5, plan-5)", rcID(1)),
		"    - active: skipped, order key ",
		" wins (line 4)",
		"2 superseded;",
		"3 skipped (a higher order key wins)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stderr, "warning") {
		t.Errorf("plan warned: %s", r.stderr)
	}
	j := s.syncctl(t, ctx, nil, "--config", s.configPath, "migrate", path, "--plan", "-o", "json")
	// JSON Lines: one object per line, then {"summary": ...}.
	type planLine struct {
		Line       int            `json:"line"`
		Superseded bool           `json:"superseded"`
		Skipped    []skippedJSON  `json:"skippedFields"`
		Summary    map[string]int `json:"summary"`
	}
	var out struct {
		Lines  []planLine
		Counts map[string]int
	}
	recs, err := decodeJSONLines[planLine](j.stdout)
	if err != nil || len(recs) == 0 {
		t.Fatalf("json plan: %v\n%s", err, j.stdout)
	}
	out.Lines, out.Counts = recs[:len(recs)-1], recs[len(recs)-1].Summary
	if len(out.Lines) != 5 || !out.Lines[1].Superseded || len(out.Lines[0].Skipped) != 1 || out.Lines[0].Skipped[0].OrderKey != 4102444800000 ||
		out.Lines[0].Skipped[0].StreamSequence != 1 || out.Lines[4].Skipped[0].Line != 4 || out.Counts["linesSuperseded"] != 2 || out.Counts["fieldsSkipped"] != 3 {
		t.Errorf("json plan = %+v", out)
	}

	// The migration does what the plan said (lines 1 to 3, whose outcome
	// does not depend on the order the worker takes them in).
	if err := os.WriteFile(path, []byte(strings.Join(lines[:3], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "migrate", path, "--batch", "plan-check")
	if r.code != exitOK && r.code != exitRejected {
		t.Fatalf("migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	statuses, _ := s.batchResults(t, "plan-check")
	if statuses["applied"] != 2 || statuses["superseded"] != 1 {
		t.Errorf("results by status %v, want 2 applied and 1 superseded, as planned", statuses)
	}
	if app, _ := s.rc.App(rcID(0)); app.Name != "pinned" || app.RedirectURI != "https://one.example.com/cb" {
		t.Errorf("app 0 = %+v, want the pinned name and line 1's redirect", app)
	}
}
