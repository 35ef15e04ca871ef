package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/messages"
)

// Bounds that make every message end (docs/CONTRACT.md §2, §5.6).
const (
	// maxHeaderBytes is JetStream's limit on a stored message's headers.
	maxHeaderBytes = 1<<16 - 1
	// deadLetterHeaderReserve is the room a command's headers must leave
	// for the headers a dead letter adds (the Sync-* headers, the reason
	// cut to maxDeadLetterReason, the trace context). A command whose
	// headers leave less is refused at once.
	deadLetterHeaderReserve = 4 << 10
	// maxDeadLetterReason caps the Sync-Error header.
	maxDeadLetterReason = 1 << 10
	// traceHeaderReserve is the room left in a dead letter for the trace
	// context the publish adds.
	traceHeaderReserve = 1 << 10
	// backstopMargin is how many deliveries the consumers' server-side
	// MaxDeliver allows beyond the worker's own delivery budget
	// (Config.MaxDeliver): hand-backs that spend no budget (store
	// unavailable, lease busy, publish failed) get that many more, and the
	// last one ends the command (see giveUp) rather than letting the
	// server drop it silently.
	backstopMargin = 5
)

// backstop is the server-side MaxDeliver of a consumer: the worker's
// delivery budget plus backstopMargin; the catch-all consumer adds the
// deliveries the unknown-connection grace may take (see unroutedDelay).
func (w *Worker) backstop(unrouted bool) int {
	n := w.cfg.MaxDeliver + backstopMargin
	if unrouted {
		n += w.graceDeliveries()
	}
	return n
}

// headerBytes is the size of h as NATS encodes it.
func headerBytes(h nats.Header) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// messageLimit is the largest dead letter that can be stored: the
// connection's max_payload, or the dead-letter stream's max message size if
// smaller.
func (w *Worker) messageLimit() int {
	limit := w.cfg.Streams.deadLetterMaxMsgSize()
	if nc := w.cfg.JetStream.Conn(); nc != nil {
		if mp := nc.MaxPayload(); mp > 0 && (limit <= 0 || int(mp) < limit) {
			limit = int(mp)
		}
	}
	return limit
}

// fitsDeadLetter reports whether msg, with the trace context still to be
// added, can be stored.
func (w *Worker) fitsDeadLetter(msg *nats.Msg) bool {
	h := headerBytes(msg.Header) + traceHeaderReserve
	limit := w.messageLimit()
	return h <= maxHeaderBytes && (limit <= 0 || h+len(msg.Data) <= limit)
}

// tooLarge reports whether a publish failed because the message is too
// large to store.
func tooLarge(err error) bool {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode {
		case jetstream.JSErrCodeStreamMessageExceedsMaximum, jsErrCodeStreamHeaderExceedsMaximum:
			return true
		}
	}
	return errors.Is(err, nats.ErrMaxPayload)
}

// jsErrCodeStreamHeaderExceedsMaximum: "header size exceeds maximum
// allowed of 64k" (nats.go has no constant for it).
const jsErrCodeStreamHeaderExceedsMaximum jetstream.ErrorCode = 10097

// trimmedDeadLetter is the dead letter of j's command when the verbatim one
// cannot be stored: the command's own headers are dropped (but for
// Content-Type), and its body too when it still does not fit. HeaderTrimmed
// says what was dropped, HeaderOriginalSize how large the command was, and
// HeaderSourceSequence where the verbatim command is in the commands stream.
func (w *Worker) trimmedDeadLetter(subject string, j *job, code messages.ErrorCode, reason string) *nats.Msg {
	msg := nats.NewMsg(subject)
	if ct := j.msg.Headers().Get("Content-Type"); ct != "" && len(ct) <= 256 {
		msg.Header.Set("Content-Type", ct)
	}
	w.setDeadLetterHeaders(msg.Header, j, code, reason)
	msg.Header.Set(HeaderOriginalSize, fmt.Sprintf("%d,%d", headerBytes(j.msg.Headers()), len(j.msg.Data())))
	msg.Header.Set(HeaderSourceSequence, strconv.FormatUint(j.meta.Sequence.Stream, 10))
	msg.Header.Set(HeaderTrimmed, "headers")
	msg.Data = j.msg.Data()
	if !w.fitsDeadLetter(msg) {
		msg.Header.Set(HeaderTrimmed, "headers,body")
		msg.Data = nil
	}
	return msg
}

// refusal says why a message cannot be handled at all: its headers leave
// no room for the dead-letter headers (JetStream stores at most 64 KiB of
// headers, and a message at most the payload limit). "" when it can be.
// Such a command is refused at once: rejected when its ids can be read,
// else dead-lettered (trimmed); never retried. An oversize body is the
// decoder's to refuse (DecodeOptions.MaxBytes).
func (w *Worker) refusal(msg jetstream.Msg) string {
	h := headerBytes(msg.Headers())
	room := maxHeaderBytes - h
	if limit := w.messageLimit(); limit > 0 {
		room = min(room, limit-h-len(msg.Data()))
	}
	if room >= deadLetterHeaderReserve {
		return ""
	}
	return fmt.Sprintf("the command's headers (%d bytes) leave no room for the dead-letter headers (%d bytes needed): refused", h, deadLetterHeaderReserve)
}

// giveUp ends a command on the last delivery the consumer's backstop
// allows, instead of handing it back for a redelivery the server would
// never make: a dead letter with code internal_error naming the reason it
// would have been handed back, a failed result when the ids are known (a
// replay of the dead letter retries it), and a term. If even that cannot
// be published, the delivery is terminated and the log line is its trace.
func (w *Worker) giveUp(ctx context.Context, j *job, reason string) {
	if j.givingUp {
		w.cfg.Logger.Error("command terminated on its last allowed delivery; its dead letter or result could not be published",
			w.logAttrs(j, slog.String("reason", reason))...)
		w.term(j)
		return
	}
	j.givingUp = true
	j.span.AddEvent("delivery_backstop", trace.WithAttributes(attribute.String("oauthsync.reason", reason)))
	msg := fmt.Sprintf("still unfinished on delivery %d, the last the stream allows (last hand-back reason: %s); dead-lettered", j.meta.NumDelivered, reason)
	if j.id == "" {
		w.deadLetterUnaddressable(ctx, j, messages.CodeInternalError, msg)
		return
	}
	w.failWith(ctx, j, &messages.ResultError{Code: messages.CodeInternalError, Message: msg, Retryable: true})
}
