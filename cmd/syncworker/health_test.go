package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
)

// TestReadyzNamesWhatIsMissing serves /readyz for a worker on the machine's
// NATS and Redis: ready while everything is there; deleting a consumer makes
// it 503, naming the consumer.
func TestReadyzNamesWhatIsMissing(t *testing.T) {
	nc := testenv.NATS(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	u := testenv.Unique()
	streams := worker.StreamsConfig{Commands: "R" + u + "_COMMANDS", Results: "R" + u + "_RESULTS",
		DeadLetter: "R" + u + "_DEADLETTER", Storage: jetstream.MemoryStorage}
	t.Cleanup(func() {
		for _, s := range []string{streams.Commands, streams.Results, streams.DeadLetter} {
			_ = js.DeleteStream(context.Background(), s)
		}
	})
	store := redisdedup.New(testenv.Redis(t), redisdedup.Config{Prefix: "oauthsync-test-" + u})
	// The adapter is never called: no command is published.
	a, err := rocketchat.New(adapters.Connection{Name: "rc-ready", BaseURL: "http://127.0.0.1:1",
		Auth: map[string]messages.Secret{"userId": "readyUser00000001", "authToken": "t"}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Config{JetStream: js, Store: store, Subjects: messages.Subjects{Prefix: "r" + u}, Streams: streams,
		Connections:      []worker.Connection{{Name: "rc-ready", Adapter: a}},
		JetStreamInfoTTL: time.Millisecond, DrainTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(healthHandler(nc, w, store))
	defer srv.Close()

	readyz := func() (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	// Before Run: nothing provisioned, nothing consuming.
	code, body := readyz()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "worker not consuming") ||
		!strings.Contains(body, "stream "+streams.Commands+" missing") || !strings.Contains(body, "stream "+streams.DeadLetter+" missing") {
		t.Fatalf("/readyz before the worker runs = %d %q", code, body)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !w.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("worker not ready after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, body := readyz(); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz with everything in place = %d %q", code, body)
	}
	if body := get(t, strings.TrimPrefix(srv.URL, "http://")+"/healthz", http.StatusOK); body != "ok\n" {
		t.Fatalf("/healthz = %q", body)
	}

	// A dedup store that does not answer is a reason too.
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer down.Close()
	rec := httptest.NewRecorder()
	healthHandler(nc, w, redisdedup.New(down, redisdedup.Config{})).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "dedup store not answering") {
		t.Fatalf("/readyz with the store down = %d %q", rec.Code, rec.Body.String())
	}

	if err := js.DeleteConsumer(context.Background(), streams.Commands, "syncworker_rc-ready"); err != nil {
		t.Fatal(err)
	}
	code, body = readyz()
	want := "consumer syncworker_rc-ready on stream " + streams.Commands + " missing"
	if code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Fatalf("/readyz after the consumer was deleted = %d %q, want 503 naming it (%q)", code, body, want)
	}
	cancel()
	select {
	case <-done: // the worker may stop with the consumer gone: either way is fine here
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
	}
}
