package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/providers"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
)

// Canary credentials of the token flows: they must never show up anywhere.
const (
	canaryRLRefresh  = "CANARY-rl-refresh-token-31f0"
	canaryRLClientID = "oauthsync-canary-client"
	canaryJFPassword = "CANARY-jf-password-88aa"
	canaryJFBrand    = "canary-brand.example.com"
	mTokenRequests   = "oauthsync.provider.token_requests"
	rlConn, jfConn   = "rl-tokens", "jf-login"
)

var (
	rlResources = []string{"65a7d77142a7e12453052d60", "65a7d77142a7e12453052d61", "65a7d77142a7e12453052d62", "65a7d77142a7e12453052d63"}
	jfResources = []string{"jfres0", "jfres1", "jfres2", "jfres3"}
)

// manualClock is the credential files' reload clock, moved by hand.
type manualClock struct{ ns atomic.Int64 }

func (c *manualClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// credWorld is a bundle with a Reelevant connection that refreshes its
// access tokens and a jframework connection that logs in, both configured
// as syncworker configures them (providers.Build), their refresh token and
// password read from files.
type credWorld struct {
	*bundle
	rl          *reelevantsim.Server
	jf          *jframeworksim.Server
	rlFile      string
	jfFile      string
	reloadClock *manualClock
}

func newCredWorld(t *testing.T, lifetime time.Duration, refreshToken string) *credWorld {
	t.Helper()
	b := newBundle(t)
	w := &credWorld{bundle: b, reloadClock: &manualClock{}}
	w.reloadClock.ns.Store(time.Now().UnixNano())
	w.rl = reelevantsim.New(reelevantsim.Options{ClientID: canaryRLClientID, RefreshToken: canaryRLRefresh,
		TokenLifetime: lifetime, RotateRefreshTokens: true})
	rlSrv := httptest.NewServer(w.rl)
	t.Cleanup(rlSrv.Close)
	w.jf = jframeworksim.New(jframeworksim.Options{BrandURL: canaryJFBrand, Username: "ops@example.com",
		Password: canaryJFPassword, KeyLifetime: lifetime})
	jfSrv := httptest.NewServer(w.jf)
	t.Cleanup(jfSrv.Close)
	for _, id := range rlResources {
		w.rl.Seed(id, map[string]any{"clientId": "initial"})
	}
	for _, id := range jfResources {
		w.jf.Seed(jframeworksim.Integration{ID: id, Code: "C", Name: "initial", ProjectID: "p", ClientID: "c",
			ClientSecret: "CANARY-jf-stored-secret", RedirectURI: "https://app.example.com/cb", Scope: "openid"})
	}
	dir := t.TempDir()
	w.rlFile, w.jfFile = filepath.Join(dir, "rl-refresh-token"), filepath.Join(dir, "jf-password")
	w.writeFile(w.rlFile, refreshToken)
	w.writeFile(w.jfFile, canaryJFPassword)

	for _, c := range []struct {
		name string
		conn config.Connection
	}{
		{rlConn, config.Connection{Provider: "reelevant", BaseURL: rlSrv.URL, Auth: map[string]string{
			"tokenURL": rlSrv.URL + reelevantsim.TokenPath, "clientId": canaryRLClientID, "refreshTokenFile": w.rlFile}}},
		{jfConn, config.Connection{Provider: "jframework", BaseURL: jfSrv.URL, Auth: map[string]string{
			"brandURL": canaryJFBrand, "username": "ops@example.com", "passwordFile": w.jfFile}}},
	} {
		a, secrets, err := providers.Build(providers.Registry(), c.name, c.conn, providers.Options{
			HTTPClient: b.providerClient(c.name, c.conn.Provider), ReloadInterval: time.Second, Now: w.reloadClock.Now,
			Logger: slog.New(slog.NewJSONHandler(b.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		b.extra = append(b.extra, worker.Connection{Name: c.name, Adapter: a, MaxInFlight: 4, Secrets: secrets})
	}
	return w
}

func (w *credWorld) writeFile(path, content string) {
	w.t.Helper()
	// As Kubernetes and Compose mount secrets: the value and a line break.
	if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
		w.t.Fatal(err)
	}
}

// publishPair publishes command i to both connections: Reelevant's sets
// clientId to the command id (so that each PATCH names its command),
// jframework's the name.
func (w *credWorld) publishPair(prefix string, i int) (rlID, jfID string) {
	rlID, jfID = fmt.Sprintf("%s-rl-%03d", prefix, i), fmt.Sprintf("%s-jf-%03d", prefix, i)
	w.publish(messages.NewCommand(rlID, "/test", rlConn, rlResources[i%len(rlResources)],
		messages.Data{Changes: messages.Changes{ClientID: ptr(rlID)}}), true)
	w.publish(messages.NewCommand(jfID, "/test", jfConn, jfResources[i%len(jfResources)],
		messages.Data{Changes: messages.Changes{Name: ptr(jfID)}}), true)
	return rlID, jfID
}

// wantApplied waits for each command's result and checks it is applied in
// one worker attempt. Commands share a few resources and are worked on
// concurrently, so one may find its field already written by a command
// published after it (a higher order key): superseded without any attempt
// is right for it, and costs no provider call.
func (w *credWorld) wantApplied(t *testing.T, ids []string) {
	t.Helper()
	for _, id := range ids {
		r := w.result(id).Data
		if r.Status == messages.StatusSuperseded && r.Attempts == 0 {
			continue
		}
		if r.Status != messages.StatusApplied || r.Attempts != 1 {
			t.Errorf("%s: %s after %d attempts, error %+v; want applied at the first attempt", id, r.Status, r.Attempts, r.Error)
		}
	}
}

// patchesByCommand counts Reelevant's PATCH requests by the command id
// their body carries.
func (w *credWorld) patchesByCommand() map[string]int {
	n := map[string]int{}
	for _, r := range w.rl.Requests() {
		if r.Method != http.MethodPatch {
			continue
		}
		var body struct {
			ClientID string `json:"clientId"`
		}
		_ = json.Unmarshal(r.Body, &body)
		n[body.ClientID]++
	}
	return n
}

// runDuration is the length of TestShortLivedTokensStayValid's run:
// OAUTHSYNC_TOKEN_RUN (a Go duration) for a longer run, else 12 s.
func runDuration(t *testing.T) time.Duration {
	if v := os.Getenv("OAUTHSYNC_TOKEN_RUN"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("OAUTHSYNC_TOKEN_RUN: %v", err)
		}
		return d
	}
	return 12 * time.Second
}

// TestShortLivedTokensStayValid runs commands through a worker for a while
// with 3-second tokens on both providers: every command is applied at the
// first attempt, none is provider_unauthorized, and the token requests are
// about run time ÷ lifetime.
func TestShortLivedTokensStayValid(t *testing.T) {
	const lifetime = 3 * time.Second
	w := newCredWorld(t, lifetime, canaryRLRefresh)
	w.start(w.config())

	run := runDuration(t)
	start := time.Now()
	var ids []string
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; time.Since(start) < run; i++ {
		rl, jf := w.publishPair("run", i)
		ids = append(ids, rl, jf)
		<-tick.C
	}
	w.wantApplied(t, ids)
	elapsed := time.Since(start)

	// One token every lifetime less the renewal margin (a tenth), plus the
	// first: between run/lifetime and run/(0.9·lifetime) + 2.
	low, high := int(elapsed/lifetime), int(float64(elapsed)/(0.9*float64(lifetime)))+2
	rm := w.collect()
	for _, c := range []struct {
		conn string
		got  int
	}{{rlConn, w.rl.TokenRequests()}, {jfConn, w.jf.Logins()}} {
		t.Logf("%s: %d commands in %s with %s tokens: %d token requests (run ÷ lifetime = %.1f)",
			c.conn, len(ids)/2, elapsed.Round(time.Millisecond), lifetime, c.got, elapsed.Seconds()/lifetime.Seconds())
		if c.got < low || c.got > high {
			t.Errorf("%s: %d token requests, want %d–%d", c.conn, c.got, low, high)
		}
		if m := count(rm, mTokenRequests, labels{"connection": c.conn, "status_class": "2xx"}); m != int64(c.got) {
			t.Errorf("%s: %s counted %d, the provider saw %d", c.conn, mTokenRequests, m, c.got)
		}
	}
	for id, n := range w.patchesByCommand() {
		if n != 1 {
			t.Errorf("command %s sent %d PATCH requests, want 1 (no token expired under a call)", id, n)
		}
	}
	// Token requests are traced like any provider call, inside the trace
	// of the command that needed the token.
	traced := 0
	for _, s := range w.spans.GetSpans() {
		for _, a := range s.Attributes {
			if a.Key == "url.full" && strings.HasSuffix(a.Value.AsString(), reelevantsim.TokenPath) && s.Parent.IsValid() {
				traced++
			}
		}
	}
	if traced != w.rl.TokenRequests() {
		t.Errorf("%d token request spans with a parent, want %d", traced, w.rl.TokenRequests())
	}
}

// TestRevokedTokensCostOneExtraAttempt revokes every token three times
// while commands flow: each renewal is one token request, and a command
// caught by a revocation makes one extra request, within its first attempt.
func TestRevokedTokensCostOneExtraAttempt(t *testing.T) {
	w := newCredWorld(t, time.Hour, canaryRLRefresh)
	w.start(w.config())
	const commands, revocations = 60, 3
	var ids []string
	for i := range commands {
		rl, jf := w.publishPair("rev", i)
		ids = append(ids, rl, jf)
		if i%(commands/(revocations+1)) == commands/(revocations+1)-1 && i < commands-1 {
			w.wantApplied(t, []string{rl, jf}) // the tokens in use are the ones revoked
			w.rl.RevokeTokens()
			w.jf.RevokeKeys()
		}
	}
	w.wantApplied(t, ids)
	rlTok, jfTok := w.rl.TokenRequests(), w.jf.Logins()
	t.Logf("%d revocations: reelevant %d token requests, jframework %d logins", revocations, rlTok, jfTok)
	for _, got := range []int{rlTok, jfTok} {
		if got < 1+revocations || got > 1+2*revocations {
			t.Errorf("%d token requests, want %d (one per revocation, plus the first)", got, 1+revocations)
		}
	}
	extra := 0
	for id, n := range w.patchesByCommand() {
		if n > 2 {
			t.Errorf("command %s sent %d PATCH requests, want at most 2", id, n)
		}
		extra += n - 1
	}
	t.Logf("reelevant: %d commands made one extra PATCH after a revocation", extra)
	if extra < 1 {
		t.Error("no command met a revoked token: the test did not test revocation")
	}
}

// TestWrongRefreshTokenIsUnauthorizedThenRotatedFileIsUsed configures a
// refresh token the provider refuses: commands are rejected as
// provider_unauthorized at once, with the provider's reason, after a single
// token request. Then the secret file gets the right token and, without a
// restart, commands are applied.
func TestWrongRefreshTokenIsUnauthorizedThenRotatedFileIsUsed(t *testing.T) {
	w := newCredWorld(t, time.Hour, "CANARY-wrong-refresh-token")
	w.start(w.config())
	for i := range 3 {
		id := fmt.Sprintf("wrong-%d", i)
		sent := time.Now()
		w.publish(messages.NewCommand(id, "/test", rlConn, rlResources[0], messages.Data{Changes: messages.Changes{ClientID: ptr(id)}}), true)
		r := w.result(id).Data
		if took := time.Since(sent); took > 5*time.Second {
			t.Errorf("%s: the result took %s, want seconds at most", id, took)
		}
		if r.Status != messages.StatusRejected || r.Error == nil || r.Error.Code != messages.CodeProviderUnauthorized ||
			r.Error.Retryable || r.Attempts != 1 || !strings.Contains(r.Error.Message, reelevantsim.ErrInvalidCredentials) {
			t.Fatalf("%s: %s attempts=%d error=%+v, want rejected provider_unauthorized with the provider's reason", id, r.Status, r.Attempts, r.Error)
		}
	}
	if got := w.rl.TokenRequests(); got != 1 {
		t.Errorf("%d token requests, want 1: a refused refresh token is not retried", got)
	}
	// Rotation: the file now holds the right refresh token.
	w.writeFile(w.rlFile, canaryRLRefresh)
	w.reloadClock.Advance(2 * time.Second)
	w.publish(messages.NewCommand("fixed", "/test", rlConn, rlResources[0], messages.Data{Changes: messages.Changes{ClientID: ptr("fixed")}}), true)
	if r := w.result("fixed").Data; r.Status != messages.StatusApplied {
		t.Fatalf("after the file changed: %s %+v, want applied", r.Status, r.Error)
	}
	if !strings.Contains(w.logs.String(), "credential files changed") {
		t.Error("the reload is not logged")
	}
}

// TestNoCredentialLeaks scripts providers that echo every credential
// (refresh token, password, access tokens) in their errors, on the token
// endpoints and on the API, through to a rejection and a dead letter; none
// of them may appear in logs, spans, metrics, results or dead letters.
func TestNoCredentialLeaks(t *testing.T) {
	w := newCredWorld(t, 2*time.Second, canaryRLRefresh)
	cfg := w.config()
	cfg.MaxDeliver, cfg.RetryBudget = 1, 500*time.Millisecond
	w.start(cfg)

	// Transient token endpoint failures that echo the refresh token and the
	// password: logged as retries.
	w.rl.FailToken(reelevantsim.Fault{Status: 503, Message: "upstream said no to " + canaryRLRefresh})
	w.jf.Fail(jframeworksim.Fault{Path: jframeworksim.LoginPath, Status: 503, Error: "bad password " + canaryJFPassword})
	rl, jf := w.publishPair("leak", 0)
	for _, id := range []string{rl, jf} {
		if r := w.result(id).Data; r.Status != messages.StatusApplied {
			t.Fatalf("%s: %s %+v", id, r.Status, r.Error)
		}
	}
	// A refusal that echoes the access token in use: a rejected result.
	tokens := w.rl.IssuedTokens()
	w.rl.Fail(reelevantsim.Fault{Status: 400, Message: "token " + strings.Join(tokens, ",") + " refused"})
	w.publish(messages.NewCommand("leak-reject", "/test", rlConn, rlResources[1], messages.Data{Changes: messages.Changes{ClientID: ptr("x")}}), true)
	if r := w.result("leak-reject").Data; r.Status != messages.StatusRejected || !strings.Contains(r.Error.Message, messages.Redacted) {
		t.Fatalf("leak-reject: %s %+v, want rejected with the token redacted", r.Status, r.Error)
	}
	// Transient failures echoing the tokens until the budget is spent: a
	// dead letter.
	for range 100 {
		w.rl.Fail(reelevantsim.Fault{Status: 503, Message: "overloaded; your token was " + strings.Join(w.rl.IssuedTokens(), ",")})
	}
	w.publish(messages.NewCommand("leak-dead", "/test", rlConn, rlResources[2], messages.Data{Changes: messages.Changes{ClientID: ptr("y")}}), true)
	if r := w.result("leak-dead").Data; r.Status != messages.StatusFailed {
		t.Fatalf("leak-dead: %s %+v, want failed", r.Status, r.Error)
	}

	var hay strings.Builder
	hay.WriteString(w.logs.String())
	for _, m := range w.allResults() {
		hay.Write(m.Data)
		fmt.Fprint(&hay, m.Header)
	}
	for _, s := range w.spans.GetSpans() {
		fmt.Fprint(&hay, s.Name, s.Attributes, s.Events, s.Status, s.Links)
	}
	for _, v := range labelValues(w.collect()) {
		fmt.Fprintln(&hay, v)
	}
	ctx := context.Background()
	dl, err := w.js.Stream(ctx, w.streams.DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	info, err := dl.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs == 0 {
		t.Fatal("no dead letter to check")
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := dl.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		hay.Write(m.Data)
		fmt.Fprint(&hay, m.Header)
	}
	if !strings.Contains(hay.String(), messages.Redacted) {
		t.Error("nothing was redacted: the echoes did not reach the output, the test tests nothing")
	}
	secrets := append([]string{canaryRLRefresh, canaryJFPassword}, w.rl.IssuedTokens()...)
	secrets = append(secrets, w.rl.RefreshTokens()...)
	secrets = append(secrets, w.jf.IssuedKeys()...)
	for _, s := range secrets {
		if strings.Contains(hay.String(), s) {
			t.Errorf("credential %q leaked", s)
		}
	}
}

// echoingAdapter answers every Apply with a refusal that quotes a
// credential it learnt at run time, and says so through Secrets.
type echoingAdapter struct {
	adapters.Adapter
	secret atomic.Value // string
}

func (e *echoingAdapter) Secrets() []string { return []string{e.secret.Load().(string)} }

func (e *echoingAdapter) Apply(context.Context, adapters.Update) (adapters.Outcome, error) {
	return adapters.Outcome{}, &adapters.Error{Kind: adapters.KindRejected, HTTPStatus: 400,
		Message: "the provider echoed " + e.secret.Load().(string)}
}

// TestWorkerScrubsRuntimeSecrets: credentials an adapter learns after the
// worker started (Secrets() []string) are scrubbed by the worker itself
// from results and logs, even when the adapter's own message holds one.
func TestWorkerScrubsRuntimeSecrets(t *testing.T) {
	b := newBundle(t)
	ea := &echoingAdapter{Adapter: b.adapter(canaryAuthToken)}
	ea.secret.Store("CANARY-token-before-start")
	cfg := b.config()
	cfg.Connections[0].Adapter = ea
	b.start(cfg)
	const learnt = "CANARY-token-learnt-at-run-time"
	ea.secret.Store(learnt)
	b.publish(command("echo-1", res1, nil, messages.Changes{Name: ptr("x")}), true)
	r := b.result("echo-1").Data
	if r.Status != messages.StatusRejected || r.Error == nil || !strings.Contains(r.Error.Message, messages.Redacted) {
		t.Fatalf("%s %+v, want rejected with the credential redacted", r.Status, r.Error)
	}
	if strings.Contains(r.Error.Message, learnt) || strings.Contains(b.logs.String(), learnt) {
		t.Error("a run-time credential leaked into the result or the logs")
	}
}
