package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/messages"
)

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// badLines are lines the worker's decoder refuses, each for another reason.
var badLines = []string{
	`{"connection":"rc","resource":"%s","changes":{"redirectUri":"https://x.example.com/cb"`, // broken JSON
	`{"connection":"rc","resource":"bad/resource","changes":{"active":true}}`,
	`{"connection":"rc","resource":"%s","changes":{"colour":"blue"}}`,
	`{"connection":"rc","resource":"%s","changes":{"active":"yes"}}`,
	`{"connection":"rc","resource":"%s","changes":{}}`,
	`{"connection":"RC!","resource":"%s","changes":{"active":true}}`,
	`{"connection":"rc","resource":"%s","changes":{"active":true},"extra":1}`,
}

// writeMigration writes n short-form lines for the Rocket.Chat connection,
// one app each (rcID(i)); every line whose index is in bad is broken. It
// returns the path.
func writeMigration(t *testing.T, n int, bad map[int]bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clients.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	k := 0
	for i := range n {
		if bad[i] {
			line := badLines[k%len(badLines)]
			k++
			if strings.Contains(line, "%s") {
				line = fmt.Sprintf(line, rcID(i))
			}
			fmt.Fprintln(w, line)
			continue
		}
		fmt.Fprintf(w, `{"connection":"rc","resource":%q,"changes":{"redirectUri":"https://new.example.com/cb/%d","active":false}}`+"\n", rcID(i), i)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// everyFiftieth marks 2% of n lines bad.
func everyFiftieth(n int) map[int]bool {
	bad := map[int]bool{}
	for i := 7; i < n; i += 50 {
		bad[i] = true
	}
	return bad
}

// streamMessages is the number of messages in a stream.
func (s *stack) streamMessages(t *testing.T, name string) uint64 {
	t.Helper()
	st, err := s.js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// batchResults counts the results stream's results of batch by status, and
// the result events per command id.
func (s *stack) batchResults(t *testing.T, batch string) (map[string]int, map[string]int) {
	t.Helper()
	byStatus, perCommand := map[string]int{}, map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := resultstream.Reader{JetStream: s.js}.Read(ctx, resultstream.Query{}, func(it resultstream.Item) error {
		if it.Event == nil {
			t.Errorf("result %d does not decode: %v", it.Seq, it.Err)
			return nil
		}
		if it.Event.Data.Batch == batch {
			byStatus[string(it.Event.Data.Status)]++
			perCommand[it.Event.Data.CommandID]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return byStatus, perCommand
}

func TestMigrateRefusesAFileWithBadLinesAndPublishesNothing(t *testing.T) {
	s := startStack(t, stackOptions{})
	// 4,000 lines: 80 bad, at least 11 of each of the 7 kinds, so every
	// group has more lines than it shows (maxLinesShown) and says "more".
	const n = 4_000
	bad := everyFiftieth(n)
	path := writeMigration(t, n, bad)

	reportPath := filepath.Join(t.TempDir(), "refused.ndjson")
	r := s.syncctl(t, context.Background(), nil, "migrate", path, "--batch", "m-bad", "--report", reportPath)
	if r.code != exitUsage {
		t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, exitUsage, tail(r.stderr))
	}
	// The same mistakes are grouped: one line per reason, with a count
	// and the first line numbers, not one line per bad line.
	if lines := strings.Count(r.stderr, "\n"); lines > len(badLines)+2 {
		t.Errorf("%d lines of errors for %d kinds of mistake:\n%s", lines, len(badLines), tail(r.stderr))
	}
	first := -1
	for i := range n {
		if bad[i] {
			first = i + 1
			break
		}
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("lines: %d, ", first)) || !strings.Contains(r.stderr, " more)") {
		t.Errorf("no group with a count, first line numbers and the rest counted:\n%s", tail(r.stderr))
	}
	// The report is written though nothing was published: every bad line
	// invalid, every other one unpublished.
	rows := readReport(t, reportPath)
	if len(rows) != n {
		t.Fatalf("report has %d rows, want %d", len(rows), n)
	}
	for i, row := range rows {
		want := "unpublished"
		if bad[i] {
			want = "invalid"
		}
		if row.Line != i+1 || row.Status != want || (want == "invalid") != (row.Error != "") {
			t.Fatalf("report row %d = %+v, want status %s", i+1, row, want)
		}
	}
	// Under -o json the error is one JSON object whose groups count every
	// bad line.
	j := s.syncctl(t, context.Background(), nil, "migrate", path, "--batch", "m-bad", "-o", "json")
	var e struct {
		Error struct {
			Code     string `json:"code"`
			ExitCode int    `json:"exitCode"`
			Details  struct {
				Groups []invalidGroup `json:"groups"`
			} `json:"details"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(j.stderr), &e); err != nil || j.code != exitUsage || e.Error.Code != "invalid_lines" || e.Error.ExitCode != exitUsage {
		t.Fatalf("-o json: exit %d, %v:\n%s", j.code, err, tail(j.stderr))
	}
	total := 0
	for _, g := range e.Error.Details.Groups {
		total += g.Count
		if len(g.FirstLines) == 0 || len(g.FirstLines) > maxLinesShown || g.Message == "" {
			t.Errorf("group %+v", g)
		}
	}
	if total != len(bad) {
		t.Errorf("groups count %d lines, want %d", total, len(bad))
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("%d of %d lines are invalid; nothing was published", len(bad), n)) {
		t.Errorf("stderr does not say nothing was published:\n%s", tail(r.stderr))
	}
	if got := s.streamMessages(t, "SYNC_COMMANDS"); got != 0 {
		t.Errorf("commands stream holds %d messages, want 0", got)
	}
}

func TestMigrateSkipInvalidAppliesTheRestWithAReportRowPerLine(t *testing.T) {
	s := startStack(t, stackOptions{})
	// 1,500 lines (30 invalid) through a 128-publish window (--max-pending):
	// the file is many windows long, as a 10,000-line file is for the
	// default 2,048, for a sixth of the worker's time under -race.
	const n, window = 1_500, "128"
	s.seedRC(n)
	bad := everyFiftieth(n)
	path := writeMigration(t, n, bad)
	const batch = "m-skip"
	// The first run applies the file and writes a CSV report; the second,
	// with the same batch, finds every result and publishes nothing, and
	// writes the same outcomes as NDJSON.
	for i, report := range []string{"report.csv", "report.ndjson"} {
		reportPath := filepath.Join(t.TempDir(), report)
		r := s.syncctl(t, context.Background(), nil, "migrate", path, "--batch", batch, "--skip-invalid", "--max-pending", window,
			"--report", reportPath, "--progress", "none", "-o", "json")
		if r.code != exitOK {
			t.Fatalf("run %d: exit %d; stderr:\n%s\nstdout:\n%s", i, r.code, tail(r.stderr), r.stdout)
		}
		if !strings.Contains(r.stderr, fmt.Sprintf("%d of %d lines are invalid and will be skipped", len(bad), n)) {
			t.Errorf("run %d: stderr does not count the skipped lines:\n%s", i, tail(r.stderr))
		}
		var sum summaryOutput
		if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
			t.Fatalf("summary: %v\n%s", err, r.stdout)
		}
		byStatus, perCommand := s.batchResults(t, batch)
		want := map[string]int{"invalid": len(bad)}
		for st, k := range byStatus {
			want[st] = k
		}
		if !mapsEqual(sum.Counts, want) {
			t.Errorf("run %d: summary counts %v, results stream %v (+%d invalid)", i, sum.Counts, byStatus, len(bad))
		}
		if byStatus["applied"] != n-len(bad) || len(perCommand) != n-len(bad) {
			t.Errorf("run %d: results stream %v over %d commands, want %d applied", i, byStatus, len(perCommand), n-len(bad))
		}
		for id, k := range perCommand {
			if k != 1 {
				t.Errorf("command %s has %d results", id, k)
			}
		}
		if wantPublished := []int{n - len(bad), 0}[i]; sum.Published != wantPublished || (i == 1 && sum.Previous != n-len(bad)) {
			t.Errorf("run %d: published %d (previous %d), want %d", i, sum.Published, sum.Previous, wantPublished)
		}
		rows := readReport(t, reportPath)
		if len(rows) != n {
			t.Fatalf("report has %d rows, want %d", len(rows), n)
		}
		for j, row := range rows {
			wantStatus := "applied"
			if bad[j] {
				wantStatus = "invalid"
			}
			if row.Line != j+1 || row.Status != wantStatus || (bad[j] && row.Error == "") || (!bad[j] && row.CommandID == "") {
				t.Fatalf("%s row %d = %+v, want line %d status %s", report, j, row, j+1, wantStatus)
			}
		}
	}
	writes := s.rcWrites(t)
	if len(writes) != n-len(bad) {
		t.Errorf("%d apps written, want %d", len(writes), n-len(bad))
	}
	for id, k := range writes {
		if k != 1 {
			t.Errorf("app %s written %d times", id, k)
		}
	}
	app, _ := s.rc.App(rcID(0))
	if app.RedirectURI != "https://new.example.com/cb/0" || app.Active {
		t.Errorf("app 0 = %+v", app)
	}
}

func TestMigrateResumesAfterAnInterruptWithoutApplyingTwice(t *testing.T) {
	s := startStack(t, stackOptions{})
	const n = 2_000
	s.seedRC(n)
	path := writeMigration(t, n, nil)
	reportPath := filepath.Join(t.TempDir(), "report.ndjson")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Interrupt once a fifth of the file is in the commands stream.
		for ctx.Err() == nil {
			st, err := s.js.Stream(ctx, "SYNC_COMMANDS")
			if err == nil {
				if info, err := st.Info(ctx); err == nil && info.State.Msgs >= n/5 {
					cancel()
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	first := s.syncctl(t, ctx, nil, "migrate", path, "--rate", "500", "--report", reportPath, "--progress", "none", "-o", "json")
	if first.code != exitInterrupted {
		t.Fatalf("interrupted run: exit %d, want %d; stderr:\n%s", first.code, exitInterrupted, tail(first.stderr))
	}
	var sum1 summaryOutput
	if err := json.Unmarshal([]byte(first.stdout), &sum1); err != nil {
		t.Fatal(err)
	}
	if !sum1.Interrupted || sum1.Published == 0 || sum1.Published == n || sum1.Counts["unpublished"] == 0 {
		t.Fatalf("interrupted summary %+v", sum1)
	}
	rows := readReport(t, reportPath)
	if len(rows) != n {
		t.Fatalf("interrupted report has %d rows, want %d", len(rows), n)
	}
	if !strings.Contains(first.stderr, "rerun the same command to resume batch "+sum1.Batch) {
		t.Errorf("stderr does not say how to resume:\n%s", tail(first.stderr))
	}
	// Let the worker finish some of what was published, so the rerun meets
	// both finished and unfinished lines.
	waitFor(t, 10*time.Second, "some results", func() bool { return s.streamMessages(t, "SYNC_RESULTS") > 0 })

	second := s.syncctl(t, context.Background(), nil, "migrate", path, "--report", reportPath, "--progress", "none", "-o", "json")
	if second.code != exitOK {
		t.Fatalf("rerun: exit %d; stderr:\n%s", second.code, tail(second.stderr))
	}
	var sum2 summaryOutput
	if err := json.Unmarshal([]byte(second.stdout), &sum2); err != nil {
		t.Fatal(err)
	}
	if sum2.Batch != sum1.Batch {
		t.Errorf("rerun batch %s, first %s: the derived batch must not change", sum2.Batch, sum1.Batch)
	}
	if sum2.Previous == 0 || sum2.Counts["applied"] != n {
		t.Errorf("rerun summary %+v: want some previous results and all %d applied", sum2, n)
	}
	// Lines answered while the rerun read or published are neither previous
	// nor republished, so the two need not add up to n.
	if sum2.Published+sum2.Previous > n || sum2.Published >= n {
		t.Errorf("rerun published %d with %d previous, of %d lines", sum2.Published, sum2.Previous, n)
	}
	byStatus, perCommand := s.batchResults(t, sum1.Batch)
	if byStatus["applied"] != n || len(perCommand) != n {
		t.Errorf("results stream: %v over %d commands, want %d applied", byStatus, len(perCommand), n)
	}
	for id, k := range perCommand {
		if k != 1 {
			t.Errorf("command %s has %d results", id, k)
		}
	}
	writes := s.rcWrites(t)
	if len(writes) != n {
		t.Errorf("%d apps written, want %d", len(writes), n)
	}
	for id, k := range writes {
		if k != 1 {
			t.Errorf("app %s written %d times", id, k)
		}
	}
	rows = readReport(t, reportPath)
	previous := 0
	for _, row := range rows {
		if row.Status != "applied" {
			t.Fatalf("rerun report row %+v", row)
		}
		if row.Previous {
			previous++
		}
	}
	if previous != sum2.Previous {
		t.Errorf("report marks %d rows previous, summary %d", previous, sum2.Previous)
	}
}

func TestMigratePlanShowsDiffsAndWritesNothing(t *testing.T) {
	s := startStack(t, stackOptions{NoWorker: true})
	s.rc.Seed(rocketchatsim.App{ID: rcID(1), Name: "Portal", Active: true, RedirectURI: "https://old.example.com/cb"})
	s.rc.Seed(rocketchatsim.App{ID: rcID(2), Name: "Reports", Active: false, RedirectURI: "https://a.example.com/cb,https://b.example.com/cb"})
	s.hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "hdp-client", ClientSecret: "hdp-old-secret-8812",
		AuthorizeURI: "https://login.salesforce.com/services/oauth2/authorize", TokenURI: "https://login.salesforce.com/services/oauth2/token", Scope: "api"})
	s.jf.Seed(jframeworksim.Integration{ID: "auth-1", Code: "google", Name: "Google", ProjectID: "p1", ClientID: "jf-client",
		ClientSecret: "jf-old-secret-5531", RedirectURI: "https://jf.example.com/cb", Scope: "openid email"})
	s.rl.Seed("65a7d77142a7e12453052d60", map[string]any{"mode": "refresh_token", "clientId": "rl-client"})
	lines := []string{
		fmt.Sprintf(`{"connection":"rc","resource":%q,"changes":{"redirectUri":"https://new.example.com/cb","active":true}}`, rcID(1)),
		fmt.Sprintf(`{"connection":"rc","resource":%q,"changes":{"redirectUri":"https://a.example.com/cb,https://b.example.com/cb","active":false}}`, rcID(2)),
		`{"connection":"hdp","resource":"93","changes":{"scopes":["api","refresh_token"],"tokenUrl":"https://login.salesforce.com/services/oauth2/token"}}`,
		`{"connection":"jf","resource":"auth-1","changes":{"active":false,"name":"Google"}}`,
		`{"connection":"rl","resource":"65a7d77142a7e12453052d60","changes":{"tokenUrl":"https://login.example.com/token"}}`,
		fmt.Sprintf(`{"connection":"rc","resource":%q,"changes":{"clientId":"x"}}`, rcID(1)),
		fmt.Sprintf(`{"connection":"rc","resource":%q,"changes":{"active":true}}`, rcID(99)),
	}
	path := filepath.Join(t.TempDir(), "plan.ndjson")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := s.syncctl(t, context.Background(), nil, "--config", s.configPath, "migrate", path, "--plan")
	// An unsupported field and a missing app make the plan exit 3.
	if r.code != exitRejected {
		t.Fatalf("exit %d, want %d; stderr:\n%s\nstdout:\n%s", r.code, exitRejected, r.stderr, r.stdout)
	}
	for _, want := range []string{
		fmt.Sprintf("~ rc/%s (line 1,", rcID(1)),
		`    ~ redirectUri: "https://old.example.com/cb" -> "https://new.example.com/cb"`,
		`    = active: true`,
		fmt.Sprintf("= rc/%s (line 2,", rcID(2)),
		`    = redirectUri: "https://a.example.com/cb,https://b.example.com/cb"`,
		`    ~ scopes: ["api"] -> ["api","refresh_token"]`,
		`    = tokenUrl: "https://login.salesforce.com/services/oauth2/token"`,
		`    ~ active: true -> false`,
		`    = name: "Google"`,
		`    ? tokenUrl: (cannot be read) -> "https://login.example.com/token"`,
		"unsupported:",
		fmt.Sprintf("! rc/%s (line 7,", rcID(99)),
		"Plan: 7 lines; 4 would change, 1 unchanged, 0 superseded; fields: 3 to change, 5 unchanged, 1 unknown (not readable, would be sent), 0 skipped (a higher order key wins); 1 unsupported, 1 errors. Nothing was written.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	for name, reqs := range map[string][]string{"rocketchat": methods(s.rc.Requests()), "hybriddatapipeline": methods(s.hdp.Requests()),
		"jframework": methods(s.jf.Requests()), "reelevant": methods(s.rl.Requests())} {
		for _, m := range reqs {
			if m != http.MethodGet {
				t.Errorf("%s received a %s during --plan", name, m)
			}
		}
		if name != "reelevant" && len(reqs) == 0 {
			t.Errorf("%s was not read", name)
		}
		if name == "reelevant" && len(reqs) != 0 {
			t.Errorf("reelevant has no read endpoint, yet received %d requests", len(reqs))
		}
	}
	if app, _ := s.rc.App(rcID(1)); app.RedirectURI != "https://old.example.com/cb" {
		t.Errorf("plan changed app 1: %+v", app)
	}
	// No NATS server needed, nothing published: the stack has no streams.
	if _, err := s.js.Stream(context.Background(), "SYNC_COMMANDS"); err == nil {
		t.Error("--plan created the commands stream")
	}

	j := s.syncctl(t, context.Background(), nil, "--config", s.configPath, "migrate", path, "--plan", "-o", "json")
	// JSON Lines: one record per file line, then the summary.
	type planRecord struct {
		Line   int `json:"line"`
		Fields []struct {
			Field, State string
		} `json:"fields"`
		Summary map[string]int `json:"summary"`
	}
	var recs []planRecord
	for _, line := range strings.Split(strings.TrimSuffix(j.stdout, "\n"), "\n") {
		var r planRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("json plan line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	if len(recs) != 8 || recs[7].Summary["fieldsChanged"] != 3 || recs[7].Summary["unsupported"] != 1 || recs[0].Line == 0 {
		t.Errorf("json plan = %+v", recs)
	}
}

func methods(reqs any) []string {
	var out []string
	switch rs := reqs.(type) {
	case []rocketchatsim.Recorded:
		for _, r := range rs {
			out = append(out, r.Method)
		}
	case []hdpsim.Recorded:
		for _, r := range rs {
			out = append(out, r.Method)
		}
	case []jframeworksim.Recorded:
		for _, r := range rs {
			out = append(out, r.Method)
		}
	default:
		b, _ := json.Marshal(rs)
		var recs []struct{ Method string }
		_ = json.Unmarshal(b, &recs)
		for _, r := range recs {
			out = append(out, r.Method)
		}
	}
	return out
}

func TestMigrateSecretFromEnvNeverShown(t *testing.T) {
	s := startStack(t, stackOptions{})
	const secret = "rotated-Secret-4f9a1c77e2"
	s.hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "hdp-client", ClientSecret: "hdp-old-secret-8812",
		AuthorizeURI: "https://login.salesforce.com/services/oauth2/authorize", TokenURI: "https://login.salesforce.com/services/oauth2/token", Scope: "api"})
	s.jf.Seed(jframeworksim.Integration{ID: "auth-1", Code: "google", Name: "Google", ProjectID: "p1", ClientID: "jf-client",
		ClientSecret: "jf-old-secret-5531", RedirectURI: "https://jf.example.com/cb", Scope: "openid email"})
	path := filepath.Join(t.TempDir(), "rotate.ndjson")
	content := `{"connection":"hdp","resource":"93","changes":{"clientId":"shared-client"}}
{"connection":"jf","resource":"auth-1","changes":{"clientId":"shared-client"}}
{"connection":"jf","resource":"auth-missing","changes":{"clientId":"shared-client"}}
`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"NEW_SECRET": secret}
	for _, args := range [][]string{
		{"--config", s.configPath, "migrate", path, "--plan", "--secret-from-env", "NEW_SECRET"},
		{"--config", s.configPath, "migrate", path, "--plan", "--secret-from-env", "NEW_SECRET", "-o", "json"},
		{"migrate", path, "--secret-from-env", "NEW_SECRET", "--progress", "lines", "--report", filepath.Join(t.TempDir(), "r.csv")},
		{"migrate", path, "--secret-from-env", "NEW_SECRET", "--progress", "bar", "--report", filepath.Join(t.TempDir(), "r.ndjson"), "-o", "json"},
	} {
		r := s.syncctl(t, context.Background(), env, args...)
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("syncctl %v shows the secret:\n%s\n%s", args, r.stdout, r.stderr)
		}
		for i, a := range args {
			if a == "--report" {
				b, err := os.ReadFile(args[i+1])
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(b), secret) {
					t.Errorf("report shows the secret:\n%s", b)
				}
				if !strings.Contains(string(b), "provider_not_found") {
					t.Errorf("report lacks the missing integration's error:\n%s", b)
				}
			}
		}
		if !slices.Contains(args, "--plan") && r.code != exitRejected {
			t.Errorf("syncctl %v: exit %d, want %d (one integration is missing)", args, r.code, exitRejected)
		}
	}
	app, _ := s.hdp.App(93)
	in, _ := s.jf.Integration("auth-1")
	if app.ClientSecret != secret || in.ClientSecret != secret || app.ClientID != "shared-client" {
		t.Errorf("the providers did not receive the secret: hdp %q jf %q", app.ClientID, in.ClientID)
	}
}

type reportRow struct {
	Line      int    `json:"line"`
	CommandID string `json:"commandId"`
	Status    string `json:"status"`
	Error     string `json:"error"`
	Previous  bool   `json:"previous"`
}

func readReport(t *testing.T, path string) []reportRow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []reportRow
	if strings.HasSuffix(path, ".csv") {
		recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], reportColumns()) {
			t.Fatalf("csv header %v", recs[0])
		}
		for _, rec := range recs[1:] {
			var row reportRow
			fmt.Sscan(rec[0], &row.Line)
			row.CommandID, row.Status, row.Error, row.Previous = rec[1], rec[4], rec[6], rec[7] == "true"
			rows = append(rows, row)
		}
		return rows
	}
	for line := range strings.Lines(string(b)) {
		var row reportRow
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	return rows
}

func reportColumns() []string {
	return []string{"line", "commandId", "connection", "resource", "status", "errorCode", "error", "previous", "skippedFields"}
}

func mapsEqual(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// tail is the end of long output.
func tail(s string) string {
	if len(s) > 3000 {
		return "..." + s[len(s)-3000:]
	}
	return s
}

var _ = messages.StatusApplied
