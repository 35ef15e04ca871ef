package worker

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup"
)

// Replays.
//
// An operator replays a dead letter by publishing its body again on the
// commands subject, with the dead letter's headers and HeaderReplay set to a
// token of 1 to 20 digits (the dead letter's stream sequence). The worker
// then:
//   - begins the command with dedup.BeginRequest.Replay, so that the done
//     record of its failure (completed Reopenable: failed is the only
//     reopenable outcome) is claimed again and the command re-attempted; any
//     other done record answers as for a duplicate, so a replayed command
//     is applied at most once however often it is replayed;
//   - publishes the replay's result with id messages.ReplayResultEventID(id,
//     token), which JetStream's duplicate window does not confuse with the
//     failed result (a duplicate still republishes the stored result, under
//     the id it was stored with);
//   - takes the command's order key (when it has no data.sequence) from the
//     original stream sequence in HeaderStreamSequence, not from the
//     replay's own, so that a replay never outranks commands published after
//     the original; results and a new dead letter carry that sequence too;
//   - dead-letters it again if it fails again: a new dead letter, Nats-Msg-Id
//     deadletter-<id>-replay-<token>, describing the new failure, without
//     HeaderReplay.
//
// A redelivery of a replay whose failure was already stored (its result
// publish or its Term failed) reopens that record too; seeing its own
// event id in the reopened result, it puts the record back and answers as a
// duplicate, so one replay token never gets two results.

// maxReplayDigits is the longest replay token.
const maxReplayDigits = 20

// replayToken returns the replay token of a delivery's headers: the first
// value of HeaderReplay when it is 1 to 20 ASCII digits, "" otherwise (not a
// replay).
func replayToken(h nats.Header) string {
	v := headerCarrier(h).Get(HeaderReplay)
	if v == "" || len(v) > maxReplayDigits {
		return ""
	}
	for i := range len(v) {
		if v[i] < '0' || v[i] > '9' {
			return ""
		}
	}
	return v
}

// originalSequence returns the stream sequence that a replay's
// HeaderStreamSequence names, when it is a positive decimal uint64.
func originalSequence(h nats.Header) (uint64, bool) {
	n, err := strconv.ParseUint(headerCarrier(h).Get(HeaderStreamSequence), 10, 64)
	return n, err == nil && n > 0
}

// readReplay sets j's replay token and command stream sequence from the
// delivery's headers: the delivery's own sequence, or for a replay the
// original command's, when its headers name one.
func (w *Worker) readReplay(j *job) {
	j.seq = j.meta.Sequence.Stream
	j.replay = replayToken(j.msg.Headers())
	if j.replay == "" {
		return
	}
	j.span.SetAttributes(attrReplay.String(j.replay))
	if seq, ok := originalSequence(j.msg.Headers()); ok {
		j.seq = seq
		return
	}
	w.cfg.Logger.Warn("replay without a valid "+HeaderStreamSequence+" header; its own stream sequence is its order key",
		w.logAttrs(j, slog.String(HeaderStreamSequence, headerCarrier(j.msg.Headers()).Get(HeaderStreamSequence)))...)
}

// resultEventID is the id of the result j publishes: ReplayResultEventID
// for a replay, ResultEventID otherwise.
func (j *job) resultEventID() string {
	if j.replay != "" {
		return messages.ReplayResultEventID(j.id, j.replay)
	}
	return messages.ResultEventID(j.id)
}

// reopened handles a Begin of a replay that reopened the failed record of
// j's command (br.State Claimed with the record's result). When that failure
// is this replay's own (its result carries j's result event id: a
// redelivery of the replay after its failure was stored), the record is put
// back and j answered as a duplicate: br becomes Done. Otherwise br is
// returned as is, and the command is re-attempted. ok is false when the
// message was handed back.
func (w *Worker) reopened(ctx context.Context, j *job, br dedup.BeginResult) (dedup.BeginResult, bool) {
	ev, err := messages.DecodeResultEvent(br.Result)
	if err != nil || ev.ID != j.resultEventID() {
		j.span.AddEvent("reopened")
		return br, true
	}
	if !w.storeResult(ctx, j, br.Result, nil, true) {
		return br, false
	}
	return dedup.BeginResult{State: dedup.Done, Result: br.Result}, true
}

// storeResult stores body as the done record of j's command, replacing j's
// claim; false when that failed and the message was handed back.
func (w *Worker) storeResult(ctx context.Context, j *job, body []byte, orderKeys map[string]int64, reopenable bool) bool {
	sctx, span := w.childSpan(ctx, "dedup complete", trace.SpanKindClient)
	sctx, cancel := context.WithTimeout(sctx, w.cfg.StoreTimeout)
	start := time.Now()
	err := w.cfg.Store.Complete(sctx, dedup.CompleteRequest{CommandID: j.id, PayloadHash: j.hash, Owner: j.owner,
		LeaseKey: j.leaseKey, Result: body, OrderKeys: orderKeys, ResultTTL: w.resultTTL(j), Reopenable: reopenable})
	w.storeDone(sctx, opComplete, start)
	cancel()
	endSpan(span, err, "dedup complete failed")
	if err != nil {
		w.cfg.Logger.Warn("storing the result failed; handing back", w.logAttrs(j, slog.String("error", err.Error()))...)
		reason := "lease_lost"
		if !errors.Is(err, dedup.ErrLeaseLost) {
			w.release(j)
			reason = reasonStoreUnavailable
		}
		w.handBackJob(ctx, j, w.nakDelay(j), reason)
		return false
	}
	return true
}
