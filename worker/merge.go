package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup"
)

// Merged writes (docs/CONTRACT.md §5.8, README "Flow control"): when a
// command's turn on its resource comes (turns.go) and it is about to make
// its provider call, the waiting commands of the resource that set none of
// its fields, nor each other's, ride along: their fields go in the same
// write, one provider call (one rate-limit permit) for all of them, and each
// still gets its own result.
//
// Each rider joins the holder's lease in the store (its own claim, and a
// hold of the resource of its own: dedup.BeginRequest.JoinOwner) before
// the write, so that if the worker dies after the write the resource stays
// held until every one of them has recorded its outcome: its redelivery
// begins resumed and rewrites exactly its own fields, which no other rider
// sets. The holder records its outcome after every rider has recorded its
// own, under its lease. A command with a secret (a client secret, or
// secret-named provider fields) never rides: the holder's error messages
// are scrubbed of its own secrets only. A provider's refusal of a merged
// write cannot be laid at one command's door: the riders go back to
// waiting for their own turns and the holder writes alone.

// maxRiders bounds the commands one write carries besides the holder's.
const maxRiders = 16

// ride is one merged write: its holder's job, and the riders that joined.
type ride struct {
	holder *job
	// joined receives each granted rider's answer, once: its part, or nil
	// when it does not ride after all (it was done, superseded, or its
	// Begin did not claim it).
	joined chan *riderPart
	riders []*riderPart

	settleOnce sync.Once
}

// riderPart is a rider's part of the merged write.
type riderPart struct {
	j      *job
	update adapters.Update
	// outcome receives the write's outcome for this rider, once.
	outcome chan rideOutcome
	// stored is closed once the rider has recorded its outcome, or given
	// up trying: the holder records its own after.
	stored chan struct{}
}

// rideOutcome is what became of a merged write, for a rider.
type rideOutcome struct {
	// written: the provider accepted the write (status says whether it
	// changed anything); otherwise the rider releases its claim and, with
	// again, waits for its own turn, or else is handed back after delay
	// (negative: its own nakDelay) for reason.
	written  bool
	status   adapters.OutcomeStatus
	attempts int
	again    bool
	delay    time.Duration
	reason   string
}

// mergeable reports whether j may ride in another command's write, as
// far as cheap checks tell: no client secret, no replay (its Begin reopens
// a failed record), no failure pending for having waited out its last
// delivery, and not found to carry secret-named fields when it was granted
// a ride before (see rideAlong).
func mergeable(j *job) bool {
	return j.secret == "" && j.replay == "" && j.waitedOut == nil && !j.carriesSecrets
}

// gatherRiders grants the waiting commands of j's resource that j's write
// of update can carry (turns.takeRiders) and waits for each to join the
// lease or decline. It returns nil when none joined.
func (w *Worker) gatherRiders(ctx context.Context, j *job, t *turn, update adapters.Update) *ride {
	rd := &ride{holder: j, joined: make(chan *riderPart, maxRiders)}
	n := w.turns.takeRiders(j.leaseKey, t, update.Fields(), rd, maxRiders)
	// Every granted rider answers once, in a bounded time (one Begin):
	// the holder waits for each, so that none is left waiting for an
	// outcome nobody will send.
	for range n {
		if p := <-rd.joined; p != nil {
			rd.riders = append(rd.riders, p)
		}
	}
	if len(rd.riders) == 0 {
		return nil
	}
	ids := make([]string, len(rd.riders))
	for i, p := range rd.riders {
		ids[i] = p.j.id
	}
	j.span.AddEvent("merged_write", trace.WithAttributes(attribute.StringSlice("oauthsync.merged_command_ids", ids)))
	w.inst.mergedCommands.Add(ctx, int64(len(rd.riders)), j.metrics.conn)
	return rd
}

// update returns the merged write's update: the holder's with every
// rider's fields.
func (rd *ride) update(own adapters.Update) adapters.Update {
	if rd == nil {
		return own
	}
	for _, p := range rd.riders {
		own = own.With(p.update)
	}
	return own
}

// ridersMayHaveWritten records, for every rider of rd, that the write may have landed
// without its answer (see recordMayHaveWritten).
func (w *Worker) ridersMayHaveWritten(ctx context.Context, rd *ride) {
	if rd == nil {
		return
	}
	for _, p := range rd.riders {
		if !p.j.mayHaveWritten {
			p.j.mayHaveWritten = true
			w.recordMayHaveWritten(ctx, p.j)
		}
	}
}

// settle sends o to every rider, once for the ride (later calls do
// nothing); with o.written it waits until each has recorded its outcome.
func (rd *ride) settle(o rideOutcome) {
	if rd == nil {
		return
	}
	rd.settleOnce.Do(func() {
		for _, p := range rd.riders {
			p.outcome <- o
		}
		if o.written {
			for _, p := range rd.riders {
				<-p.stored
			}
		}
	})
}

// rideAlong is j's part in the merged write of rd's holder: j joins the
// holder's lease, hands its fields over and, once the write is done,
// records and publishes its own result. It returns true when j is to wait
// for its own turn again (see rideOutcome), false when j was settled.
func (w *Worker) rideAlong(ctx context.Context, j *job, update adapters.Update, rd *ride) bool {
	answered := false
	answer := func(p *riderPart) {
		if !answered {
			answered = true
			rd.joined <- p
		}
	}
	defer answer(nil) // whatever happens to j before it joins (a panic too)

	// Secret-named fields in its body (provider-native ones): looked for
	// only now, on the few commands granted a ride.
	if len(redact.SecretsInJSON(j.msg.Data())) > 0 {
		j.carriesSecrets = true
		return true
	}
	j.skipped, j.skippedKeys = nil, nil
	fields := update.Fields()
	req := w.beginRequest(j, fields)
	req.JoinOwner = rd.holder.owner
	br, err := w.storeBegin(ctx, req)
	if err != nil {
		answer(nil)
		w.storeCallFailed(err)
		w.cfg.Logger.Warn("dedup store unavailable; command handed back", w.logAttrs(j, slog.String("error", err.Error()))...)
		w.handBackJob(ctx, j, w.nakDelay(j), reasonStoreUnavailable)
		return false
	}
	w.settleClaim(j, br)
	switch br.State {
	case dedup.Claimed:
	case dedup.LeaseBusy:
		// The holder no longer holds the lease: j waits for its own turn.
		answer(nil)
		return true
	default:
		answer(nil)
		w.answerKnown(ctx, j, br)
		return false
	}
	if br.Resumed {
		j.resumed = true
		j.span.AddEvent("resumed", trace.WithAttributes(attribute.String("oauthsync.reason", "an earlier delivery held the resource and may have written")))
	}
	key := j.cmd.OrderKey(j.stored, j.seq)
	if w.markStale(j, fields, br.OrderKeys, key) {
		answer(nil)
		w.finishSuperseded(ctx, j)
		return false
	}
	p := &riderPart{j: j, update: withoutFields(update, j.skipped), outcome: make(chan rideOutcome, 1), stored: make(chan struct{})}
	defer close(p.stored)
	j.held.claim(w.renewRequest(j, rd.holder.owner), func() {})
	defer j.held.unclaim()
	j.span.AddEvent("riding", trace.WithAttributes(attrCommandID.String(rd.holder.id)))
	answer(p)

	o := <-p.outcome
	j.attempts += o.attempts
	switch {
	case o.written && j.held.lost.Load():
		// Another owner has j's claim now: it will finish the command.
		w.handBackJob(ctx, j, w.nakDelay(j), "lease_lost")
	case o.written:
		status := messages.StatusApplied
		if o.status == adapters.Unchanged && !j.mayHaveWritten && !j.resumed {
			status = messages.StatusUnchanged
		} else {
			j.applied = p.update.Fields()
		}
		keys := make(map[string]dedup.OrderKey, len(p.update.Fields()))
		for _, f := range p.update.Fields() {
			keys[f] = key
		}
		w.finish(ctx, j, w.result(j, status, nil), keys)
	case o.again:
		j.span.AddEvent("ride_ended", trace.WithAttributes(attribute.String("oauthsync.reason", o.reason)))
		w.release(j, w.holdAfter(j, 0))
		return true
	default:
		delay := o.delay
		if delay < 0 {
			delay = w.nakDelay(j)
		}
		w.release(j, w.holdAfter(j, delay))
		w.handBackJob(ctx, j, delay, o.reason)
	}
	return false
}
