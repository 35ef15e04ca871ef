package worker_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
	"github.com/oauthsync/oauthsync/worker/dedup"
)

// storedAt returns the time JetStream stored the command with stream
// sequence seq in the bundle's commands stream.
func (b *bundle) storedAt(seq uint64) time.Time {
	b.t.Helper()
	s, err := b.js.Stream(context.Background(), b.streams.Commands)
	if err != nil {
		b.t.Fatal(err)
	}
	m, err := s.GetMsg(context.Background(), seq)
	if err != nil {
		b.t.Fatalf("command %d: %v", seq, err)
	}
	return m.Time
}

// orderKeys returns the order keys the store holds for res1.
func (b *bundle) orderKeys(res string) map[string]dedup.OrderKey {
	b.t.Helper()
	keys, err := b.store.OrderKeys(context.Background(), connName+"/"+res)
	if err != nil {
		b.t.Fatal(err)
	}
	return keys
}

// TestCommandWithoutSequenceIsOrderedByItsStoredTime is the dev sample's
// case (issue 10 item 2): after a command whose data.sequence is a Unix time
// in ms (an hour ago), a command without data.sequence on the same resource
// is newer, so it is applied, not superseded.
func TestCommandWithoutSequenceIsOrderedByItsStoredTime(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	b.publish(command("cmd-seq", res1, &hourAgo, messages.Changes{Name: ptr("with-sequence"), Active: ptr(false)}), true)
	if r := b.result("cmd-seq").Data; r.Status != messages.StatusApplied {
		t.Fatalf("with sequence: %s", r.Status)
	}
	b.publish(command("cmd-noseq", res1, nil, messages.Changes{Name: ptr("without-sequence")}), true)
	r := b.result("cmd-noseq").Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"name"}) || len(r.SkippedFields) != 0 {
		t.Fatalf("without sequence: %s applied=%v skipped=%v (keys %v), want applied [name]", r.Status, r.AppliedFields, r.SkippedFields, r.SkippedOrderKeys)
	}
	if app, _ := b.sim.App(res1); app.Name != "without-sequence" {
		t.Fatalf("provider name = %q", app.Name)
	}
	// The stored key is the command's stored time and its stream sequence.
	want := dedup.OrderKey{Key: b.storedAt(r.CommandStreamSequence).UnixMilli(), Seq: r.CommandStreamSequence}
	keys := b.orderKeys(res1)
	if keys["name"] != want || keys["active"] != (dedup.OrderKey{Key: hourAgo, Seq: r.CommandStreamSequence - 1}) {
		t.Fatalf("stored order keys %v, want name %v and active %d/%d", keys, want, hourAgo, r.CommandStreamSequence-1)
	}

	// A command with a key in the future still wins over one without; the
	// skipped field says which key won.
	future := time.Now().Add(time.Hour).UnixMilli()
	b.publish(command("cmd-future", res1, &future, messages.Changes{Name: ptr("future")}), true)
	b.result("cmd-future")
	b.publish(command("cmd-now", res1, nil, messages.Changes{Name: ptr("now"), Active: ptr(true)}), true)
	r = b.result("cmd-now").Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"active"}) || !slices.Equal(r.SkippedFields, []string{"name"}) ||
		!maps.Equal(r.SkippedOrderKeys, map[string]int64{"name": future}) {
		t.Fatalf("now: %s applied=%v skipped=%v keys=%v, want name skipped for %d", r.Status, r.AppliedFields, r.SkippedFields, r.SkippedOrderKeys, future)
	}
}

// TestEqualSequencesTheLaterStreamSequenceWins: two commands with the same
// data.sequence are ordered by their stream sequence, even when the earlier
// one is processed last (here: it failed, and its dead letter is replayed
// after the later one was applied). Every skipped field carries the key
// that won.
func TestEqualSequencesTheLaterStreamSequenceWins(t *testing.T) {
	b := newBundle(t)
	b.start(b.failingConfig())
	seq := time.Now().Add(-time.Minute).UnixMilli()

	b.failFor()
	b.publish(command("cmd-first", res1, &seq, messages.Changes{Name: ptr("first"), RedirectURI: ptr("https://first.example.com/cb")}), true)
	if r := b.result("cmd-first").Data; r.Status != messages.StatusFailed {
		t.Fatalf("first: %s, want failed", r.Status)
	}
	dl := b.deadLetters()[0]
	b.heal()

	b.publish(command("cmd-second", res1, &seq, messages.Changes{Name: ptr("second")}), true)
	if r := b.result("cmd-second").Data; r.Status != messages.StatusApplied {
		t.Fatalf("second: %s", r.Status)
	}

	token := replayToken(t, dl)
	b.replay(dl, "cmd-first", token, true)
	ev, _ := b.resultWithID("cmd-first", messages.ReplayResultEventID("cmd-first", token))
	r := ev.Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"redirectUri"}) || !slices.Equal(r.SkippedFields, []string{"name"}) ||
		!maps.Equal(r.SkippedOrderKeys, map[string]int64{"name": seq}) {
		t.Fatalf("first, replayed: %s applied=%v skipped=%v keys=%v; want redirectUri applied, name skipped for key %d",
			r.Status, r.AppliedFields, r.SkippedFields, r.SkippedOrderKeys, seq)
	}
	if app, _ := b.sim.App(res1); app.Name != "second" || app.RedirectURI != "https://first.example.com/cb" {
		t.Fatalf("provider name=%q redirect=%q; the earlier stream sequence overwrote the later", app.Name, app.RedirectURI)
	}

	// Superseded as a whole: every field skipped, each with its key.
	b.publish(command("cmd-older", res1, ptr(seq-1), messages.Changes{Name: ptr("older"), RedirectURI: ptr("https://older.example.com/cb")}), true)
	r = b.result("cmd-older").Data
	if r.Status != messages.StatusSuperseded || !maps.Equal(r.SkippedOrderKeys, map[string]int64{"name": seq, "redirectUri": seq}) {
		t.Fatalf("older: %s skipped=%v keys=%v, want superseded with both keys %d", r.Status, r.SkippedFields, r.SkippedOrderKeys, seq)
	}
}

// TestForgedReplayHeadersPinNothing (issue 9 item 9): an ordinary command
// carrying Sync-Replay and a huge Sync-Stream-Sequence is no replay: its
// order key is its own stored time, its result an ordinary one, and a
// later command writes the field.
func TestForgedReplayHeadersPinNothing(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	b.publish(command("cmd-forged", res1, nil, messages.Changes{Name: ptr("forged")}), true,
		worker.HeaderReplay, "1", worker.HeaderStreamSequence, "18446744073709551615",
		worker.HeaderStreamTime, "2999-01-01T00:00:00Z")
	ev := b.result("cmd-forged")
	r := ev.Data
	if r.Status != messages.StatusApplied || ev.ID != messages.ResultEventID("cmd-forged") {
		t.Fatalf("forged: %s %s, want applied with the ordinary result id", ev.ID, r.Status)
	}
	at := b.storedAt(r.CommandStreamSequence)
	if r.CommandStreamSequence > 1000 {
		t.Fatalf("commandStreamSequence = %d: the forged header was taken", r.CommandStreamSequence)
	}
	if k := b.orderKeys(res1)["name"]; k != (dedup.OrderKey{Key: at.UnixMilli(), Seq: r.CommandStreamSequence}) {
		t.Fatalf("stored key of name = %v, want its own stored time %d/%d", k, at.UnixMilli(), r.CommandStreamSequence)
	}

	b.publish(command("cmd-after", res1, nil, messages.Changes{Name: ptr("after")}), true)
	if r := b.result("cmd-after").Data; r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"name"}) {
		t.Fatalf("after: %s applied=%v skipped=%v keys=%v; the forged header pinned the field", r.Status, r.AppliedFields, r.SkippedFields, r.SkippedOrderKeys)
	}
	if app, _ := b.sim.App(res1); app.Name != "after" {
		t.Fatalf("provider name = %q, want after", app.Name)
	}
}

// TestReplayTakesItsPlaceFromTheFailedRecord: a real replay whose headers
// were tampered with (a huge Sync-Stream-Sequence, a far future
// Sync-Stream-Time) still ranks as the original command: the worker takes
// the place from the failed record it stored, not from the headers.
func TestReplayTakesItsPlaceFromTheFailedRecord(t *testing.T) {
	b := newBundle(t)
	b.start(b.failingConfig())
	b.failFor()
	b.publish(command("cmd-orig", res1, nil, messages.Changes{Name: ptr("orig"), RedirectURI: ptr("https://orig.example.com/cb")}), true)
	failed := b.result("cmd-orig").Data
	dl := b.deadLetters()[0]
	b.heal()
	// The dead letter says where and when the original was stored.
	at := b.storedAt(failed.CommandStreamSequence)
	if got := dl.Headers().Get(worker.HeaderStreamTime); got != at.UTC().Format(time.RFC3339Nano) {
		t.Fatalf("dead letter %s = %q, want the original's stored time %s", worker.HeaderStreamTime, got, at.UTC().Format(time.RFC3339Nano))
	}

	b.publish(command("cmd-later", res1, nil, messages.Changes{Name: ptr("later")}), true)
	later := b.result("cmd-later").Data

	token := replayToken(t, dl)
	msg := nats.NewMsg(dl.Headers().Get(worker.HeaderSubject))
	for k, v := range dl.Headers() {
		msg.Header[k] = slices.Clone(v)
	}
	msg.Header.Del(jetstream.MsgIDHeader)
	msg.Header.Set(worker.HeaderReplay, token)
	msg.Header.Set(worker.HeaderStreamSequence, "18446744073709551615")
	msg.Header.Set(worker.HeaderStreamTime, "2999-01-01T00:00:00Z")
	msg.Data = dl.Data()
	if _, err := b.js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	ev, _ := b.resultWithID("cmd-orig", messages.ReplayResultEventID("cmd-orig", token))
	r := ev.Data
	laterKey := b.storedAt(later.CommandStreamSequence).UnixMilli()
	if r.Status != messages.StatusApplied || !slices.Equal(r.SkippedFields, []string{"name"}) || r.SkippedOrderKeys["name"] != laterKey ||
		r.CommandStreamSequence != failed.CommandStreamSequence {
		t.Fatalf("replay: %s applied=%v skipped=%v keys=%v seq=%d; want name skipped for %d, seq %d",
			r.Status, r.AppliedFields, r.SkippedFields, r.SkippedOrderKeys, r.CommandStreamSequence, laterKey, failed.CommandStreamSequence)
	}
	keys := b.orderKeys(res1)
	if keys["redirectUri"] != (dedup.OrderKey{Key: at.UnixMilli(), Seq: failed.CommandStreamSequence}) {
		t.Fatalf("redirectUri key %v, want the original's %d/%d", keys["redirectUri"], at.UnixMilli(), failed.CommandStreamSequence)
	}
	if app, _ := b.sim.App(res1); app.Name != "later" {
		t.Fatalf("provider name = %q, want later", app.Name)
	}
}

// TestReplayHandedBackStaysAReplay: a replay that fails transiently and is
// handed back puts the failed record back, so its redelivery is still the
// replay: its result has the replay's id, and it keeps the original's place
// in the order.
func TestReplayHandedBackStaysAReplay(t *testing.T) {
	b := newBundle(t)
	stop := b.start(b.failingConfig())
	b.failFor()
	b.publish(command("cmd-old", res1, nil, messages.Changes{Name: ptr("old"), RedirectURI: ptr("https://old-cmd.example.com/cb")}), true)
	if r := b.result("cmd-old").Data; r.Status != messages.StatusFailed {
		t.Fatalf("old: %s, want failed", r.Status)
	}
	dl := b.deadLetters()[0]
	b.heal()
	b.publish(command("cmd-new", res1, nil, messages.Changes{Name: ptr("new")}), true)
	b.result("cmd-new")
	stop()

	// A worker with a delivery budget to spare: the replay's first delivery
	// fails transiently and is handed back.
	cfg := b.failingConfig()
	cfg.MaxDeliver = 5
	b.start(cfg)
	b.failFor()
	token := replayToken(t, dl)
	b.replay(dl, "cmd-old", token, true)
	deadline := time.Now().Add(30 * time.Second)
	for !slices.ContainsFunc(b.spans.GetSpans(), func(s tracetest.SpanStub) bool { return hasEvent(s, "handed_back") }) {
		if time.Now().After(deadline) {
			t.Fatal("the replay was not handed back within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.heal()

	ev, _ := b.resultWithID("cmd-old", messages.ReplayResultEventID("cmd-old", token))
	r := ev.Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.SkippedFields, []string{"name"}) || r.Deliveries < 2 {
		t.Fatalf("replay: %s applied=%v skipped=%v deliveries=%d; want applied, name skipped (the original's place), redelivered",
			r.Status, r.AppliedFields, r.SkippedFields, r.Deliveries)
	}
	// (heal re-seeded the app: the replay's one write must not carry its
	// stale name.)
	if p := b.posts(); len(p) != 1 || p[0]["name"] == "old" || p[0]["redirectUri"] != "https://old-cmd.example.com/cb" {
		t.Fatalf("provider writes after the hand-back: %v; want one, with the redirect and without the stale name", p)
	}
}

// TestALateCopyIsOrderedAsTheFirstCopy (issue 9, the chaos test's late
// duplicates): a worker fetched a command's first copy, began it and was
// killed; before that copy is redelivered, a newer command on the same
// field is applied and the publisher's late copy of the first command
// (published again after the duplicate window: a second copy in the
// stream) arrives. The late copy takes the first copy's place in the
// order: it is superseded, the provider never receives its value, and the
// first copy's redelivery answers with the same result.
func TestALateCopyIsOrderedAsTheFirstCopy(t *testing.T) {
	b := newBundle(t)
	cfg := b.provisioned()

	first := command("cmd-first", res1, nil, messages.Changes{Name: ptr("first")})
	b.publish(first, true)
	meta := b.killedWhileHolding(first, 0)

	newer := command("cmd-newer", res1, nil, messages.Changes{Name: ptr("newer")})
	b.publish(newer, true)
	b.start(cfg)
	if r := b.result(newer.ID).Data; r.Status != messages.StatusApplied {
		t.Fatalf("newer: %s", r.Status)
	}
	// The late copy is stored after the newer command, and comes after
	// it: by its own place it would win.
	b.publish(first, false)

	r := b.result(first.ID).Data
	newerKey := b.orderKeys(res1)["name"]
	if r.Status != messages.StatusSuperseded || r.CommandStreamSequence != meta.Sequence.Stream ||
		!maps.Equal(r.SkippedOrderKeys, map[string]int64{"name": newerKey.Key}) {
		t.Fatalf("late copy: %s (stream sequence %d, skipped %v), want superseded at the first copy's sequence %d by the newer command's key %v",
			r.Status, r.CommandStreamSequence, r.SkippedOrderKeys, meta.Sequence.Stream, newerKey)
	}
	// The first copy comes back after its ack wait: the same result again.
	msgs := b.waitResults(first.ID, 2)
	for _, m := range msgs {
		ev, err := messages.DecodeResultEvent(m.Data)
		if err != nil || ev.ID != messages.ResultEventID(first.ID) || ev.Data.Status != messages.StatusSuperseded {
			t.Fatalf("result of the first copy: %+v, %v; want the stored superseded result again", ev, err)
		}
	}
	for _, p := range b.posts() {
		if p["name"] == "first" {
			t.Fatalf("the provider received the late copy's value: %v", b.posts())
		}
	}
	if app, _ := b.sim.App(res1); app.Name != "newer" {
		t.Fatalf("provider name = %q, want the newer command's", app.Name)
	}
}

// provisioned starts and stops a worker once, so that the streams and
// the connection's consumer exist with no worker running, and returns its
// config: an ack wait of 2s, so that a held message of a "killed" worker
// comes back within a test.
func (b *bundle) provisioned() worker.Config {
	b.t.Helper()
	cfg := b.config()
	cfg.AckWait, cfg.RetryBudget = 2*time.Second, time.Second
	b.start(cfg)()
	return cfg
}

// killedWhileHolding plays a worker that fetched cmd's copy from the
// connection's consumer (provisioned, no worker running), began it
// (holding the resource for hold beyond its lease), and was killed holding
// it: the copy is redelivered after the ack wait. It returns the held
// copy's metadata.
func (b *bundle) killedWhileHolding(cmd *messages.Command, hold time.Duration) *jetstream.MsgMetadata {
	b.t.Helper()
	cons, err := b.js.Consumer(context.Background(), b.streams.Commands, "syncworker_"+connName)
	if err != nil {
		b.t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		b.t.Fatal(err)
	}
	var held jetstream.Msg
	for m := range batch.Messages() {
		held = m
	}
	if held == nil {
		b.t.Fatalf("%s was not delivered: %v", cmd.ID, batch.Error())
	}
	meta, err := held.Metadata()
	if err != nil {
		b.t.Fatal(err)
	}
	hash, err := cmd.PayloadDigest(testDigestKey)
	if err != nil {
		b.t.Fatal(err)
	}
	if br, err := b.store.Begin(context.Background(), dedup.BeginRequest{CommandID: cmd.ID, PayloadHash: hash, Owner: "killed-worker",
		LeaseKey: connName + "/" + cmd.Resource, Fields: []string{"name"}, TTL: 50 * time.Millisecond,
		Origin: dedup.Origin{Seq: meta.Sequence.Stream, Time: meta.Timestamp}, SightingTTL: time.Hour, Hold: hold}); err != nil || br.State != dedup.Claimed {
		b.t.Fatalf("the killed worker's Begin of %s: %v, %v", cmd.ID, br.State, err)
	}
	return meta
}

// TestAReusedIDIsRefusedWhileItsFirstPayloadWaits (issue 9, the chaos
// test's reused ids): the same id with another payload, published after
// the duplicate window while the first payload's copy waits for its
// redelivery (its worker was killed), is refused with an id_conflict and
// never written; the first payload is applied when it comes back.
func TestAReusedIDIsRefusedWhileItsFirstPayloadWaits(t *testing.T) {
	b := newBundle(t)
	cfg := b.provisioned()

	first := command("cmd-reused", res1, nil, messages.Changes{Name: ptr("first-payload")})
	b.publish(first, true)
	b.killedWhileHolding(first, 0)
	b.publish(command("cmd-reused", res1, nil, messages.Changes{Name: ptr("second-payload")}), false)
	b.start(cfg)

	var conflict, outcome *messages.ResultEvent
	for n := 1; conflict == nil || outcome == nil; n++ {
		m := b.waitResults(first.ID, n)[n-1]
		ev, err := messages.DecodeResultEvent(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID == messages.ResultEventID(first.ID) {
			outcome = ev
		} else {
			conflict = ev
		}
	}
	if conflict.Data.Status != messages.StatusRejected || conflict.Data.Error == nil || conflict.Data.Error.Code != messages.CodeIDConflict {
		t.Fatalf("reused id: %+v, want rejected id_conflict", conflict.Data)
	}
	if outcome.Data.Status != messages.StatusApplied {
		t.Fatalf("first payload: %s, want applied", outcome.Data.Status)
	}
	for _, p := range b.posts() {
		if p["name"] == "second-payload" {
			t.Fatalf("the provider received the reused id's payload: %v", b.posts())
		}
	}
	if app, _ := b.sim.App(res1); app.Name != "first-payload" {
		t.Fatalf("provider name = %q, want the first payload's", app.Name)
	}
}

// TestAKilledWorkersWriteIsRecordedBeforeTheResourceMovesOn (issue 9 item
// 1, §5.1; the chaos test's "written, answered 200, result superseded"): a
// worker wrote a command's values, the provider accepted them, and the
// worker was killed before it recorded the outcome. A newer command on the
// same resource waits until the command's redelivery has recorded it: the
// command is applied (its values were found in place), the newer one
// applied after it, and the provider ends with the newer value.
func TestAKilledWorkersWriteIsRecordedBeforeTheResourceMovesOn(t *testing.T) {
	b := newBundle(t)
	cfg := b.provisioned()

	first := command("cmd-written", res1, nil, messages.Changes{Name: ptr("written-then-killed")})
	b.publish(first, true)
	b.killedWhileHolding(first, cfg.AckWait+cfg.LeaseTTL)
	// The killed worker's write had landed.
	if _, err := b.adapter(canaryAuthToken).Apply(context.Background(), adapters.Update{Resource: res1, Changes: first.Data.Changes}); err != nil {
		t.Fatal(err)
	}
	newer := command("cmd-newer", res1, nil, messages.Changes{Name: ptr("newer")})
	b.publish(newer, true)
	b.start(cfg)

	if r := b.result(newer.ID).Data; r.Status != messages.StatusApplied {
		t.Fatalf("newer: %s", r.Status)
	}
	r := b.result(first.ID).Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"name"}) {
		t.Fatalf("the killed worker's command: %s applied=%v skipped=%v; want applied: its write landed", r.Status, r.AppliedFields, r.SkippedFields)
	}
	var names []any
	for _, p := range b.posts() {
		names = append(names, p["name"])
	}
	if !slices.Equal(names, []any{"written-then-killed", "newer"}) {
		t.Fatalf("the provider received names %v, want the killed worker's write, then the newer command's", names)
	}
	if app, _ := b.sim.App(res1); app.Name != "newer" {
		t.Fatalf("provider name = %q, want the newer command's", app.Name)
	}
}

// TestAHeldCommandIsSightedBeforeItBegins (issue 9, the chaos test's
// reused ids and late copies whose first copy a killed worker held but had
// not begun): a command that waits for a free goroutine is recorded by the
// store at once, so that a reused id (another payload under its id) is
// refused even before the command begins.
func TestAHeldCommandIsSightedBeforeItBegins(t *testing.T) {
	b := newBundle(t)
	cfg := b.provisioned()
	cfg.Connections[0].MaxInFlight = 1
	b.sim.Fail(rocketchatsim.Fault{Path: rocketchatsim.PathGet, Delay: 3 * time.Second}) // the first command is slow
	b.publish(command("cmd-slow", res1, nil, messages.Changes{Name: ptr("slow")}), true)
	waiting := command("cmd-waiting", res2, nil, messages.Changes{Name: ptr("waiting")})
	b.publish(waiting, true)
	b.start(cfg)

	// The store has the waiting command's sighting while the slow one
	// still holds the only goroutine.
	rc := testenv.Redis(t)
	deadline := time.Now().Add(2 * time.Second)
	for rc.Exists(context.Background(), b.storePrefix+":seen:"+waiting.ID).Val() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s was not sighted while it waited for a goroutine", waiting.ID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.mu.Lock()
	_, slowDone := b.results["cmd-slow"]
	b.mu.Unlock()
	if slowDone {
		t.Fatal("the slow command finished before the test looked: the other one did not wait")
	}
	br, err := b.store.Begin(context.Background(), dedup.BeginRequest{CommandID: waiting.ID, PayloadHash: "another-payload", Owner: "a-reused-id",
		TTL: time.Second, SightingTTL: time.Hour})
	if err != nil || br.State != dedup.Conflict {
		t.Fatalf("Begin of a reused id while %s waits: %v, %v; want conflict", waiting.ID, br.State, err)
	}
	if r := b.result(waiting.ID).Data; r.Status != messages.StatusApplied {
		t.Fatalf("the waiting command: %s, want applied", r.Status)
	}
}
