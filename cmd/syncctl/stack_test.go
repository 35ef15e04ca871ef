package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/digestkey"
	"github.com/oauthsync/oauthsync/internal/providers"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/worker"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/redisflow"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The NATS client's and the embedded server's background goroutines
		// end shortly after Close; net/http's idle connections likewise.
		goleak.IgnoreTopFunction("github.com/nats-io/nats.go.(*Conn).doReconnect"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).Start"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).startGoRoutine.func1"),
	)
}

// Credentials of the simulated providers.
const (
	rcUser, rcToken    = "stackUser00000001", "stack-rc-token-9c1f"
	rlToken            = "stack-reelevant-token-77aa"
	hdpUser, hdpPass   = "stack-hdp-user", "stack-hdp-password-41de"
	jfBrand, jfAuthKey = "stack.brand.example.com", "stack-jf-authkey-03bb"
)

// stack is what syncctl's tests run against: an embedded NATS server with
// JetStream, the machine's Redis as the dedup store, the four provider
// simulators, and a worker configured for them (connections rc, rl, hdp,
// jf). Its YAML config (for --config) is at configPath.
type stack struct {
	natsURL    string
	js         jetstream.JetStream
	configPath string
	rc         *rocketchatsim.Server
	rl         *reelevantsim.Server
	hdp        *hdpsim.Server
	jf         *jframeworksim.Server
	// rcDown makes the Rocket.Chat simulator answer 503 to everything.
	rcDown atomic.Bool
	// redisPrefix is the prefix of the worker's Redis keys (the config's
	// redis.keyPrefix).
	redisPrefix string
}

type stackOptions struct {
	// Worker tunes the worker; JetStream, Store and Connections are set.
	Worker worker.Config
	// NoWorker leaves the worker out (publish-only tests).
	NoWorker bool
}

func startStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	s := &stack{natsURL: testenv.EmbeddedNATS(t)}
	nc := testenv.Connect(t, s.natsURL)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s.js = js
	s.rc = rocketchatsim.New(rocketchatsim.Options{UserID: rcUser, AuthToken: rcToken, RateLimit: 1 << 30})
	s.rl = reelevantsim.New(reelevantsim.Options{Token: rlToken})
	s.hdp = hdpsim.New(hdpsim.Options{Username: hdpUser, Password: hdpPass})
	s.jf = jframeworksim.New(jframeworksim.Options{BrandURL: jfBrand, AuthKey: jfAuthKey})
	rc := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.rcDown.Load() {
			http.Error(w, `{"success":false,"error":"maintenance"}`, http.StatusServiceUnavailable)
			return
		}
		s.rc.ServeHTTP(w, r)
	})
	urls := map[string]string{}
	for name, h := range map[string]http.Handler{"rc": rc, "rl": s.rl, "hdp": s.hdp, "jf": s.jf} {
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	redisPrefix := "syncctl-test-" + testenv.Unique()
	s.redisPrefix = redisPrefix
	yaml := fmt.Sprintf(`nats:
  url: %s
redis:
  url: %s
  keyPrefix: %s
connections:
  rc:
    provider: rocketchat
    baseURL: %s
    auth: { userId: %q, authToken: %q }
    # No circuit: the dead-letter tests take rc down and need its commands
    # to spend their delivery budget rather than wait for it to come back.
    circuit: { failures: -1 }
  rl:
    provider: reelevant
    baseURL: %s
    auth: { bearerToken: %q }
  hdp:
    provider: hybriddatapipeline
    baseURL: %s
    auth: { username: %q, password: %q }
  jf:
    provider: jframework
    baseURL: %s
    auth: { brandURL: %q, authKey: %q }
`, s.natsURL, testenv.RedisURL(), redisPrefix, urls["rc"], rcUser, rcToken, urls["rl"], rlToken, urls["hdp"], hdpUser, hdpPass, urls["jf"], jfBrand, jfAuthKey)
	s.configPath = filepath.Join(t.TempDir(), "syncworker.yaml")
	if err := os.WriteFile(s.configPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if o.NoWorker {
		return s
	}
	cfg, err := config.Load(s.configPath)
	if err != nil {
		t.Fatal(err)
	}
	wc := o.Worker
	wc.JetStream = js
	if wc.DigestKey, err = digestkey.Ensure(context.Background(), js, digestkey.Config{}); err != nil { // the fleet's key, as syncworker does
		t.Fatal(err)
	}
	wc.Store = redisdedup.New(testenv.Redis(t), redisdedup.Config{Prefix: redisPrefix})
	wc.Flow = redisflow.New(testenv.Redis(t), redisPrefix)
	wc.Streams.Storage = jetstream.MemoryStorage
	for _, name := range cfg.ConnectionNames() {
		c := cfg.Connections[name]
		ac, secrets := c.Adapter(name)
		a, err := providers.Registry().New(c.Provider, ac)
		if err != nil {
			t.Fatal(err)
		}
		wc.Connections = append(wc.Connections, worker.Connection{Name: name, Adapter: a, Secrets: secrets, MaxInFlight: 16,
			Circuit: flow.CircuitConfig{Failures: c.Circuit.Failures, OpenFor: time.Duration(c.Circuit.OpenFor)}})
	}
	w, err := worker.New(wc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	// The worker provisions the streams and consumers first.
	waitFor(t, 10*time.Second, "the worker's streams", func() bool {
		_, err := js.Stream(context.Background(), "SYNC_DEADLETTER")
		return err == nil
	})
	return s
}

// result is one syncctl run.
type result struct {
	code           int
	stdout, stderr string
}

// syncctl runs syncctl in process against the stack, with env as its
// environment.
func (s *stack) syncctl(t *testing.T, ctx context.Context, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr lockedBuffer
	code := run(ctx, append([]string{"--server", s.natsURL}, args...), envFor(&stdout, &stderr, env))
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func envFor(stdout, stderr *lockedBuffer, vars map[string]string) env {
	return env{stdin: strings.NewReader(""), stdout: stdout, stderr: stderr, lookup: func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}}
}

// lockedBuffer is a buffer safe for the progress goroutine and the command
// writing at once.
type lockedBuffer = testenv.SyncBuffer

// waitFor polls cond every 20ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writes counts the Rocket.Chat simulator's update requests per app id.
func (s *stack) rcWrites(t *testing.T) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, r := range s.rc.Requests() {
		if r.Method != http.MethodPost {
			continue
		}
		var body struct {
			AppID string `json:"appId"`
		}
		if err := jsonUnmarshal(r.Body, &body); err != nil {
			t.Fatalf("update body: %v", err)
		}
		n[body.AppID]++
	}
	return n
}

// seedRC stores n Rocket.Chat apps with ids rcID(0..n-1).
func (s *stack) seedRC(n int) {
	for i := range n {
		s.rc.Seed(rocketchatsim.App{ID: rcID(i), Name: fmt.Sprintf("app %d", i), Active: true, RedirectURI: "https://old.example.com/cb"})
	}
}

// rcID is a valid Rocket.Chat app id (24 hex digits) for i.
func rcID(i int) string { return fmt.Sprintf("65a7d77142a7e124%08x", i) }

// decodeJSONLines decodes out, JSON Lines (the convention for record
// streams), into one T per line.
func decodeJSONLines[T any](out string) ([]T, error) {
	var recs []T
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r T
		if err := dec.Decode(&r); err != nil {
			return recs, err
		}
		recs = append(recs, r)
	}
	return recs, nil
}
