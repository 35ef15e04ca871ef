package worker_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
)

// failingConfig is a worker configuration whose commands are dead-lettered
// after one delivery of transient failures.
func (b *bundle) failingConfig() worker.Config {
	cfg := b.config()
	cfg.MaxDeliver = 1
	cfg.RetryBudget = 200 * time.Millisecond
	return cfg
}

// failFor makes the provider fail transiently (503) until healed.
func (b *bundle) failFor() {
	for range 50 {
		b.sim.Fail(rocketchatsim.Fault{Status: 503})
	}
}

// heal forgets the queued faults and the recorded requests, and seeds the
// apps again as newBundle did, plus the given changes.
func (b *bundle) heal(apps ...rocketchatsim.App) {
	b.sim.Reset()
	for _, id := range []string{res1, res2} {
		b.sim.Seed(rocketchatsim.App{ID: id, Name: "app-" + id[len(id)-2:], Active: true,
			RedirectURI: "https://old.example.com/cb", ClientID: "client" + id[len(id)-6:], ClientSecret: canaryAppSecret})
	}
	for _, a := range apps {
		b.sim.Seed(a)
	}
}

// deadLetters returns every message of the dead-letter stream, oldest first.
func (b *bundle) deadLetters() []jetstream.Msg {
	b.t.Helper()
	n := b.streamCount(b.streams.DeadLetter, b.subjects.DeadLetters())
	c, err := b.js.OrderedConsumer(context.Background(), b.streams.DeadLetter, jetstream.OrderedConsumerConfig{})
	if err != nil {
		b.t.Fatal(err)
	}
	var out []jetstream.Msg
	for range n {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			b.t.Fatalf("dead letter %d of %d: %v", len(out)+1, n, err)
		}
		out = append(out, m)
	}
	return out
}

// replayToken is the token an operator's replay of dl carries: dl's stream
// sequence in the dead-letter stream.
func replayToken(t *testing.T, dl jetstream.Msg) string {
	t.Helper()
	meta, err := dl.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatUint(meta.Sequence.Stream, 10)
}

// replay publishes dl again on the commands subject it came from, as
// `syncctl dlq replay` does: its body verbatim, its headers, Sync-Replay
// set to token and, when msgID, Nats-Msg-Id <command id>.replay-<token>.
func (b *bundle) replay(dl jetstream.Msg, commandID, token string, msgID bool) {
	b.t.Helper()
	msg := nats.NewMsg(dl.Headers().Get(worker.HeaderSubject))
	for k, v := range dl.Headers() {
		msg.Header[k] = slices.Clone(v)
	}
	msg.Header.Del(jetstream.MsgIDHeader)
	msg.Header.Set(worker.HeaderReplay, token)
	msg.Data = dl.Data()
	var opts []jetstream.PublishOpt
	if msgID {
		opts = append(opts, jetstream.WithMsgID(commandID+".replay-"+token))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.js.PublishMsg(ctx, msg, opts...); err != nil {
		b.t.Fatal(err)
	}
}

// resultWithID waits for the result event of commandID whose event id is
// eventID, and returns it with its message.
func (b *bundle) resultWithID(commandID, eventID string) (*messages.ResultEvent, *nats.Msg) {
	b.t.Helper()
	for n := 1; ; n++ {
		msgs := b.waitResults(commandID, n)
		m := msgs[n-1]
		ev, err := messages.DecodeResultEvent(m.Data)
		if err != nil {
			b.t.Fatalf("result of %s does not decode: %v", commandID, err)
		}
		if ev.ID == eventID {
			return ev, m
		}
	}
}

// resultEvents decodes every result received for commandID.
func (b *bundle) resultEvents(commandID string) []*messages.ResultEvent {
	b.t.Helper()
	b.mu.Lock()
	msgs := slices.Clone(b.results[commandID])
	b.mu.Unlock()
	var out []*messages.ResultEvent
	for _, m := range msgs {
		ev, err := messages.DecodeResultEvent(m.Data)
		if err != nil {
			b.t.Fatalf("result of %s does not decode: %v", commandID, err)
		}
		out = append(out, ev)
	}
	return out
}

func TestReplayedDeadLetterIsAppliedOnce(t *testing.T) {
	b := newBundle(t)
	b.start(b.failingConfig())
	const id = "cmd-replay"
	cmd := command(id, res1, nil, messages.Changes{Name: ptr("replayed")})

	// Fails for good: dead letter and failed result.
	b.failFor()
	b.publish(cmd, true)
	failed := b.result(id)
	if failed.Data.Status != messages.StatusFailed || failed.ID != messages.ResultEventID(id) {
		t.Fatalf("first result = %s %s, want failed %s", failed.ID, failed.Data.Status, messages.ResultEventID(id))
	}
	dls := b.deadLetters()
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	dl := dls[0]
	origSeq := dl.Headers().Get(worker.HeaderStreamSequence)
	if origSeq != strconv.FormatUint(failed.Data.CommandStreamSequence, 10) {
		t.Fatalf("dead letter %s = %q, failed result's commandStreamSequence %d", worker.HeaderStreamSequence, origSeq, failed.Data.CommandStreamSequence)
	}
	b.heal()

	// (b) A plain duplicate of the failed command is no replay: the stored
	// failed result, republished, and no write.
	b.publish(cmd, false)
	msgs := b.waitResults(id, 2)
	if !slices.Equal(msgs[1].Data, msgs[0].Data) {
		t.Fatalf("a plain duplicate got %s, want the stored failed result %s", msgs[1].Data, msgs[0].Data)
	}
	waitConsumed(t, b, "syncworker_"+connName, 2)
	if p := b.posts(); len(p) != 0 {
		t.Fatalf("a plain duplicate of a failed command reached the provider: %v", p)
	}

	// (a) The replay is applied, with a result of its own.
	token := replayToken(t, dl)
	b.replay(dl, id, token, true)
	ev, m := b.resultWithID(id, messages.ReplayResultEventID(id, token))
	r := ev.Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"name"}) || r.Error != nil {
		t.Fatalf("replay result = %s applied=%v error=%+v, want applied [name]", r.Status, r.AppliedFields, r.Error)
	}
	if got := m.Header.Get("Nats-Msg-Id"); got != ev.ID {
		t.Fatalf("replay result Nats-Msg-Id = %q, want %q", got, ev.ID)
	}
	if r.CommandStreamSequence != failed.Data.CommandStreamSequence {
		t.Fatalf("replay result commandStreamSequence = %d, want the original command's %d", r.CommandStreamSequence, failed.Data.CommandStreamSequence)
	}
	if p := b.posts(); len(p) != 1 || p[0]["name"] != "replayed" {
		t.Fatalf("provider received %v, want exactly one write", p)
	}
	// Both results are in the stream: the replay's was not dropped as a
	// duplicate of the failed one.
	if n := b.streamCount(b.streams.Results, b.subjects.Result(connName, res1)); n != 2 {
		t.Fatalf("results stream holds %d results, want 2 (failed, then the replay's)", n)
	}

	// Replaying the same dead letter again (past JetStream's window: no
	// Nats-Msg-Id), and with another token: duplicates, no second write.
	before := len(b.resultEvents(id))
	b.replay(dl, id, token, false)
	b.replay(dl, id, "999999", true)
	b.waitResults(id, before+2)
	waitConsumed(t, b, "syncworker_"+connName, 5)
	evs := b.resultEvents(id)[before:]
	if len(evs) != 2 {
		t.Fatalf("%d results for two more replays, want 2", len(evs))
	}
	for _, e := range evs {
		if e.ID != messages.ReplayResultEventID(id, token) || e.Data.Status != messages.StatusApplied || !e.Data.FinishedAt.Equal(r.FinishedAt) {
			t.Fatalf("a replay of an applied command got %s %s, want the stored applied result %s", e.ID, e.Data.Status, ev.ID)
		}
	}
	if p := b.posts(); len(p) != 1 {
		t.Fatalf("provider received %d writes after three replays, want 1", len(p))
	}
	if n := b.streamCount(b.streams.DeadLetter, b.subjects.DeadLetters()); n != 1 {
		t.Fatalf("%d dead letters, want 1", n)
	}
}

func TestReplayThatFailsAgainIsDeadLetteredAgain(t *testing.T) {
	b := newBundle(t)
	b.start(b.failingConfig())
	const id = "cmd-replay-twice"
	b.failFor()
	b.publish(command(id, res1, nil, messages.Changes{Name: ptr("second-time-lucky")}), true)
	first := b.result(id)
	dl1 := b.deadLetters()[0]
	tok1 := replayToken(t, dl1)

	// The provider still fails: the replay fails, and is dead-lettered
	// again with headers of its own.
	b.failFor()
	b.replay(dl1, id, tok1, true)
	ev, _ := b.resultWithID(id, messages.ReplayResultEventID(id, tok1))
	if ev.Data.Status != messages.StatusFailed {
		t.Fatalf("replay result %s, want failed", ev.Data.Status)
	}
	dls := b.deadLetters()
	if len(dls) != 2 {
		t.Fatalf("%d dead letters, want 2 (the second not dropped as a duplicate)", len(dls))
	}
	dl2 := dls[1]
	h := dl2.Headers()
	if got := h.Get(jetstream.MsgIDHeader); got != "deadletter-"+id+"-replay-"+tok1 {
		t.Fatalf("second dead letter Nats-Msg-Id = %q", got)
	}
	if v, ok := h[worker.HeaderReplay]; ok {
		t.Fatalf("second dead letter keeps %s: %v", worker.HeaderReplay, v)
	}
	if got, want := h.Get(worker.HeaderStreamSequence), strconv.FormatUint(first.Data.CommandStreamSequence, 10); got != want {
		t.Fatalf("second dead letter %s = %q, want the original command's %s", worker.HeaderStreamSequence, got, want)
	}
	if h.Get(worker.HeaderErrorCode) != string(messages.CodeProviderUnavailable) || h.Get(worker.HeaderDeliveries) != "1" || h.Get(worker.HeaderAttempts) == "" {
		t.Fatalf("second dead letter headers %v", h)
	}
	if string(dl2.Data()) != string(dl1.Data()) {
		t.Fatalf("second dead letter body is not the command verbatim")
	}
	b.heal()

	// The first dead letter replayed again: its replay already ended
	// (failed), so the stored result answers and nothing is written.
	before := len(b.resultEvents(id))
	b.replay(dl1, id, tok1, false)
	b.waitResults(id, before+1)
	waitConsumed(t, b, "syncworker_"+connName, 3)
	evs := b.resultEvents(id)[before:]
	if len(evs) != 1 || evs[0].ID != ev.ID || evs[0].Data.Status != messages.StatusFailed {
		t.Fatalf("the same dead letter replayed twice got %d results %+v, want its stored failed result", len(evs), evs)
	}
	if p := b.posts(); len(p) != 0 {
		t.Fatalf("provider received %v", p)
	}

	// The second dead letter replays: applied, once.
	tok2 := replayToken(t, dl2)
	b.replay(dl2, id, tok2, true)
	ev2, _ := b.resultWithID(id, messages.ReplayResultEventID(id, tok2))
	if ev2.Data.Status != messages.StatusApplied {
		t.Fatalf("second replay result %s, want applied", ev2.Data.Status)
	}
	if p := b.posts(); len(p) != 1 || p[0]["name"] != "second-time-lucky" {
		t.Fatalf("provider received %v, want exactly one write", p)
	}
}

func TestReplayKeepsTheOriginalOrderKey(t *testing.T) {
	b := newBundle(t)
	b.start(b.failingConfig())

	// The older command (no data.sequence: its stream sequence orders it)
	// fails for good.
	b.failFor()
	b.publish(command("cmd-older", res1, nil, messages.Changes{Name: ptr("older-name"), RedirectURI: ptr("https://older.example.com/cb")}), true)
	if r := b.result("cmd-older").Data; r.Status != messages.StatusFailed {
		t.Fatalf("older: %s, want failed", r.Status)
	}
	dl := b.deadLetters()[0]
	b.heal()

	// A later command sets the name.
	b.publish(command("cmd-later", res1, nil, messages.Changes{Name: ptr("later-name")}), true)
	if r := b.result("cmd-later").Data; r.Status != messages.StatusApplied {
		t.Fatalf("later: %s", r.Status)
	}

	// The replay arrives last but ranks as the original: its name is
	// stale, its redirect URI is not.
	token := replayToken(t, dl)
	b.replay(dl, "cmd-older", token, true)
	ev, _ := b.resultWithID("cmd-older", messages.ReplayResultEventID("cmd-older", token))
	r := ev.Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"redirectUri"}) || !slices.Equal(r.SkippedFields, []string{"name"}) {
		t.Fatalf("replay: %s applied=%v skipped=%v, want applied [redirectUri], skipped [name]", r.Status, r.AppliedFields, r.SkippedFields)
	}
	app, _ := b.sim.App(res1)
	if app.Name != "later-name" || app.RedirectURI != "https://older.example.com/cb" {
		t.Fatalf("provider state name=%q redirect=%q; the replay overwrote a later command's field", app.Name, app.RedirectURI)
	}
}

func TestInvalidReplayHeaderIsNoReplay(t *testing.T) {
	b := newBundle(t)
	b.start(b.failingConfig())
	const id = "cmd-bad-replay"
	b.failFor()
	b.publish(command(id, res1, nil, messages.Changes{Name: ptr("x")}), true)
	b.result(id)
	dl := b.deadLetters()[0]
	b.heal()
	for _, token := range []string{"", "12a", "-1", "123456789012345678901"} {
		b.replay(dl, id, token, false)
	}
	msgs := b.waitResults(id, 5)
	for _, m := range msgs[1:] {
		if !slices.Equal(m.Data, msgs[0].Data) {
			t.Fatalf("a delivery with an invalid %s got %s, want the stored failed result", worker.HeaderReplay, m.Data)
		}
	}
	waitConsumed(t, b, "syncworker_"+connName, 5)
	if p := b.posts(); len(p) != 0 {
		t.Fatalf("provider received %v", p)
	}
}
