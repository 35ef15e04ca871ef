package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/storeguard"
)

// metricStoreLost is the store guard's gauge: oauthsync_dedup_store_lost.
const metricStoreLost = "oauthsync.dedup_store.lost"

// guardState is the worker's view of the store guard: whether the store is
// trusted (its last check said ok and no store call failed since), and why
// not. Without a guard the store is always trusted.
type guardState struct {
	mu      sync.Mutex
	trusted bool
	lost    bool   // the last verdict was Lost (the gauge)
	reason  string // why not trusted
	// wake is closed (and replaced) when the store becomes trusted.
	wake chan struct{}
	// kick asks the guard loop for a check now.
	kick chan struct{}
}

func (g *guardState) init(guarded bool) {
	g.trusted = !guarded
	g.reason = "dedup store state not verified yet: the store guard's first check has not answered"
	g.wake = make(chan struct{})
	g.kick = make(chan struct{}, 1)
}

// set records a verdict; it reports whether trust changed.
func (g *guardState) set(trusted, lost bool, reason string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	changed := g.trusted != trusted
	g.trusted, g.lost, g.reason = trusted, lost, reason
	if changed && trusted {
		close(g.wake)
		g.wake = make(chan struct{})
	}
	return changed
}

// distrust marks the store unverified after a failed store call, keeping a
// lost verdict; it reports whether trust changed.
func (g *guardState) distrust(reason string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.trusted {
		return false
	}
	g.trusted, g.reason = false, reason
	return true
}

func (g *guardState) get() (trusted, lost bool, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.trusted, g.lost, g.reason
}

// storeTrusted reports whether commands may be applied: no guard, or the
// guard's last check said ok and no store call failed since.
func (w *Worker) storeTrusted() bool {
	t, _, _ := w.guard.get()
	return t
}

// waitStoreTrusted blocks the consume loops while the store is not
// trusted, so that commands wait in the stream without spending their
// delivery budget. False when the worker is stopping.
func (w *Worker) waitStoreTrusted() bool {
	g := &w.guard
	g.mu.Lock()
	trusted, wake := g.trusted, g.wake
	g.mu.Unlock()
	if trusted {
		return true
	}
	select {
	case <-wake:
		return true
	case <-w.stopping.Done():
		return false
	}
}

// storeCallFailed is told of every failed Begin: with a guard, the store is
// not trusted again until a check (asked for now) says ok. A restart of the
// store shows as failed calls, and what it came back with must be checked
// before anything is applied.
func (w *Worker) storeCallFailed(err error) {
	if w.cfg.StoreGuard == nil {
		return
	}
	reason := "dedup store state not verified since a store call failed: " + err.Error()
	if errors.Is(err, dedup.ErrStoreLost) {
		reason = "dedup store state lost: the store's epoch marker is not the agreed one (" + err.Error() + ")"
	}
	if w.guard.distrust(reason) {
		w.cfg.Logger.Warn("dedup store call failed: applying paused until the store guard verifies the store", "error", err.Error())
	}
	select {
	case w.guard.kick <- struct{}{}:
	default:
	}
}

// storeProblem is CheckReady's reason while the store is not trusted.
func (w *Worker) storeProblem() error {
	if t, _, reason := w.guard.get(); !t {
		return errors.New(reason)
	}
	return nil
}

// checkStoreAtStart runs the first check before the worker reports ready,
// so that a healthy store is verified when /readyz first answers. A failed
// check leaves the store unverified; runStoreGuard tries again.
func (w *Worker) checkStoreAtStart(ctx context.Context) {
	if w.cfg.StoreGuard != nil {
		w.checkStore(ctx)
	}
}

// runStoreGuard checks the store every Config.StoreCheckInterval and
// whenever a store call failed, until ctx ends. Without a guard it returns
// at once.
func (w *Worker) runStoreGuard(ctx context.Context) {
	if w.cfg.StoreGuard == nil {
		return
	}
	t := time.NewTicker(w.cfg.StoreCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.guard.kick:
		}
		w.checkStore(ctx)
		// A store that passes the check and fails the calls made after
		// it (which kick the guard again) is not checked in a busy loop.
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(minCheckGap, w.cfg.StoreCheckInterval)):
		}
	}
}

// minCheckGap is the least time between two checks of the store guard.
const minCheckGap = 250 * time.Millisecond

// checkStore runs one guard check and records its verdict.
func (w *Worker) checkStore(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.StoreTimeout)
	defer cancel()
	st, err := w.cfg.StoreGuard.Check(ctx)
	log := w.cfg.Logger.With("guard", w.cfg.StoreGuard.Key())
	if err != nil {
		if ctx.Err() == nil || errors.Is(err, context.DeadlineExceeded) {
			if _, _, reason := w.guard.get(); w.guard.distrust("dedup store state not verified: the store guard's check failed: " + err.Error()) {
				log.Warn("store guard check failed: applying paused until it answers", "error", err.Error(), "was", reason)
			}
		}
		return
	}
	attrs := []any{slog.String("epoch", st.Record.Epoch), slog.Int64("completions", st.Store.Completions), slog.Int64("highWater", st.Record.HighWater)}
	if st.Created {
		log.Info("store guard record created from the store's marker", attrs...)
	}
	switch st.State {
	case storeguard.OK:
		if trusted, _, _ := w.guard.get(); !trusted {
			// Before the consume loops fetch again and the waiting
			// deliveries begin: the copies held meanwhile, whose
			// sightings were skipped or failed, are recorded first, so
			// that a later copy of one of them fetched next meets it. A
			// store that fails them stays untrusted until a check and
			// these sightings succeed.
			if err := w.sightHeld(ctx); err != nil {
				return
			}
		}
		if w.guard.set(true, false, "") {
			log.Info("dedup store state verified: applying commands", attrs...)
		}
	default:
		if _, lost, _ := w.guard.get(); !lost {
			log.Error("dedup store lost its state: applying stopped until an operator decides (syncctl store status / accept)",
				append(attrs, slog.String("reason", st.Reason), slog.String("storeEpoch", st.Store.Epoch))...)
		}
		w.guard.set(false, true, st.Reason)
	}
}

// registerStoreGauge reports oauthsync_dedup_store_lost (1 while the last
// verdict is lost) when a guard is configured.
func (w *Worker) registerStoreGauge() (metric.Registration, error) {
	if w.cfg.StoreGuard == nil {
		return nil, nil
	}
	m := w.cfg.MeterProvider.Meter(meterName)
	g, err := m.Int64ObservableGauge(metricStoreLost, metric.WithUnit("1"),
		metric.WithDescription("1 while the store guard finds that the dedup store lost its state (commands are not applied until an operator accepts), else 0."))
	if err != nil {
		return nil, fmt.Errorf("worker metrics: %w", err)
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		var v int64
		if _, lost, _ := w.guard.get(); lost {
			v = 1
		}
		o.ObserveInt64(g, v)
		return nil
	}, g)
}
