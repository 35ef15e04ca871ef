package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
	"github.com/oauthsync/oauthsync/worker/storeguard"
)

// TestStoreStatusAndAccept: a guarded Redis store comes back empty; a
// worker's check finds it lost; store status says so and why; accept
// without confirmation changes nothing; accept --yes adopts the empty store
// and the next check says ok.
func TestStoreStatusAndAccept(t *testing.T) {
	natsURL := testenv.EmbeddedNATS(t)
	js, err := jetstream.New(testenv.Connect(t, natsURL))
	if err != nil {
		t.Fatal(err)
	}
	r := testenv.StartOwnRedis(t)
	redisURL := "redis://" + r.Addr() + "/0"
	store := redisdedup.New(r.Client(), redisdedup.Config{})
	ctx := t.Context()
	// The worker's side: a guard that checks.
	guard, err := storeguard.Open(ctx, js, store, storeguard.Config{Key: storeguard.Key("redis", redisdedup.DefaultPrefix)})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := guard.Check(ctx); err != nil || st.State != storeguard.OK {
		t.Fatalf("first check = %+v, %v", st, err)
	}
	if err := store.Complete(ctx, dedup.CompleteRequest{CommandID: "c1", PayloadHash: "h", Owner: "o", Result: []byte("r"), ResultTTL: 3600e9}); err != nil {
		t.Fatal(err)
	}
	if _, err := guard.Check(ctx); err != nil {
		t.Fatal(err)
	}
	syncctl := func(stdin string, args ...string) (int, string, string) {
		var stdout, stderr lockedBuffer
		e := envFor(&stdout, &stderr, nil)
		e.stdin = strings.NewReader(stdin)
		code := run(context.Background(), append([]string{"--server", natsURL, "store"}, args...), e)
		return code, stdout.String(), stderr.String()
	}
	status := func() storeStatusOutput {
		t.Helper()
		code, out, errOut := syncctl("", "status", "--redis-url", redisURL, "-o", "json")
		var st storeStatusOutput
		if err := json.Unmarshal([]byte(out), &st); code != exitOK || err != nil {
			t.Fatalf("store status: exit %d, %v\n%s%s", code, err, out, errOut)
		}
		return st
	}
	if st := status(); st.State != "ok" || st.StoreEpoch == "" || st.StoreEpoch != st.GuardEpoch || st.HighWater != 1 || st.StoreCompletions != 1 {
		t.Fatalf("status before the loss = %+v", st)
	}

	r.RestartEmpty()
	if st, err := guard.Check(ctx); err != nil || st.State != storeguard.Lost {
		t.Fatalf("check after the restart = %+v, %v; want lost", st, err)
	}
	st := status()
	if st.State != "lost" || !strings.Contains(st.Reason, "no epoch marker") || st.StoreEpoch != "" || st.LostAt.IsZero() {
		t.Fatalf("status after the loss = %+v", st)
	}
	code, out, _ := syncctl("", "status", "--redis-url", redisURL)
	for _, want := range []string{"state              lost", "store epoch        (none)", "high-water mark    1", "came back empty"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("store status table: exit %d, lacks %q:\n%s", code, want, out)
		}
	}

	// Not confirmed: nothing changes.
	code, _, errOut := syncctl("no\n", "accept", "--redis-url", redisURL)
	if code != exitUsage || !strings.Contains(errOut, "not confirmed") {
		t.Fatalf("accept answered no: exit %d\n%s", code, errOut)
	}
	if st := status(); st.State != "lost" {
		t.Fatalf("after an unconfirmed accept: %+v", st)
	}
	// Confirmed by typing it.
	code, out, errOut = syncctl("accept\n", "accept", "--redis-url", redisURL)
	if code != exitOK || !strings.Contains(out, "accepted: new epoch") {
		t.Fatalf("accept: exit %d\n%s%s", code, out, errOut)
	}
	st = status()
	if st.State != "ok" || st.StoreEpoch == "" || st.StoreEpoch != st.GuardEpoch || st.AcceptedAt.IsZero() || st.HighWater != 0 {
		t.Fatalf("status after accept = %+v", st)
	}
	if chk, err := guard.Check(ctx); err != nil || chk.State != storeguard.OK {
		t.Fatalf("worker check after accept = %+v, %v; want ok", chk, err)
	}
	// --yes needs no answer.
	if code, out, errOut := syncctl("", "accept", "--yes", "--redis-url", redisURL, "-o", "json"); code != exitOK {
		t.Fatalf("accept --yes: exit %d\n%s%s", code, out, errOut)
	}
}
