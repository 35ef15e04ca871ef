package worker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/messages"
)

// deliveryTap counts, for one stream, what JetStream delivers to each
// consumer (payload bytes) and the acks each consumer receives, by
// listening on the delivery inboxes and the ack subjects.
type deliveryTap struct {
	mu        sync.Mutex
	delivered map[string]int // consumer -> deliveries
	payload   map[string]int // consumer -> payload bytes delivered
	acks      map[string]int // consumer -> acks (+ACK) received
}

func tapDeliveries(t *testing.T, nc *nats.Conn, stream string) *deliveryTap {
	t.Helper()
	tap := &deliveryTap{delivered: map[string]int{}, payload: map[string]int{}, acks: map[string]int{}}
	// An ack reply subject: $JS.ACK.<stream>.<consumer>.<...>
	consumerOf := func(reply string) (string, bool) {
		parts := strings.Split(reply, ".")
		if len(parts) < 4 || parts[0] != "$JS" || parts[1] != "ACK" {
			return "", false
		}
		// $JS.ACK.<domain>.<hash>.<stream>.<consumer>... on newer servers.
		for i := 2; i+1 < len(parts); i++ {
			if parts[i] == stream {
				return parts[i+1], true
			}
		}
		return "", false
	}
	inbox, err := nc.Subscribe("_INBOX.>", func(m *nats.Msg) {
		if c, ok := consumerOf(m.Reply); ok {
			tap.mu.Lock()
			tap.delivered[c]++
			tap.payload[c] += len(m.Data)
			tap.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	acks, err := nc.Subscribe("$JS.ACK.>", func(m *nats.Msg) {
		if c, ok := consumerOf(m.Subject); ok && (len(m.Data) == 0 || strings.HasPrefix(string(m.Data), "+ACK")) {
			tap.mu.Lock()
			tap.acks[c]++
			tap.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inbox.Unsubscribe(); _ = acks.Unsubscribe() })
	return tap
}

func (tap *deliveryTap) counts(consumer string) (delivered, payload, acks int) {
	tap.mu.Lock()
	defer tap.mu.Unlock()
	return tap.delivered[consumer], tap.payload[consumer], tap.acks[consumer]
}

// The catch-all consumer that answers commands for unknown connections
// must not cost every command a second full delivery: it reads headers
// only, and acks each command (a small ack) once a connection consumer
// owns it.
func TestTheCatchAllReadsNoPayloads(t *testing.T) {
	b := newBundle(t)
	tap := tapDeliveries(t, b.nc, b.streams.Commands)
	b.start(b.config())

	const n = 300
	for i := range n {
		id := fmt.Sprintf("bulk-%03d", i)
		res := res1
		if i%2 == 1 {
			res = res2
		}
		b.publish(command(id, res, nil, messages.Changes{Name: ptr(fmt.Sprintf("name-%d", i))}), true)
	}
	for i := range n {
		if r := b.result(fmt.Sprintf("bulk-%03d", i)).Data; r.Status == messages.StatusRejected || r.Status == messages.StatusFailed {
			t.Fatalf("bulk-%03d: %s %+v", i, r.Status, r.Error)
		}
	}
	waitFor(t, "the catch-all to scan every command", func() bool {
		d, _, _ := tap.counts("syncworker-catchall")
		return d >= n
	})
	waitFor(t, "the catch-all to ack its scan", func() bool {
		info := b.consumerInfo("syncworker-catchall")
		return info.NumPending == 0 && info.NumAckPending == 0
	})
	time.Sleep(100 * time.Millisecond) // the tap's copy of the last ack
	d, payload, acks := tap.counts("syncworker-catchall")
	cd, cpayload, cacks := tap.counts("syncworker_" + connName)
	t.Logf("catch-all: %d deliveries, %d payload bytes, %d acks; connection consumer: %d deliveries, %d payload bytes, %d acks", d, payload, acks, cd, cpayload, cacks)
	if payload != 0 {
		t.Errorf("the catch-all received %d payload bytes; want none (headers only)", payload)
	}
	if acks < n {
		t.Errorf("the catch-all sent %d acks for %d commands; want one each", acks, n)
	}
	if cpayload == 0 || cacks < n {
		t.Errorf("the connection consumer: %d payload bytes, %d acks; want the commands in full and one ack each", cpayload, cacks)
	}
}

// A command for an unknown connection, scanned among served ones, is
// answered after the grace while the served ones are applied at once.
func TestAnUnknownConnectionAmongServedOnesIsRejectedAfterTheGrace(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.UnknownConnectionGrace = 2 * time.Second
	b.start(cfg)

	unknown := messages.NewCommand("lost-1", "/test", "nowhere", res1, messages.Data{Changes: messages.Changes{Name: ptr("x")}})
	published := time.Now()
	b.publish(command("served-1", res1, nil, messages.Changes{Name: ptr("n1")}), true)
	b.publish(unknown, true)
	b.publish(command("served-2", res2, nil, messages.Changes{Name: ptr("n2")}), true)

	for _, id := range []string{"served-1", "served-2"} {
		if r := b.result(id).Data; r.Status != messages.StatusApplied {
			t.Fatalf("%s: %s %+v", id, r.Status, r.Error)
		}
	}
	r := b.result("lost-1").Data
	if r.Status != messages.StatusRejected || r.Error == nil || r.Error.Code != messages.CodeUnknownConnection {
		t.Fatalf("lost-1: %s %+v", r.Status, r.Error)
	}
	if waited := time.Since(published); waited < cfg.UnknownConnectionGrace {
		t.Errorf("lost-1 rejected after %s, before the grace of %s", waited, cfg.UnknownConnectionGrace)
	}
	time.Sleep(500 * time.Millisecond)
	if got := len(b.waitResults("lost-1", 1)); got != 1 {
		t.Errorf("lost-1 has %d results; want 1", got)
	}
}

// A worker that stops while its scan waits for an unknown connection's
// grace hands the command back: another worker answers it, once.
func TestAStoppedScanHandsItsCommandsToTheFleet(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.UnknownConnectionGrace = 3 * time.Second
	cfg.Instance = "first"
	stop := b.start(cfg)

	b.publish(messages.NewCommand("lost-2", "/test", "nowhere", res1, messages.Data{Changes: messages.Changes{Name: ptr("x")}}), true)
	waitFor(t, "the first worker's scan to hold the command", func() bool {
		return strings.Contains(b.logs.String(), "no worker serves yet")
	})
	stop()
	next := b.config()
	next.UnknownConnectionGrace = 3 * time.Second
	next.Instance = "second"
	b.start(next)

	r := b.result("lost-2").Data
	if r.Status != messages.StatusRejected || r.Error == nil || r.Error.Code != messages.CodeUnknownConnection {
		t.Fatalf("lost-2: %s %+v", r.Status, r.Error)
	}
	time.Sleep(500 * time.Millisecond)
	if got := len(b.waitResults("lost-2", 1)); got != 1 {
		t.Errorf("lost-2 has %d results; want 1", got)
	}
}

// Provisioning deletes the catch-all consumer of earlier versions (which
// delivered every command in full) but not a connection's consumer that
// happens to share its name.
func TestProvisionDeletesTheEarlierCatchAll(t *testing.T) {
	for _, c := range []struct {
		name, filter string
		kept         bool
	}{
		{"earlier catch-all", ">", false},
		{"connection named unrouted", "unrouted.>", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newBundle(t)
			ctx := context.Background()
			if _, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: b.streams.Commands,
				Subjects: []string{b.subjects.Commands()}, Storage: jetstream.MemoryStorage}); err != nil {
				t.Fatal(err)
			}
			filter := strings.TrimSuffix(b.subjects.Commands(), ">") + c.filter
			if _, err := b.js.CreateOrUpdateConsumer(ctx, b.streams.Commands, jetstream.ConsumerConfig{
				Durable: "syncworker_unrouted", FilterSubject: filter, AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
				t.Fatal(err)
			}
			b.start(b.config())
			_, err := b.js.Consumer(ctx, b.streams.Commands, "syncworker_unrouted")
			if kept := err == nil; kept != c.kept {
				t.Fatalf("consumer syncworker_unrouted kept = %v (err %v); want %v", kept, err, c.kept)
			}
		})
	}
}

// The catch-all of the previous version acked cumulatively (AckAll); a
// consumer's ack policy cannot change, so provisioning starts the new one
// where that one's acks ended and deletes it.
func TestProvisionReplacesTheAckAllCatchAll(t *testing.T) {
	b := newBundle(t)
	ctx := context.Background()
	if _, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: b.streams.Commands,
		Subjects: []string{b.subjects.Commands()}, Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	old, err := b.js.CreateOrUpdateConsumer(ctx, b.streams.Commands, jetstream.ConsumerConfig{Durable: "syncworker-unrouted",
		FilterSubject: b.subjects.Commands(), AckPolicy: jetstream.AckAllPolicy, HeadersOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		b.publish(command(fmt.Sprintf("before-%d", i), res1, nil, messages.Changes{Name: ptr("x")}), true)
	}
	batch, err := old.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var last jetstream.Msg
	for m := range batch.Messages() {
		last = m
	}
	if err := last.DoubleAck(ctx); err != nil { // AckAll: the first two
		t.Fatal(err)
	}
	b.start(b.config())
	if _, err := b.js.Consumer(ctx, b.streams.Commands, "syncworker-unrouted"); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("the AckAll catch-all is still there (%v)", err)
	}
	cfg := b.consumerInfo("syncworker-catchall").Config
	if cfg.AckPolicy != jetstream.AckExplicitPolicy || cfg.DeliverPolicy != jetstream.DeliverByStartSequencePolicy || cfg.OptStartSeq != 3 {
		t.Fatalf("the new catch-all: ack %v, deliver %v from %d; want explicit acks from sequence 3", cfg.AckPolicy, cfg.DeliverPolicy, cfg.OptStartSeq)
	}
	b.start(b.config()) // a second worker keeps it as it is
	if cfg := b.consumerInfo("syncworker-catchall").Config; cfg.OptStartSeq != 3 {
		t.Fatalf("a second worker's provisioning moved the catch-all's start to %d", cfg.OptStartSeq)
	}
}

// A command published below its connection's subjects (one token too
// many) reaches no connection consumer: the catch-all ends it (its
// subject is not a command's: dead-lettered, as the contract says of an
// unreadable command), even though its connection is served, instead of
// acking it untouched.
func TestACommandOnADeeperSubjectIsDeadLettered(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	cmd := command("deep-1", res1, nil, messages.Changes{Name: ptr("deep")})
	body, err := cmd.Encode()
	if err != nil {
		t.Fatal(err)
	}
	b.publishRaw(b.subjects.Command(connName, res1)+".extra", body, true, "deep-1")
	waitFor(t, "a dead letter", func() bool { return b.streamCount(b.streams.DeadLetter, b.subjects.DeadLetters()) == 1 })
	if app, _ := b.sim.App(res1); app.Name == "deep" {
		t.Fatal("the command was applied")
	}
}

// The catch-all acks cumulatively. A worker that died holding a scan batch
// (here: the test pulls a command and never settles it) leaves it pending
// until the ack wait; a newer batch's ack must not cover it: the command
// is still answered, once.
func TestANewerScanBatchDoesNotAckAnOlderOnesCommands(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.UnknownConnectionGrace = 500 * time.Millisecond
	cfg.AckWait, cfg.RetryBudget, cfg.LeaseTTL = 3*time.Second, time.Second, 2*time.Second
	b.start(cfg)() // provisions the consumers, then stops

	b.publish(messages.NewCommand("held-by-the-dead", "/test", "nowhere", res1, messages.Data{Changes: messages.Changes{Name: ptr("x")}}), true)
	ctx := context.Background()
	catchAll, err := b.js.Consumer(ctx, b.streams.Commands, "syncworker-catchall")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := catchAll.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var dead []jetstream.Msg // held, never settled: its worker died
	for m := range batch.Messages() {
		dead = append(dead, m)
	}
	if len(dead) != 1 {
		t.Fatalf("the dead worker's pull got %d messages; want 1", len(dead))
	}

	b.publish(messages.NewCommand("after-it", "/test", "nowhere", res2, messages.Data{Changes: messages.Changes{Name: ptr("y")}}), true)
	b.start(cfg)
	for _, id := range []string{"after-it", "held-by-the-dead"} {
		r := b.result(id).Data
		if r.Status != messages.StatusRejected || r.Error == nil || r.Error.Code != messages.CodeUnknownConnection {
			t.Fatalf("%s: %s %+v", id, r.Status, r.Error)
		}
	}
	time.Sleep(time.Second)
	for _, id := range []string{"after-it", "held-by-the-dead"} {
		if got := len(b.waitResults(id, 1)); got != 1 {
			t.Errorf("%s has %d results; want 1", id, got)
		}
	}
}
