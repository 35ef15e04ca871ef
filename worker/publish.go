package worker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/messages"
)

// Headers the worker writes.
const (
	HeaderStatus         = "Sync-Status"
	HeaderErrorCode      = "Sync-Error-Code"
	HeaderErrorMessage   = "Sync-Error"
	HeaderAttempts       = "Sync-Attempts"
	HeaderDeliveries     = "Sync-Deliveries"
	HeaderStreamSequence = "Sync-Stream-Sequence"
	// HeaderStreamTime is the time JetStream stored the command (RFC 3339,
	// UTC, nanoseconds), beside HeaderStreamSequence: with it and
	// data.sequence an operator can tell the command's order key. The
	// worker writes both on a dead letter and trusts neither on a command:
	// a replay takes them from the command's failed record.
	HeaderStreamTime = "Sync-Stream-Time"
	HeaderSubject    = "Sync-Subject"
	// HeaderTrimmed marks a trimmed dead letter: "headers" (the command's
	// own headers were dropped) or "headers,body" (its body too).
	HeaderTrimmed = "Sync-Trimmed"
	// HeaderOriginalSize is a trimmed dead letter's command size: header
	// and body bytes ("<header bytes>,<body bytes>").
	HeaderOriginalSize = "Sync-Original-Size"
	// HeaderSourceSequence is a trimmed dead letter's delivery's own
	// stream sequence in the commands stream (HeaderStreamSequence is the
	// original command's, which differs for a replay): the verbatim
	// command is found there while the commands stream keeps it.
	HeaderSourceSequence = "Sync-Source-Sequence"
)

// HeaderReplay marks a command delivery as a replay of a dead letter: its
// value, 1 to 20 digits, is the replay's token (the dead letter's stream
// sequence), which names the replay's result (messages.ReplayResultEventID).
// The worker reads it; it never writes it, and drops it from the headers
// of a dead letter.
const HeaderReplay = "Sync-Replay"

// publish publishes msg asynchronously and waits for its ack, bounded by
// PublishTimeout, inside a producer span.
func (w *Worker) publish(ctx context.Context, msg *nats.Msg, msgID string) error {
	ctx, span := w.startPublishSpan(ctx, msg, msgID)
	err := w.publishAndWait(ctx, msg, msgID)
	endSpan(span, err, "publish failed")
	return err
}

// startPublishSpan starts the producer span of publishing msg and puts its
// trace context in msg's headers.
func (w *Worker) startPublishSpan(ctx context.Context, msg *nats.Msg, msgID string) (context.Context, trace.Span) {
	if w.untraced {
		ctx, span := w.tracer.Start(ctx, "publish")
		w.cfg.Propagator.Inject(ctx, headerCarrier(msg.Header))
		return ctx, span
	}
	ctx, span := w.childSpan(ctx, "publish "+msg.Subject, trace.SpanKindProducer,
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", "publish"),
		attribute.String("messaging.destination.name", msg.Subject),
		attribute.String("messaging.message.id", msgID))
	w.cfg.Propagator.Inject(ctx, headerCarrier(msg.Header))
	return ctx, span
}

func (w *Worker) publishAndWait(ctx context.Context, msg *nats.Msg, msgID string) error {
	fut, err := w.cfg.JetStream.PublishMsgAsync(msg, jetstream.WithMsgID(msgID))
	if err != nil {
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.PublishTimeout)
	defer cancel()
	select {
	case <-fut.Ok():
		return nil
	case err := <-fut.Err():
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	case <-ctx.Done():
		return fmt.Errorf("publish %s: no ack: %w", msg.Subject, ctx.Err())
	}
}

// publishResult publishes an encoded result event on the command's result subject.
func (w *Worker) publishResult(ctx context.Context, connection, resource, eventID string, status messages.Status, body []byte) error {
	return w.publish(ctx, w.resultMsg(connection, resource, status, body), eventID)
}

// deadLetter publishes the command verbatim, with its original headers and
// the reason it failed, to the dead-letter stream. The Sync-* headers
// describe this failure (a replay's copies of an earlier dead letter's are
// replaced, its HeaderReplay dropped); HeaderStreamSequence and
// HeaderStreamTime say where and when the command was stored, for a replay
// the original command, whose order key it keeps (for the operator's eyes:
// the worker takes them from the failed record, never from these headers). Its Nats-Msg-Id
// is deadletter-<id>, and deadletter-<id>-replay-<token> for a replay, which
// JetStream's duplicate window must not take for the first dead letter.
//
// When the verbatim dead letter cannot be stored (too large for the
// connection's max_payload or the stream's max message size, or headers
// over JetStream's 64 KiB), a trimmed one is published instead (see
// trimmedDeadLetter), so that a dead letter always exists and the command
// always ends.
func (w *Worker) deadLetter(ctx context.Context, j *job, code messages.ErrorCode, reason string) error {
	conn, res := j.connection, j.resource
	if conn == "" || res == "" {
		// The subject could not be read: keep the message findable by its
		// stream sequence under a connection name no config can hold.
		conn, res = "_unroutable", strconv.FormatUint(j.meta.Sequence.Stream, 10)
	}
	id := "deadletter-" + j.id
	switch {
	case j.id == "":
		id = "deadletter-seq-" + strconv.FormatUint(j.meta.Sequence.Stream, 10)
	case j.replay != "":
		id += "-replay-" + j.replay
	}
	msg := nats.NewMsg(w.subjects().DeadLetter(conn, res))
	for k, v := range j.msg.Headers() {
		msg.Header[k] = append([]string(nil), v...)
	}
	deleteHeader(msg.Header, HeaderReplay)
	w.setDeadLetterHeaders(msg.Header, j, code, reason)
	msg.Data = j.msg.Data()
	if w.fitsDeadLetter(msg) {
		err := w.publish(ctx, msg, id)
		if err == nil || !tooLarge(err) {
			return err
		}
	}
	j.span.AddEvent("dead_letter_trimmed")
	// Without the command's baggage, which may be what made it too large.
	return w.publish(baggage.ContextWithoutBaggage(ctx), w.trimmedDeadLetter(msg.Subject, j, code, reason), id)
}

// setDeadLetterHeaders sets the Sync-* headers that say why and where j's
// command failed.
func (w *Worker) setDeadLetterHeaders(h nats.Header, j *job, code messages.ErrorCode, reason string) {
	h.Set(HeaderErrorCode, string(code))
	h.Set(HeaderErrorMessage, truncateUTF8(w.scrub(j, reason), maxDeadLetterReason))
	h.Set(HeaderAttempts, strconv.Itoa(j.attempts))
	h.Set(HeaderDeliveries, strconv.FormatUint(j.meta.NumDelivered, 10))
	h.Set(HeaderStreamSequence, strconv.FormatUint(j.seq, 10))
	h.Set(HeaderStreamTime, j.stored.UTC().Format(time.RFC3339Nano))
	h.Set(HeaderSubject, j.msg.Subject())
}

// deleteHeader deletes key from h in any letter case, as headerCarrier
// reads it.
func deleteHeader(h nats.Header, key string) {
	for k := range h {
		if strings.EqualFold(k, key) {
			delete(h, k)
		}
	}
}
