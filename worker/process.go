package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/flow"
)

// job is one delivery being handled.
type job struct {
	// held is the message under the heartbeat; msg is held.msg.
	held     *tracked
	msg      jetstream.Msg
	meta     *jetstream.MsgMetadata
	consumer string
	// lane is the connection's lane the delivery came in (lanes.go).
	lane    string
	started time.Time
	span    trace.Span
	metrics *connMetrics

	// Known once the command is decoded (or its ids could be read).
	cmd                      *messages.Command
	id, connection, resource string
	batch, provider, hash    string
	owner, leaseKey          string
	attempts                 int
	applied, skipped         []string
	secret                   string

	// skippedKeys holds, per skipped field, the order key that won.
	skippedKeys map[string]int64

	// replay is the token of a replayed dead letter (HeaderReplay), ""
	// when the delivery is no replay (or its header matched no failed
	// record: see settleClaim). seq and stored are where and when
	// JetStream stored the command: the delivery's own until Begin, then
	// the store's (for a replay the original command's, as its failed
	// record kept them; otherwise the earliest copy's its sighting kept).
	// With data.sequence they make the command's order key.
	replay string
	seq    uint64
	stored time.Time
	// reopened is the failed record's result that j's Begin reopened (a
	// replay); release puts it back instead of leaving the id unknown.
	reopened []byte

	// maxDeliver is the consumer's server-side delivery backstop (see
	// Worker.backstop); settled is set once the delivery is settled (or
	// deliberately left to its ack wait): nothing may settle it again.
	maxDeliver int
	settled    bool
	givingUp   bool

	// mayHaveWritten: an attempt of this delivery may have written
	// without its answer; parkedSince: when it began waiting for flow
	// control (zero: it never did), see park.
	mayHaveWritten bool
	parkedSince    time.Time
	// lastFailure is the last transient failure of this delivery's
	// attempts; waitedOut is set when, on its last allowed delivery, j
	// waited for flow control longer than MaxParked: its next Begin
	// fails it (see apply).
	lastFailure *adapters.Error
	waitedOut   *parkedError

	// rejected: the result being stored is a rejection (RejectedResultTTL).
	rejected bool
	// resumed: Begin took the resource over from an earlier delivery of
	// the command that did not finish; it may have written.
	resumed bool
	// carriesSecrets: its body has secret-named fields, found when it was
	// granted a ride in another command's write: it never rides (merge.go).
	carriesSecrets bool

	// handedOff: the delivery went to the completer (publishThenAck),
	// which settles it and then calls end: its span, the in-flight
	// gauge, its slot of the consume loop.
	handedOff bool
	end       func()
}

// handle processes one held delivery to its single settlement: an ack
// (result published), a term (dead-lettered), a nak (handed back), or,
// only when a forced stop interrupts storing the outcome of a write that
// landed, nothing (see storeAfterWrite). done is called once the delivery
// is settled: when handle returns, or, for a delivery handed to the
// completer, by the completer.
func (w *Worker) handle(l *consumeLoop, held *tracked, done func()) {
	var j *job
	defer func() {
		if j == nil || !j.handedOff {
			done()
		}
	}()
	msg := held.msg
	defer w.recoverUnstarted(l, msg)
	meta, err := msg.Metadata()
	if err != nil {
		w.cfg.Logger.Error("message without JetStream metadata terminated", "subject", msg.Subject(), "error", err)
		_ = msg.Term()
		return
	}
	backstop := w.backstop(l.unrouted)
	if w.stopping.Err() != nil && int(meta.NumDelivered) < backstop {
		w.handBack(msg, 0) // not started: hand it straight back
		return
	}
	if l.unrouted && w.routed(msg.Subject()) {
		_ = msg.Ack() // a connection consumer owns it
		return
	}
	if l.unrouted && w.deferUnrouted(msg, meta, backstop) {
		return
	}
	m := l.metrics
	w.inst.inFlight.Add(context.Background(), 1, m.conn)
	if meta.NumDelivered > 1 {
		w.inst.redeliveries.Add(context.Background(), 1, m.conn)
	}
	ctx, span := w.startProcessSpan(msg, meta, l)
	ended := func() {
		// Not in flight any more before the span ends: whoever sees the
		// span ended sees the gauge down.
		w.inst.inFlight.Add(context.Background(), -1, m.conn)
		span.End()
	}
	j = &job{held: held, msg: msg, meta: meta, consumer: l.consumer, lane: l.lane, started: w.cfg.now(), span: span, metrics: m,
		owner: w.cfg.Instance + ":" + randomToken(), maxDeliver: backstop}
	j.end = func() { ended(); done() }
	defer func() {
		if !j.handedOff {
			ended()
		}
	}()
	defer w.recoverPanic(ctx, j)
	w.process(ctx, j)
}

// process decodes, checks and applies j's command.
func (w *Worker) process(ctx context.Context, j *job) {
	msg := j.msg
	w.readReplay(j)
	refusal := w.refusal(msg)

	d := w.decodeHeld(j.held)
	cmd, err := d.cmd, d.err
	if err != nil {
		var inv *messages.InvalidError
		if errors.As(err, &inv) && inv.Identified() {
			j.id, j.connection, j.resource = inv.ID, inv.Connection, inv.Resource
			j.hash, _ = messages.InvalidBodyDigest(w.cfg.DigestKey, msg.Data()) // the key is never empty
			w.annotate(ctx, j)
			w.reject(ctx, j, &messages.ResultError{Code: messages.CodeInvalidCommand, Message: w.scrub(j, err.Error())})
			return
		}
		if errors.As(err, &inv) {
			j.connection, j.resource = inv.Connection, inv.Resource
		}
		w.deadLetterUnreadable(ctx, j, err)
		return
	}
	j.cmd, j.id, j.connection, j.resource, j.batch = cmd, cmd.ID, cmd.Connection, cmd.Resource, cmd.Batch
	if j.hash = d.hash; d.hashErr != nil { // not for a decoded command
		w.deadLetterUnreadable(ctx, j, d.hashErr)
		return
	}
	if s := cmd.Data.Changes.ClientSecret; s != nil {
		j.secret = s.Reveal()
	}
	w.annotate(ctx, j)
	if refusal != "" {
		w.reject(ctx, j, &messages.ResultError{Code: messages.CodeInvalidCommand, Message: refusal})
		return
	}

	conn := w.conns[cmd.Connection]
	if conn == nil {
		w.reject(ctx, j, &messages.ResultError{Code: messages.CodeUnknownConnection,
			Message: fmt.Sprintf("connection %q is not configured on this worker", cmd.Connection)})
		return
	}
	j.provider = conn.Adapter.Provider()
	j.span.SetAttributes(attrProvider.String(j.provider))
	update := adapters.Update{Resource: cmd.Resource, Changes: cmd.Data.Changes, ProviderFields: cmd.Data.ProviderFields}
	if err := conn.Adapter.Validate(update); err != nil {
		w.reject(ctx, j, w.resultError(j, classify(ctx, err)))
		return
	}
	w.apply(ctx, j, conn, update)
}

// annotate puts the command's identity on its span and, on a redelivery,
// links the span to the previous delivery's.
func (w *Worker) annotate(ctx context.Context, j *job) {
	j.span.SetAttributes(attrCommandID.String(j.id), attrConnection.String(j.connection), attrResource.String(j.resource))
	if j.batch != "" {
		j.span.SetAttributes(attrBatch.String(j.batch))
	}
	w.linkPreviousDelivery(ctx, j)
}

// routed reports whether a connection consumer of this worker receives subject.
func (w *Worker) routed(subject string) bool {
	rest, ok := strings.CutPrefix(subject, strings.TrimSuffix(w.cfg.Subjects.Commands(), ">"))
	if !ok {
		return false
	}
	conn, res, ok := strings.Cut(rest, ".")
	if r, bulk := strings.CutSuffix(res, messages.BulkSuffix); bulk && r != "" {
		res = r
	}
	return ok && res != "" && !strings.Contains(res, ".") && w.conns[conn] != nil
}

// reject finishes an identified command that will not be applied: unless it
// is a duplicate or conflict, its rejected result is stored and published.
func (w *Worker) reject(ctx context.Context, j *job, rerr *messages.ResultError) {
	br, ok := w.begin(ctx, j, nil)
	if !ok {
		return
	}
	if br.State != dedup.Claimed {
		w.answerKnown(ctx, j, br)
		return
	}
	w.finish(ctx, j, w.result(j, messages.StatusRejected, rerr), nil)
}

// apply runs a valid command: lease, order keys, retries, result. When
// flow control does not admit an attempt (a rate limit, a provider's wait,
// an open circuit), the command gives its lease back and waits without it,
// keeping its delivery (see park), then begins again.
func (w *Worker) apply(ctx context.Context, j *job, conn *Connection, update adapters.Update) {
	j.leaseKey = j.connection + "/" + j.resource
	t, ok := w.takeOwnTurn(ctx, j, conn, update)
	if !ok {
		return
	}
	defer w.turns.done(j.leaseKey, t)
	g := w.gates[conn.Name]
	merge := true
	for {
		pe, alone := w.applyOnce(ctx, j, conn, g, update, t, merge)
		if alone {
			// The provider refused a merged write: j writes alone.
			merge = false
			continue
		}
		if pe == nil {
			return
		}
		ok, reason := w.park(ctx, j, g, pe, t)
		switch {
		case ok:
		case reason == reasonFlowParked && int(j.meta.NumDelivered) >= w.cfg.MaxDeliver:
			// Its last allowed delivery waited out MaxParked: it fails
			// like a command whose delivery budget is spent, once it
			// holds its resource again.
			j.waitedOut = pe
		default:
			delay := w.nakDelay(j)
			if reason == "stopping" {
				delay = 0
			}
			w.handBackJob(ctx, j, delay, reason)
			return
		}
	}
}

// takeOwnTurn waits for j's own turn on its resource (takeTurn); each
// time j is granted a ride in another command's write instead, it rides
// (rideAlong), and waits again if that leaves it unsettled.
func (w *Worker) takeOwnTurn(ctx context.Context, j *job, conn *Connection, update adapters.Update) (*turn, bool) {
	for {
		t, ok := w.takeTurn(ctx, j, conn, update)
		if !ok || t.ride == nil {
			return t, ok
		}
		if !w.rideAlong(ctx, j, update, t.ride) {
			return nil, false
		}
	}
}

// takeTurn waits for j's turn on its resource among the commands this
// worker holds for it (turns.go). ok is false when j was handed back: the
// worker stopped first, or j waited LeaseWait as an overflow (half the
// connection's goroutines wait for the resource already), as for a busy
// lease (see begin).
func (w *Worker) takeTurn(ctx context.Context, j *job, conn *Connection, update adapters.Update) (*turn, bool) {
	t, now := w.turns.take(j.leaseKey, j.cmd.OrderKey(j.meta.Timestamp, j.meta.Sequence.Stream), update.Fields(),
		j.lane == laneInteractive, mergeable(j), max(1, conn.MaxInFlight/2))
	if now {
		return t, true
	}
	j.span.AddEvent("turn_wait")
	w.inst.flowWaits.Add(ctx, 1, j.metrics.flowWait(waitTurn))
	var timeout <-chan time.Time
	if t.overflow {
		timer := time.NewTimer(w.cfg.LeaseWait)
		defer timer.Stop()
		timeout = timer.C
	}
	if !w.turns.await(j.leaseKey, t, w.stopping.Done(), timeout) {
		if w.stopping.Err() != nil {
			w.handBackJob(ctx, j, 0, "stopping")
		} else {
			w.handBackJob(ctx, j, w.cfg.LeaseWait+jitter(w.cfg.LeaseWait), "lease_busy")
		}
		return nil, false
	}
	return t, true
}

// waitedOutError is the failure of a command that waited out MaxParked on
// its last allowed delivery: its last attempt's transient failure, or, if
// it made none, what it waited for.
func (w *Worker) waitedOutError(j *job, pe *parkedError) *adapters.Error {
	if j.lastFailure != nil {
		return j.lastFailure
	}
	return &adapters.Error{Kind: adapters.KindUnavailable, Message: fmt.Sprintf(
		"waited %s for flow control (%s) on delivery %d, the last allowed", w.cfg.MaxParked, pe.reason, j.meta.NumDelivered)}
}

// applyOnce begins j, applies it (with merge, carrying the fields of
// waiting commands of its resource that ride along, merge.go) and settles
// it, unless flow control stops it first: then it releases what it took
// and returns why. alone is true when the provider refused a merged
// write: the riders went back to wait for their own turns and j, still
// claimed, is to be applied again without riders.
func (w *Worker) applyOnce(ctx context.Context, j *job, conn *Connection, g *flow.Gate, update adapters.Update, turn *turn, merge bool) (pe *parkedError, alone bool) {
	j.skipped, j.skippedKeys = nil, nil
	fields := update.Fields()
	br, ok := w.begin(ctx, j, fields)
	if !ok {
		return nil, false
	}
	if br.State != dedup.Claimed {
		w.answerKnown(ctx, j, br)
		return nil, false
	}

	key := j.cmd.OrderKey(j.stored, j.seq)
	if w.markStale(j, fields, br.OrderKeys, key) {
		w.finishSuperseded(ctx, j)
		return nil, false
	}
	update = withoutFields(update, j.skipped)
	if j.waitedOut != nil {
		w.fail(ctx, j, w.waitedOutError(j, j.waitedOut))
		return nil, false
	}

	work, cancel := context.WithCancel(w.work)
	defer cancel()
	t := j.held
	t.claim(w.renewRequest(j, ""), cancel)
	defer t.unclaim()

	// The riders of a merged write, once its first attempt is admitted.
	// Whatever ends this call, each of them hears of it (settle does
	// nothing once the outcome below was sent).
	var rd *ride
	defer func() { rd.settle(rideOutcome{delay: -1, reason: "holder_failed"}) }()
	written := update

	// One span per attempt. A transiently failed attempt's span stays open
	// until the retry loop has chosen the wait before the next attempt, so
	// that the wait is on the span; the last attempt's span ends after the
	// loop.
	var attemptSpan trace.Span
	res := applyWithRetry(trace.ContextWithSpan(work, j.span), w.stopping, w.cfg,
		func(ctx context.Context, attempt int) (adapters.Outcome, error) {
			tk, err := w.admitAttempt(ctx, j, g)
			if err != nil {
				return adapters.Outcome{}, err
			}
			if merge && attempt == 1 {
				rd = w.gatherRiders(ctx, j, turn, update)
				written = rd.update(update)
			}
			ctx, attemptSpan = w.childSpan(ctx, "apply "+j.provider, trace.SpanKindInternal, attrAttempt.Int(j.attempts+attempt), attrProvider.String(j.provider))
			out, err := conn.Adapter.Apply(ctx, written)
			var ae *adapters.Error
			if err != nil {
				ae = classify(ctx, err)
				if ae.MayHaveWritten && !j.mayHaveWritten {
					j.mayHaveWritten = true
					w.recordMayHaveWritten(ctx, j)
				}
				if ae.MayHaveWritten {
					w.ridersMayHaveWritten(ctx, rd)
				}
				attemptSpan.SetAttributes(semconv.ErrorTypeKey.String(string(ae.Kind.Code())))
				attemptSpan.SetStatus(codes.Error, "provider call failed")
				if ae.Kind == adapters.KindRateLimited && ae.RetryAfter > 0 {
					// The provider's own wait holds the whole fleet.
					if werr := g.ProviderWait(ctx, ae.RetryAfter); werr != nil {
						w.cfg.Logger.Warn("sharing the provider's wait signal failed", w.logAttrs(j, slog.String("error", werr.Error()))...)
					}
				}
			}
			tk.Done(ctx, attemptOutcome(ctx, ae))
			return out, err
		},
		func(err *adapters.Error, wait time.Duration) {
			if attemptSpan != nil {
				attemptSpan.SetAttributes(attrRetryWait.Int64(wait.Milliseconds()))
				attemptSpan.End()
				attemptSpan = nil
			}
			w.inst.retries.Add(ctx, 1, j.metrics.connProvider)
			w.cfg.Logger.Info("transient provider failure; retrying", w.logAttrs(j, slog.String("error", w.scrub(j, err.Error())), slog.Duration("wait", wait))...)
		})
	if attemptSpan != nil {
		attemptSpan.End()
	}
	j.attempts += res.attempts

	switch {
	case t.lost.Load():
		// Another owner has the lease now: it will finish the command.
		rd.settle(rideOutcome{delay: -1, reason: "lease_lost"})
		w.handBackJob(ctx, j, w.nakDelay(j), "lease_lost")
	case res.parked != nil:
		// Flow control: this attempt was not made (see admitAttempt);
		// the lease goes back while j waits, held for j if an earlier
		// attempt may have written. Its riders wait for their own turns.
		if res.err != nil {
			j.lastFailure = res.err
		}
		rd.settle(rideOutcome{again: true, reason: "flow_wait"})
		w.release(j, w.holdAfter(j, 0))
		return res.parked, false
	case res.err == nil:
		// The riders record their outcomes first, under j's lease.
		rd.settle(rideOutcome{written: true, status: res.outcome.Status, attempts: res.attempts})
		status := messages.StatusApplied
		// An earlier attempt's write, or an earlier delivery's, may have
		// landed without its answer being recorded: the values found in
		// place are then this command's own, applied.
		if res.outcome.Status == adapters.Unchanged && !j.mayHaveWritten && !j.resumed {
			status = messages.StatusUnchanged
		} else {
			j.applied = update.Fields()
		}
		keys := make(map[string]dedup.OrderKey, len(fields))
		for _, f := range update.Fields() {
			keys[f] = key
		}
		w.finish(ctx, j, w.result(j, status, nil), keys)
	case !res.err.Retryable() && rd != nil:
		// Which command's field the provider refused is unknown: the
		// riders wait for their own turns, j writes alone.
		j.span.AddEvent("merged_write_refused", trace.WithAttributes(attrErrorCode.String(string(res.err.Kind.Code()))))
		rd.settle(rideOutcome{again: true, reason: "merged_write_refused"})
		return nil, true
	case !res.err.Retryable():
		w.finish(ctx, j, w.result(j, messages.StatusRejected, w.resultError(j, res.err)), nil)
	case res.interrupted || w.work.Err() != nil:
		rd.settle(rideOutcome{reason: "stopping"})
		w.release(j, w.holdAfter(j, 0))
		w.handBackJob(ctx, j, 0, "stopping")
	case int(j.meta.NumDelivered) >= w.cfg.MaxDeliver:
		rd.settle(rideOutcome{delay: -1, reason: "retry_budget_spent"})
		w.fail(ctx, j, res.err)
	default:
		delay := max(w.nakDelay(j), res.retryAfter)
		rd.settle(rideOutcome{delay: delay, reason: "retry_budget_spent"})
		w.release(j, w.holdAfter(j, delay))
		w.handBackJob(ctx, j, delay, "retry_budget_spent")
	}
	return nil, false
}

// markStale puts in j.skipped (and j.skippedKeys) the fields whose stored
// order key is above j's key, and reports whether that is all of fields:
// j is superseded.
func (w *Worker) markStale(j *job, fields []string, stored map[string]dedup.OrderKey, key dedup.OrderKey) bool {
	for _, f := range fields {
		if k, ok := stored[f]; ok && k.Compare(key) > 0 {
			j.skipped = append(j.skipped, f)
			if j.skippedKeys == nil {
				j.skippedKeys = map[string]int64{}
			}
			j.skippedKeys[f] = k.Key
		}
	}
	return len(j.skipped) == len(fields)
}

// finishSuperseded finishes j, every field of which a higher order key set.
func (w *Worker) finishSuperseded(ctx context.Context, j *job) {
	j.span.AddEvent("superseded", trace.WithAttributes(attribute.StringSlice("oauthsync.skipped_fields", j.skipped)))
	w.finish(ctx, j, w.result(j, messages.StatusSuperseded, nil), nil)
}

// renewRequest is the heartbeat's renewal of j's claim, lease and hold;
// joinOwner: j joined that owner's lease (merge.go).
func (w *Worker) renewRequest(j *job, joinOwner string) dedup.RenewRequest {
	return dedup.RenewRequest{CommandID: j.id, Owner: j.owner, LeaseKey: j.leaseKey, TTL: w.cfg.LeaseTTL, Hold: w.holdFor(j.connection), JoinOwner: joinOwner}
}

// recordMayHaveWritten tells the store that j's attempt may have written
// without its answer, before anything else happens to j: a later delivery
// of it then begins Resumed however late it comes (its hold may have
// lapsed meanwhile, if this worker dies), and takes the values it finds in
// place as its own, applied. If the store cannot be told, the hold is
// still there.
func (w *Worker) recordMayHaveWritten(ctx context.Context, j *job) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.StoreTimeout)
	defer cancel()
	j.span.AddEvent("may_have_written")
	if err := w.cfg.Store.MayHaveWritten(ctx, j.id, j.owner, w.cfg.ResultTTL); err != nil {
		w.cfg.Logger.Warn("recording that a write may have landed failed; the resource hold still covers it",
			w.logAttrs(j, slog.String("error", err.Error()))...)
	}
}

// begin calls Store.Begin, waiting in process (up to LeaseWait) while the
// resource lease is busy. ok is false when the message was handed back.
func (w *Worker) begin(ctx context.Context, j *job, fields []string) (dedup.BeginResult, bool) {
	req := w.beginRequest(j, fields)
	deadline := w.cfg.now().Add(w.cfg.LeaseWait)
	wait := 5 * time.Millisecond
	failures := 0
	for {
		// The store guard: nothing is begun on a store that may have lost
		// its state. j waits here, held (the heartbeat keeps it in
		// progress), rather than being handed back: a redelivery would
		// come after copies published later, and a later copy of its id
		// (a reused id with another payload) could be claimed before this
		// one was ever sighted. The guard sights the waiting copies before
		// it lets anything be fetched again (see checkStore).
		if !w.waitStoreTrusted() {
			w.handBackJob(ctx, j, 0, "stopping")
			return dedup.BeginResult{}, false
		}
		br, err := w.storeBegin(ctx, req)
		if err != nil {
			w.storeCallFailed(err)
			// With a guard the failure paused applying until a check
			// says the store is fine: j waits for it, above. A store that
			// passes the checks and fails the calls does not keep j.
			if failures++; w.cfg.StoreGuard != nil && failures < maxBeginFailures {
				w.cfg.Logger.Warn("dedup store unavailable; the command waits for it", w.logAttrs(j, slog.String("error", err.Error()))...)
				continue
			}
			w.cfg.Logger.Warn("dedup store unavailable; command handed back", w.logAttrs(j, slog.String("error", err.Error()))...)
			w.handBackJob(ctx, j, w.nakDelay(j), reasonStoreUnavailable)
			return br, false
		}
		w.settleClaim(j, br)
		if br.State == dedup.Claimed && br.Resumed {
			j.resumed = true
			j.span.AddEvent("resumed", trace.WithAttributes(attribute.String("oauthsync.reason", "an earlier delivery held the resource and may have written")))
		}
		if br.State == dedup.Claimed && br.Result != nil {
			return w.reopened(ctx, j, br)
		}
		if br.State != dedup.LeaseBusy {
			return br, true
		}
		if br.HeldFor > 0 {
			// Held for a command whose delivery stopped without an
			// outcome: it lasts until that command's redelivery, not the
			// moment a live delivery finishes; waiting here is no use.
			d := min(br.HeldFor, w.cfg.LeaseTTL)
			w.handBackJob(ctx, j, d+jitter(d/4), "resource_held")
			return br, false
		}
		if w.cfg.now().Add(wait).After(deadline) || w.stopping.Err() != nil {
			w.handBackJob(ctx, j, w.cfg.LeaseWait+jitter(w.cfg.LeaseWait), "lease_busy")
			return br, false
		}
		select {
		case <-time.After(wait + jitter(wait)):
		case <-w.stopping.Done():
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// beginRequest is j's Begin, reading the order keys of fields.
func (w *Worker) beginRequest(j *job, fields []string) dedup.BeginRequest {
	return dedup.BeginRequest{CommandID: j.id, PayloadHash: j.hash, Owner: j.owner, LeaseKey: j.leaseKey, Fields: fields, TTL: w.cfg.LeaseTTL,
		Replay: j.replay != "", Origin: dedup.Origin{Seq: j.seq, Time: j.stored}, SightingTTL: w.cfg.ResultTTL, Hold: w.holdFor(j.connection)}
}

func (w *Worker) storeBegin(ctx context.Context, req dedup.BeginRequest) (dedup.BeginResult, error) {
	ctx, span := w.childSpan(ctx, "dedup begin", trace.SpanKindClient)
	ctx, cancel := context.WithTimeout(ctx, w.cfg.StoreTimeout)
	defer cancel()
	start := time.Now()
	br, err := w.cfg.Store.Begin(ctx, req)
	w.storeDone(ctx, opBegin, start)
	span.SetAttributes(attribute.String("oauthsync.dedup.state", br.State.String()))
	endSpan(span, err, "dedup begin failed")
	return br, err
}

// answerKnown handles a command the store already knows: a duplicate
// republishes the stored result; a conflict gets its own id_conflict event;
// one in progress elsewhere is handed back.
func (w *Worker) answerKnown(ctx context.Context, j *job, br dedup.BeginResult) {
	switch br.State {
	case dedup.Done:
		j.span.AddEvent("deduplicated")
		ev, err := messages.DecodeResultEvent(br.Result)
		if err != nil {
			w.cfg.Logger.Error("stored result unreadable; handing back", w.logAttrs(j, slog.String("error", err.Error()))...)
			w.handBackJob(ctx, j, w.nakDelay(j), "stored_result_unreadable")
			return
		}
		w.publishThenAck(ctx, j, w.resultMsg(ev.Data.Connection, ev.Data.Resource, ev.Data.Status, br.Result), ev.ID,
			ev.Data.Status, "duplicate: stored result republished", func(ctx context.Context) {
				w.inst.duplicates.Add(ctx, 1, j.metrics.conn)
			})
	case dedup.Conflict:
		j.span.AddEvent("id_conflict")
		r := w.result(j, messages.StatusRejected, &messages.ResultError{Code: messages.CodeIDConflict,
			Message: fmt.Sprintf("command id %q was already used with a different payload; this payload is refused and never applied", j.id)})
		ev := messages.NewResultEvent(w.source, r)
		ev.ID = messages.ConflictEventID(j.id, j.hash)
		body, err := messages.EncodeResultEvent(ev)
		if err != nil {
			w.cfg.Logger.Error("encoding an id_conflict result failed; handing back", w.logAttrs(j, slog.String("error", err.Error()))...)
			w.handBackJob(ctx, j, w.nakDelay(j), "result_unencodable")
			return
		}
		w.publishThenAck(ctx, j, w.resultMsg(j.connection, j.resource, r.Status, body), ev.ID, r.Status, "id_conflict",
			func(ctx context.Context) {
				w.inst.idConflicts.Add(ctx, 1, j.metrics.conn)
				w.finished(ctx, j, r.Status)
			})
	case dedup.InProgress, dedup.LeaseBusy:
		w.handBackJob(ctx, j, w.cfg.LeaseWait+jitter(w.cfg.LeaseWait), "in_progress_elsewhere")
	}
}

// finish stores the terminal result, then publishes it and has the
// completer ack the command once it is out: the one acknowledgement of a
// command.
func (w *Worker) finish(ctx context.Context, j *job, r messages.Result, orderKeys map[string]dedup.OrderKey) {
	body, ok := w.complete(ctx, j, r, orderKeys)
	if !ok {
		return
	}
	w.publishThenAck(ctx, j, w.resultMsg(j.connection, j.resource, r.Status, body), j.resultEventID(), r.Status, "",
		func(ctx context.Context) { w.finished(ctx, j, r.Status) })
}

// complete encodes r as j's result event (id j.resultEventID()) and stores
// it as the command's done record. A failed outcome is stored Reopenable,
// so that a replay of its dead letter may retry it; every other outcome is
// final.
func (w *Worker) complete(ctx context.Context, j *job, r messages.Result, orderKeys map[string]dedup.OrderKey) ([]byte, bool) {
	ev := messages.NewResultEvent(w.source, r)
	ev.ID = j.resultEventID()
	body, err := messages.EncodeResultEvent(ev)
	if err != nil {
		w.cfg.Logger.Error("encoding a result failed", w.logAttrs(j, slog.String("error", err.Error()))...)
		w.release(j, 0)
		w.handBackJob(ctx, j, w.nakDelay(j), "result_unencodable")
		return nil, false
	}
	j.rejected = r.Status == messages.StatusRejected
	stored := false
	if _, _, claimed := j.held.claimed(); claimed {
		// The command holds its lease and may have written: its outcome
		// must be recorded, whatever it takes (see storeAfterWrite).
		stored = w.storeAfterWrite(ctx, j, body, orderKeys, r.Status == messages.StatusFailed)
	} else {
		stored = w.storeResult(ctx, j, body, orderKeys, r.Status == messages.StatusFailed)
	}
	if !stored {
		return nil, false
	}
	return body, true
}

// fail dead-letters a command whose transient failures outlasted the
// delivery budget, then records and publishes its failed result.
func (w *Worker) fail(ctx context.Context, j *job, cause *adapters.Error) {
	w.failWith(ctx, j, w.resultError(j, cause))
}

// failWith dead-letters an identified command, records and publishes its
// failed result with rerr, and terminates the delivery.
func (w *Worker) failWith(ctx context.Context, j *job, rerr *messages.ResultError) {
	if err := w.deadLetter(ctx, j, rerr.Code, rerr.Message); err != nil {
		w.cfg.Logger.Warn("dead-lettering failed; handing back", w.logAttrs(j, slog.String("error", err.Error()))...)
		w.release(j, 0)
		w.handBackJob(ctx, j, w.nakDelay(j), reasonPublishFailed)
		return
	}
	j.span.AddEvent("dead_lettered", trace.WithAttributes(attrErrorCode.String(string(rerr.Code))))
	r := w.result(j, messages.StatusFailed, rerr)
	body, ok := w.complete(ctx, j, r, nil)
	if !ok {
		return
	}
	if err := w.publishResult(ctx, j.connection, j.resource, j.resultEventID(), r.Status, body); err != nil {
		w.cfg.Logger.Warn("publishing the failed result failed; handing back", w.logAttrs(j, slog.String("error", err.Error()))...)
		w.handBackJob(ctx, j, w.nakDelay(j), reasonPublishFailed)
		return
	}
	w.inst.deadLetters.Add(ctx, 1, j.metrics.code(rerr.Code))
	w.finished(ctx, j, r.Status)
	w.term(j)
	w.logOutcome(j, r.Status, "dead-lettered")
}

// deadLetterUnreadable dead-letters a message whose ids cannot be read, so
// no result can be addressed to it, and terminates it.
func (w *Worker) deadLetterUnreadable(ctx context.Context, j *job, cause error) {
	w.deadLetterUnaddressable(ctx, j, messages.CodeInvalidCommand, cause.Error())
}

// deadLetterUnaddressable dead-letters a message that no result can be
// addressed to, with code and reason, and terminates it.
func (w *Worker) deadLetterUnaddressable(ctx context.Context, j *job, code messages.ErrorCode, reason string) {
	if err := w.deadLetter(ctx, j, code, reason); err != nil {
		w.cfg.Logger.Warn("dead-lettering an unreadable command failed; handing back", w.logAttrs(j, slog.String("subject", j.msg.Subject()), slog.String("error", err.Error()))...)
		w.handBackJob(ctx, j, w.nakDelay(j), reasonPublishFailed)
		return
	}
	j.span.AddEvent("dead_lettered", trace.WithAttributes(attrErrorCode.String(string(code))))
	w.inst.deadLetters.Add(ctx, 1, j.metrics.code(code))
	w.term(j)
	// No result can be addressed to it: the outcome line says so, with the
	// subject and what made it unreadable.
	w.logOutcome(j, statusDeadLettered, "unreadable: dead-lettered without a result",
		slog.String("subject", j.msg.Subject()), slog.String("error", w.scrub(j, reason)))
}

// term terminates j's delivery: it is never redelivered.
func (w *Worker) term(j *job) {
	j.settled = true
	if err := j.msg.Term(); err != nil {
		w.cfg.Logger.Warn("term failed", w.logAttrs(j, slog.String("error", err.Error()))...)
	}
}

// ack acks the command (see completer: a plain Ack) and logs its outcome.
func (w *Worker) ack(j *job, status messages.Status, note string) {
	j.settled = true
	if err := j.msg.Ack(); err != nil {
		// The result is out; a redelivery republishes the stored result.
		w.cfg.Logger.Warn("ack failed; the command may be redelivered and deduplicated", w.logAttrs(j, slog.String("error", err.Error()))...)
	}
	w.logOutcome(j, status, note)
}

// statusDeadLettered is the status of the outcome line of a command that
// could not be read: it has no result, so no result status.
const statusDeadLettered messages.Status = "dead_lettered"

// logOutcome writes the one line of a command's outcome.
func (w *Worker) logOutcome(j *job, status messages.Status, note string, extra ...any) {
	j.span.SetAttributes(attrStatus.String(string(status)))
	if !w.cfg.Logger.Enabled(context.Background(), slog.LevelInfo) {
		return // its attributes are not built for nothing
	}
	attrs := w.logAttrs(j, slog.String("status", string(status)), slog.Int("attempts", j.attempts),
		slog.Duration("duration", w.cfg.now().Sub(j.started)))
	if note != "" {
		attrs = append(attrs, slog.String("note", note))
	}
	w.cfg.Logger.Info("command finished", append(attrs, extra...)...)
}

// release gives up the claim and lease after a transient failure (for a
// replay: puts the failed record back, see putBack). With hold > 0 (a
// write may have landed without its answer) the resource stays held for
// the command that long, for its redelivery to find the outcome.
func (w *Worker) release(j *job, hold time.Duration) {
	j.held.unclaim()
	if j.reopened != nil {
		w.putBack(j)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.StoreTimeout)
	defer cancel()
	start := time.Now()
	err := w.cfg.Store.Release(ctx, dedup.ReleaseRequest{CommandID: j.id, Owner: j.owner, LeaseKey: j.leaseKey, KeepHold: hold > 0, Hold: hold})
	w.storeDone(ctx, opRelease, start)
	if err != nil {
		w.cfg.Logger.Warn("releasing claim failed; it expires with its TTL", w.logAttrs(j, slog.String("error", err.Error()))...)
	}
}

// holdAfter is how long a command handed back keeps its resource held:
// when one of its attempts may have written, until its redelivery (after
// delay) can reach a worker; 0 otherwise.
func (w *Worker) holdAfter(j *job, delay time.Duration) time.Duration {
	if !j.mayHaveWritten {
		return 0
	}
	return delay + w.holdFor(j.connection)
}

// maxBeginFailures is how many failed Begin calls in a row a delivery
// waits through (each pauses applying until the store guard's check says
// the store is fine) before it is handed back.
const maxBeginFailures = 3

// Reasons a delivery is handed back, on its handed_back span event.
const (
	reasonStoreUnavailable = "store_unavailable"
	reasonPublishFailed    = "publish_failed"
)

// handBackJob hands a started delivery back for redelivery after delay:
// its span gets a handed_back event with the reason and the delay, and
// (unless the store is what failed) the store records its trace context
// for the next delivery to link to.
//
// On the last delivery the server allows (the consumer's MaxDeliver
// backstop), nothing is handed back: the command is given up (see giveUp),
// so that no message ends without a dead letter.
func (w *Worker) handBackJob(ctx context.Context, j *job, delay time.Duration, reason string) {
	if int(j.meta.NumDelivered) >= j.maxDeliver {
		w.giveUp(ctx, j, reason)
		return
	}
	j.settled = true
	j.span.AddEvent("handed_back", trace.WithAttributes(attribute.String("oauthsync.reason", reason), attrNakDelay.Int64(delay.Milliseconds())))
	if reason != reasonStoreUnavailable {
		w.noteHandBack(ctx, j)
	}
	w.handBack(j.msg, delay)
}

// storeDone records the duration of a store round trip begun at start.
func (w *Worker) storeDone(ctx context.Context, op storeOp, start time.Time) {
	w.inst.store.Record(ctx, time.Since(start).Seconds(), w.inst.storeOps[op])
}

// handBack naks msg for redelivery after delay (0: at once).
func (w *Worker) handBack(msg jetstream.Msg, delay time.Duration) {
	var err error
	if delay > 0 {
		err = msg.NakWithDelay(delay)
	} else {
		err = msg.Nak()
	}
	if err != nil {
		w.cfg.Logger.Warn("nak failed; the message is redelivered after the ack wait", "subject", msg.Subject(), "error", err)
	}
}

// nakDelay grows with the delivery count: 1s, 2s, 4s, ... capped at
// MaxNakDelay, with jitter.
func (w *Worker) nakDelay(j *job) time.Duration {
	n := min(int(j.meta.NumDelivered), 20)
	d := min(time.Second<<max(n-1, 0), w.cfg.MaxNakDelay)
	return d + jitter(d/4)
}

// result builds a result of j with status.
func (w *Worker) result(j *job, status messages.Status, rerr *messages.ResultError) messages.Result {
	return messages.Result{
		CommandID:             j.id,
		Connection:            j.connection,
		Provider:              j.provider,
		Resource:              j.resource,
		Batch:                 j.batch,
		Status:                status,
		AppliedFields:         slices.Clone(j.applied),
		SkippedFields:         slices.Clone(j.skipped),
		SkippedOrderKeys:      maps.Clone(j.skippedKeys),
		Attempts:              j.attempts,
		Deliveries:            int(j.meta.NumDelivered),
		CommandStreamSequence: j.seq,
		StartedAt:             j.started.UTC(),
		FinishedAt:            w.cfg.now().UTC(),
		PayloadDigest:         j.hash,
		Error:                 rerr,
	}
}

// resultError turns an adapter error into a result error, scrubbed. The
// code already says the kind, so the message is the field and the text.
func (w *Worker) resultError(j *job, ae *adapters.Error) *messages.ResultError {
	msg := ae.Message
	if ae.Field != "" {
		msg = ae.Field + ": " + msg
	}
	return &messages.ResultError{Code: ae.Kind.Code(), Message: w.scrub(j, msg), HTTPStatus: ae.HTTPStatus, Retryable: ae.Retryable()}
}

// scrub removes every known secret from s, in every form redact knows
// (encoded, cased, cut): the connections' credentials, the command's client
// secret, and every string under a secret-named key of the body
// (provider-native secret fields, and the secrets of a body that did not
// decode).
func (w *Worker) scrub(j *job, s string) string {
	if s == "" {
		return s
	}
	// The credentials adapters obtain at run time (tokens, keys read from
	// files) change while the worker runs: asked for on every call.
	var extra []string
	for _, d := range w.dynamic {
		extra = append(extra, d.Secrets()...)
	}
	if j != nil {
		extra = append(extra, j.secret)
		if j.msg != nil {
			extra = append(extra, redact.SecretsInJSON(j.msg.Data())...)
		}
	}
	return w.scrubber.With(extra...).String(s)
}

func (w *Worker) logAttrs(j *job, extra ...any) []any {
	attrs := []any{slog.String("commandId", j.id), slog.String("connection", j.connection), slog.String("resource", j.resource),
		slog.Uint64("streamSequence", j.meta.Sequence.Stream), slog.Uint64("delivery", j.meta.NumDelivered)}
	if j.batch != "" {
		attrs = append(attrs, slog.String("batch", j.batch))
	}
	if j.replay != "" {
		attrs = append(attrs, slog.String("replay", j.replay))
	}
	if sc := j.span.SpanContext(); sc.IsValid() {
		attrs = append(attrs, slog.String("traceId", sc.TraceID().String()), slog.String("spanId", sc.SpanID().String()))
	}
	return append(attrs, extra...)
}

// withoutFields returns u without the named fields (canonical names and
// messages.ProviderFieldPrefix+native names).
func withoutFields(u adapters.Update, names []string) adapters.Update {
	if len(names) == 0 {
		return u
	}
	u.Changes = u.Changes.Without(names...)
	if len(u.ProviderFields) > 0 {
		kept := maps.Clone(u.ProviderFields)
		for _, n := range names {
			if native, ok := strings.CutPrefix(n, messages.ProviderFieldPrefix); ok {
				delete(kept, native)
			}
		}
		u.ProviderFields = kept
	}
	return u
}

func randomToken() string {
	return fmt.Sprintf("%016x", rand.Uint64())
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}
