package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cenkalti/backoff/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

// storeAfterWrite stores body as the done record of a command that holds
// its claim and lease and may have written to the provider (docs/CONTRACT.md
// §5.1: once a provider accepted a write, its outcome is recorded before
// anything else touches that resource). A failing store is retried with
// backoff, without limit, while the lease is held and the message stays
// under the heartbeat (in progress, claim and lease renewed): the outcome
// stays this command's own (an applied write is never reported unchanged or
// superseded) and no delivery is spent. It returns true once stored.
//
// It gives up only when
//   - the store says another owner holds the claim (dedup.ErrLeaseLost):
//     the message is handed back, the claim's owner finishes the command;
//   - the worker is forced to stop (its work context is cancelled after the
//     drain timeout) before the store answered. Then the claim is not
//     released and the message is neither acked nor nak'ed: it is left to
//     its ack wait, and the claim to its TTL, exactly as if the process had
//     been killed at this point. Releasing would let a command with a lower
//     order key take the resource before this outcome is known; a nak would
//     spend a delivery against a claim still held. The redelivery (after
//     AckWait, by default twice LeaseTTL) finds the claim lapsed and works
//     the command again: it re-derives the outcome rather than re-applying
//     blindly, since the order keys are checked again (superseded if a
//     higher key was recorded meanwhile) and the adapter's read-modify-write
//     finds the values in place and writes nothing (unchanged).
func (w *Worker) storeAfterWrite(ctx context.Context, j *job, body []byte, orderKeys map[string]dedup.OrderKey, reopenable bool) bool {
	// A forced stop interrupts the store call in flight, not only the waits.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(w.work, cancel)()

	req := w.completeRequest(j, body, orderKeys, reopenable)
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(w.cfg.InitialBackoff),
		backoff.WithMaxInterval(w.cfg.MaxBackoff),
		backoff.WithMaxElapsedTime(0), // until stored or forced to stop
	)
	for failures := 0; ; failures++ {
		err := w.completeOnce(ctx, req)
		switch {
		case err == nil:
			if failures > 0 {
				w.cfg.Logger.Info("result stored after store failures", w.logAttrs(j, slog.Int("failures", failures))...)
			}
			return true
		case errors.Is(err, dedup.ErrLeaseLost):
			w.cfg.Logger.Warn("storing the result: the claim is another owner's; handing back", w.logAttrs(j, slog.String("error", err.Error()))...)
			w.handBackJob(ctx, j, w.nakDelay(j), "lease_lost")
			return false
		case w.work.Err() != nil:
			w.leaveToAckWait(j, err)
			return false
		}
		wait := b.NextBackOff()
		if failures == 0 || failures%10 == 0 {
			w.cfg.Logger.Warn("storing the result failed; retrying while holding the lease",
				w.logAttrs(j, slog.String("error", err.Error()), slog.Int("failures", failures+1), slog.Duration("wait", wait))...)
		}
		j.span.AddEvent("store_retry")
		select {
		case <-time.After(wait):
		case <-w.work.Done():
			w.leaveToAckWait(j, err)
			return false
		}
	}
}

// leaveToAckWait leaves j's delivery unsettled with its claim held (see
// storeAfterWrite): both expire, and the redelivery re-derives the outcome.
func (w *Worker) leaveToAckWait(j *job, cause error) {
	j.settled = true
	j.held.unclaim()
	j.span.AddEvent("left_to_ack_wait")
	w.cfg.Logger.Warn("forced to stop before the result was stored; the delivery is left to its ack wait and the claim to its TTL",
		w.logAttrs(j, slog.String("error", cause.Error()))...)
}

// completeRequest is the Store.Complete request that records body as j's
// done record, with j's order keys and origin.
func (w *Worker) completeRequest(j *job, body []byte, orderKeys map[string]dedup.OrderKey, reopenable bool) dedup.CompleteRequest {
	return dedup.CompleteRequest{CommandID: j.id, PayloadHash: j.hash, Owner: j.owner, LeaseKey: j.leaseKey,
		Result: body, OrderKeys: orderKeys, ResultTTL: w.resultTTL(j), Reopenable: reopenable,
		Origin: dedup.Origin{Seq: j.seq, Time: j.stored}}
}

// completeOnce makes one Store.Complete call, bounded by StoreTimeout.
func (w *Worker) completeOnce(ctx context.Context, req dedup.CompleteRequest) error {
	ctx, span := w.childSpan(ctx, "dedup complete", trace.SpanKindClient)
	ctx, cancel := context.WithTimeout(ctx, w.cfg.StoreTimeout)
	defer cancel()
	start := time.Now()
	err := w.cfg.Store.Complete(ctx, req)
	w.storeDone(ctx, opComplete, start)
	endSpan(span, err, "dedup complete failed")
	return err
}
