package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/internal/serverproc"
	"github.com/oauthsync/oauthsync/internal/testenv"
)

func connectTo(url string) func(context.Context) error {
	return func(context.Context) error {
		nc, err := nats.Connect(url, nats.Timeout(time.Second))
		if err == nil {
			nc.Close()
		}
		return err
	}
}

// TestAWorkerStartedBeforeNATSWaitsForIt: nothing listens on the NATS port
// when the worker starts; NATS comes up a second later and the worker's
// connect succeeds, having said that it waits.
func TestAWorkerStartedBeforeNATSWaitsForIt(t *testing.T) {
	port, err := serverproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	var logs testenv.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- waitForServer(ctx, logger, "NATS at "+url, natsUnreachable, connectTo(url)) }()

	time.Sleep(time.Second)
	_, stop, err := startEmbeddedNATS(t.TempDir(), port, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := <-done; err != nil {
		t.Fatalf("connect after NATS came up: %v", err)
	}
	if !strings.Contains(logs.String(), "NATS at "+url+" unreachable; waiting for it") {
		t.Errorf("the wait was not logged; logs:\n%s", logs.String())
	}
}

// TestAWorkerStartedBeforeRedisWaitsForIt: the same for Redis, with a
// redis-server that is stopped when the worker starts.
func TestAWorkerStartedBeforeRedisWaitsForIt(t *testing.T) {
	r := testenv.StartOwnRedis(t)
	r.Stop(false)
	client := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	var logs testenv.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	done := make(chan error, 1)
	go func() {
		done <- waitForServer(t.Context(), logger, "Redis at "+r.Addr(), netUnreachable, func(ctx context.Context) error {
			return client.Ping(ctx).Err()
		})
	}()
	time.Sleep(time.Second)
	r.Start()
	if err := <-done; err != nil {
		t.Fatalf("ping after Redis came up: %v", err)
	}
	if !strings.Contains(logs.String(), "Redis at "+r.Addr()+" unreachable; waiting for it") {
		t.Errorf("the wait was not logged; logs:\n%s", logs.String())
	}
}

// TestWaitingForAServerEndsWithTheStopAndOnRefusal: a stop (SIGTERM
// cancels the context) ends the wait with the last error; a server that
// refuses the credentials ends it at once, with no wait.
func TestWaitingForAServerEndsWithTheStopAndOnRefusal(t *testing.T) {
	port, err := serverproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(500*time.Millisecond, cancel)
	err = waitForServer(ctx, slog.New(slog.DiscardHandler), "NATS", natsUnreachable, connectTo(url))
	if !errors.Is(err, nats.ErrNoServers) || !errors.Is(err, context.Canceled) {
		t.Errorf("stopped while waiting: %v, want the connect error and the stop", err)
	}

	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, Username: "worker", Password: "s3cret-not-given", NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS not ready")
	}
	var logs testenv.SyncBuffer
	err = waitForServer(t.Context(), slog.New(slog.NewTextHandler(&logs, nil)), "NATS", natsUnreachable, connectTo(ns.ClientURL()))
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("refused credentials: %v, want nats.ErrAuthorization", err)
	}
	if strings.Contains(logs.String(), "waiting") {
		t.Errorf("refused credentials were waited on:\n%s", logs.String())
	}
}
