package providers_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/providers"
	"github.com/oauthsync/oauthsync/messages"
)

type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type syncBuf struct {
	mu  chan struct{}
	buf strings.Builder
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *syncBuf) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

const appID = "65a7d77142a7e12453052d59"

// TestCredentialFileRotation: a credential read from a file is read again
// after the interval; a changed value is used without a restart, an
// unusable one keeps the previous credentials (and is logged without the
// value); every value seen stays in Secrets.
func TestCredentialFileRotation(t *testing.T) {
	sim := rocketchatsim.New(rocketchatsim.Options{UserID: "u1", AuthToken: "CANARY-token-1", RateLimit: 1 << 30})
	sim.Seed(rocketchatsim.App{ID: appID, Name: "app", Active: true, RedirectURI: "https://a.example.com/cb", ClientID: "c", ClientSecret: "s"})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "token")
	write := func(v string) {
		if err := os.WriteFile(path, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("CANARY-token-1\n")
	c := &clock{}
	logs := &syncBuf{mu: make(chan struct{}, 1)}
	a, secrets, err := providers.Build(providers.Registry(), "rc", config.Connection{Provider: "rocketchat", BaseURL: srv.URL,
		Auth: map[string]string{"userId": "u1", "authTokenFile": path}},
		providers.Options{ReloadInterval: time.Second, Now: c.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) != 0 { // userId is no secret; the token comes from the file
		t.Errorf("static secrets = %v, want none", secrets)
	}
	apply := func() error {
		_, err := a.Apply(context.Background(), adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr("n" + time.Now().String())}})
		return err
	}
	if err := apply(); err != nil {
		t.Fatalf("with the first token: %v", err)
	}
	// The provider and the file move to a new token.
	sim2 := rocketchatsim.New(rocketchatsim.Options{UserID: "u1", AuthToken: "CANARY-token-2", RateLimit: 1 << 30})
	sim2.Seed(rocketchatsim.App{ID: appID, Name: "app", Active: true, RedirectURI: "https://a.example.com/cb", ClientID: "c", ClientSecret: "s"})
	srv.Config.Handler = sim2
	write("CANARY-token-2\n")
	if err := apply(); err == nil {
		t.Fatal("the file was read again before the interval")
	}
	c.Advance(time.Second)
	if err := apply(); err != nil {
		t.Fatalf("after the file changed: %v", err)
	}
	// An empty file (a rotation half done) keeps the credentials in use.
	write("")
	c.Advance(time.Second)
	if err := apply(); err != nil {
		t.Fatalf("an empty file replaced the credentials: %v", err)
	}
	if l := logs.String(); !strings.Contains(l, "cannot be used") || strings.Contains(l, "CANARY") {
		t.Errorf("logs: %s", l)
	}
	s := strings.Join(a.(interface{ Secrets() []string }).Secrets(), " ")
	if !strings.Contains(s, "CANARY-token-1") || !strings.Contains(s, "CANARY-token-2") {
		t.Errorf("Secrets() = %q, want both tokens", s)
	}
	if _, ok := a.(adapters.Planner); !ok {
		t.Error("the adapter lost Plan")
	}
}

func TestBuildRefusesUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, path := range map[string]string{"missing": filepath.Join(dir, "nope"), "empty": empty} {
		_, _, err := providers.Build(providers.Registry(), "rc", config.Connection{Provider: "rocketchat", BaseURL: "https://chat.example.com",
			Auth: map[string]string{"userId": "u1", "authTokenFile": path}}, providers.Options{})
		if err == nil || !strings.Contains(err.Error(), "auth.authTokenFile") {
			t.Errorf("%s: %v", name, err)
		}
		if name == "missing" && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("missing: %v does not wrap ErrNotExist", err)
		}
	}
}

func ptr[T any](v T) *T { return &v }
