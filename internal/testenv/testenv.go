// Package testenv gives tests the real servers they run against: the
// machine's Redis and NATS JetStream (URLs overridable by
// OAUTHSYNC_TEST_REDIS_URL and OAUTHSYNC_TEST_NATS_URL) and embedded NATS
// servers for isolation. A missing server fails the test; it never skips.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/internal/testenv/servers"
)

// RedisURL is the Redis the tests use.
func RedisURL() string { return servers.RedisURL() }

// NATSURL is the machine's NATS server the tests use.
func NATSURL() string { return servers.NATSURL() }

// Redis returns a client of the test Redis, closed at cleanup. It fails the
// test when Redis does not answer PING.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(RedisURL())
	if err != nil {
		t.Fatalf("testenv: redis url: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		t.Fatalf("testenv: Redis at %s is required and did not answer: %v (start it: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no)", RedisURL(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// NATS connects to the machine's NATS server and checks that JetStream is
// on. It fails the test when either is missing.
func NATS(t testing.TB) *nats.Conn {
	t.Helper()
	return connect(t, NATSURL())
}

// EmbeddedNATS starts a fresh nats-server with JetStream on a random
// loopback port, storing in a temporary directory, shut down at cleanup.
// It returns the server's URL.
func EmbeddedNATS(t testing.TB) string {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  t.TempDir(),
		NoSigs:    true,
	})
	if err != nil {
		t.Fatalf("testenv: embedded nats-server: %v", err)
	}
	// Its warnings and errors go to the test's log (shown when the test
	// fails): an API error often hides the cause the server logs.
	log := &serverLog{t: t}
	s.SetLogger(log, false, false)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("testenv: embedded nats-server did not become ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown(); log.close() })
	return s.ClientURL()
}

// serverLog is an embedded nats-server's logger: warnings, errors and
// fatal errors to the test's log until the server is shut down.
type serverLog struct {
	t      testing.TB
	mu     sync.Mutex
	closed bool
}

func (l *serverLog) logf(level, format string, v []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Logf("nats-server %s: %s", level, fmt.Sprintf(format, v...))
	}
}

func (l *serverLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}

func (l *serverLog) Noticef(string, ...any)         {}
func (l *serverLog) Debugf(string, ...any)          {}
func (l *serverLog) Tracef(string, ...any)          {}
func (l *serverLog) Warnf(format string, v ...any)  { l.logf("warning", format, v) }
func (l *serverLog) Errorf(format string, v ...any) { l.logf("error", format, v) }
func (l *serverLog) Fatalf(format string, v ...any) { l.logf("fatal", format, v) }

// Connect connects to url and checks JetStream, closing at cleanup.
func Connect(t testing.TB, url string) *nats.Conn { t.Helper(); return connect(t, url) }

func connect(t testing.TB, url string) *nats.Conn {
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("testenv: NATS at %s is required and did not answer: %v (start it: nats-server -a 127.0.0.1 -p 4222 -js -sd <dir>)", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		t.Fatalf("testenv: jetstream: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		nc.Close()
		t.Fatalf("testenv: NATS at %s has no JetStream: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Unique returns a short random token, for key prefixes and stream names
// that keep concurrent tests apart on a shared server.
func Unique() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Streams starts an embedded NATS server with the three streams of
// docs/CONTRACT.md §2 under the "sync" prefix (SYNC_COMMANDS, SYNC_RESULTS,
// SYNC_DEADLETTER; in memory, two-minute duplicate window), for tests that
// play the worker's side themselves, and returns a JetStream context on it.
func Streams(t testing.TB) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(connect(t, EmbeddedNATS(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for name, subj := range map[string]string{
		"SYNC_COMMANDS": "sync.commands.>", "SYNC_RESULTS": "sync.results.>", "SYNC_DEADLETTER": "sync.deadletter.>",
	} {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subj},
			Storage: jetstream.MemoryStorage, Duplicates: 2 * time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	return js
}
