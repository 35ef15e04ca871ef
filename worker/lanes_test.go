package worker_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/internal/migrate"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
	"github.com/oauthsync/oauthsync/worker/flow"
)

var (
	lanesLines = flag.Int("lanes.lines", 20000, "the migration's size in TestInteractiveCommandsStayFastDuringAMigration")
	// lanesSingle publishes the migration on the interactive subjects, as
	// syncctl migrate did before the bulk lane: the test then shows what
	// an interactive command waited behind a migration.
	lanesSingle = flag.Bool("lanes.single", false, "publish the migration on the interactive subjects (what the test guards against)")
)

// TestInteractiveCommandsStayFastDuringAMigration runs a migration of
// 20,000 lines (syncctl migrate's own publisher, on three workers) while an
// upstream service publishes one command every 100ms: each of those is
// answered within 2s at p99, and the migration still finishes.
func TestInteractiveCommandsStayFastDuringAMigration(t *testing.T) {
	const bulkResources, interactiveResources = 200, 10
	b, _, ids := flowBundle(t, 0, bulkResources+interactiveResources)
	b.fleetOf(3, func(cfg *worker.Config) { cfg.Connections[0].MaxInFlight = 8 })

	lines := make([]commandfile.Line, *lanesLines)
	for i := range lines {
		cmd := command(fmt.Sprintf("bulk-%d", i), ids[i%bulkResources], nil, messages.Changes{Name: ptr(fmt.Sprintf("m%d", i))})
		cmd.Batch = "lanes"
		body, err := cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = commandfile.Line{Number: i + 1, Command: cmd, Body: body}
	}

	// Interactive results, by arrival: what the upstream service waits for.
	var (
		mu      sync.Mutex
		arrived = map[string]time.Time{}
	)
	sub, err := b.nc.Subscribe(b.subjects.Results(), func(m *nats.Msg) {
		now := time.Now()
		var ev struct {
			Data struct {
				CommandID string `json:"commandId"`
			} `json:"data"`
		}
		if json.Unmarshal(m.Data, &ev) == nil && strings.HasPrefix(ev.Data.CommandID, "int-") {
			mu.Lock()
			if _, seen := arrived[ev.Data.CommandID]; !seen {
				arrived[ev.Data.CommandID] = now
			}
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	type outcome struct {
		summary *migrate.Summary
		err     error
	}
	migrated := make(chan outcome, 1)
	began := time.Now()
	if *lanesSingle {
		go func() { migrated <- outcome{err: b.publishInteractive(ctx, lines)} }()
	} else {
		go func() {
			s, err := migrate.Run(ctx, migrate.Config{JetStream: b.js, Subjects: b.subjects, ResultsStream: b.streams.Results, Wait: true}, "lanes", lines)
			migrated <- outcome{s, err}
		}()
	}

	// One interactive command every 100ms until the migration's last
	// result.
	sent := map[string]time.Time{}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var done outcome
publishing:
	for i := 0; ; i++ {
		select {
		case done = <-migrated:
			break publishing
		case <-tick.C:
		}
		id := fmt.Sprintf("int-%d", i)
		sent[id] = time.Now()
		b.publish(command(id, ids[bulkResources+i%interactiveResources], nil, messages.Changes{Name: ptr(id)}), true)
	}
	migration := time.Since(began)
	if done.err != nil {
		t.Fatalf("migration: %v", done.err)
	}
	if s := done.summary; s != nil {
		if n := s.Counts[string(messages.StatusApplied)]; n != len(lines) {
			t.Errorf("migration: %d of %d lines applied: %v", n, len(lines), s.Counts)
		}
	}
	for id := range sent {
		b.result(id) // every interactive command is answered
	}

	mu.Lock()
	var waits []time.Duration
	for id, at := range sent {
		waits = append(waits, arrived[id].Sub(at))
	}
	mu.Unlock()
	slices.Sort(waits)
	p50, p99 := waits[len(waits)/2], waits[len(waits)*99/100]
	t.Logf("migration of %d lines took %v; %d interactive commands during it: publish to result p50 %v, p99 %v, max %v",
		len(lines), migration.Round(time.Millisecond), len(waits), p50.Round(time.Millisecond), p99.Round(time.Millisecond), waits[len(waits)-1].Round(time.Millisecond))
	if len(waits) < 50 {
		t.Fatalf("only %d interactive commands were published during the migration; it ran %v", len(waits), migration)
	}
	if p99 > 2*time.Second {
		t.Errorf("an interactive command waited %v for its result at p99 during the migration; want under 2s", p99)
	}
}

// publishInteractive publishes lines on the interactive subjects and waits
// for their results.
func (b *bundle) publishInteractive(ctx context.Context, lines []commandfile.Line) error {
	var acks []jetstream.PubAckFuture
	for i, l := range lines {
		if i%1000 == 0 {
			select {
			case <-b.js.PublishAsyncComplete():
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		msg := nats.NewMsg(b.subjects.Command(l.Command.Connection, l.Command.Resource))
		msg.Header.Set("Content-Type", messages.ContentType)
		msg.Data = l.Body
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithMsgID(l.Command.ID))
		if err != nil {
			return err
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for b.resultCount("bulk-") < len(lines) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// renames is n commands "bulk-<i>" that set the name "m<i>", on the
// resources in turn.
func renames(n int, resources []string) []*messages.Command {
	cmds := make([]*messages.Command, n)
	for i := range cmds {
		cmds[i] = command(fmt.Sprintf("bulk-%d", i), resources[i%len(resources)], nil, messages.Changes{Name: ptr(fmt.Sprintf("m%d", i))})
	}
	return cmds
}

// publishBulk publishes cmds on the bulk subjects, in order, and waits for
// JetStream to have stored them all.
func (b *bundle) publishBulk(ctx context.Context, cmds []*messages.Command) {
	b.t.Helper()
	var acks []jetstream.PubAckFuture
	for _, cmd := range cmds {
		body, err := cmd.Encode()
		if err != nil {
			b.t.Fatal(err)
		}
		msg := nats.NewMsg(b.subjects.BulkCommand(cmd.Connection, cmd.Resource))
		msg.Header.Set("Content-Type", messages.ContentType)
		msg.Data = body
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithMsgID(cmd.ID))
		if err != nil {
			b.t.Fatal(err)
		}
		acks = append(acks, f)
	}
	for _, f := range acks {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.t.Fatal(err)
		case <-ctx.Done():
			b.t.Fatal(ctx.Err())
		}
	}
}

// resultCount is how many commands whose id starts with prefix have a
// result.
func (b *bundle) resultCount(prefix string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for id := range b.results {
		if strings.HasPrefix(id, prefix) {
			n++
		}
	}
	return n
}

// TestInteractiveCommandsGoFirstUnderARateLimit: the permits of a
// rate-limited connection are the scarce part. Three workers share 20
// requests a second (10 Rocket.Chat commands) while a backlog of bulk
// commands waits; one interactive command every 500ms still gets a permit
// first, within 2s at p99, and the bulk lane keeps going.
func TestInteractiveCommandsGoFirstUnderARateLimit(t *testing.T) {
	const bulkResources, interactiveResources, bulkCommands = 50, 5, 1000
	b, tap, ids := flowBundle(t, 0, bulkResources+interactiveResources)
	b.fleetOf(3, func(cfg *worker.Config) {
		cfg.Connections[0].MaxInFlight = 8
		cfg.Connections[0].RateLimit = flow.Limit{PerSecond: 20, Burst: 4}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.publishBulk(ctx, renames(bulkCommands, ids[:bulkResources]))
	time.Sleep(2 * time.Second) // the bulk lane takes every permit

	const interactive = 40 // 20s
	waits := make([]time.Duration, interactive)
	var wg sync.WaitGroup
	for i := range interactive {
		id := fmt.Sprintf("int-%d", i)
		sent := time.Now()
		b.publish(command(id, ids[bulkResources+i%interactiveResources], nil, messages.Changes{Name: ptr(id)}), true)
		wg.Go(func() {
			if r := b.result(id).Data; r.Status != messages.StatusApplied {
				t.Errorf("%s: %s %+v", id, r.Status, r.Error)
			}
			waits[i] = time.Since(sent)
		})
		time.Sleep(500 * time.Millisecond)
	}
	wg.Wait()
	bulkDone := b.resultCount("bulk-")
	slices.Sort(waits)
	total, limited, _ := tap.counts()
	t.Logf("%d interactive commands beside %d bulk ones at 20 requests/s: p50 %v, p99 %v, max %v; %d bulk commands done meanwhile; %d requests, %d answered 429",
		interactive, bulkCommands, waits[interactive/2].Round(time.Millisecond), waits[interactive*99/100].Round(time.Millisecond),
		waits[interactive-1].Round(time.Millisecond), bulkDone, total, limited)
	if p99 := waits[interactive*99/100]; p99 > 2*time.Second {
		t.Errorf("an interactive command waited %v for its result at p99 beside the bulk lane; want under 2s", p99)
	}
	if bulkDone < 50 {
		t.Errorf("only %d bulk commands were done in 20s beside the interactive ones; the bulk lane must keep a share", bulkDone)
	}
}
