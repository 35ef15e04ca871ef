package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/messages"
)

// A delivery whose outcome is stored ends with its result event published
// and the command acked. The worker's goroutine publishes asynchronously
// and moves on to its next command; the completer waits for the publish
// acks, in the order they were sent, and then acks the commands, one
// goroutine for the whole worker (river's batch completer, go-cloud's ack
// batcher): a slot never waits for a round trip to JetStream after the
// provider's answer.
//
// The ack is a plain Ack, not a DoubleAck: once the result is stored, a
// redelivery is harmless. Should the ack be lost, the command comes back
// after its ack wait, Begin finds it done, and the stored result is
// published again under the same event id (JetStream's duplicate window
// drops it; readers deduplicate by id). A publish that fails or is not
// acked within PublishTimeout hands the command back the same way.
type completer struct {
	w     *Worker
	queue chan *publishedOutcome
	done  chan struct{}
}

// publishedOutcome is a delivery whose result event is being published.
type publishedOutcome struct {
	j      *job
	fut    jetstream.PubAckFuture
	span   trace.Span // the publish span
	sent   time.Time
	status messages.Status
	note   string
	// acked runs once the command is acked (metrics of the outcome).
	acked func(context.Context)
}

// startCompleter starts the completer; capacity bounds the outcomes it
// holds (every one also holds a slot of its consume loop, see
// consumeLoop.run, so the bound is never reached).
func (w *Worker) startCompleter(capacity int) {
	c := &completer{w: w, queue: make(chan *publishedOutcome, capacity), done: make(chan struct{})}
	w.completer = c
	go func() {
		defer close(c.done)
		for p := range c.queue {
			c.settle(p)
		}
	}()
}

// stop waits for every outcome handed to the completer to be settled.
// Nothing may be handed to it afterwards.
func (c *completer) stop() {
	close(c.queue)
	<-c.done
}

func (c *completer) settle(p *publishedOutcome) {
	w, j := c.w, p.j
	defer j.end()
	defer func() {
		// Contained like a panic in handle: this one delivery is left
		// to its ack wait, and its stored result answers the redelivery.
		if r := recover(); r != nil {
			j.settled = true
			w.cfg.Logger.Error("panic while settling a published outcome; the delivery is left to its ack wait",
				w.logAttrs(j, slog.String("panic", w.panicMessage(j, r)))...)
		}
	}()
	ctx := trace.ContextWithSpan(context.Background(), j.span)
	timeout := time.NewTimer(max(w.cfg.PublishTimeout-time.Since(p.sent), 0))
	defer timeout.Stop()
	var err error
	select {
	case <-p.fut.Ok():
	case err = <-p.fut.Err():
	case <-timeout.C:
		err = errPublishNotAcked
	}
	endSpan(p.span, err, "publish failed")
	if err != nil {
		// The result is stored: the redelivery republishes it.
		w.cfg.Logger.Warn("publishing the result failed; handing back", w.logAttrs(j, slog.String("error", err.Error()))...)
		w.handBackJob(ctx, j, w.nakDelay(j), reasonPublishFailed)
		return
	}
	if p.acked != nil {
		p.acked(ctx)
	}
	w.ack(j, p.status, p.note)
}

// errPublishNotAcked: JetStream did not ack a publish within PublishTimeout.
var errPublishNotAcked = errors.New("no publish ack within the publish timeout")

// publishThenAck publishes msg (its id msgID) for j and hands j to the
// completer, which acks it once the publish is acked (with status and
// note on its outcome line, after acked). When the publish cannot even be
// sent, j is handed back at once.
func (w *Worker) publishThenAck(ctx context.Context, j *job, msg *nats.Msg, msgID string, status messages.Status, note string, acked func(context.Context)) {
	ctx, span := w.startPublishSpan(ctx, msg, msgID)
	fut, err := w.cfg.JetStream.PublishMsgAsync(msg, jetstream.WithMsgID(msgID))
	if err != nil {
		endSpan(span, err, "publish failed")
		w.cfg.Logger.Warn("publishing the result failed; handing back", w.logAttrs(j, slog.String("error", err.Error()))...)
		w.handBackJob(ctx, j, w.nakDelay(j), reasonPublishFailed)
		return
	}
	j.handedOff = true
	w.completer.queue <- &publishedOutcome{j: j, fut: fut, span: span, sent: time.Now(), status: status, note: note, acked: acked}
}

// resultMsg is the message of an encoded result event on the command's
// result subject.
func (w *Worker) resultMsg(connection, resource string, status messages.Status, body []byte) *nats.Msg {
	msg := nats.NewMsg(w.subjects().Result(connection, resource))
	msg.Header.Set("Content-Type", messages.ContentType)
	msg.Header.Set(HeaderStatus, string(status))
	msg.Data = body
	return msg
}
