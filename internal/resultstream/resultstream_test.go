package resultstream_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
)

// env is a fresh embedded NATS server with the results stream, and a
// Reader of it.
type env struct {
	js     jetstream.JetStream
	reader resultstream.Reader
}

func newEnv(t *testing.T) *env {
	t.Helper()
	js := testenv.Streams(t)
	return &env{js: js, reader: resultstream.Reader{JetStream: js}}
}

// result is a result of command id on conn/res with status.
func result(id, conn, res string, status messages.Status) messages.Result {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	r := messages.Result{CommandID: id, Connection: conn, Provider: "rocketchat", Resource: res, Status: status,
		Attempts: 1, Deliveries: 1, CommandStreamSequence: 1, StartedAt: at, FinishedAt: at.Add(time.Second)}
	if status == messages.StatusRejected {
		r.Error = &messages.ResultError{Code: messages.CodeProviderRejected, Message: "refused"}
	}
	return r
}

// publish plays the worker: it publishes r's result event, as the worker
// does, and returns its stream sequence.
func (e *env) publish(t *testing.T, r messages.Result) uint64 {
	t.Helper()
	body, err := messages.EncodeResultEvent(messages.NewResultEvent("/syncworker/test", r))
	if err != nil {
		t.Fatal(err)
	}
	return e.publishRaw(t, r.Connection, r.Resource, messages.ResultEventID(r.CommandID), r.Status, body)
}

func (e *env) publishRaw(t *testing.T, conn, res, eventID string, status messages.Status, body []byte) uint64 {
	t.Helper()
	msg := nats.NewMsg(messages.Subjects{}.Result(conn, res))
	msg.Header.Set("Content-Type", messages.ContentType)
	msg.Header.Set(resultstream.HeaderStatus, string(status))
	msg.Data = body
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := e.js.PublishMsg(ctx, msg, jetstream.WithMsgID(eventID))
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// read runs Read without Follow and returns what it passed. It fails the
// test when Read fails or only stopped because its context ended.
func (e *env) read(t *testing.T, q resultstream.Query) []resultstream.Item {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var items []resultstream.Item
	err := e.reader.Read(ctx, q, func(it resultstream.Item) error {
		items = append(items, it)
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Read without Follow did not stop by itself")
	}
	return items
}

func eventIDs(items []resultstream.Item) []string {
	var ids []string
	for _, it := range items {
		ids = append(ids, it.EventID)
	}
	return ids
}

func TestReadWithoutFollowPassesTheStoredResultsInOrderThenStops(t *testing.T) {
	e := newEnv(t)
	rs := []messages.Result{
		result("c1", "rc", "r1", messages.StatusApplied),
		result("c2", "rc", "r2", messages.StatusRejected),
		result("c3", "hdp", "r1", messages.StatusUnchanged),
		result("c4", "rc", "r1", messages.StatusSuperseded),
	}
	var seqs []uint64
	for _, r := range rs {
		seqs = append(seqs, e.publish(t, r))
	}
	caught := 0
	items := e.read(t, resultstream.Query{CaughtUp: func() { caught++ }})
	if caught != 1 {
		t.Errorf("CaughtUp called %d times, want 1", caught)
	}
	if len(items) != len(rs) {
		t.Fatalf("got %d items (%v), want %d", len(items), eventIDs(items), len(rs))
	}
	for i, it := range items {
		r := rs[i]
		if it.Seq != seqs[i] || it.EventID != messages.ResultEventID(r.CommandID) || it.Status != r.Status ||
			it.Subject != "sync.results."+r.Connection+"."+r.Resource || it.Time.IsZero() {
			t.Errorf("item %d = seq %d id %q status %q subject %q time %v, want seq %d id %q status %q",
				i, it.Seq, it.EventID, it.Status, it.Subject, it.Time, seqs[i], messages.ResultEventID(r.CommandID), r.Status)
		}
		if it.Err != nil || it.Event == nil {
			t.Fatalf("item %d: event %v, err %v", i, it.Event, it.Err)
		}
		if it.Event.Data.CommandID != r.CommandID || it.Event.Data.Status != r.Status {
			t.Errorf("item %d: decoded %+v", i, it.Event.Data)
		}
	}
	if e := items[1].Event.Data.Error; e == nil || e.Code != messages.CodeProviderRejected {
		t.Errorf("rejected result's error = %+v", e)
	}
}

func TestReadWithoutFollowOnNothingStopsAtOnce(t *testing.T) {
	e := newEnv(t)
	t.Run("empty stream", func(t *testing.T) {
		caught := 0
		if items := e.read(t, resultstream.Query{CaughtUp: func() { caught++ }}); len(items) != 0 {
			t.Errorf("items %v from an empty stream", eventIDs(items))
		}
		if caught != 1 {
			t.Errorf("CaughtUp called %d times, want 1", caught)
		}
	})
	e.publish(t, result("c1", "rc", "r1", messages.StatusApplied))
	e.publish(t, result("c2", "rc", "r2", messages.StatusApplied))
	for name, q := range map[string]resultstream.Query{
		"connection matching nothing":    {Connection: "jf"},
		"resource matching nothing":      {Resource: "zzz"},
		"conn/resource matching nothing": {Connection: "rc", Resource: "r3"},
		"since after every result":       {Since: time.Now().Add(time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			caught := 0
			q.CaughtUp = func() { caught++ }
			if items := e.read(t, q); len(items) != 0 {
				t.Errorf("items %v, want none", eventIDs(items))
			}
			if caught != 1 {
				t.Errorf("CaughtUp called %d times, want 1", caught)
			}
		})
	}
}

func TestReadFiltersByConnectionAndResource(t *testing.T) {
	e := newEnv(t)
	for _, r := range []messages.Result{
		result("c1", "rc", "r1", messages.StatusApplied),
		result("c2", "rc", "r2", messages.StatusApplied),
		result("c3", "hdp", "r1", messages.StatusApplied),
		result("c4", "rc", "r1", messages.StatusApplied),
		result("c5", "rc-2", "r1", messages.StatusApplied),
	} {
		e.publish(t, r)
	}
	id := messages.ResultEventID
	for _, tc := range []struct {
		name string
		q    resultstream.Query
		want []string
	}{
		{"all", resultstream.Query{}, []string{id("c1"), id("c2"), id("c3"), id("c4"), id("c5")}},
		{"connection", resultstream.Query{Connection: "rc"}, []string{id("c1"), id("c2"), id("c4")}},
		{"resource", resultstream.Query{Resource: "r1"}, []string{id("c1"), id("c3"), id("c4"), id("c5")}},
		{"both", resultstream.Query{Connection: "rc", Resource: "r1"}, []string{id("c1"), id("c4")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := eventIDs(e.read(t, tc.q)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestReadSince(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.publish(t, result(fmt.Sprintf("c%d", i), "rc", "r1", messages.StatusApplied))
	}
	st, err := e.js.Stream(context.Background(), resultstream.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	third, err := st.GetMsg(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	items := e.read(t, resultstream.Query{Since: third.Time})
	want := []string{messages.ResultEventID("c2"), messages.ResultEventID("c3"), messages.ResultEventID("c4")}
	if got := eventIDs(items); !slices.Equal(got, want) {
		t.Errorf("since the third result's time: got %v, want %v", got, want)
	}
}

func TestReadHeadersOnly(t *testing.T) {
	e := newEnv(t)
	e.publish(t, result("c1", "rc", "r1", messages.StatusApplied))
	e.publish(t, result("c2", "rc", "r1", messages.StatusRejected))
	// A body that does not decode is not even read.
	e.publishRaw(t, "rc", "r1", messages.ResultEventID("c3"), messages.StatusFailed, []byte("not json"))
	// The consumer itself is headers only: bodies never travel.
	st, err := e.js.Stream(context.Background(), resultstream.DefaultStream)
	if err != nil {
		t.Fatal(err)
	}
	var items []resultstream.Item
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = e.reader.Read(ctx, resultstream.Query{HeadersOnly: true}, func(it resultstream.Item) error {
		if len(items) == 0 {
			consumers := st.ListConsumers(ctx)
			n := 0
			for info := range consumers.Info() {
				n++
				if !info.Config.HeadersOnly {
					t.Errorf("consumer %s is not headers only", info.Name)
				}
			}
			if err := consumers.Err(); err != nil || n != 1 {
				t.Errorf("%d consumers, err %v", n, err)
			}
		}
		items = append(items, it)
		return nil
	})
	if err != nil || ctx.Err() != nil {
		t.Fatalf("Read: %v (ctx %v)", err, ctx.Err())
	}
	want := []messages.Status{messages.StatusApplied, messages.StatusRejected, messages.StatusFailed}
	if len(items) != len(want) {
		t.Fatalf("got %d items, want %d", len(items), len(want))
	}
	for i, it := range items {
		if it.Event != nil || it.Err != nil {
			t.Errorf("item %d: event %v err %v, want neither with HeadersOnly", i, it.Event, it.Err)
		}
		if it.Status != want[i] || it.EventID != messages.ResultEventID(fmt.Sprintf("c%d", i+1)) || it.Seq != uint64(i+1) {
			t.Errorf("item %d: status %q id %q seq %d", i, it.Status, it.EventID, it.Seq)
		}
	}
}

func TestReadUndecodableBodyGivesItemErr(t *testing.T) {
	e := newEnv(t)
	e.publishRaw(t, "rc", "r1", messages.ResultEventID("c1"), messages.StatusApplied, []byte(`{"specversion":"1.0"}`))
	e.publishRaw(t, "rc", "r1", messages.ResultEventID("c2"), "", []byte(`garbage`))
	e.publish(t, result("c3", "rc", "r1", messages.StatusApplied))
	items := e.read(t, resultstream.Query{})
	if len(items) != 3 {
		t.Fatalf("got %d items, want 3", len(items))
	}
	for i, it := range items[:2] {
		if it.Err == nil || it.Event != nil {
			t.Errorf("item %d: err %v event %v, want an error and no event", i, it.Err, it.Event)
		}
	}
	if items[0].Status != messages.StatusApplied || items[1].Status != "" {
		t.Errorf("statuses %q %q: the header's, or none", items[0].Status, items[1].Status)
	}
	if items[2].Err != nil || items[2].Event == nil {
		t.Errorf("a good result after bad ones: err %v", items[2].Err)
	}
}

func TestReadFollowDeliversWhatArrivesAfterCatchUp(t *testing.T) {
	e := newEnv(t)
	e.publish(t, result("c1", "rc", "r1", messages.StatusApplied))
	e.publish(t, result("c2", "rc", "r2", messages.StatusApplied))
	e.publish(t, result("other", "hdp", "r2", messages.StatusApplied))

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var mu sync.Mutex
	var got []string
	caught := 0
	caughtUp := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		readErr <- e.reader.Read(ctx, resultstream.Query{Connection: "rc", Follow: true,
			CaughtUp: func() {
				mu.Lock()
				defer mu.Unlock()
				caught++
				if caught == 1 {
					close(caughtUp)
				}
			}},
			func(it resultstream.Item) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, it.EventID)
				if it.EventID == messages.ResultEventID("c4") {
					return resultstream.ErrStop
				}
				return nil
			})
	}()
	select {
	case <-caughtUp:
	case <-ctx.Done():
		t.Fatal("CaughtUp was not called")
	}
	mu.Lock()
	if want := []string{messages.ResultEventID("c1"), messages.ResultEventID("c2")}; !slices.Equal(got, want) {
		t.Errorf("at catch-up: got %v, want %v", got, want)
	}
	mu.Unlock()
	e.publish(t, result("c3", "rc", "r1", messages.StatusApplied))
	e.publish(t, result("late-other", "hdp", "r1", messages.StatusApplied))
	e.publish(t, result("c4", "rc", "r3", messages.StatusRejected))
	select {
	case err := <-readErr:
		if err != nil {
			t.Fatalf("Read ended by ErrStop: %v, want nil", err)
		}
	case <-ctx.Done():
		t.Fatal("Read with Follow did not deliver the later results")
	}
	want := []string{messages.ResultEventID("c1"), messages.ResultEventID("c2"), messages.ResultEventID("c3"), messages.ResultEventID("c4")}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if caught != 1 {
		t.Errorf("CaughtUp called %d times, want 1", caught)
	}
}

func TestReadFollowOnAnEmptyStreamCatchesUpAtOnceAndEndsWithCtx(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	caughtUp := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		readErr <- e.reader.Read(ctx, resultstream.Query{Follow: true, CaughtUp: func() { close(caughtUp) }},
			func(resultstream.Item) error { return errors.New("no item expected") })
	}()
	select {
	case <-caughtUp:
	case err := <-readErr:
		t.Fatalf("Read ended before catching up: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("CaughtUp was not called on an empty stream")
	}
	cancel()
	select {
	case err := <-readErr:
		if err != nil {
			t.Errorf("Read ended by ctx: %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not end with its ctx")
	}
}

func TestReadCallbackErrors(t *testing.T) {
	e := newEnv(t)
	for i := range 4 {
		e.publish(t, result(fmt.Sprintf("c%d", i), "rc", "r1", messages.StatusApplied))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	n := 0
	err := e.reader.Read(ctx, resultstream.Query{}, func(resultstream.Item) error {
		n++
		if n == 2 {
			return resultstream.ErrStop
		}
		return nil
	})
	if err != nil || n != 2 {
		t.Errorf("ErrStop at the second item: err %v after %d items, want nil after 2", err, n)
	}
	boom := errors.New("boom")
	n = 0
	err = e.reader.Read(ctx, resultstream.Query{}, func(resultstream.Item) error {
		n++
		return fmt.Errorf("wrapped: %w", boom)
	})
	if !errors.Is(err, boom) || n != 1 {
		t.Errorf("a callback error: err %v after %d items, want boom after 1", err, n)
	}
}

// TestReadWithoutFollowStopsAtWhatWasStoredWhileResultsKeepComing: results
// stored after Read started are not passed by a Read without Follow, even
// when they arrive before the stored ones are all read (a busy fleet).
func TestReadWithoutFollowStopsAtWhatWasStoredWhileResultsKeepComing(t *testing.T) {
	e := newEnv(t)
	// More than one pull's worth (500 messages), so that the later part of
	// the stored results is fetched after the callback has published more.
	const stored = 700
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range stored {
		r := result(fmt.Sprintf("s%d", i), "rc", "r1", messages.StatusApplied)
		body, err := messages.EncodeResultEvent(messages.NewResultEvent("/syncworker/test", r))
		if err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(messages.Subjects{}.Result("rc", "r1"))
		msg.Header.Set(resultstream.HeaderStatus, string(r.Status))
		msg.Data = body
		if _, err := e.js.PublishMsgAsync(msg, jetstream.WithMsgID(messages.ResultEventID(r.CommandID))); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publishing the stored results timed out")
	}
	n, caught := 0, 0
	err := e.reader.Read(ctx, resultstream.Query{CaughtUp: func() { caught++ }}, func(it resultstream.Item) error {
		n++
		if n == 1 {
			for i := range 20 {
				e.publish(t, result(fmt.Sprintf("late%d", i), "rc", "r1", messages.StatusApplied))
			}
		}
		if it.Seq > stored {
			return fmt.Errorf("passed result %s (seq %d), stored after Read started", it.EventID, it.Seq)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Read did not stop by itself")
	}
	if n != stored || caught != 1 {
		t.Errorf("passed %d results, CaughtUp %d times; want %d and 1", n, caught, stored)
	}
}
