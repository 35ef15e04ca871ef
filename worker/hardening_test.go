package worker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
	"github.com/oauthsync/oauthsync/worker/dedup"
)

// failingStore is the real store with Complete failing on demand, as Redis
// answers while it loads its data after a restart.
type failingStore struct {
	dedup.Store
	// failures is how many Complete calls still fail; -1: all of them.
	failures atomic.Int64
	calls    atomic.Int64
}

var errLoading = errors.New("LOADING Redis is loading the dataset in memory")

func (s *failingStore) Complete(ctx context.Context, req dedup.CompleteRequest) error {
	s.calls.Add(1)
	for {
		n := s.failures.Load()
		if n == 0 {
			return s.Store.Complete(ctx, req)
		}
		if n < 0 || s.failures.CompareAndSwap(n, n-1) {
			return errLoading
		}
	}
}

// consumerInfo reads a consumer of the bundle's commands stream.
func (b *bundle) consumerInfo(name string) *jetstream.ConsumerInfo {
	b.t.Helper()
	c, err := b.js.Consumer(context.Background(), b.streams.Commands, name)
	if err != nil {
		b.t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	return info
}

// waitFor polls cond every 20ms for up to 30s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// 9.1: a write landed, then storing its outcome fails for a while (Redis
// LOADING). The outcome is stored once the store answers, while the lease
// is held: applied (not unchanged), one delivery, one write.
func TestStoreFailuresAfterAWriteAreRetriedWhileHoldingTheLease(t *testing.T) {
	b := newBundle(t)
	fs := &failingStore{Store: b.store}
	fs.failures.Store(8)
	cfg := b.config()
	cfg.Store = fs
	b.start(cfg)

	b.publish(command("cmd-loading", res1, ptr[int64](10), messages.Changes{RedirectURI: ptr("https://loading.example.com/cb")}), true)
	r := b.result("cmd-loading").Data
	if r.Status != messages.StatusApplied || r.Deliveries != 1 || len(r.AppliedFields) != 1 {
		t.Fatalf("result = %s applied=%v deliveries=%d, want applied [redirectUri] after one delivery", r.Status, r.AppliedFields, r.Deliveries)
	}
	if n := len(b.posts()); n != 1 {
		t.Fatalf("provider received %d writes, want 1", n)
	}
	if fs.calls.Load() < 9 {
		t.Fatalf("Complete called %d times, want the 8 failures retried", fs.calls.Load())
	}
	// The outcome holds: a later command with a lower order key is
	// superseded, not written.
	b.publish(command("cmd-loading-older", res1, ptr[int64](5), messages.Changes{RedirectURI: ptr("https://older.example.com/cb")}), true)
	if r := b.result("cmd-loading-older").Data; r.Status != messages.StatusSuperseded {
		t.Fatalf("older command: %s, want superseded", r.Status)
	}
	if app, _ := b.sim.App(res1); app.RedirectURI != "https://loading.example.com/cb" {
		t.Fatalf("provider holds %q", app.RedirectURI)
	}
}

// 9.1: forced to stop while the store still fails after a write, the
// worker neither releases the claim nor naks: the delivery is left to its
// ack wait. The next worker's redelivery finds the claim lapsed and
// re-derives the outcome from the provider without writing again.
func TestForcedStopWhileStoringLeavesTheDeliveryToItsAckWait(t *testing.T) {
	b := newBundle(t)
	fs := &failingStore{Store: b.store}
	fs.failures.Store(-1)
	cfg := b.config()
	cfg.Store = fs
	cfg.AckWait = 4 * time.Second
	cfg.RetryBudget = time.Second
	cfg.DrainTimeout = 300 * time.Millisecond
	stop := b.start(cfg)

	b.publish(command("cmd-forced", res1, nil, messages.Changes{RedirectURI: ptr("https://forced.example.com/cb")}), true)
	waitFor(t, "the outcome's store attempts", func() bool { return fs.calls.Load() >= 3 })
	if info := b.consumerInfo("syncworker_" + connName); info.NumRedelivered != 0 || info.Delivered.Consumer != 1 {
		t.Fatalf("while the store fails: %d redelivered, %d delivered; want the one delivery held", info.NumRedelivered, info.Delivered.Consumer)
	}
	stop()
	if info := b.consumerInfo("syncworker_" + connName); info.NumAckPending != 1 {
		t.Fatalf("after the forced stop: %d ack pending, want the delivery left unsettled", info.NumAckPending)
	}
	if !strings.Contains(b.logs.String(), "left to its ack wait") || len(b.allResults()) != 0 {
		t.Fatalf("the delivery was settled; logs:\n%s", b.logs.String())
	}

	fs.failures.Store(0)
	cfg.Store = fs
	b.start(cfg)
	r := b.result("cmd-forced").Data
	if r.Deliveries != 2 || (r.Status != messages.StatusUnchanged && r.Status != messages.StatusApplied) {
		t.Fatalf("result = %s after %d deliveries", r.Status, r.Deliveries)
	}
	if n := len(b.posts()); n != 1 {
		t.Fatalf("provider received %d writes, want 1 (the redelivery re-derives, it does not re-apply)", n)
	}
}

// 9.7: a pull holds more messages than goroutines; under a slow provider
// the waiting ones must not reach their ack wait.
func TestHeldMessagesAreNeverRedeliveredWhileTheyWait(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.Connections[0].MaxInFlight = 1
	cfg.FetchBatch = 8
	cfg.AckWait = 1500 * time.Millisecond
	cfg.RetryBudget = 500 * time.Millisecond
	cfg.LeaseTTL = 1500 * time.Millisecond
	ids := []string{"65a7d77142a7e12453052d61", "65a7d77142a7e12453052d62", "65a7d77142a7e12453052d63", "65a7d77142a7e12453052d64"}
	for _, id := range ids {
		b.sim.Seed(rocketchatsim.App{ID: id, Name: "app", Active: true, RedirectURI: "https://old.example.com/cb", ClientID: "c" + id[18:], ClientSecret: canaryAppSecret})
	}
	for range 2 * len(ids) {
		// A read and a write per command: each command takes longer than
		// the ack wait, so even one message waiting behind it would expire.
		b.sim.Fail(rocketchatsim.Fault{Delay: time.Second})
	}
	b.start(cfg)
	for i, id := range ids {
		b.publish(command(fmt.Sprintf("cmd-held-%d", i), id, nil, messages.Changes{Name: ptr("held")}), true)
	}
	for i := range ids {
		if r := b.result(fmt.Sprintf("cmd-held-%d", i)).Data; r.Status != messages.StatusApplied || r.Deliveries != 1 {
			t.Fatalf("cmd-held-%d: %s after %d deliveries", i, r.Status, r.Deliveries)
		}
	}
	if n := len(b.posts()); n != len(ids) {
		t.Fatalf("provider received %d writes, want %d", n, len(ids))
	}
	rm := b.collect()
	if n := count(rm, mRedeliveries, nil); n != 0 {
		t.Fatalf("%d redeliveries: held messages reached their ack wait", n)
	}
}

// panicky panics in Apply when a command's name is "panic", with the
// connection's credential in the panic value.
type panicky struct{ adapters.Adapter }

func (p panicky) Apply(ctx context.Context, u adapters.Update) (adapters.Outcome, error) {
	if u.Changes.Name != nil && *u.Changes.Name == "panic" {
		panic(fmt.Sprintf("adapter bug while sending token %s", canaryAuthToken))
	}
	return p.Adapter.Apply(ctx, u)
}

// 9.5: a panic in an adapter ends that command (dead letter, failed
// result with internal_error, metric, log line without the secret) and the
// worker goes on.
func TestAPanicEndsItsCommandAndTheWorkerGoesOn(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.Connections[0].Adapter = panicky{cfg.Connections[0].Adapter}
	b.start(cfg)

	const secret = canaryAuthToken
	b.publish(command("cmd-panic", res1, nil, messages.Changes{Name: ptr("panic")}), true)
	b.publish(command("cmd-after-panic", res2, nil, messages.Changes{Name: ptr("fine")}), true)

	r := b.result("cmd-panic").Data
	if r.Status != messages.StatusFailed || r.Error == nil || r.Error.Code != messages.CodeInternalError || r.Deliveries != 1 {
		t.Fatalf("panicking command: %s %+v after %d deliveries", r.Status, r.Error, r.Deliveries)
	}
	if r := b.result("cmd-after-panic").Data; r.Status != messages.StatusApplied {
		t.Fatalf("next command: %s", r.Status)
	}
	dls := b.deadLetters()
	if len(dls) != 1 || dls[0].Headers().Get(worker.HeaderErrorCode) != string(messages.CodeInternalError) {
		t.Fatalf("dead letters: %d", len(dls))
	}
	if n := count(b.collect(), "oauthsync.panics", labels{"connection": connName}); n != 1 {
		t.Fatalf("oauthsync.panics = %d", n)
	}
	logs := b.logs.String()
	if !strings.Contains(logs, "panic while handling a command") || !strings.Contains(logs, "panicky.Apply") {
		t.Fatalf("no panic log line with its stack:\n%s", logs)
	}
	for _, m := range b.allResults() {
		if strings.Contains(string(m.Data), secret) {
			t.Fatal("the secret is in a result")
		}
	}
	if strings.Contains(logs, secret) || strings.Contains(dls[0].Headers().Get(worker.HeaderErrorMessage), secret) {
		t.Fatal("the secret reached the logs or the dead letter's error header")
	}
}

// embeddedNATS starts a nats-server with JetStream and the given max_payload.
func embeddedNATS(t *testing.T, maxPayload int32) *nats.Conn {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: t.TempDir(), NoSigs: true, NoLog: true, MaxPayload: maxPayload})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return testenv.Connect(t, s.ClientURL())
}

// 9.4: messages whose verbatim dead letter cannot be stored (a body near
// max_payload, headers near JetStream's 64 KiB) end all the same, in one
// delivery: a trimmed dead letter and a term, or a rejected result.
func TestMessagesAtTheSizeLimitsEnd(t *testing.T) {
	const maxPayload = 96 << 10
	b := newBundleOn(t, embeddedNATS(t, maxPayload))
	cfg := b.config()
	cfg.MaxCommandBytes = 8 << 10
	cfg.Streams.MaxMsgSize = -1 // as streams made before the limits: the server's max_payload only
	b.start(cfg)

	pad := strings.Repeat("x", 65000) // headers just under JetStream's 64 KiB
	// A body near max_payload that is no command.
	bigBody := []byte(strings.Repeat("x", maxPayload-300))
	b.publishRaw(b.subjects.Command(connName, res1), bigBody, false, "")
	// A valid command whose headers leave no room for the dead-letter headers.
	b.publish(command("cmd-fat-headers", res2, nil, messages.Changes{Name: ptr("fat")}), true, "X-Pad", pad)
	// An unreadable one with such headers.
	b.publishRaw(b.subjects.Command(connName, res2), []byte("not json"), false, "", "X-Pad", pad)

	if r := b.result("cmd-fat-headers").Data; r.Status != messages.StatusRejected || r.Error.Code != messages.CodeInvalidCommand || r.Deliveries != 1 {
		t.Fatalf("command with fat headers: %s %+v after %d deliveries", r.Status, r.Error, r.Deliveries)
	}
	if len(b.posts()) != 0 {
		t.Fatal("a refused command was applied")
	}
	waitFor(t, "two dead letters", func() bool { return b.streamCount(b.streams.DeadLetter, b.subjects.DeadLetters()) == 2 })
	for _, dl := range b.deadLetters() {
		h := dl.Headers()
		if h.Get(worker.HeaderTrimmed) == "" || h.Get(worker.HeaderSourceSequence) == "" || h.Get("X-Pad") != "" {
			t.Fatalf("dead letter %s is not trimmed: %d header bytes", dl.Subject(), len(fmt.Sprint(h)))
		}
		if len(dl.Data()) == len(bigBody) {
			t.Fatal("the dead letter kept a body that cannot fit")
		}
	}
	waitFor(t, "every message settled", func() bool {
		info := b.consumerInfo("syncworker_" + connName)
		return info.NumAckPending == 0 && info.NumPending == 0 && info.NumRedelivered == 0
	})
	if n := count(b.collect(), mRedeliveries, nil); n != 0 {
		t.Fatalf("%d redeliveries, want every message ended on its first", n)
	}
	// The server's backstop, above the worker's own budget (MaxDeliver 5).
	if info := b.consumerInfo("syncworker_" + connName); info.Config.MaxDeliver != 5+5 {
		t.Fatalf("consumer MaxDeliver = %d, want the backstop 10", info.Config.MaxDeliver)
	}
}

// 9.6: during a rolling deploy, a worker that does not serve a connection
// yet must not reject that connection's commands for good.
func TestCommandsForAConnectionAnotherWorkerWillServeAreNotRejected(t *testing.T) {
	b := newBundleOn(t, embeddedNATS(t, 0)) // two workers, one NATS of their own
	old := b.config()
	old.UnknownConnectionGrace = 5 * time.Minute
	old.Instance = "old"
	b.start(old)

	const newConn = "rc-new"
	cmd := messages.NewCommand("cmd-new-conn", "/test", newConn, res1, messages.Data{Changes: messages.Changes{Name: ptr("from-new")}})
	b.publish(cmd, true)
	waitFor(t, "the old worker's catch-all to see the command", func() bool {
		return strings.Contains(b.logs.String(), "no worker serves yet") || len(b.allResults()) > 0
	})

	a, err := rocketchat.New(adapters.Connection{Name: newConn, BaseURL: b.simURL,
		Auth:       map[string]messages.Secret{"userId": canaryUserID, "authToken": canaryAuthToken},
		HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	next := b.config()
	next.Instance = "new"
	next.Connections = append(next.Connections, worker.Connection{Name: newConn, Adapter: a, MaxInFlight: 2, Secrets: []string{canaryAuthToken}})
	b.start(next)

	r := b.result("cmd-new-conn").Data
	if r.Status != messages.StatusApplied {
		t.Fatalf("result = %s %+v", r.Status, r.Error)
	}
	// Nothing says unknown_connection (the old worker's catch-all, on its
	// next delivery, finds the new consumer and acks).
	for _, m := range b.allResults() {
		if strings.Contains(string(m.Data), string(messages.CodeUnknownConnection)) {
			t.Fatalf("a result says unknown_connection: %s", m.Data)
		}
	}
	if app, _ := b.sim.App(res1); app.Name != "from-new" {
		t.Fatalf("provider holds name %q", app.Name)
	}
}

// beginFailingStore is the real store with Begin failing, as an
// unreachable store does.
type beginFailingStore struct{ dedup.Store }

func (beginFailingStore) Begin(context.Context, dedup.BeginRequest) (dedup.BeginResult, error) {
	return dedup.BeginResult{}, errLoading
}

// 9.4: hand-backs that spend no delivery budget (here: the store never
// answers) end on the last delivery the server's backstop allows, with a
// dead letter and a term, instead of being redelivered forever or dropped
// silently by the server.
func TestTheLastDeliveryTheServerAllowsEndsTheCommand(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.Store = beginFailingStore{b.store}
	cfg.MaxDeliver = 1
	cfg.MaxNakDelay = 50 * time.Millisecond
	b.start(cfg)

	b.publish(command("cmd-backstop", res1, nil, messages.Changes{Name: ptr("never")}), true)
	waitFor(t, "a dead letter", func() bool { return b.streamCount(b.streams.DeadLetter, b.subjects.DeadLetters()) == 1 })
	dl := b.deadLetters()[0]
	if h := dl.Headers(); h.Get(worker.HeaderErrorCode) != string(messages.CodeInternalError) || h.Get(worker.HeaderDeliveries) != "6" {
		t.Fatalf("dead letter headers %v", h)
	}
	waitFor(t, "the command terminated", func() bool {
		info := b.consumerInfo("syncworker_" + connName)
		return info.NumAckPending == 0 && info.NumPending == 0 && info.Delivered.Consumer == 6
	})
	if len(b.posts()) != 0 {
		t.Fatal("a command whose claim was never taken was applied")
	}
}
