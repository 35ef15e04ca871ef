package worker

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

// tracked is one message the worker holds: from the moment a fetch hands
// it over until it is settled. The heartbeat keeps every tracked message in
// progress (so its ack wait never expires while it is held, whether it
// waits for a free goroutine or is worked on) and, while the command's
// claim and lease are held, renews them.
type tracked struct {
	msg jetstream.Msg
	// sighted: a connection consumer's message, sighted on arrival and
	// again by the heartbeat until it is claimed (see sight.go).
	sighted bool

	// decodeOnce and dec: the command, decoded once (decodeHeld).
	decodeOnce sync.Once
	dec        *decoded

	mu     sync.Mutex
	renew  *dedup.RenewRequest // nil while no claim is held
	cancel context.CancelFunc

	lost atomic.Bool
	// gen counts the claims (see claim, lose).
	gen uint64

	// prepaid is how many rate-limit permits the command took while it
	// waited without its lease (flow.Gate.Reserve, see park); its next
	// attempt uses them (flow.Gate.Attempt).
	prepaid int
}

// claim puts the command's claim and lease under the heartbeat; cancel
// stops the command's work when the lease is lost. A delivery may claim
// more than once (it gives its lease back while it waits for flow
// control): each claim is a new generation, not lost yet, and a renewal of
// an earlier one that comes back lost says nothing of it (see lose).
func (t *tracked) claim(renew dedup.RenewRequest, cancel context.CancelFunc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.renew, t.cancel = &renew, cancel
	t.gen++
	t.lost.Store(false)
}

// lose records that the claim of generation gen was lost, if it is still
// the one held.
func (t *tracked) lose(gen uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.renew == nil || t.gen != gen {
		return false
	}
	t.lost.Store(true)
	return true
}

// unclaim stops renewing the claim (released, completed or abandoned).
func (t *tracked) unclaim() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.renew, t.cancel = nil, nil
}

// claimed returns the renewal of the claim held, if any.
func (t *tracked) claimed() (dedup.RenewRequest, context.CancelFunc, bool) {
	r, cancel, _, ok := t.claimedGen()
	return r, cancel, ok
}

// claimedGen is claimed with the claim's generation.
func (t *tracked) claimedGen() (dedup.RenewRequest, context.CancelFunc, uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.renew == nil {
		return dedup.RenewRequest{}, nil, 0, false
	}
	return *t.renew, t.cancel, t.gen, true
}

// inflight is the set of tracked messages. One heartbeat goroutine serves
// them all: no goroutine per message.
type inflight struct {
	mu   sync.Mutex
	jobs map[*tracked]struct{}
}

// hold starts tracking msg: from now on the heartbeat keeps it in progress
// until release.
func (f *inflight) hold(msg jetstream.Msg, sighted bool) *tracked {
	t := &tracked{msg: msg, sighted: sighted}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jobs == nil {
		f.jobs = map[*tracked]struct{}{}
	}
	f.jobs[t] = struct{}{}
	return t
}

// release stops tracking t: its message is settled (or left to its ack wait).
func (f *inflight) release(t *tracked) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.jobs, t)
}

func (f *inflight) snapshot() []*tracked {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*tracked, 0, len(f.jobs))
	for t := range f.jobs {
		out = append(out, t)
	}
	return out
}

// heartbeatInterval is how often held messages are kept alive: a third of
// the shorter of the lease TTL and the ack wait.
func (w *Worker) heartbeatInterval() time.Duration {
	return min(w.cfg.LeaseTTL, w.cfg.AckWait) / 3
}

// heartbeat runs until ctx is done. Every interval it tells JetStream each
// held message is in progress, then renews the claim and lease of each
// command that holds one; a lost lease cancels that command's work, which is
// then handed back. The in-progress acks go first and the renewals share
// one interval's time, so that a slow or unreachable store never delays
// the in-progress acks past the ack wait.
func (w *Worker) heartbeat(ctx context.Context) {
	interval := w.heartbeatInterval()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		held := w.inflight.snapshot()
		for _, j := range held {
			if err := j.msg.InProgress(); err != nil {
				w.cfg.Logger.Warn("in-progress ack failed", "subject", j.msg.Subject(), "error", err)
			}
		}
		// The store's share of the tick: renewals, then sightings, within
		// one interval, so that a slow store never delays the next
		// in-progress acks by more than that.
		budget, cancel := context.WithTimeout(ctx, interval)
		w.renewClaims(budget, held)
		w.sightWaiting(budget, held)
		cancel()
	}
}

// sightWaiting sights again, in one round trip, the held messages that
// have not begun (or are done with their claim): their commands' holds are
// kept (see sight.go).
func (w *Worker) sightWaiting(ctx context.Context, held []*tracked) {
	for _, batch := range waitingBatches(held) {
		if ctx.Err() != nil {
			return
		}
		w.sight(ctx, batch)
	}
}

// sightHeld records the sightings of every held message that has not
// begun, whether or not the store is trusted yet: the store guard calls it
// once its check found the store fine, before it trusts the store again.
// It stops at the first failure and returns it.
func (w *Worker) sightHeld(ctx context.Context) error {
	for _, batch := range waitingBatches(w.inflight.snapshot()) {
		if err := w.recordSightings(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// waitingBatches returns the held messages that are sighted until they
// begin (see tracked.sighted) and hold no claim now, in Sight-sized
// batches.
func waitingBatches(held []*tracked) [][]*tracked {
	var waiting []*tracked
	for _, t := range held {
		if _, _, claimed := t.claimed(); t.sighted && !claimed {
			waiting = append(waiting, t)
		}
	}
	return slices.Collect(slices.Chunk(waiting, maxSightBatch))
}

// renewClaims renews the claims among held, all at once (the store
// batches concurrent calls: one round trip for them all with Redis),
// within ctx (the tick's budget).
func (w *Worker) renewClaims(ctx context.Context, held []*tracked) {
	var wg sync.WaitGroup
	for _, j := range held {
		renew, cancelWork, gen, ok := j.claimedGen()
		if !ok {
			continue
		}
		wg.Go(func() { w.renewClaim(ctx, j, renew, gen, cancelWork) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		w.cfg.Logger.Warn("lease renewals overran the heartbeat interval; those cut short are retried at the next one")
	}
}

// renewClaim renews one claim; a lost lease cancels its command's work.
func (w *Worker) renewClaim(ctx context.Context, j *tracked, renew dedup.RenewRequest, gen uint64, cancelWork context.CancelFunc) {
	sctx, cancel := context.WithTimeout(ctx, w.cfg.StoreTimeout)
	defer cancel()
	start := time.Now()
	err := w.cfg.Store.Renew(sctx, renew)
	w.storeDone(sctx, opRenew, start)
	switch {
	case errors.Is(err, dedup.ErrLeaseLost):
		if !j.lose(gen) {
			return // a claim given back since (flow control): not this one
		}
		w.cfg.Logger.Warn("resource lease lost; abandoning the command for redelivery", "commandId", renew.CommandID, "lease", renew.LeaseKey)
		cancelWork()
	case err != nil:
		w.cfg.Logger.Warn("lease renewal failed; will retry", "commandId", renew.CommandID, "error", err)
	}
}
