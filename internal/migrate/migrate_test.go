package migrate_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/internal/migrate"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
)

// env is a fresh embedded NATS server with the three streams.
type env struct {
	js jetstream.JetStream
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return &env{js: testenv.Streams(t)}
}

func (e *env) config() migrate.Config {
	return migrate.Config{JetStream: e.js, Timeout: 30 * time.Second}
}

// lines reads an NDJSON migration of batch, one short-form command per
// line: "conn/res" gives a command that sets redirectUri, anything else is
// taken as the line's JSON.
func lines(t *testing.T, batch string, specs ...string) []commandfile.Line {
	t.Helper()
	var b strings.Builder
	for i, s := range specs {
		if conn, res, ok := strings.Cut(s, "/"); ok && !strings.HasPrefix(s, "{") {
			s = fmt.Sprintf(`{"connection":%q,"resource":%q,"changes":{"redirectUri":"https://app.example.com/cb/%d"}}`, conn, res, i+1)
		}
		b.WriteString(s + "\n")
	}
	ls, err := commandfile.ReadNDJSON(strings.NewReader(b.String()), commandfile.Options{Batch: batch})
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != len(specs) {
		t.Fatalf("%d lines from %d", len(ls), len(specs))
	}
	return ls
}

// resultOf is the result the worker gives cmd with status.
func resultOf(cmd *messages.Command, status messages.Status) messages.Result {
	now := time.Now().UTC()
	r := messages.Result{CommandID: cmd.ID, Connection: cmd.Connection, Provider: "rocketchat", Resource: cmd.Resource,
		Batch: cmd.Batch, Status: status, Attempts: 1, Deliveries: 1, CommandStreamSequence: 1, StartedAt: now, FinishedAt: now}
	switch status {
	case messages.StatusRejected:
		r.Error = &messages.ResultError{Code: messages.CodeProviderRejected, Message: "redirectUri: refused by the provider", HTTPStatus: 400}
	case messages.StatusFailed:
		r.Error = &messages.ResultError{Code: messages.CodeProviderUnavailable, Message: "503 for too long", Retryable: true}
	}
	return r
}

// publishResult plays the worker: it publishes r as a result event with id
// eventID (default the result's own id), header Sync-Status and that id as
// Nats-Msg-Id.
func (e *env) publishResult(ctx context.Context, r messages.Result, eventID string) error {
	ev := messages.NewResultEvent("/syncworker/test", r)
	if eventID != "" {
		ev.ID = eventID
	}
	body, err := messages.EncodeResultEvent(ev)
	if err != nil {
		return err
	}
	msg := nats.NewMsg(messages.Subjects{}.Result(r.Connection, r.Resource))
	msg.Header.Set("Content-Type", messages.ContentType)
	msg.Header.Set("Sync-Status", string(r.Status))
	msg.Data = body
	_, err = e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID))
	return err
}

func (e *env) mustPublishResult(t *testing.T, r messages.Result, eventID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.publishResult(ctx, r, eventID); err != nil {
		t.Fatal(err)
	}
}

// worker plays the worker until the test ends: it reads every command and
// calls handle, which publishes its results.
func (e *env) worker(t *testing.T, handle func(ctx context.Context, cmd *messages.Command) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cons, err := e.js.OrderedConsumer(ctx, "SYNC_COMMANDS", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	it, err := cons.Messages()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer it.Stop()
		for {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("worker: %v", err)
				}
				return
			}
			cmd, err := messages.DecodeCommand(msg.Subject(), msg.Data(), messages.DecodeOptions{})
			if err != nil {
				t.Errorf("worker: a command that does not decode: %v", err)
				continue
			}
			if want := (messages.Subjects{}).BulkCommand(cmd.Connection, cmd.Resource); msg.Subject() != want {
				t.Errorf("worker: command %s published on %s, want the bulk lane's %s", cmd.ID, msg.Subject(), want)
			}
			if msg.Headers().Get(jetstream.MsgIDHeader) != cmd.ID || msg.Headers().Get("Content-Type") != messages.ContentType {
				t.Errorf("worker: command %s published with headers %v", cmd.ID, msg.Headers())
			}
			if err := handle(ctx, cmd); err != nil && ctx.Err() == nil {
				t.Errorf("worker: %v", err)
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
}

// storedCommands returns the Nats-Msg-Id of every stored command, with how
// many copies each has.
func (e *env) storedCommands(t *testing.T) map[string]int {
	t.Helper()
	ctx := context.Background()
	st, err := e.js.Stream(ctx, "SYNC_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ids[m.Header.Get(jetstream.MsgIDHeader)]++
	}
	return ids
}

func (e *env) commandCount(t *testing.T) uint64 {
	t.Helper()
	st, err := e.js.Stream(context.Background(), "SYNC_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// poll checks cond every few milliseconds until it holds (true) or
// timeout passes (false).
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

func run(t *testing.T, ctx context.Context, cfg migrate.Config, batch string, ls []commandfile.Line) *migrate.Summary {
	t.Helper()
	s, err := migrate.Run(ctx, cfg, batch, ls)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Outcomes) != len(ls) {
		t.Fatalf("%d outcomes for %d lines", len(s.Outcomes), len(ls))
	}
	for i, o := range s.Outcomes {
		if o.Line != ls[i].Number {
			t.Errorf("outcome %d is for line %d, want %d", i, o.Line, ls[i].Number)
		}
		if c := ls[i].Command; c != nil && (o.CommandID != c.ID || o.Connection != c.Connection || o.Resource != c.Resource) {
			t.Errorf("outcome %d: %s %s/%s, want %s %s/%s", i, o.CommandID, o.Connection, o.Resource, c.ID, c.Connection, c.Resource)
		}
	}
	return s
}

func statuses(s *migrate.Summary) []string {
	var out []string
	for _, o := range s.Outcomes {
		out = append(out, o.Status)
	}
	return out
}

func countsEqual(t *testing.T, got, want map[string]int) {
	t.Helper()
	maps.DeleteFunc(got, func(_ string, n int) bool { return n == 0 })
	if !maps.Equal(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
}

func TestRunSkipsLinesThatAlreadyHaveAResult(t *testing.T) {
	e := newEnv(t)
	ls := lines(t, "resume", "rc/r1", "rc/r2", "rc/r3", "rc/r4", "rc/r5", "rc/r6")
	e.mustPublishResult(t, resultOf(ls[0].Command, messages.StatusApplied), "")
	e.mustPublishResult(t, resultOf(ls[1].Command, messages.StatusRejected), "")
	e.mustPublishResult(t, resultOf(ls[3].Command, messages.StatusUnchanged), "")
	// A result of another batch's command on the same resource answers nothing here.
	other := lines(t, "other", "rc/r3")
	e.mustPublishResult(t, resultOf(other[0].Command, messages.StatusApplied), "")

	s := run(t, context.Background(), e.config(), "resume", ls)
	want := []string{"applied", "rejected", "pending", "unchanged", "pending", "pending"}
	if got := statuses(s); !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	for i, o := range s.Outcomes {
		if o.Previous != (i == 0 || i == 1 || i == 3) {
			t.Errorf("line %d: previous %v", o.Line, o.Previous)
		}
	}
	if o := s.Outcomes[1]; o.ErrorCode != string(messages.CodeProviderRejected) || o.Error == "" {
		t.Errorf("rejected line: %+v", o)
	}
	if s.Previous != 3 || s.Published != 3 || s.Duplicates != 0 || s.Interrupted || s.TimedOut {
		t.Errorf("summary %+v", s)
	}
	countsEqual(t, s.Counts, map[string]int{"applied": 1, "rejected": 1, "unchanged": 1, "pending": 3})
	stored := e.storedCommands(t)
	wantStored := map[string]int{ls[2].Command.ID: 1, ls[4].Command.ID: 1, ls[5].Command.ID: 1}
	if !maps.Equal(stored, wantStored) {
		t.Errorf("commands stream holds %v, want %v", stored, wantStored)
	}
	if !s.Failed() {
		t.Error("a run with a rejected and pending lines did not fail")
	}
}

func TestRunWaitsForTheWorkersResults(t *testing.T) {
	e := newEnv(t)
	e.worker(t, func(ctx context.Context, cmd *messages.Command) error {
		status := messages.StatusApplied
		if cmd.Resource == "r3" {
			status = messages.StatusRejected
		}
		return e.publishResult(ctx, resultOf(cmd, status), "")
	})
	ls := lines(t, "wait", "rc/r1", "rc/r2", "rc/r3", `{"connection":"rc"}`, "hdp/r5", "rc/r6", "hdp/r7")
	cfg := e.config()
	cfg.Wait, cfg.MaxPending = true, 2
	s := run(t, context.Background(), cfg, "wait", ls)
	want := []string{"applied", "applied", "rejected", "invalid", "applied", "applied", "applied"}
	if got := statuses(s); !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	countsEqual(t, s.Counts, map[string]int{"applied": 5, "rejected": 1, "invalid": 1})
	if s.Published != 6 || s.Previous != 0 || s.TimedOut || s.Interrupted || !s.Failed() {
		t.Errorf("summary %+v, failed %v", s, s.Failed())
	}
	if o := s.Outcomes[2]; o.ErrorCode != string(messages.CodeProviderRejected) || o.Error != "redirectUri: refused by the provider" {
		t.Errorf("rejected: %+v", o)
	}
	if o := s.Outcomes[3]; o.Error == "" || o.CommandID != "" {
		t.Errorf("invalid: %+v", o)
	}
	for _, o := range s.Outcomes {
		if o.Previous {
			t.Errorf("line %d previous", o.Line)
		}
	}

	// The same file again: every line is done, nothing is published.
	before := e.commandCount(t)
	again := run(t, context.Background(), cfg, "wait", ls)
	if got := statuses(again); !slices.Equal(got, want) || again.Previous != 6 || again.Published != 0 {
		t.Errorf("rerun: statuses %v, previous %d, published %d", got, again.Previous, again.Published)
	}
	if after := e.commandCount(t); after != before {
		t.Errorf("rerun published %d commands", after-before)
	}
}

func TestRunAllAppliedDoesNotFail(t *testing.T) {
	e := newEnv(t)
	e.worker(t, func(ctx context.Context, cmd *messages.Command) error {
		return e.publishResult(ctx, resultOf(cmd, messages.StatusApplied), "")
	})
	cfg := e.config()
	cfg.Wait = true
	s := run(t, context.Background(), cfg, "ok", lines(t, "ok", "rc/r1", "rc/r2", `{"connection":"rc"}`))
	countsEqual(t, s.Counts, map[string]int{"applied": 2, "invalid": 1})
	if s.Failed() {
		t.Errorf("failed: %+v", s.Counts)
	}
}

func TestRunWaitTimesOutWithoutAWorker(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.Wait, cfg.Timeout = true, 200*time.Millisecond
	start := time.Now()
	s := run(t, context.Background(), cfg, "nobody", lines(t, "nobody", "rc/r1", "rc/r2"))
	if !s.TimedOut || s.Interrupted || s.Published != 2 {
		t.Errorf("summary %+v", s)
	}
	if got := statuses(s); !slices.Equal(got, []string{"pending", "pending"}) {
		t.Errorf("statuses %v", got)
	}
	if !s.Failed() {
		t.Error("a run with pending lines did not fail")
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestRunInterruptedMidPublishThenResumed(t *testing.T) {
	e := newEnv(t)
	specs := make([]string, 40)
	for i := range specs {
		specs[i] = fmt.Sprintf("rc/r%d", i)
	}
	ls := lines(t, "interrupt", specs...)
	cfg := e.config()
	cfg.Rate = 25
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		defer cancel()
		st, err := e.js.Stream(ctx, "SYNC_COMMANDS")
		if err != nil {
			t.Error(err)
			return
		}
		if !poll(20*time.Second, func() bool {
			info, err := st.Info(ctx)
			return err == nil && info.State.Msgs >= 3
		}) {
			t.Error("timed out waiting for three commands stored")
		}
	})
	s := run(t, ctx, cfg, "interrupt", ls)
	wg.Wait()
	if !s.Interrupted || s.TimedOut {
		t.Fatalf("summary %+v", s)
	}
	stored := e.storedCommands(t)
	pending := 0
	for _, o := range s.Outcomes {
		switch o.Status {
		case migrate.StatusPending:
			pending++
			if stored[o.CommandID] != 1 {
				t.Errorf("line %d reported published, stored %d times", o.Line, stored[o.CommandID])
			}
		case migrate.StatusUnpublished:
		default:
			t.Errorf("line %d: status %q", o.Line, o.Status)
		}
	}
	if pending < 3 || pending == len(ls) || s.Counts[migrate.StatusUnpublished] != len(ls)-pending || s.Published != pending {
		t.Errorf("%d pending, counts %v, published %d", pending, s.Counts, s.Published)
	}
	if len(stored) != pending {
		t.Errorf("%d commands stored, %d reported published", len(stored), pending)
	}
	if !s.Failed() {
		t.Error("an interrupted run did not fail")
	}

	// Rerunning publishes every line again (none has a result): JetStream
	// keeps one copy of those already sent.
	s2 := run(t, context.Background(), e.config(), "interrupt", ls)
	if s2.Interrupted || s2.Published != len(ls) || s2.Duplicates != pending || s2.Counts[migrate.StatusPending] != len(ls) {
		t.Errorf("resumed: %+v", s2)
	}
	stored = e.storedCommands(t)
	if len(stored) != len(ls) {
		t.Errorf("%d commands stored after resuming, want %d", len(stored), len(ls))
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("command %s stored %d times", id, n)
		}
	}
}

func TestRunMatchesConflictAndReplayResults(t *testing.T) {
	e := newEnv(t)
	ls := lines(t, "ids", "rc/r1", "rc/r2", "rc/r3", "rc/r4", "rc/r5")
	c1, c2, c3, c4, c5 := ls[0].Command, ls[1].Command, ls[2].Command, ls[3].Command, ls[4].Command
	// Line 1 failed, then its replay (of dead letter 7) was applied.
	e.mustPublishResult(t, resultOf(c1, messages.StatusFailed), "")
	e.mustPublishResult(t, resultOf(c1, messages.StatusApplied), messages.ReplayResultEventID(c1.ID, "7"))
	// Line 2's id was used before with another payload: this payload was refused.
	conflict := resultOf(c2, messages.StatusRejected)
	conflict.Error = &messages.ResultError{Code: messages.CodeIDConflict, Message: "id reused with another payload"}
	e.mustPublishResult(t, conflict, messages.ConflictEventID(c2.ID, digestOf(t, c2)))
	// A conflict of another payload under line 3's id answers someone else.
	e.mustPublishResult(t, conflict3(c3), messages.ConflictEventID(c3.ID, strings.Repeat("0", 64)))
	// Line 4 failed; the worker replays it while this run waits for line 3 and 5.
	e.mustPublishResult(t, resultOf(c4, messages.StatusFailed), "")
	e.worker(t, func(ctx context.Context, cmd *messages.Command) error {
		if cmd.ID == c5.ID {
			if err := e.publishResult(ctx, resultOf(c4, messages.StatusApplied), messages.ReplayResultEventID(c4.ID, "12")); err != nil {
				return err
			}
		}
		return e.publishResult(ctx, resultOf(cmd, messages.StatusApplied), "")
	})
	cfg := e.config()
	cfg.Wait = true
	s := run(t, context.Background(), cfg, "ids", ls)
	want := []string{"applied", "rejected", "applied", "applied", "applied"}
	if got := statuses(s); !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	countsEqual(t, s.Counts, map[string]int{"applied": 4, "rejected": 1})
	if o := s.Outcomes[0]; !o.Previous || o.ErrorCode != "" || o.Error != "" {
		t.Errorf("line 1 (replayed): %+v, want previous without the failure's error", o)
	}
	if o := s.Outcomes[1]; !o.Previous || o.ErrorCode != string(messages.CodeIDConflict) {
		t.Errorf("line 2 (conflict): %+v", o)
	}
	if o := s.Outcomes[3]; !o.Previous || o.ErrorCode != "" {
		t.Errorf("line 4 (replayed during the run): %+v", o)
	}
	if s.Previous != 3 || s.Published != 2 {
		t.Errorf("previous %d, published %d; want 3 and 2", s.Previous, s.Published)
	}
	stored := e.storedCommands(t)
	if want := map[string]int{c3.ID: 1, c5.ID: 1}; !maps.Equal(stored, want) {
		t.Errorf("stored %v, want %v", stored, want)
	}
}

func conflict3(c *messages.Command) messages.Result {
	r := resultOf(c, messages.StatusRejected)
	r.Error = &messages.ResultError{Code: messages.CodeIDConflict, Message: "id reused with another payload"}
	return r
}

func TestRunProgress(t *testing.T) {
	e := newEnv(t)
	e.worker(t, func(ctx context.Context, cmd *messages.Command) error {
		return e.publishResult(ctx, resultOf(cmd, messages.StatusApplied), "")
	})
	ls := lines(t, "progress", "rc/r1", "rc/r2", "rc/r3", `{"connection":"rc"}`)
	e.mustPublishResult(t, resultOf(ls[0].Command, messages.StatusUnchanged), "")
	var mu sync.Mutex
	var calls []migrate.Progress
	cfg := e.config()
	cfg.Wait, cfg.ProgressEvery = true, time.Millisecond
	cfg.Progress = func(p migrate.Progress) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, p)
	}
	run(t, context.Background(), cfg, "progress", ls)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) == 0 {
		t.Fatal("Progress never called")
	}
	for i, p := range calls[:len(calls)-1] {
		if p.Final {
			t.Errorf("call %d of %d is Final", i+1, len(calls))
		}
	}
	last := calls[len(calls)-1]
	if !last.Final || last.Total != 3 || last.Done != 3 || last.Previous != 1 || last.Published != 2 ||
		last.Results[messages.StatusApplied] != 2 || last.Results[messages.StatusUnchanged] != 1 || last.Elapsed <= 0 {
		t.Errorf("last call %+v", last)
	}
}

func TestRunProgressWithNothingValid(t *testing.T) {
	e := newEnv(t)
	var calls []migrate.Progress
	cfg := e.config()
	cfg.Progress = func(p migrate.Progress) { calls = append(calls, p) }
	s := run(t, context.Background(), cfg, "bad", lines(t, "bad", `{"connection":"rc"}`, `not json`))
	countsEqual(t, s.Counts, map[string]int{"invalid": 2})
	if len(calls) != 1 || !calls[0].Final || calls[0].Total != 0 {
		t.Errorf("Progress calls %+v, want one Final", calls)
	}
	if n := e.commandCount(t); n != 0 {
		t.Errorf("%d commands published", n)
	}
}

func TestRunWithoutAResultsStream(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	cfg.ResultsStream = "NO_SUCH_STREAM"
	s, err := migrate.Run(context.Background(), cfg, "b", lines(t, "b", "rc/r1"))
	if err == nil {
		t.Fatal("Run without a results stream succeeded")
	}
	if s == nil || s.Outcomes[0].Status != migrate.StatusUnpublished {
		t.Errorf("summary %+v", s)
	}
	if n := e.commandCount(t); n != 0 {
		t.Errorf("%d commands published", n)
	}
}

// digestOf is the payload digest of c, a command without a secret.
func digestOf(t *testing.T, c *messages.Command) string {
	t.Helper()
	d, err := c.PayloadDigest(nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestResultForAnotherPayloadIsAnIDConflict: a line whose id already has
// a result for another payload (JetStream dropped its publish as a
// duplicate within its window) is reported rejected with id_conflict, not
// with the other payload's status; a result without payloadDigest (an
// older worker) is taken as before.
func TestResultForAnotherPayloadIsAnIDConflict(t *testing.T) {
	e := newEnv(t)
	ls := lines(t, "digests", "rc/r1", "rc/r2", "rc/r3")
	c1, c2, c3 := ls[0].Command, ls[1].Command, ls[2].Command
	other := resultOf(c1, messages.StatusApplied)
	other.PayloadDigest = "sha256:" + strings.Repeat("ab", 32) // another payload's
	e.mustPublishResult(t, other, "")
	same := resultOf(c2, messages.StatusApplied)
	same.PayloadDigest = digestOf(t, c2)
	e.mustPublishResult(t, same, "")
	e.mustPublishResult(t, resultOf(c3, messages.StatusApplied), "") // no digest: an older worker
	cfg := e.config()
	cfg.Wait = true
	s := run(t, context.Background(), cfg, "digests", ls)
	if got, want := statuses(s), []string{"rejected", "applied", "applied"}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if o := s.Outcomes[0]; o.ErrorCode != string(messages.CodeIDConflict) || !strings.Contains(o.Error, "another payload") {
		t.Errorf("line 1: %+v, want id_conflict", o)
	}
	if !s.Failed() {
		t.Errorf("summary not failed with an id_conflict line")
	}
	countsEqual(t, s.Counts, map[string]int{"applied": 2, "rejected": 1})
}
