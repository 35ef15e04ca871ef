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
	"time"

	"github.com/spf13/cobra"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/internal/deadletter"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/worker"
	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/redisflow"
)

func TestPublishWaitPrintsTheResultAndExitsByStatus(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.seedRC(2)
	ctx := context.Background()

	r := s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", rcID(0),
		"--set", "redirectUri=https://new.example.com/cb", "--set", "active=false", "--id", "pub-1", "--wait")
	if r.code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"published pub-1 to sync.commands.rc." + rcID(0), "result    applied", "applied   redirectUri, active"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if app, _ := s.rc.App(rcID(0)); app.RedirectURI != "https://new.example.com/cb" || app.Active {
		t.Errorf("app = %+v", app)
	}

	// The same id again: JetStream drops the copy, the worker's result is
	// found anyway, and nothing is written twice.
	r = s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", rcID(0),
		"--set", "redirectUri=https://new.example.com/cb", "--set", "active=false", "--id", "pub-1", "--wait", "-o", "json")
	var out publishOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != exitOK {
		t.Fatalf("exit %d, %v:\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if !out.Duplicate || out.Result == nil || out.Result.Status != "applied" {
		t.Errorf("duplicate publish = %+v", out)
	}
	if n := s.rcWrites(t)[rcID(0)]; n != 1 {
		t.Errorf("app written %d times", n)
	}

	// Rejected by the worker (no --config, so syncctl cannot know the
	// provider refuses clientId): exit 3 with the reason.
	r = s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", rcID(1), "--set", "clientId=x", "--wait")
	if r.code != exitRejected || !strings.Contains(r.stdout, "result    rejected") || !strings.Contains(r.stdout, "unsupported_field") {
		t.Errorf("rejected publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// With --config the adapter refuses it before publishing.
	before := s.streamMessages(t, "SYNC_COMMANDS")
	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "publish", "--connection", "rc", "--resource", rcID(1), "--set", "clientId=x")
	if r.code != exitUsage || !strings.Contains(r.stderr, `no place for "clientId"`) {
		t.Errorf("validated publish: exit %d\n%s", r.code, r.stderr)
	}
	if after := s.streamMessages(t, "SYNC_COMMANDS"); after != before {
		t.Errorf("a refused command was published")
	}
}

func TestPublishFromFile(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.seedRC(1)
	dir := t.TempDir()
	short := filepath.Join(dir, "short.json")
	event := filepath.Join(dir, "event.json")
	if err := os.WriteFile(short, []byte(fmt.Sprintf(`{
  "connection": "rc", "resource": %q, "id": "file-1",
  "changes": {"name": "From a file"}
}`, rcID(0))), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(event, []byte(fmt.Sprintf(`{"specversion":"1.0","id":"file-2","source":"/test","type":"oauthsync.client.update.v1",
  "connection":"rc","resource":%q,"batch":"b1","data":{"sequence":5,"changes":{"active":false}}}`, rcID(0))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{short, event} {
		r := s.syncctl(t, context.Background(), nil, "publish", "-f", path, "--wait")
		if r.code != exitOK || !strings.Contains(r.stdout, "result    applied") {
			t.Errorf("publish -f %s: exit %d\n%s%s", filepath.Base(path), r.code, r.stdout, r.stderr)
		}
	}
	if app, _ := s.rc.App(rcID(0)); app.Name != "From a file" || app.Active {
		t.Errorf("app = %+v", app)
	}
}

func TestPublishSecretFromEnvNeverShown(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "hdp-client", ClientSecret: "hdp-old-secret-8812",
		AuthorizeURI: "https://login.salesforce.com/services/oauth2/authorize", TokenURI: "https://login.salesforce.com/services/oauth2/token", Scope: "api"})
	const secret = "fresh-Secret-77c0d1e9ab"
	env := map[string]string{"HDP_SECRET": secret}
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, args := range [][]string{
		{"publish", "--connection", "hdp", "--resource", "93", "--secret-from-env", "HDP_SECRET", "--wait"},
		{"publish", "--connection", "hdp", "--resource", "93", "--secret-from-env", "HDP_SECRET", "--set", "name=Renamed", "--wait", "-o", "json"},
		{"publish", "--connection", "hdp", "--resource", "93", "--secret-from-file", secretFile, "--wait"},
		{"--config", s.configPath, "publish", "--connection", "hdp", "--resource", "93", "--secret-from-env", "HDP_SECRET", "--set", "scopes=api,bad scope", "--wait"},
		{"publish", "--connection", "hdp", "--resource", "94", "--secret-from-env", "HDP_SECRET", "--wait"},
	} {
		r := s.syncctl(t, context.Background(), env, args...)
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("run %d shows the secret:\n%s%s", i, r.stdout, r.stderr)
		}
		if r.code == exitError {
			t.Errorf("run %d failed: %s", i, r.stderr)
		}
	}
	if app, _ := s.hdp.App(93); app.ClientSecret != secret || app.Name != "Renamed" {
		t.Errorf("the provider did not receive the secret (name %q)", app.Name)
	}
	// Dead letters and results never show it either.
	r := s.syncctl(t, context.Background(), nil, "results", "-o", "json")
	if strings.Contains(r.stdout, secret) || !strings.Contains(r.stdout, `"provider_not_found"`) {
		t.Errorf("results:\n%s", r.stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.ndjson")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"publish", "--resource", "x", "--set", "name=a"}, "--connection and --resource are required"},
		{[]string{"publish", "--connection", "rc", "--resource", "r1"}, "nothing to change"},
		{[]string{"publish", "--connection", "rc", "--resource", "r1", "--set", "clientSecret=hunter2"}, "--secret-from-env"},
		{[]string{"publish", "--connection", "rc", "--resource", "r1", "--set", "colour=blue"}, "not a canonical field"},
		{[]string{"publish", "--connection", "rc", "--resource", "r1", "--set", "active=maybe"}, "true or false"},
		{[]string{"publish", "--connection", "rc", "--resource", "r/1", "--set", "active=true"}, "resource"},
		{[]string{"publish", "--connection", "rc", "--resource", "r1", "--secret-from-env", "UNSET_VAR"}, "UNSET_VAR is not set"},
		{[]string{"publish", "--connection", "rc", "--resource", "r1", "--set", "name=a", "--bogus"}, "unknown flag"},
		{[]string{"migrate"}, "takes one FILE"},
		{[]string{"migrate", missing, "--report", "out.txt"}, "must end in .ndjson or .csv"},
		{[]string{"migrate", missing, "--plan"}, "--config"},
		{[]string{"migrate", missing, "--progress", "loud"}, "--progress"},
		{[]string{"results", "--status", "lost"}, "--status"},
		{[]string{"dlq", "replay"}, "say what to replay"},
		{[]string{"dlq", "show", "x"}, "positive integer"},
		{[]string{"-o", "yaml", "status"}, "--output"},
		{[]string{"--config", missing, "status"}, "missing.ndjson"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr lockedBuffer
			code := run(context.Background(), append([]string{"--server", "nats://127.0.0.1:1"}, c.args...), envFor(&stdout, &stderr, nil))
			if code != exitUsage || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitUsage, c.want)
			}
		})
	}
}

func TestHelpHasExamplesForEveryCommand(t *testing.T) {
	root := newRoot(env{})
	root.InitDefaultCompletionCmd()
	for _, c := range allCommands(root) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" || c.Parent() != nil && c.Parent().Name() == "completion" {
			continue
		}
		if c.Example == "" {
			t.Errorf("%s has no examples", c.CommandPath())
		}
	}
	var stdout, stderr lockedBuffer
	if code := run(context.Background(), []string{"completion", "bash"}, envFor(&stdout, &stderr, nil)); code != exitOK || !strings.Contains(stdout.String(), "syncctl") {
		t.Errorf("completion bash: exit %d", code)
	}
}

func TestDeadLettersReplayedTwiceApplyOnce(t *testing.T) {
	s := startStack(t, stackOptions{Worker: worker.Config{
		MaxDeliver: 2, AckWait: 5 * time.Second, RetryBudget: 200 * time.Millisecond,
		InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxNakDelay: 50 * time.Millisecond,
	}})
	const n = 3
	s.seedRC(n)
	s.rcDown.Store(true)
	ctx := context.Background()
	for i := range n {
		r := s.syncctl(t, ctx, nil, "publish", "--connection", "rc", "--resource", rcID(i), "--set", "name=replayed", "--id", fmt.Sprintf("dl-%d", i), "--wait")
		if r.code != exitRejected || !strings.Contains(r.stdout, "result    failed") {
			t.Fatalf("publish while down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	r := s.syncctl(t, ctx, nil, "dlq", "list", "-o", "json")
	var letters []deadletter.Letter
	for _, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		var l deadletter.Letter
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("dlq list line %q: %v\n%s", line, err, r.stderr)
		}
		letters = append(letters, l)
	}
	if len(letters) != n {
		t.Fatalf("dlq list: %d letters\n%s%s", len(letters), r.stdout, r.stderr)
	}
	for _, l := range letters {
		if l.ErrorCode != "provider_unavailable" || l.Deliveries != 2 || l.Attempts == 0 || l.Connection != "rc" {
			t.Errorf("dead letter %+v", l)
		}
	}
	r = s.syncctl(t, ctx, nil, "dlq", "list")
	if !strings.Contains(r.stdout, "provider_unavailable") || !strings.Contains(r.stdout, "dl-0") {
		t.Errorf("dlq list table:\n%s", r.stdout)
	}
	r = s.syncctl(t, ctx, nil, "dlq", "show", fmt.Sprint(letters[0].Seq))
	if r.code != exitOK || !strings.Contains(r.stdout, "provider_unavailable") || !strings.Contains(r.stdout, `"name": "replayed"`) {
		t.Errorf("dlq show: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = s.syncctl(t, ctx, nil, "dlq", "show", fmt.Sprint(letters[0].Seq), "-o", "json")
	var shown struct {
		ErrorCode string `json:"errorCode"`
		Command   struct {
			ID   string `json:"id"`
			Data struct {
				Changes map[string]string `json:"changes"`
			} `json:"data"`
		} `json:"command"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || shown.Command.ID != "dl-0" || shown.Command.Data.Changes["name"] != "replayed" || shown.ErrorCode != "provider_unavailable" {
		t.Errorf("dlq show -o json: %v %+v\n%s", err, shown, r.stdout)
	}

	// A dry run publishes nothing.
	before := s.streamMessages(t, "SYNC_COMMANDS")
	r = s.syncctl(t, ctx, nil, "dlq", "replay", "--all", "--dry-run")
	if r.code != exitOK || strings.Count(r.stdout, "would_replay") != n || s.streamMessages(t, "SYNC_COMMANDS") != before {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	s.rcDown.Store(false)
	for round := range 2 {
		r = s.syncctl(t, ctx, nil, "dlq", "replay", "--all", "--rate", "100")
		if r.code != exitOK {
			t.Fatalf("replay round %d: exit %d\n%s%s", round, r.code, r.stdout, r.stderr)
		}
		waitFor(t, 20*time.Second, "the replays' applied results", func() bool {
			byStatus, _ := s.batchResults(t, "")
			return byStatus["applied"] == n
		})
	}
	// A replay of one letter by sequence, after both rounds.
	r = s.syncctl(t, ctx, nil, "dlq", "replay", fmt.Sprint(letters[1].Seq))
	if r.code != exitOK {
		t.Fatalf("replay by sequence: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	waitFor(t, 10*time.Second, "the consumer to drain", func() bool {
		r := s.syncctl(t, ctx, nil, "status", "-o", "json")
		var st statusOutput
		if json.Unmarshal([]byte(r.stdout), &st) != nil {
			return false
		}
		for _, c := range st.Consumers {
			if c.Pending+uint64(c.AckPending) > 0 {
				return false
			}
		}
		return true
	})
	for i := range n {
		if w := s.rcWrites(t)[rcID(i)]; w != 1 {
			t.Errorf("app %d written %d times, want 1", i, w)
		}
		if app, _ := s.rc.App(rcID(i)); app.Name != "replayed" {
			t.Errorf("app %d = %+v", i, app)
		}
	}
	r = s.syncctl(t, ctx, nil, "results", "--status", "applied", "-o", "json")
	if got := strings.Count(r.stdout, "\n"); got != n {
		t.Errorf("results --status applied: %d lines, want %d\n%s", got, n, r.stdout)
	}
}

func TestStatusShowsStreamsConsumersAndRecentResults(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.seedRC(3)
	path := writeMigration(t, 3, nil)
	if r := s.syncctl(t, context.Background(), nil, "migrate", path, "--batch", "st", "--progress", "none"); r.code != exitOK {
		t.Fatalf("migrate: exit %d\n%s", r.code, r.stderr)
	}
	r := s.syncctl(t, context.Background(), nil, "status", "-o", "json")
	var st statusOutput
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(st.Streams) != 3 || st.Streams[0].Messages != 3 || st.Streams[1].Messages != 3 || st.Results["applied"] != 3 {
		t.Errorf("status = %+v", st)
	}
	lanes := map[string]string{} // connection/lane: consumer filter
	for _, c := range st.Consumers {
		lanes[c.Connection+"/"+c.Lane] = c.Filter
	}
	for _, c := range []string{"rc", "rl", "hdp", "jf"} {
		if f := lanes[c+"/interactive"]; f != "sync.commands."+c+".*" {
			t.Errorf("connection %s: interactive consumer filter %q in %+v", c, f, st.Consumers)
		}
		if f := lanes[c+"/bulk"]; f != "sync.commands."+c+".*.bulk" {
			t.Errorf("connection %s: bulk consumer filter %q in %+v", c, f, st.Consumers)
		}
	}
	r = s.syncctl(t, context.Background(), nil, "status")
	for _, want := range []string{"SYNC_COMMANDS", "SYNC_DEADLETTER", "syncworker_rc", "syncbulk_rc", "LANE", "applied", "RESULTS (last 15m0s)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status table lacks %q:\n%s", want, r.stdout)
		}
	}
	r = s.syncctl(t, context.Background(), nil, "results", "--batch", "st", "--connection", "rc")
	if strings.Count(r.stdout, "applied") != 3 {
		t.Errorf("results table:\n%s", r.stdout)
	}
}

func TestStatusShowsEachConnectionsFlowControl(t *testing.T) {
	s := startStack(t, stackOptions{})
	flows := redisflow.New(testenv.Redis(t), s.redisPrefix)
	ctx := context.Background()
	probeAfter := time.Now().Add(time.Minute)
	if err := flows.OpenCircuit(ctx, "rc", probeAfter); err != nil {
		t.Fatal(err)
	}
	if err := flows.WaitUntil(ctx, "jf", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The config names the fleet's Redis and key prefix.
	r := s.syncctl(t, ctx, nil, "--config", s.configPath, "status", "-o", "json")
	var st statusOutput
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("%v\n%s\n%s", err, r.stdout, r.stderr)
	}
	got := map[string]flowStatus{}
	for _, f := range st.Flow {
		got[f.Connection] = f
	}
	if rc := got["rc"]; rc.Circuit != flow.Open || rc.ProbeAfter.UnixMilli() != probeAfter.UnixMilli() {
		t.Errorf("rc's flow = %+v; want its circuit open until %v", rc, probeAfter)
	}
	if jf := got["jf"]; jf.Circuit != flow.Closed || jf.WaitUntil.IsZero() {
		t.Errorf("jf's flow = %+v; want a closed circuit and the provider's wait", jf)
	}
	if hdp := got["hdp"]; hdp.Circuit != flow.Closed || !hdp.WaitUntil.IsZero() {
		t.Errorf("hdp's flow = %+v; want nothing in its way", hdp)
	}
	r = s.syncctl(t, ctx, nil, "--config", s.configPath, "status")
	if !strings.Contains(r.stdout, "CIRCUIT") || !strings.Contains(r.stdout, "PROVIDER WAIT") {
		t.Errorf("status table has no flow-control part:\n%s", r.stdout)
	}
	if !regexp.MustCompile(`(?m)^rc +open +in `).MatchString(r.stdout) {
		t.Errorf("status table does not show rc's open circuit:\n%s", r.stdout)
	}
}

func allCommands(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		out = append(out, allCommands(sub)...)
	}
	return out
}

func TestConnectsWithANATSCLIContext(t *testing.T) {
	s := startStack(t, stackOptions{NoWorker: true})
	// The NATS CLI keeps contexts under $XDG_CONFIG_HOME/nats/context.
	home := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", home)
	dir := filepath.Join(home, "nats", "context")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stack.json"), []byte(fmt.Sprintf(`{"description":"test","url":%q}`, s.natsURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr lockedBuffer
	// No worker has made the streams: status shows them missing and
	// exits 1.
	code := run(context.Background(), []string{"--context", "stack", "status", "-o", "json"}, envFor(&stdout, &stderr, nil))
	if code != exitError || !strings.Contains(stdout.String(), `"streams"`) || !strings.Contains(stderr.String(), `"code":"streams_missing"`) {
		t.Fatalf("--context stack: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	// The worker's config names the server when no flag does; it comes
	// before the NATS CLI's selected context.
	if err := os.WriteFile(filepath.Join(home, "nats", "context.txt"), []byte("nosuch"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr = lockedBuffer{}, lockedBuffer{}
	code = run(context.Background(), []string{"--config", s.configPath, "status", "-o", "json"}, envFor(&stdout, &stderr, nil))
	if code != exitError || !strings.Contains(stdout.String(), `"streams"`) {
		t.Fatalf("--config: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	code = run(context.Background(), []string{"--context", "nosuch", "status"}, envFor(&stdout, &stderr, nil))
	if code != exitError || !strings.Contains(stderr.String(), `nats context "nosuch"`) {
		t.Errorf("unknown context: exit %d\n%s", code, stderr.String())
	}
}
