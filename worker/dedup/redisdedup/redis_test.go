package redisdedup_test

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/deduptest"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
)

// newStore returns a Store on a fresh prefix, whose keys are deleted at
// cleanup.
func newStore(tb testing.TB, client redis.UniversalClient) (*redisdedup.Store, string) {
	tb.Helper()
	prefix := "oauthsync-test-" + testenv.Unique()
	tb.Cleanup(func() { deletePrefix(tb, client, prefix) })
	return redisdedup.New(client, redisdedup.Config{Prefix: prefix}), prefix
}

// deletePrefix deletes every key under prefix (SCAN + DEL).
func deletePrefix(tb testing.TB, client redis.UniversalClient, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Errorf("cleanup: scan %s: %v", prefix, err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := client.Del(ctx, keys[:n]...).Err(); err != nil {
			tb.Errorf("cleanup: del: %v", err)
			return
		}
		keys = keys[n:]
	}
}

func TestConformance(t *testing.T) {
	client := testenv.Redis(t)
	deduptest.Run(t, func(t *testing.T) dedup.Store {
		s, _ := newStore(t, client)
		return s
	})
}

// countHook counts the commands (round trips) the client sends.
type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

func TestOneRoundTripEach(t *testing.T) {
	base := testenv.Redis(t)
	client := redis.NewClient(base.Options())
	t.Cleanup(func() { _ = client.Close() })
	hook := &countHook{}
	client.AddHook(hook)
	s, _ := newStore(t, client)
	ctx := t.Context()

	// The scripts are loaded on first use (EVALSHA, NOSCRIPT, EVAL); flush
	// nothing, just warm them.
	if _, err := s.Begin(ctx, dedup.BeginRequest{CommandID: "warm", PayloadHash: "h", Owner: "o", LeaseKey: "c/r", Fields: []string{"a"}, TTL: time.Minute, SightingTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	_ = s.Renew(ctx, dedup.RenewRequest{CommandID: "warm", Owner: "o", LeaseKey: "c/r", TTL: time.Minute})
	_ = s.Complete(ctx, dedup.CompleteRequest{CommandID: "warm", PayloadHash: "h", Owner: "o", LeaseKey: "c/r", ResultTTL: time.Minute})
	_ = s.Release(ctx, dedup.ReleaseRequest{CommandID: "warm", Owner: "o", LeaseKey: "c/r"})

	steps := []struct {
		name string
		fn   func() error
	}{
		{"Sight", func() error {
			return s.Sight(ctx, []dedup.Sighting{{CommandID: "c1", PayloadHash: "h", TTL: time.Hour}, {CommandID: "c9", PayloadHash: "h", TTL: time.Hour}})
		}},
		{"Begin", func() error {
			_, err := s.Begin(ctx, dedup.BeginRequest{CommandID: "c1", PayloadHash: "h", Owner: "o", LeaseKey: "c/r", Fields: []string{"a", "b"}, TTL: time.Minute, SightingTTL: time.Hour})
			return err
		}},
		{"Renew", func() error {
			return s.Renew(ctx, dedup.RenewRequest{CommandID: "c1", Owner: "o", LeaseKey: "c/r", TTL: time.Minute})
		}},
		{"Complete", func() error {
			return s.Complete(ctx, dedup.CompleteRequest{CommandID: "c1", PayloadHash: "h", Owner: "o", LeaseKey: "c/r", Result: []byte("r"), OrderKeys: map[string]dedup.OrderKey{"a": {Key: 1, Seq: 1}, "b": {Key: 2, Seq: 2}}, ResultTTL: time.Minute})
		}},
		{"Release", func() error {
			return s.Release(ctx, dedup.ReleaseRequest{CommandID: "c1", Owner: "o", LeaseKey: "c/r"})
		}},
		{"Complete reopenable", func() error {
			return s.Complete(ctx, dedup.CompleteRequest{CommandID: "c2", PayloadHash: "h", Owner: "o", LeaseKey: "c/r", Result: []byte("failed"), ResultTTL: time.Minute, Reopenable: true})
		}},
		{"Begin reopening", func() error {
			br, err := s.Begin(ctx, dedup.BeginRequest{CommandID: "c2", PayloadHash: "h", Owner: "o2", LeaseKey: "c/r", Fields: []string{"a"}, TTL: time.Minute, SightingTTL: time.Hour, Replay: true})
			if err == nil && br.State != dedup.Claimed {
				t.Errorf("replay Begin: %v, want claimed", br.State)
			}
			return err
		}},
	}
	for _, st := range steps {
		before := hook.n.Load()
		if err := st.fn(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if n := hook.n.Load() - before; n != 1 {
			t.Errorf("%s took %d round trips, want 1", st.name, n)
		}
	}
}

func TestKeyLayoutAndTTLs(t *testing.T) {
	client := testenv.Redis(t)
	s, prefix := newStore(t, client)
	ctx := t.Context()

	if _, err := s.Begin(ctx, dedup.BeginRequest{CommandID: "cmd:1", PayloadHash: "h", Owner: "o", LeaseKey: "conn/res", TTL: 30 * time.Second, SightingTTL: time.Hour, Hold: time.Minute}); err != nil {
		t.Fatal(err)
	}
	wantPTTL := func(key string, lo, hi time.Duration) {
		t.Helper()
		d, err := client.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatalf("PTTL %s: %v", key, err)
		}
		if d < lo || d > hi {
			t.Fatalf("PTTL %s = %v, want in [%v, %v]", key, d, lo, hi)
		}
	}
	wantPTTL(prefix+":cmd:cmd:1", 25*time.Second, 30*time.Second)
	// The sighting lives with the sighting TTL until the command is done.
	wantPTTL(prefix+":seen:cmd:1", time.Hour-time.Minute, time.Hour)
	// The resource's hash maps the command to its owner and deadline, TTL +
	// Hold away, and the lease (the empty field) to the owner and the
	// claim's deadline; the key lasts as long as the hold.
	wantPTTL(prefix+":holds:conn/res", 25*time.Second+time.Minute, 30*time.Second+time.Minute)
	wantEntry := func(field string, lo, hi time.Duration) {
		t.Helper()
		v, err := client.HGet(ctx, prefix+":holds:conn/res", field).Result()
		owner, deadline, ok := strings.Cut(v, "\x00")
		ms, perr := strconv.ParseInt(deadline, 10, 64)
		if until := time.Until(time.UnixMilli(ms)); err != nil || !ok || owner != "o" || perr != nil || until < lo || until > hi {
			t.Fatalf("entry %q = %q, %v; want the owner o, NUL, a deadline in Unix ms %v away", field, v, err, hi)
		}
	}
	wantEntry("cmd:1", 25*time.Second+time.Minute, 30*time.Second+time.Minute)
	wantEntry("", 25*time.Second, 30*time.Second)

	if err := s.Complete(ctx, dedup.CompleteRequest{CommandID: "cmd:1", PayloadHash: "h", Owner: "o", LeaseKey: "conn/res", Result: []byte("r"), OrderKeys: map[string]dedup.OrderKey{"a": {Key: 7, Seq: 9}}, ResultTTL: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	// The request's ResultTTL is honoured per key.
	wantPTTL(prefix+":cmd:cmd:1", 2*time.Hour-time.Minute, 2*time.Hour)
	// Nor does a Sight of it make one.
	if err := s.Sight(ctx, []dedup.Sighting{{CommandID: "cmd:1", PayloadHash: "h", TTL: time.Hour}}); err != nil {
		t.Fatal(err)
	}
	// A done command keeps no sighting: nothing more per finished command.
	if n, err := client.Exists(ctx, prefix+":seen:cmd:1").Result(); err != nil || n != 0 {
		t.Fatalf("sighting after Complete: exists=%d, %v; want deleted", n, err)
	}
	if n, err := client.Exists(ctx, prefix+":holds:conn/res").Result(); err != nil || n != 0 {
		t.Fatalf("lease and hold after Complete: %d exist, %v; want both released", n, err)
	}
	if v, err := client.HGet(ctx, prefix+":order:conn/res", "a").Result(); err != nil || v != "7/9" {
		t.Fatalf("order key a = %q, %v; want 7/9", v, err)
	}
	// Order keys never expire.
	wantPTTL(prefix+":order:conn/res", -1*time.Nanosecond, -1*time.Nanosecond)
}

func TestReopenKeyLayout(t *testing.T) {
	client := testenv.Redis(t)
	s, prefix := newStore(t, client)
	ctx := t.Context()
	key := prefix + ":cmd:cmd-1"

	if err := s.Complete(ctx, dedup.CompleteRequest{CommandID: "cmd-1", PayloadHash: "h", Owner: "o", LeaseKey: "conn/res", Result: []byte("failed"), ResultTTL: 2 * time.Hour, Reopenable: true}); err != nil {
		t.Fatal(err)
	}
	if rec, err := client.HGetAll(ctx, key).Result(); err != nil || len(rec) != 4 || rec["s"] != "d" || rec["f"] != "1" || rec["r"] != "failed" {
		t.Fatalf("reopenable done record = %v, %v; want s=d h r f=1", rec, err)
	}
	br, err := s.Begin(ctx, dedup.BeginRequest{CommandID: "cmd-1", PayloadHash: "h", Owner: "o2", LeaseKey: "conn/res", TTL: 30 * time.Second, SightingTTL: time.Hour, Replay: true})
	if err != nil || br.State != dedup.Claimed || string(br.Result) != "failed" {
		t.Fatalf("replay Begin = %+v, %v; want claimed with the failed result", br, err)
	}
	// The claim replaced the done record: no result, no flag, the claim's TTL.
	if rec, err := client.HGetAll(ctx, key).Result(); err != nil || len(rec) != 3 || rec["s"] != "c" || rec["o"] != "o2" {
		t.Fatalf("reopened record = %v, %v; want the claim s=c h o=o2 only", rec, err)
	}
	if d, err := client.PTTL(ctx, key).Result(); err != nil || d > 30*time.Second || d < 25*time.Second {
		t.Fatalf("PTTL of the reopened claim = %v, %v; want the claim TTL", d, err)
	}
	// A final outcome has no flag.
	if err := s.Complete(ctx, dedup.CompleteRequest{CommandID: "cmd-1", PayloadHash: "h", Owner: "o2", LeaseKey: "conn/res", Result: []byte("applied"), ResultTTL: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	if rec, err := client.HGetAll(ctx, key).Result(); err != nil || len(rec) != 3 || rec["r"] != "applied" {
		t.Fatalf("final done record = %v, %v; want s=d h r, no flag", rec, err)
	}
}

// TestOldOrderKeysMigrate: a bare decimal order key, as stored before keys
// had a stream sequence, reads as that key with sequence 0: it keeps its
// key, loses a tie to any command stored since, and is replaced by the pair
// when beaten.
func TestOldOrderKeysMigrate(t *testing.T) {
	client := testenv.Redis(t)
	s, prefix := newStore(t, client)
	ctx := t.Context()
	if err := client.HSet(ctx, prefix+":order:conn/res", "a", "1732269600000", "b", "42", "c", "-5").Err(); err != nil {
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
	// a: a tie with a stream sequence wins; b: a stream-sequence key of old
	// loses to a stored time; c: a lower key loses.
	if err := s.Complete(ctx, dedup.CompleteRequest{CommandID: "cmd-1", PayloadHash: "h", Owner: "o", LeaseKey: "conn/res", Result: []byte("r"),
		OrderKeys: map[string]dedup.OrderKey{"a": {Key: 1732269600000, Seq: 1}, "b": {Key: 1795341600000, Seq: 2}, "c": {Key: -6, Seq: 99}}, ResultTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got, err := s.OrderKeys(ctx, "conn/res")
	want = map[string]dedup.OrderKey{"a": {Key: 1732269600000, Seq: 1}, "b": {Key: 1795341600000, Seq: 2}, "c": {Key: -5}}
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("OrderKeys = %v, %v; want %v", got, err, want)
	}
	if v, _ := client.HGet(ctx, prefix+":order:conn/res", "c").Result(); v != "-5" {
		t.Fatalf("unbeaten old key c = %q, want it untouched", v)
	}
}

func TestDefaultPrefix(t *testing.T) {
	client := testenv.Redis(t)
	s := redisdedup.New(client, redisdedup.Config{})
	ctx := t.Context()
	id := "oauthsync-test-" + testenv.Unique()
	key := redisdedup.DefaultPrefix + ":cmd:" + id
	t.Cleanup(func() { client.Del(context.Background(), key) })
	if _, err := s.Begin(ctx, dedup.BeginRequest{CommandID: id, PayloadHash: "h", Owner: "o", TTL: time.Minute, SightingTTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if n, err := client.Exists(ctx, key).Result(); err != nil || n != 1 {
		t.Fatalf("key %s: exists=%d, %v", key, n, err)
	}
}

func TestPing(t *testing.T) {
	client := testenv.Redis(t)
	s, _ := newStore(t, client)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = dead.Close() })
	if err := redisdedup.New(dead, redisdedup.Config{}).Ping(t.Context()); err == nil {
		t.Fatal("Ping of an unreachable Redis: no error")
	}
}

func BenchmarkBeginComplete(b *testing.B) {
	client := testenv.Redis(b)
	s, _ := newStore(b, client)
	before := serverCPU(b, client)
	deduptest.BenchBeginComplete(b, s)
	b.StopTimer()
	// The server's own CPU per command, what the worker's hot path costs
	// Redis (the machine's Redis: other clients' work counts too).
	b.ReportMetric(float64((serverCPU(b, client)-before).Microseconds())/float64(b.N), "redis-µs/op")
}

// serverCPU returns the Redis server's CPU time so far (INFO cpu: the
// main thread's user and system time).
func serverCPU(tb testing.TB, client redis.UniversalClient) time.Duration {
	tb.Helper()
	info, err := client.Info(context.Background(), "cpu").Result()
	if err != nil {
		tb.Fatalf("INFO cpu: %v", err)
	}
	var total float64
	for line := range strings.Lines(info) {
		name, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (name == "used_cpu_sys_main_thread" || name == "used_cpu_user_main_thread") {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				tb.Fatalf("INFO cpu %s: %v", name, err)
			}
			total += v
		}
	}
	return time.Duration(total * float64(time.Second))
}

// A hold left by a delivery that died (its deadline passed, nothing ended
// it) is dropped by the next Begin on the resource, so that the hash of a
// resource kept busy does not grow with every delivery that died on it.
func TestLapsedHoldsAreDroppedByTheNextBegin(t *testing.T) {
	client := testenv.Redis(t)
	s, prefix := newStore(t, client)
	ctx := t.Context()
	key := prefix + ":holds:conn/res"
	begin := func(id, owner, join string, ttl time.Duration) {
		t.Helper()
		res, err := s.Begin(ctx, dedup.BeginRequest{CommandID: id, PayloadHash: "h", Owner: owner, JoinOwner: join, LeaseKey: "conn/res", TTL: ttl, SightingTTL: time.Hour, Hold: time.Millisecond})
		if err != nil || res.State != dedup.Claimed {
			t.Fatalf("Begin %s: %v, %v; want claimed", id, res.State, err)
		}
	}
	begin("holder", "o", "", 30*time.Second)
	begin("rider", "o2", "o", 5*time.Millisecond) // joins, then dies
	time.Sleep(20 * time.Millisecond)
	if n, err := client.HLen(ctx, key).Result(); err != nil || n != 3 {
		t.Fatalf("entries before the next Begin: %d, %v; want the lease, the holder's hold and the rider's lapsed one", n, err)
	}
	begin("next", "o", "", 30*time.Second) // the same owner's next command
	fields, err := client.HKeys(ctx, key).Result()
	slices.Sort(fields)
	if want := []string{"", "holder", "next"}; err != nil || !slices.Equal(fields, want) {
		t.Fatalf("entries after the next Begin: %q, %v; want %q (the lapsed hold dropped)", fields, err, want)
	}
}
