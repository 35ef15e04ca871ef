package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/internal/serverproc"
)

// TestMain lets the test binary stand in for syncload as the nats-server
// child process -own-servers starts.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "_nats-server" {
		if err := serverproc.NATSServerMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "nats-server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// -own-servers: a JetStream server and a Redis of the run's own answer on
// the URLs it sets, and are gone once stopped.
func TestOwnServersServeTheRunAndStopWithIt(t *testing.T) {
	log, err := os.CreateTemp(t.TempDir(), "servers-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	o := options{natsURL: "nats://127.0.0.1:4222", redisURL: "redis://127.0.0.1:6379/0"}
	stop, err := startOwnServers(&o, log)
	if err != nil {
		t.Fatal(err)
	}
	if o.natsURL == "nats://127.0.0.1:4222" || o.redisURL == "redis://127.0.0.1:6379/0" {
		t.Fatalf("the URLs still point at the machine's servers: %s %s", o.natsURL, o.redisURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := nats.Connect(o.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("JetStream on %s: %v", o.natsURL, err)
	}
	nc.Close()
	opt, _ := redis.ParseURL(o.redisURL)
	rc := redis.NewClient(opt)
	if err := rc.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis on %s: %v", o.redisURL, err)
	}
	_ = rc.Close()

	stop()
	for _, addr := range []string{opt.Addr, o.natsURL[len("nats://"):]} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			t.Errorf("%s still accepts connections after stop", addr)
		}
	}
}
