package kvdedup_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/deduptest"
	"github.com/oauthsync/oauthsync/worker/dedup/kvdedup"
)

func jetStream(tb testing.TB, nc *nats.Conn) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return js
}

// newStore returns a Store on fresh buckets, deleted at cleanup.
func newStore(tb testing.TB, js jetstream.JetStream, cfg kvdedup.Config) *kvdedup.Store {
	tb.Helper()
	if cfg.Bucket == "" {
		cfg.Bucket = "oauthsync_test_" + testenv.Unique()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tb.Cleanup(func() { deleteBuckets(tb, js, cfg.Bucket) })
	s, err := kvdedup.New(ctx, js, cfg)
	if err != nil {
		tb.Fatalf("kvdedup.New: %v", err)
	}
	return s
}

func deleteBuckets(tb testing.TB, js jetstream.JetStream, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, b := range []string{bucket + "_cmd", bucket + "_state"} {
		if err := js.DeleteKeyValue(ctx, b); err != nil && !isNotFound(err) {
			tb.Errorf("cleanup: delete bucket %s: %v", b, err)
		}
	}
}

func isNotFound(err error) bool {
	return errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound)
}

// TestConformanceEmbedded runs the suite on an embedded nats-server (the
// module's version), file storage.
func TestConformanceEmbedded(t *testing.T) {
	js := jetStream(t, testenv.Connect(t, testenv.EmbeddedNATS(t)))
	deduptest.Run(t, func(t *testing.T) dedup.Store {
		return newStore(t, js, kvdedup.Config{})
	})
}

// TestConformanceServer runs the suite on the machine's nats-server (2.9:
// no per-message TTL), memory storage.
func TestConformanceServer(t *testing.T) {
	js := jetStream(t, testenv.NATS(t))
	deduptest.Run(t, func(t *testing.T) dedup.Store {
		return newStore(t, js, kvdedup.Config{Storage: jetstream.MemoryStorage})
	})
}

func TestBuckets(t *testing.T) {
	js := jetStream(t, testenv.Connect(t, testenv.EmbeddedNATS(t)))
	ctx := t.Context()
	bucket := "oauthsync_test_" + testenv.Unique()
	s := newStore(t, js, kvdedup.Config{Bucket: bucket})
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}

	wantTTL := func(name string, want time.Duration) {
		t.Helper()
		kv, err := js.KeyValue(ctx, name)
		if err != nil {
			t.Fatalf("bucket %s: %v", name, err)
		}
		st, err := kv.Status(ctx)
		if err != nil {
			t.Fatalf("bucket %s status: %v", name, err)
		}
		if st.TTL() != want || st.History() != 1 {
			t.Fatalf("bucket %s: TTL %v history %d, want TTL %v history 1", name, st.TTL(), st.History(), want)
		}
	}
	wantTTL(bucket+"_cmd", kvdedup.DefaultResultTTL)
	wantTTL(bucket+"_state", 0)

	// Idempotent, and a new ResultTTL updates the bucket in place, keeping
	// its records.
	if _, err := s.Begin(ctx, dedup.BeginRequest{CommandID: "c1", PayloadHash: "h", Owner: "o", LeaseKey: "c/r", TTL: time.Minute, SightingTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	s2, err := kvdedup.New(ctx, js, kvdedup.Config{Bucket: bucket})
	if err != nil {
		t.Fatalf("second New: %v", err)
	}
	s3, err := kvdedup.New(ctx, js, kvdedup.Config{Bucket: bucket, ResultTTL: time.Hour})
	if err != nil {
		t.Fatalf("New with another ResultTTL: %v", err)
	}
	wantTTL(bucket+"_cmd", time.Hour)
	for _, st := range []*kvdedup.Store{s2, s3} {
		res, err := st.Begin(ctx, dedup.BeginRequest{CommandID: "c1", PayloadHash: "h", Owner: "o2", LeaseKey: "c/r", TTL: time.Minute, SightingTTL: time.Hour})
		if err != nil || res.State != dedup.InProgress {
			t.Fatalf("Begin on the re-created store = %v, %v; want in progress", res.State, err)
		}
	}

	// Gone buckets fail Ping.
	deleteBuckets(t, js, bucket)
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping with the buckets deleted: no error")
	}
}

func TestConfigValidation(t *testing.T) {
	js := jetStream(t, testenv.Connect(t, testenv.EmbeddedNATS(t)))
	for _, cfg := range []kvdedup.Config{
		{Bucket: "with.dot"},
		{Bucket: "with space"},
		{ResultTTL: -time.Second},
		{Replicas: 6},
		{Replicas: -1},
		{Storage: jetstream.StorageType(7)},
	} {
		if _, err := kvdedup.New(t.Context(), js, cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}

func BenchmarkBeginComplete(b *testing.B) {
	js := jetStream(b, testenv.Connect(b, testenv.EmbeddedNATS(b)))
	deduptest.BenchBeginComplete(b, newStore(b, js, kvdedup.Config{}))
}

// BenchmarkBeginCompleteServer runs the benchmark on the machine's
// nats-server.
func BenchmarkBeginCompleteServer(b *testing.B) {
	js := jetStream(b, testenv.NATS(b))
	deduptest.BenchBeginComplete(b, newStore(b, js, kvdedup.Config{Storage: jetstream.MemoryStorage}))
}

// TestOldOrderKeysMigrate: a bare integer order key, as stored before keys
// had a stream sequence, reads as that key with sequence 0: it keeps its
// key, loses a tie to any command stored since, and is replaced by the pair
// when beaten.
func TestOldOrderKeysMigrate(t *testing.T) {
	js := jetStream(t, testenv.Connect(t, testenv.EmbeddedNATS(t)))
	bucket := "oauthsync_test_" + testenv.Unique()
	s := newStore(t, js, kvdedup.Config{Bucket: bucket})
	ctx := t.Context()
	state, err := js.KeyValue(ctx, bucket+"_state")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := state.Put(ctx, "order.conn.res", []byte(`{"a":1732269600000,"b":42,"c":-5}`)); err != nil {
		t.Fatal(err)
	}
	br, err := s.Begin(ctx, dedup.BeginRequest{CommandID: "cmd-1", PayloadHash: "h", Owner: "o", LeaseKey: "conn/res", Fields: []string{"a", "b", "c"}, TTL: time.Minute, SightingTTL: time.Hour})
	if err != nil || br.State != dedup.Claimed {
		t.Fatalf("Begin = %+v, %v", br, err)
	}
	want := map[string]dedup.OrderKey{"a": {Key: 1732269600000}, "b": {Key: 42}, "c": {Key: -5}}
	if !maps.Equal(br.OrderKeys, want) {
		t.Fatalf("OrderKeys = %v, want %v", br.OrderKeys, want)
	}
	if err := s.Complete(ctx, dedup.CompleteRequest{CommandID: "cmd-1", PayloadHash: "h", Owner: "o", LeaseKey: "conn/res", Result: []byte("r"),
		OrderKeys: map[string]dedup.OrderKey{"a": {Key: 1732269600000, Seq: 1}, "b": {Key: 1795341600000, Seq: 2}, "c": {Key: -6, Seq: 99}}, ResultTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got, err := s.OrderKeys(ctx, "conn/res")
	want = map[string]dedup.OrderKey{"a": {Key: 1732269600000, Seq: 1}, "b": {Key: 1795341600000, Seq: 2}, "c": {Key: -5}}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("OrderKeys = %v, %v; want %v", got, err, want)
	}
	e, err := state.Get(ctx, "order.conn.res")
	if err != nil || string(e.Value()) != `{"a":[1732269600000,1],"b":[1795341600000,2],"c":[-5,0]}` {
		t.Fatalf("stored order keys = %s, %v", e.Value(), err)
	}
}

// TestOpenReadsTheWorkersBucketsAndCreatesNothing: Open (syncctl's way in)
// fails where no worker created the buckets, and otherwise sees and resets
// the same order keys.
func TestOpenReadsTheWorkersBucketsAndCreatesNothing(t *testing.T) {
	js := jetStream(t, testenv.Connect(t, testenv.EmbeddedNATS(t)))
	bucket := "oauthsync_test_" + testenv.Unique()
	ctx := t.Context()
	if _, err := kvdedup.Open(ctx, js, kvdedup.Config{Bucket: bucket}); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("Open without buckets = %v, want ErrBucketNotFound", err)
	}
	if _, err := js.KeyValue(ctx, bucket+"_cmd"); err == nil {
		t.Fatal("Open created a bucket")
	}
	s := newStore(t, js, kvdedup.Config{Bucket: bucket})
	if err := s.Complete(ctx, dedup.CompleteRequest{CommandID: "c", PayloadHash: "h", Owner: "o", LeaseKey: "conn/res", Result: []byte("r"),
		OrderKeys: map[string]dedup.OrderKey{"a": {Key: 5, Seq: 6}}, ResultTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	o, err := kvdedup.Open(ctx, js, kvdedup.Config{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	if keys, err := o.OrderKeys(ctx, "conn/res"); err != nil || keys["a"] != (dedup.OrderKey{Key: 5, Seq: 6}) {
		t.Fatalf("OrderKeys through Open = %v, %v", keys, err)
	}
	if err := o.ResetOrderKeys(ctx, "conn/res", nil); err != nil {
		t.Fatal(err)
	}
	if keys, err := s.OrderKeys(ctx, "conn/res"); err != nil || len(keys) != 0 {
		t.Fatalf("after reset through Open: %v, %v", keys, err)
	}
}
