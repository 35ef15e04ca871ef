package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSkippedFieldsAreNeverSilent: commands with a higher order key set
// the apps' names first; a migration then sets names (and, on some lines,
// redirect URIs) with a lower key. Nothing is silent: publish --wait names
// the skipped field and the winning key, the summary says prominently how
// many lines were superseded or applied in part (and still exits 0), the
// report has the column, and the results table shows it. (The winning key
// is shown when the worker's result carries skippedOrderKeys; its
// rendering is checked on stored results by internal/cli's convention
// test and by the report's tests.)
var (
	skippedName = regexp.MustCompile(`skipped   name( \(key 1732269600000 won\))?\n`)
	skippedCell = regexp.MustCompile(`skips  name( \(key 1732269600000 won\))? `)
)

func TestSkippedFieldsAreNeverSilent(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.seedRC(6)
	ctx := context.Background()
	const winner = "1732269600000"
	for i := range 4 {
		r := s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", rcID(i), "--set", "name=winner",
			"--sequence", winner, "--id", fmt.Sprintf("win-%d", i), "--wait")
		if r.code != exitOK {
			t.Fatalf("publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	// publish --wait of a losing command: superseded, with the key that won.
	r := s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", rcID(0), "--set", "name=late", "--sequence", "3", "--wait")
	if r.code != exitOK || !strings.Contains(r.stdout, "result    superseded") || !skippedName.MatchString(r.stdout) {
		t.Errorf("publish --wait of a superseded command: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	var lines []string
	for i := range 6 {
		changes := `{"name":"loser"}`
		if i >= 2 {
			changes = fmt.Sprintf(`{"name":"loser","redirectUri":"https://new.example.com/cb/%d"}`, i)
		}
		lines = append(lines, fmt.Sprintf(`{"connection":"rc","resource":%q,"changes":%s,"sequence":5}`, rcID(i), changes))
	}
	path := filepath.Join(t.TempDir(), "skips.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reportPath := filepath.Join(t.TempDir(), "report.csv")
	r = s.syncctl(t, ctx, nil, "migrate", path, "--batch", "skips", "--report", reportPath, "--progress", "none")
	if r.code != exitOK {
		t.Fatalf("migrate: exit %d (superseded and skipped fields exit 0)\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"NOTE: 2 lines were superseded", "NOTE: 2 lines were applied only in part", "skippedFields column"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, r.stdout)
		}
	}
	report, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(report)), "\n")
	if !strings.HasSuffix(rows[0], ",skippedFields") || len(rows) != 7 {
		t.Fatalf("report:\n%s", report)
	}
	for i, row := range rows[1:] {
		skipped := strings.HasSuffix(row, ",name="+winner) || strings.HasSuffix(row, ",name")
		if skipped != (i < 4) {
			t.Errorf("report row %d = %q; skipped name with key %s: want %v", i+1, row, winner, i < 4)
		}
	}
	// The JSON summary counts them apart; a rerun (everything answered
	// already) says the same.
	r = s.syncctl(t, ctx, nil, "migrate", path, "--batch", "skips", "--progress", "none", "-o", "json")
	var sum summaryOutput
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil || r.code != exitOK {
		t.Fatalf("migrate -o json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if sum.Superseded != 2 || sum.SkippedFieldLines != 4 || sum.Counts["applied"] != 4 {
		t.Errorf("summary = %+v; want 2 superseded, 4 lines with skipped fields, 4 applied", sum)
	}
	r = s.syncctl(t, ctx, nil, "results", "--batch", "skips")
	if n := len(skippedCell.FindAllString(r.stdout, -1)); n != 4 {
		t.Errorf("results table:\n%s", r.stdout)
	}
	// And nothing was overwritten by the losers.
	for i := range 4 {
		if app, _ := s.rc.App(rcID(i)); app.Name != "winner" {
			t.Errorf("app %d name %q", i, app.Name)
		}
	}
}
