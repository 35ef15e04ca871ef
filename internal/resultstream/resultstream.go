// Package resultstream reads result events back from the results stream for
// syncctl: everything stored that matches a query, then, when asked, what
// arrives after. It reads with an ordered consumer (ephemeral, flow
// controlled, recreated on gaps), so nothing is acknowledged or removed and
// any number of readers can run beside the workers.
package resultstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/messages"
)

// DefaultStream is the results stream's default name (docs/CONTRACT.md §2).
const DefaultStream = "SYNC_RESULTS"

// HeaderStatus is the header a result event's status travels in.
const HeaderStatus = "Sync-Status"

// InactiveThreshold is how long the server keeps a reader's consumer once
// its reader is gone without deleting it (killed): short, so that readers
// never pile up on the results stream.
const InactiveThreshold = 15 * time.Second

// DeleteOrdered deletes an ordered consumer's current server-side consumer,
// so that a reader leaves nothing behind on the stream when it returns (a
// reader killed before this is removed after InactiveThreshold). It runs
// even when ctx has ended.
func DeleteOrdered(ctx context.Context, js jetstream.JetStream, stream string, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil || info.Name == "" {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = js.DeleteConsumer(dctx, stream, info.Name)
}

// ErrStop, returned by a Read callback, ends Read without an error.
var ErrStop = errors.New("resultstream: stop")

// Reader reads result events.
type Reader struct {
	// JetStream is the JetStream context to read with. Required.
	JetStream jetstream.JetStream
	// Stream is the results stream's name. Default DefaultStream.
	Stream string
	// Subjects names the subjects. Default prefix "sync".
	Subjects messages.Subjects
}

// Query selects what Read reads.
type Query struct {
	// Connection and Resource narrow the subject; empty means any.
	Connection, Resource string
	// Since starts at results stored at or after it; zero reads from the
	// first stored result.
	Since time.Time
	// Follow keeps reading results as they arrive once the stored ones
	// are read, until ctx ends or the callback returns ErrStop.
	Follow bool
	// HeadersOnly skips bodies: Item.Event is nil, Item.Status comes from
	// the Sync-Status header. Much cheaper for counting.
	HeadersOnly bool
	// CaughtUp, when set, is called once, when every result stored when
	// Read started has been passed to the callback.
	CaughtUp func()
}

// Item is one stored result event.
type Item struct {
	// Seq is the result's sequence in the results stream.
	Seq uint64
	// Time is when the stream stored it.
	Time time.Time
	// Subject is the result's subject.
	Subject string
	// EventID is its Nats-Msg-Id: the result event's id.
	EventID string
	// Status is its Sync-Status header.
	Status messages.Status
	// Event is the decoded event; nil when HeadersOnly or when the body
	// does not decode (then Err says why).
	Event *messages.ResultEvent
	Err   error
}

// Subject is the filter subject of q.
func (r Reader) Subject(q Query) string {
	conn, res := q.Connection, q.Resource
	if conn == "" {
		conn = "*"
	}
	if res == "" {
		res = ">"
		if conn == "*" {
			return r.Subjects.Results()
		}
	}
	return r.Subjects.Result(conn, res)
}

// Read passes every result matching q to fn, in stream order. Without
// Follow it returns once it has passed every result stored when it started;
// with Follow it goes on until ctx ends (returning nil) or fn returns
// ErrStop. Any other error of fn ends Read with that error.
func (r Reader) Read(ctx context.Context, q Query, fn func(Item) error) error {
	stream := r.Stream
	if stream == "" {
		stream = DefaultStream
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{r.Subject(q)},
		HeadersOnly:       q.HeadersOnly,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: InactiveThreshold,
	}
	if !q.Since.IsZero() {
		since := q.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	// The last sequence stored now bounds the catch-up: a result stored
	// after it arrived after Read started. (Waiting for a message with no
	// pending ones after it instead never ends while results keep coming.)
	st, err := r.JetStream.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	last := st.CachedInfo().State.LastSeq
	cons, err := r.JetStream.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	defer DeleteOrdered(ctx, r.JetStream, stream, cons)
	caughtUp := false
	catchUp := func() bool {
		if !caughtUp {
			caughtUp = true
			if q.CaughtUp != nil {
				q.CaughtUp()
			}
		}
		return !q.Follow
	}
	if info := cons.CachedInfo(); (last == 0 || info != nil && info.NumPending == 0) && catchUp() {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read %s: %w", stream, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if !caughtUp && meta.Sequence.Stream > last && catchUp() {
			// The first result stored after Read started: not for a Read
			// without Follow.
			return nil
		}
		if err := fn(decode(msg, meta, q.HeadersOnly)); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
		if !caughtUp && (meta.NumPending == 0 || meta.Sequence.Stream >= last) && catchUp() {
			return nil
		}
	}
}

func decode(msg jetstream.Msg, meta *jetstream.MsgMetadata, headersOnly bool) Item {
	item := Item{Subject: msg.Subject(), Seq: meta.Sequence.Stream, Time: meta.Timestamp}
	h := msg.Headers()
	item.EventID = h.Get(jetstream.MsgIDHeader)
	item.Status = messages.Status(h.Get(HeaderStatus))
	if headersOnly {
		return item
	}
	ev, err := messages.DecodeResultEvent(msg.Data())
	if err != nil {
		item.Err = err
		return item
	}
	item.Event = ev
	if item.Status == "" {
		item.Status = ev.Data.Status
	}
	return item
}
