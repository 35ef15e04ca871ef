package reelevant_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/messages"
)

// Canary credentials of the token flows.
const (
	canaryRefresh  = "CANARY-refresh-token-7a6b"
	canaryPassword = "CANARY-password-5c4d"
	canaryClientID = "oauthsync-client"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type tokenEnv struct {
	sim   *reelevantsim.Server
	url   string
	clock *fakeClock
}

// startTokenAPI runs a simulator whose token endpoint issues tokens of
// lifetime, on a fake clock shared with the adapters built afterwards.
func startTokenAPI(t *testing.T, opts reelevantsim.Options) *tokenEnv {
	t.Helper()
	clock := newClock()
	reelevant.SetTokenClock(t, clock.Now)
	opts.ClientID, opts.RefreshToken, opts.Username, opts.Password = canaryClientID, canaryRefresh, "ops@example.com", canaryPassword
	opts.Now = clock.Now
	sim := reelevantsim.New(opts)
	sim.Seed(clientID, initial)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &tokenEnv{sim: sim, url: srv.URL, clock: clock}
}

func (e *tokenEnv) adapter(t *testing.T, auth map[string]messages.Secret) adapters.Adapter {
	t.Helper()
	a, err := reelevant.New(adapters.Connection{Name: "rl", BaseURL: e.url, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *tokenEnv) refreshAuth(refresh string) map[string]messages.Secret {
	return map[string]messages.Secret{"tokenURL": messages.Secret(e.url + reelevantsim.TokenPath),
		"clientId": canaryClientID, "refreshToken": messages.Secret(refresh)}
}

func update() adapters.Update {
	return adapters.Update{Resource: clientID, Changes: messages.Changes{ClientID: ptr("rotated-client")}}
}

// patches counts the PATCH requests and those answered with a token the
// simulator never issued nor was configured with.
func (e *tokenEnv) patches() int {
	n := 0
	for _, r := range e.sim.Requests() {
		if r.Method == http.MethodPatch {
			n++
		}
	}
	return n
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	e := startTokenAPI(t, reelevantsim.Options{TokenLifetime: 5 * time.Second})
	a := e.adapter(t, e.refreshAuth(canaryRefresh))
	// One call a second for 30 seconds of 5-second tokens.
	for i := range 30 {
		out, err := a.Apply(context.Background(), update())
		if err != nil || out.Requests != 1 {
			t.Fatalf("call %d: %+v, %v", i, out, err)
		}
		e.clock.Advance(time.Second)
	}
	// Tokens are renewed half a second before they expire: every 5 s of
	// the fake clock, so 6 requests in 30 s and never a 401.
	if got := e.sim.TokenRequests(); got != 6 {
		t.Errorf("token requests = %d, want 6 (30 s ÷ 5 s)", got)
	}
	for _, r := range e.sim.Requests() {
		if r.Path == reelevantsim.TokenPath {
			if ct := r.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("token request Content-Type %q", ct)
			}
			var body map[string]string
			if err := json.Unmarshal(r.Body, &body); err != nil || body["grant_type"] != "refresh_token" ||
				body["client_id"] != canaryClientID || body["refresh_token"] != canaryRefresh || len(body) != 3 {
				t.Errorf("token request body %s (%v)", r.Body, err)
			}
		}
	}
}

func TestRevokedTokenRenewedOnceAndRetried(t *testing.T) {
	e := startTokenAPI(t, reelevantsim.Options{TokenLifetime: time.Hour})
	a := e.adapter(t, e.refreshAuth(canaryRefresh))
	if _, err := a.Apply(context.Background(), update()); err != nil {
		t.Fatal(err)
	}
	e.sim.RevokeTokens()
	out, err := a.Apply(context.Background(), update())
	if err != nil || out.Requests != 2 {
		t.Fatalf("after revocation: %+v, %v (want applied with one extra attempt)", out, err)
	}
	if got := e.sim.TokenRequests(); got != 2 {
		t.Errorf("token requests = %d, want 2", got)
	}
	if got := e.patches(); got != 3 {
		t.Errorf("PATCH requests = %d, want 3 (one, then 401 and its retry)", got)
	}
}

func TestConcurrentCallsShareOneTokenRequest(t *testing.T) {
	e := startTokenAPI(t, reelevantsim.Options{TokenLifetime: time.Hour, Latency: 50 * time.Millisecond})
	a := e.adapter(t, e.refreshAuth(canaryRefresh))
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := a.Apply(context.Background(), update()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := e.sim.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1 shared by 20 calls", got)
	}
	// Revoked under 20 calls: one renewal, one extra PATCH per call.
	e.sim.RevokeTokens()
	before := e.patches()
	for range 20 {
		wg.Go(func() { _, _ = a.Apply(context.Background(), update()) })
	}
	wg.Wait()
	if got := e.sim.TokenRequests(); got != 2 {
		t.Errorf("token requests after revocation = %d, want 2", got)
	}
	if got := e.patches() - before; got > 40 {
		t.Errorf("%d PATCH requests for 20 calls, want at most one extra each", got)
	}
}

func TestWrongRefreshTokenIsUnauthorizedAtOnce(t *testing.T) {
	e := startTokenAPI(t, reelevantsim.Options{})
	a := e.adapter(t, e.refreshAuth("CANARY-wrong-refresh-token"))
	for i := range 5 {
		_, err := a.Apply(context.Background(), update())
		ae, ok := adapters.AsError(err)
		if !ok || ae.Kind != adapters.KindUnauthorized || ae.Retryable() {
			t.Fatalf("call %d: %v, want a permanent KindUnauthorized", i, err)
		}
		if !strings.Contains(ae.Message, reelevantsim.ErrInvalidCredentials) || ae.HTTPStatus != 401 {
			t.Errorf("message %q (HTTP %d) does not give the provider's reason", ae.Message, ae.HTTPStatus)
		}
		if strings.Contains(err.Error(), "CANARY") {
			t.Errorf("error leaks a credential: %v", err)
		}
	}
	if got := e.sim.TokenRequests(); got != 1 {
		t.Errorf("token requests = %d, want 1: a refused refresh token is not retried", got)
	}
	if e.patches() != 0 {
		t.Error("the API was called without a token")
	}
}

func TestRotatedRefreshTokenIsKept(t *testing.T) {
	e := startTokenAPI(t, reelevantsim.Options{TokenLifetime: 10 * time.Second, RotateRefreshTokens: true})
	a := e.adapter(t, e.refreshAuth(canaryRefresh))
	for i := range 5 {
		if _, err := a.Apply(context.Background(), update()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		e.clock.Advance(11 * time.Second)
	}
	if got := e.sim.TokenRequests(); got != 5 {
		t.Errorf("token requests = %d, want 5", got)
	}
	// The secrets the worker scrubs hold the rotated refresh token.
	rts := e.sim.RefreshTokens()
	secrets := a.(interface{ Secrets() []string }).Secrets()
	if len(rts) != 1 || !contains(secrets, rts[0]) || !contains(secrets, canaryRefresh) {
		t.Errorf("Secrets() does not hold the current and configured refresh tokens")
	}
}

func TestPasswordGrant(t *testing.T) {
	e := startTokenAPI(t, reelevantsim.Options{})
	a := e.adapter(t, map[string]messages.Secret{"tokenURL": messages.Secret(e.url + reelevantsim.TokenPath),
		"clientId": canaryClientID, "username": "ops@example.com", "password": canaryPassword})
	if _, err := a.Apply(context.Background(), update()); err != nil {
		t.Fatal(err)
	}
	bad := e.adapter(t, map[string]messages.Secret{"tokenURL": messages.Secret(e.url + reelevantsim.TokenPath),
		"clientId": canaryClientID, "username": "ops@example.com", "password": "CANARY-wrong"})
	_, err := bad.Apply(context.Background(), update())
	if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindUnauthorized || strings.Contains(ae.Message, "CANARY") {
		t.Errorf("wrong password: %v", err)
	}
}

func TestTokenEndpointFailuresAreTransient(t *testing.T) {
	e := startTokenAPI(t, reelevantsim.Options{})
	a := e.adapter(t, e.refreshAuth(canaryRefresh))
	for _, f := range []reelevantsim.Fault{{Status: 503}, {Status: 429, RetryAfter: 3 * time.Second}, {Garbage: true}} {
		e.sim.FailToken(f)
		_, err := a.Apply(context.Background(), update())
		ae, ok := adapters.AsError(err)
		if !ok || !ae.Retryable() || !strings.Contains(ae.Message, "access token") {
			t.Fatalf("token endpoint fault %+v: %v, want a retryable error", f, err)
		}
		if f.RetryAfter > 0 && ae.RetryAfter != f.RetryAfter {
			t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, f.RetryAfter)
		}
	}
	if _, err := a.Apply(context.Background(), update()); err != nil {
		t.Fatalf("after the faults: %v", err)
	}
}

func TestNewChecksTokenAuth(t *testing.T) {
	auth := func(kv ...string) map[string]messages.Secret {
		m := map[string]messages.Secret{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = messages.Secret(kv[i+1])
		}
		return m
	}
	const tu = "https://api.reelevant.com/v2/auth/token"
	for _, tc := range []struct {
		name    string
		auth    map[string]messages.Secret
		wantErr string
	}{
		{"refresh", auth("tokenURL", tu, "clientId", "c", "refreshToken", "secret-1"), ""},
		{"password", auth("tokenURL", tu, "clientId", "c", "username", "u", "password", "secret-1"), ""},
		{"bearer and refresh", auth("bearerToken", "secret-1", "tokenURL", tu, "clientId", "c", "refreshToken", "secret-1"), "cannot be combined"},
		{"no tokenURL", auth("clientId", "c", "refreshToken", "secret-1"), `"tokenURL" is missing`},
		{"no clientId", auth("tokenURL", tu, "refreshToken", "secret-1"), `"clientId" is missing`},
		{"no grant", auth("tokenURL", tu, "clientId", "c"), `needs "refreshToken"`},
		{"both grants", auth("tokenURL", tu, "clientId", "c", "refreshToken", "secret-1", "username", "u", "password", "secret-1"), "not both"},
		{"password alone", auth("tokenURL", tu, "clientId", "c", "password", "secret-1"), `needs "refreshToken"`},
		{"empty refresh", auth("tokenURL", tu, "clientId", "c", "refreshToken", ""), `"refreshToken" is empty`},
		{"bad tokenURL", auth("tokenURL", "ftp://x/token", "clientId", "c", "refreshToken", "secret-1"), `"tokenURL"`},
		{"tokenURL with query", auth("tokenURL", tu+"?secret-1", "clientId", "c", "refreshToken", "secret-1"), `"tokenURL"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reelevant.New(adapters.Connection{BaseURL: "https://api.reelevant.com", Auth: tc.auth})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret-1") {
				t.Errorf("error leaks a credential: %v", err)
			}
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
