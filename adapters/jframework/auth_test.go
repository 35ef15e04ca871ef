package jframework_test

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
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/messages"
)

const (
	canaryUser     = "ops@example.com"
	canaryPassword = "CANARY-jf-password-3e2f"
)

type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type loginEnv struct {
	sim   *jframeworksim.Server
	url   string
	clock *fakeClock
}

func startLoginAPI(t *testing.T, opts jframeworksim.Options) *loginEnv {
	t.Helper()
	clock := &fakeClock{}
	clock.ns.Store(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).UnixNano())
	jframework.SetTokenClock(t, clock.Now)
	opts.BrandURL, opts.Username, opts.Password, opts.Now = canaryBrandURL, canaryUser, canaryPassword, clock.Now
	sim := jframeworksim.New(opts)
	sim.Seed(seeded())
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &loginEnv{sim: sim, url: srv.URL, clock: clock}
}

func (e *loginEnv) adapter(t *testing.T, password string) adapters.Adapter {
	t.Helper()
	a, err := jframework.New(adapters.Connection{Name: "jf", BaseURL: e.url, Auth: map[string]messages.Secret{
		"brandURL": canaryBrandURL, "username": canaryUser, "password": messages.Secret(password)}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func rename(i int) adapters.Update {
	return adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("renamed-" + string(rune('a'+i%26)))}}
}

func TestLoginRenewedBeforeExpiry(t *testing.T) {
	e := startLoginAPI(t, jframeworksim.Options{KeyLifetime: 5 * time.Second})
	a := e.adapter(t, canaryPassword)
	for i := range 30 {
		if _, err := a.Apply(context.Background(), rename(i)); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		e.clock.Advance(time.Second)
	}
	if got := e.sim.Logins(); got != 6 {
		t.Errorf("logins = %d, want 6 (30 s ÷ 5 s)", got)
	}
	for _, r := range e.sim.Requests() {
		if r.Path != jframeworksim.LoginPath {
			continue
		}
		var body map[string]string
		if r.Method != http.MethodPost || r.Header.Get("Brand-URL") != canaryBrandURL ||
			json.Unmarshal(r.Body, &body) != nil || body["username"] != canaryUser || body["password"] != canaryPassword || len(body) != 2 {
			t.Errorf("login request %s %v %s", r.Method, r.Header, r.Body)
		}
	}
}

func TestRevokedKeyRenewedOnceAndRetried(t *testing.T) {
	e := startLoginAPI(t, jframeworksim.Options{})
	a := e.adapter(t, canaryPassword)
	if _, err := a.Apply(context.Background(), rename(1)); err != nil {
		t.Fatal(err)
	}
	e.sim.RevokeKeys()
	out, err := a.Apply(context.Background(), rename(2))
	if err != nil || out.Status != adapters.Applied || out.Requests != 3 {
		t.Fatalf("after revocation: %+v, %v (want applied: GET 401, GET, PUT)", out, err)
	}
	if got := e.sim.Logins(); got != 2 {
		t.Errorf("logins = %d, want 2", got)
	}
	// Concurrent calls under a revoked key share one login.
	e.sim.RevokeKeys()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { _, _ = a.Apply(context.Background(), rename(i)) })
	}
	wg.Wait()
	if got := e.sim.Logins(); got != 3 {
		t.Errorf("logins = %d, want 3", got)
	}
}

func TestWrongPasswordIsUnauthorizedAtOnce(t *testing.T) {
	e := startLoginAPI(t, jframeworksim.Options{})
	a := e.adapter(t, "CANARY-wrong-password")
	for i := range 5 {
		_, err := a.Apply(context.Background(), rename(i))
		ae, ok := adapters.AsError(err)
		if !ok || ae.Kind != adapters.KindUnauthorized || ae.Retryable() {
			t.Fatalf("call %d: %v, want a permanent KindUnauthorized", i, err)
		}
		if !strings.Contains(ae.Message, jframeworksim.CodeInvalidCredentials) || strings.Contains(ae.Message, "CANARY") {
			t.Errorf("message %q: want the provider's reason and no credential", ae.Message)
		}
	}
	if got := e.sim.Logins(); got != 1 {
		t.Errorf("logins = %d, want 1: a refused login is not retried", got)
	}
	if len(e.sim.Requests()) != 1 {
		t.Error("the API was called without a key")
	}
}

func TestLoginFailuresAreTransient(t *testing.T) {
	e := startLoginAPI(t, jframeworksim.Options{})
	a := e.adapter(t, canaryPassword)
	e.sim.Fail(jframeworksim.Fault{Path: jframeworksim.LoginPath, Status: 503})
	_, err := a.Apply(context.Background(), rename(1))
	if ae, ok := adapters.AsError(err); !ok || !ae.Retryable() || !strings.Contains(ae.Message, "logging in") {
		t.Fatalf("login 503: %v, want a retryable error", err)
	}
	if _, err := a.Apply(context.Background(), rename(1)); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
}

func TestNewChecksLoginAuth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		auth    map[string]messages.Secret
		wantErr string
	}{
		{"login", map[string]messages.Secret{"brandURL": "b", "username": "u", "password": "secret-1"}, ""},
		{"key and login", map[string]messages.Secret{"brandURL": "b", "authKey": "secret-1", "username": "u", "password": "secret-1"}, "not both"},
		{"no password", map[string]messages.Secret{"brandURL": "b", "username": "u"}, `"password" is missing`},
		{"no username", map[string]messages.Secret{"brandURL": "b", "password": "secret-1"}, `"username" is missing`},
		{"no brand", map[string]messages.Secret{"username": "u", "password": "secret-1"}, `"brandURL" is missing`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jframework.New(adapters.Connection{BaseURL: "https://protocol.jframework.io", Auth: tc.auth})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "secret-1") {
				t.Fatalf("New error = %v, want it to contain %q and no secret", err, tc.wantErr)
			}
		})
	}
}
