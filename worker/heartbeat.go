package worker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

// tracked is one command being worked on: the heartbeat keeps its message
// in progress and its claim and lease alive.
type tracked struct {
	msg    jetstream.Msg
	renew  dedup.RenewRequest
	cancel context.CancelFunc
	lost   atomic.Bool
}

// inflight is the set of tracked commands. One heartbeat goroutine serves
// them all: no goroutine per message.
type inflight struct {
	mu   sync.Mutex
	jobs map[*tracked]struct{}
}

func (f *inflight) add(t *tracked) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jobs == nil {
		f.jobs = map[*tracked]struct{}{}
	}
	f.jobs[t] = struct{}{}
}

func (f *inflight) remove(t *tracked) {
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

// heartbeatInterval is how often in-flight work is kept alive: a third of
// the shorter of the lease TTL and the ack wait.
func (w *Worker) heartbeatInterval() time.Duration {
	return min(w.cfg.LeaseTTL, w.cfg.AckWait) / 3
}

// heartbeat runs until ctx is done. Every interval it tells JetStream each
// in-flight message is in progress and renews its claim and lease; a lost
// lease cancels that command's work, which is then handed back.
func (w *Worker) heartbeat(ctx context.Context) {
	t := time.NewTicker(w.heartbeatInterval())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, j := range w.inflight.snapshot() {
			if err := j.msg.InProgress(); err != nil {
				w.cfg.Logger.Warn("in-progress ack failed", "commandId", j.renew.CommandID, "error", err)
			}
			sctx, cancel := context.WithTimeout(ctx, w.cfg.StoreTimeout)
			start := time.Now()
			err := w.cfg.Store.Renew(sctx, j.renew)
			w.storeDone(sctx, opRenew, start)
			cancel()
			switch {
			case errors.Is(err, dedup.ErrLeaseLost):
				w.cfg.Logger.Warn("resource lease lost; abandoning the command for redelivery", "commandId", j.renew.CommandID, "lease", j.renew.LeaseKey)
				j.lost.Store(true)
				j.cancel()
			case err != nil:
				w.cfg.Logger.Warn("lease renewal failed; will retry", "commandId", j.renew.CommandID, "error", err)
			}
		}
	}
}
