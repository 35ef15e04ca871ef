package storeguard_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/kvdedup"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
	"github.com/oauthsync/oauthsync/worker/storeguard"
)

func jetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(testenv.Connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// redisWorld is a Redis store on a fresh prefix of the machine's Redis and
// a guard bucket of its own on the machine's NATS.
type redisWorld struct {
	client *redis.Client
	prefix string
	store  *redisdedup.Store
	js     jetstream.JetStream
	cfg    storeguard.Config
}

func newRedisWorld(t *testing.T) *redisWorld {
	t.Helper()
	w := &redisWorld{client: testenv.Redis(t), prefix: "oauthsync-test-" + testenv.Unique(), js: jetStream(t, testenv.NATSURL())}
	w.store = redisdedup.New(w.client, redisdedup.Config{Prefix: w.prefix})
	w.cfg = storeguard.Config{Bucket: "TEST_GUARD_" + testenv.Unique(), Key: storeguard.Key("redis", w.prefix), Storage: jetstream.MemoryStorage}
	t.Cleanup(func() {
		_ = w.js.DeleteKeyValue(context.Background(), w.cfg.Bucket)
		w.wipe(t)
	})
	return w
}

// wipe deletes every key of the store, as a Redis that came back empty.
func (w *redisWorld) wipe(t *testing.T) {
	ctx := context.Background()
	iter := w.client.Scan(ctx, 0, w.prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		w.client.Del(ctx, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}

func (w *redisWorld) guard(t *testing.T) *storeguard.Guard {
	t.Helper()
	g, err := storeguard.Open(t.Context(), w.js, w.store, w.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func check(t *testing.T, g *storeguard.Guard, want storeguard.State) storeguard.Status {
	t.Helper()
	st, err := g.Check(t.Context())
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if st.State != want {
		t.Fatalf("Check = %v (%s), want %v", st.State, st.Reason, want)
	}
	return st
}

func completeN(t *testing.T, s dedup.Store, n int) {
	t.Helper()
	for i := range n {
		id := "c-" + testenv.Unique() + "-" + string(rune('a'+i))
		if err := s.Complete(t.Context(), dedup.CompleteRequest{CommandID: id, PayloadHash: "h", Owner: "o", Result: []byte("r"), ResultTTL: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFreshInstallThenOK(t *testing.T) {
	w := newRedisWorld(t)
	g := w.guard(t)
	st := check(t, g, storeguard.OK)
	if !st.Created || st.Record.Epoch == "" || st.Store.Epoch != st.Record.Epoch {
		t.Fatalf("first check = %+v; want the record created with the store's new epoch", st)
	}
	completeN(t, w.store, 3)
	st = check(t, g, storeguard.OK)
	if st.Created || st.Record.HighWater != 3 {
		t.Fatalf("second check = %+v; want the high-water mark raised to 3", st)
	}
	// The fence follows: Begin works on the agreed epoch.
	if _, err := w.store.Begin(t.Context(), dedup.BeginRequest{CommandID: "x", PayloadHash: "h", Owner: "o", TTL: time.Minute, SightingTTL: time.Hour}); err != nil {
		t.Fatalf("Begin after an ok check: %v", err)
	}
}

// TestConcurrentFirstChecksAgree: a fleet starting at once agrees on one
// epoch, and none of them finds the others' marker a loss.
func TestConcurrentFirstChecksAgree(t *testing.T) {
	w := newRedisWorld(t)
	var wg sync.WaitGroup
	sts := make([]storeguard.Status, 8)
	errs := make([]error, 8)
	for i := range sts {
		g := w.guard(t)
		wg.Go(func() { sts[i], errs[i] = g.Check(t.Context()) })
	}
	wg.Wait()
	for i, st := range sts {
		if errs[i] != nil || st.State != storeguard.OK || st.Record.Epoch != sts[0].Record.Epoch {
			t.Fatalf("check %d = %+v, %v; #0 epoch %s", i, st, errs[i], sts[0].Record.Epoch)
		}
	}
}

func TestStoreEmptiedIsLostUntilAccepted(t *testing.T) {
	w := newRedisWorld(t)
	g := w.guard(t)
	check(t, g, storeguard.OK)
	completeN(t, w.store, 2)
	check(t, g, storeguard.OK)

	w.wipe(t)
	// The fence refuses at once, before any check.
	if _, err := w.store.Begin(t.Context(), dedup.BeginRequest{CommandID: "x", PayloadHash: "h", Owner: "o", TTL: time.Minute, SightingTTL: time.Hour}); err == nil || !strings.Contains(err.Error(), dedup.ErrStoreLost.Error()) {
		t.Fatalf("Begin on the emptied store: %v, want ErrStoreLost", err)
	}
	st := check(t, g, storeguard.Lost)
	if !strings.Contains(st.Reason, "no epoch marker") {
		t.Fatalf("reason %q", st.Reason)
	}
	// Sticky, and fleet-wide: another guard (another worker) reads the
	// verdict, even once the store has a marker and counts again.
	if _, err := w.store.InitMarker(t.Context(), st.Record.Epoch); err != nil {
		t.Fatal(err)
	}
	completeN(t, w.store, 5)
	if st2 := check(t, w.guard(t), storeguard.Lost); st2.Reason != st.Reason {
		t.Fatalf("another worker's check: %q, want the recorded %q", st2.Reason, st.Reason)
	}

	acc, err := g.Accept(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if acc.Record.Epoch == st.Record.Epoch || acc.Record.HighWater != 5 || acc.Store.Epoch != acc.Record.Epoch {
		t.Fatalf("Accept = %+v; want a new epoch and the high-water mark at the counter", acc)
	}
	check(t, g, storeguard.OK)
}

func TestOtherEpochAndOlderCounterAreLost(t *testing.T) {
	t.Run("other epoch", func(t *testing.T) {
		w := newRedisWorld(t)
		g := w.guard(t)
		check(t, g, storeguard.OK)
		if _, err := w.store.ResetMarker(t.Context(), "another-store"); err != nil {
			t.Fatal(err)
		}
		if st := check(t, g, storeguard.Lost); !strings.Contains(st.Reason, "epoch marker is another-store") {
			t.Fatalf("reason %q", st.Reason)
		}
	})
	t.Run("older counter", func(t *testing.T) {
		w := newRedisWorld(t)
		g := w.guard(t)
		check(t, g, storeguard.OK)
		completeN(t, w.store, 4)
		check(t, g, storeguard.OK)
		// What an older snapshot holds: the same marker, a lower count.
		if err := w.client.Set(t.Context(), w.prefix+":store:completions", 1, 0).Err(); err != nil {
			t.Fatal(err)
		}
		if st := check(t, g, storeguard.Lost); !strings.Contains(st.Reason, "below the high-water mark 4") {
			t.Fatalf("reason %q", st.Reason)
		}
	})
}

// TestRecordLostStoreKept: the guard's bucket was deleted but the store
// kept its data: the record is re-created from the store's marker.
func TestRecordLostStoreKept(t *testing.T) {
	w := newRedisWorld(t)
	first := check(t, w.guard(t), storeguard.OK)
	completeN(t, w.store, 2)
	if err := w.js.DeleteKeyValue(t.Context(), w.cfg.Bucket); err != nil {
		t.Fatal(err)
	}
	st := check(t, w.guard(t), storeguard.OK)
	if !st.Created || st.Record.Epoch != first.Record.Epoch || st.Record.HighWater != 2 {
		t.Fatalf("check after the record was lost = %+v; want it re-created from the store (epoch %s, 2)", st, first.Record.Epoch)
	}
}

// TestKVStoreBucketsRecreatedAreLost: the embedded default's dedup buckets
// deleted and re-created while JetStream lives on (the guard's record
// with it) is a loss.
func TestKVStoreBucketsRecreatedAreLost(t *testing.T) {
	js := jetStream(t, testenv.EmbeddedNATS(t))
	ctx := t.Context()
	newStore := func() *kvdedup.Store {
		s, err := kvdedup.New(ctx, js, kvdedup.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := newStore()
	g, err := storeguard.Open(ctx, js, s, storeguard.Config{Key: storeguard.Key("kv", kvdedup.DefaultBucket)})
	if err != nil {
		t.Fatal(err)
	}
	check(t, g, storeguard.OK)
	completeN(t, s, 3)
	check(t, g, storeguard.OK)

	for _, b := range []string{kvdedup.DefaultBucket + "_cmd", kvdedup.DefaultBucket + "_state"} {
		if err := js.DeleteKeyValue(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	s2 := newStore()
	g2, err := storeguard.Open(ctx, js, s2, storeguard.Config{Key: storeguard.Key("kv", kvdedup.DefaultBucket)})
	if err != nil {
		t.Fatal(err)
	}
	if st := check(t, g2, storeguard.Lost); !strings.Contains(st.Reason, "no epoch marker") {
		t.Fatalf("reason %q", st.Reason)
	}
	if _, err := g2.Accept(ctx); err != nil {
		t.Fatal(err)
	}
	check(t, g2, storeguard.OK)
}

func TestOpenRefusesBadKeys(t *testing.T) {
	js := jetStream(t, testenv.EmbeddedNATS(t))
	s := redisdedup.New(testenv.Redis(t), redisdedup.Config{Prefix: "unused"})
	for _, key := range []string{"", "a b", "a..b", "a.*", "a.>"} {
		if _, err := storeguard.Open(t.Context(), js, s, storeguard.Config{Key: key}); err == nil {
			t.Errorf("Open with key %q: no error", key)
		}
	}
	if k := storeguard.Key("redis", "my:prefix"); k != "redis.=bXk6cHJlZml4" {
		t.Errorf("Key(redis, my:prefix) = %q", k)
	}
}
