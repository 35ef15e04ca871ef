package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup"
)

// Replays.
//
// An operator replays a dead letter by publishing its body again on the
// commands subject, with the dead letter's headers and HeaderReplay set to a
// token of 1 to 20 digits (the dead letter's stream sequence). The worker
// trusts no header value of it (docs/CONTRACT.md §2): HeaderReplay only asks
// the store to reopen the command's failed record, and what the store holds
// decides. The worker then:
//   - begins the command with dedup.BeginRequest.Replay, so that the done
//     record of its failure (completed Reopenable: failed is the only
//     reopenable outcome, with the same payload hash) is claimed again and
//     the command re-attempted; any other done record answers as for a
//     duplicate, so a replayed command is applied at most once however
//     often it is replayed;
//   - when no failed record was reopened (an ordinary command with a
//     forged header, or a replay whose record is gone), ignores the
//     header: the command is an ordinary one, at its own place in the
//     order, with an ordinary result id (settleClaim);
//   - takes the command's place in the order (its stream sequence and the
//     time JetStream stored it, which make the order key of a command
//     without data.sequence and break ties) from the failed record, which
//     kept the original command's (dedup.Origin), so that a replay never
//     outranks commands published after the original, and a header can
//     pin no field; HeaderStreamSequence and HeaderStreamTime on the dead
//     letter are for the operator's eyes only;
//   - publishes the replay's result with id messages.ReplayResultEventID(id,
//     token), which JetStream's duplicate window does not confuse with the
//     failed result (a duplicate still republishes the stored result, under
//     the id it was stored with);
//   - dead-letters it again if it fails again: a new dead letter, Nats-Msg-Id
//     deadletter-<id>-replay-<token>, describing the new failure, without
//     HeaderReplay, and a failed record keeping the original's place again.
//
// A redelivery of a replay whose failure was already stored (its result
// publish or its Term failed) reopens that record too; seeing its own
// event id in the reopened result, it puts the record back and answers as a
// duplicate, so one replay token never gets two results.
//
// A replay handed back after a transient failure puts the failed record
// back (putBack) rather than releasing its claim, so that its redelivery
// reopens it again and is still the replay, at the original's place. Only
// a replay whose claim expires (its worker killed) leaves the id unknown:
// its redelivery is then an ordinary command.

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

// readReplay sets j's place in the commands stream (the delivery's own
// stream sequence and stored time) and, when the delivery asks to be a
// replay, its candidate replay token; settleClaim decides on it once the
// store has answered.
func (w *Worker) readReplay(j *job) {
	j.seq, j.stored = j.meta.Sequence.Stream, j.meta.Timestamp
	j.replay = replayToken(j.msg.Headers())
}

// settleClaim decides, from the store's answer to Begin, whether j is a
// replay, and takes j's place in the order from the store. A reopened
// failed record (Claimed with a result) makes j a replay, at the place the
// record kept. A claim of anything else makes the replay header void: j is
// an ordinary command, at the place of the earliest copy of it any Begin
// saw (the store's sighting: a copy published again after JetStream's
// duplicate window is ordered as the first one was). Other states leave j
// as it is (they answer from the stored record).
func (w *Worker) settleClaim(j *job, br dedup.BeginResult) {
	if br.State != dedup.Claimed {
		return
	}
	switch {
	case j.replay != "" && br.Result == nil:
		w.cfg.Logger.Info("ignoring the "+HeaderReplay+" header: this command has no failed record to replay; processed as an ordinary command", w.logAttrs(j)...)
		j.span.AddEvent("replay_header_ignored")
		j.replay = ""
	case j.replay != "":
		j.span.SetAttributes(attrReplay.String(j.replay))
		j.reopened = br.Result
		if br.Origin.IsZero() {
			// A failed record stored before records kept their origin.
			w.cfg.Logger.Warn("the reopened failed record keeps no stream position; the replay's own is its place in the order", w.logAttrs(j)...)
			return
		}
	}
	if br.Origin.IsZero() {
		return
	}
	if br.Origin.Seq != j.seq {
		j.span.AddEvent("ordered_as_an_earlier_copy", trace.WithAttributes(attribute.Int64("oauthsync.origin_stream_sequence", int64(br.Origin.Seq))))
	}
	j.seq, j.stored = br.Origin.Seq, br.Origin.Time
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

// putBack gives up a replay's claim and lease by storing the failed record
// it reopened again, as it was (reopenable, with the original's origin).
// When that fails, the claim expires with its TTL.
func (w *Worker) putBack(j *job) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.StoreTimeout)
	defer cancel()
	start := time.Now()
	err := w.cfg.Store.Complete(ctx, dedup.CompleteRequest{CommandID: j.id, PayloadHash: j.hash, Owner: j.owner, LeaseKey: j.leaseKey,
		Result: j.reopened, ResultTTL: w.cfg.ResultTTL, Reopenable: true, Origin: dedup.Origin{Seq: j.seq, Time: j.stored}})
	w.storeDone(ctx, opComplete, start)
	if err != nil {
		w.cfg.Logger.Warn("putting the reopened failed record back failed; the claim expires with its TTL", w.logAttrs(j, slog.String("error", err.Error()))...)
	}
}

// storeResult stores body as the done record of j's command, replacing j's
// claim; false when that failed and the message was handed back.
func (w *Worker) storeResult(ctx context.Context, j *job, body []byte, orderKeys map[string]dedup.OrderKey, reopenable bool) bool {
	err := w.completeOnce(ctx, w.completeRequest(j, body, orderKeys, reopenable))
	if err != nil {
		w.cfg.Logger.Warn("storing the result failed; handing back", w.logAttrs(j, slog.String("error", err.Error()))...)
		reason := "lease_lost"
		if !errors.Is(err, dedup.ErrLeaseLost) {
			w.release(j, 0)
			reason = reasonStoreUnavailable
		}
		w.handBackJob(ctx, j, w.nakDelay(j), reason)
		return false
	}
	return true
}
