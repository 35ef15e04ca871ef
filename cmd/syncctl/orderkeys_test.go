package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
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
