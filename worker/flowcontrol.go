package worker

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/worker/flow"
)

// Flow control (docs/CONTRACT.md §5.8): each connection has a flow.Gate,
// shared with the fleet through Config.Flow. While the provider's wait
// signal holds or the circuit is open the consume loop pulls nothing (see
// consumeLoop.admit): those commands wait in the stream, with no lease, no
// worker slot, no delivery. Rate-limit permits are taken by each attempt,
// so that commands superseded before they call the provider (turns.go)
// spend none. A command pulled that cannot attempt is parked: it gives its
// lease back and keeps its delivery (no budget is spent) until the gate
// admits it (see park).

// maxFlowPoll bounds one wait for the gate, so that a change made by
// another worker (a probe that closed the circuit) is seen soon.
const maxFlowPoll = time.Second

// requestCounter is an adapter that says how many provider requests one
// Apply makes (a read and a write: 2); the rate limit takes that many
// permits per attempt. Adapters that do not say make one.
type requestCounter interface{ RequestsPerApply() int }

func requestsPerApply(a adapters.Adapter) int {
	if rc, ok := a.(requestCounter); ok {
		return max(rc.RequestsPerApply(), 1)
	}
	return 1
}

// newGate builds the flow gate of connection c.
func (w *Worker) newGate(c *Connection) *flow.Gate {
	var pauser flow.Pauser
	if w.serverPauses() {
		pauser = consumerPauser{js: w.cfg.JetStream, stream: w.cfg.Streams.Commands, consumer: consumerName(c.Name)}
	}
	return flow.NewGate(flow.GateConfig{
		Connection: c.Name, Store: w.cfg.Flow, Limit: c.RateLimit, Cost: requestsPerApply(c.Adapter),
		Circuit: c.Circuit, Pauser: pauser, OnChange: w.circuitChanged,
	})
}

// serverPauses reports whether the NATS server has consumer pause (2.11+).
// Older servers: the workers stop pulling on their own (the shared flow
// state says so), which is the same for the commands, minus the consumer's
// paused state in `nats consumer info`.
func (w *Worker) serverPauses() bool {
	nc := w.cfg.JetStream.Conn()
	if nc == nil {
		return false
	}
	return versionAtLeast(nc.ConnectedServerVersion(), 2, 11)
}

// versionAtLeast reports whether version ("2.11.3", "v2.12.0-beta") is at
// least major.minor.
func versionAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.SplitN(parts[1], "-", 2)[0])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// consumerPauser pauses a connection's consumer for the fleet.
type consumerPauser struct {
	js               jetstream.JetStream
	stream, consumer string
}

func (p consumerPauser) Pause(ctx context.Context, until time.Time) error {
	if _, err := p.js.PauseConsumer(ctx, p.stream, p.consumer, until); err != nil {
		return fmt.Errorf("pausing consumer %s: %w", p.consumer, err)
	}
	return nil
}

func (p consumerPauser) Resume(ctx context.Context) error {
	if _, err := p.js.ResumeConsumer(ctx, p.stream, p.consumer); err != nil {
		return fmt.Errorf("resuming consumer %s: %w", p.consumer, err)
	}
	return nil
}

// circuitChanged logs and counts a circuit transition.
func (w *Worker) circuitChanged(c flow.Change) {
	m := w.consumerMetrics[consumerName(c.Connection)]
	if m != nil {
		w.inst.circuitChanges.Add(context.Background(), 1, m.circuit(c.To))
	}
	attrs := []any{slog.String("connection", c.Connection), slog.String("from", c.From), slog.String("to", c.To)}
	if !c.Until.IsZero() {
		attrs = append(attrs, slog.Time("probeAfter", c.Until))
	}
	if c.Err != nil {
		attrs = append(attrs, slog.String("error", c.Err.Error()))
	}
	switch c.To {
	case flow.Open:
		w.cfg.Logger.Warn("circuit open: the connection's commands wait in the stream until a probe succeeds", attrs...)
	default:
		w.cfg.Logger.Info("circuit closed: the connection's commands flow again", attrs...)
	}
}

// holdFor is how long a resource of connection stays held for a command
// beyond its lease (see Config.hold): its redelivery must reach a worker
// first. While the connection's circuit is open nobody pulls (on NATS
// 2.11+ the server delivers nothing), so a hold taken or renewed then adds
// the circuit's open period. A circuit that opens after the hold was
// taken, or opens again and again for longer, can still outlast it: the
// README says what that costs.
func (w *Worker) holdFor(connection string) time.Duration {
	h := w.cfg.hold()
	if g := w.gates[connection]; g != nil && !g.CircuitClosed() {
		h += cmp.Or(w.conns[connection].Circuit.OpenFor, flow.DefaultOpenFor)
	}
	return h
}

// flowWarnEvery bounds the warnings of a flow store that fails: one per
// connection in that time, not one per pull or attempt.
const flowWarnEvery = 30 * time.Second

// flowStoreFailed logs that conn's shared flow state could not be read or
// written; the gate goes on with what it knows.
func (w *Worker) flowStoreFailed(conn string, err error) {
	now := w.cfg.now()
	w.flowWarnMu.Lock()
	last, seen := w.flowWarned[conn]
	if seen && now.Sub(last) < flowWarnEvery {
		w.flowWarnMu.Unlock()
		return
	}
	if w.flowWarned == nil {
		w.flowWarned = map[string]time.Time{}
	}
	w.flowWarned[conn] = now
	w.flowWarnMu.Unlock()
	w.cfg.Logger.Warn("flow control store unavailable; going on with the state last known", "connection", conn, "error", err)
}

// Reasons a command waits for flow control, on its metric and span event.
const (
	waitRateLimit = "rate_limit"
	waitProvider  = "provider_wait"
	waitCircuit   = "circuit_open"
	// waitTurn: the command waited for its turn behind another command
	// of its resource in this worker (turns.go).
	waitTurn         = "turn"
	reasonFlowParked = "flow_parked_too_long"
)

// admit waits until the gate lets some of n commands be pulled (none
// while the provider's wait holds or the circuit is open), and returns how
// many; the tokens of the others go back to slots. 0: the worker is
// stopping.
func (l *consumeLoop) admit(n int, slots chan struct{}) int {
	g := l.gate
	if g == nil {
		return n
	}
	for {
		k, wait, err := g.Pull(context.Background(), n)
		if err != nil {
			l.w.flowStoreFailed(g.Connection(), err)
		}
		if k > 0 {
			for range n - k {
				slots <- struct{}{}
			}
			return k
		}
		l.w.inst.flowWaits.Add(context.Background(), 1, l.metrics.flowWait(l.w.waitReason(g)))
		select {
		case <-time.After(min(wait, maxFlowPoll)):
		case <-l.w.stopping.Done():
			for range n {
				slots <- struct{}{}
			}
			return 0
		}
	}
}

// waitReason says why g makes commands wait now.
func (w *Worker) waitReason(g *flow.Gate) string {
	st, _ := g.Status(context.Background())
	switch {
	case st.Circuit != flow.Closed:
		return waitCircuit
	case !st.WaitUntil.IsZero():
		return waitProvider
	default:
		return waitRateLimit
	}
}

// parkedError is an attempt the gate did not admit: the command waits
// (see park) wait before trying again.
type parkedError struct {
	wait   time.Duration
	reason string
}

func (e *parkedError) Error() string {
	return fmt.Sprintf("flow control: waiting %v (%s)", e.wait, e.reason)
}

// admitAttempt admits one attempt of j through its connection's gate. When
// the gate says to wait, it returns a *parkedError, unless an earlier
// attempt of j (or of an earlier delivery, j.resumed) may have written:
// then j keeps its lease (nothing else may touch the resource before its
// outcome is known) and waits here.
func (w *Worker) admitAttempt(ctx context.Context, j *job, g *flow.Gate) (*flow.Ticket, error) {
	for {
		tk, wait, err := g.Attempt(ctx, j.owner, &j.held.prepaid, j.lane == laneBulk)
		if err != nil {
			w.flowStoreFailed(g.Connection(), err)
		}
		if tk != nil {
			return tk, nil
		}
		reason := w.waitReason(g)
		w.inst.flowWaits.Add(ctx, 1, j.metrics.flowWait(reason))
		if reason == waitRateLimit {
			w.wantFirst(ctx, j, g, wait)
		}
		if !j.mayHaveWritten && !j.resumed {
			return nil, &parkedError{wait: wait, reason: reason}
		}
		select {
		case <-time.After(min(wait, maxFlowPoll)):
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-w.stopping.Done():
			return nil, &adapters.Error{Kind: adapters.KindUnavailable, Message: "stopping while flow control waited (" + reason + ")"}
		}
	}
}

// attemptOutcome is what an attempt's error says of the provider's health.
func attemptOutcome(ctx context.Context, ae *adapters.Error) flow.Outcome {
	switch {
	case ae == nil, !ae.Retryable():
		return flow.Succeeded // the provider answered
	case ae.Kind == adapters.KindRateLimited, ctx.Err() != nil:
		return flow.NotCounted
	default:
		return flow.Failed
	}
}

// park waits, with no lease, until j's connection's gate may admit it
// again: at most wait, and at most maxFlowPoll at a time while the gate
// keeps saying to wait. Under a rate limit it takes the permits of j's
// next attempt meanwhile (flow.Gate.Reserve), so that it takes its lease
// again only to use them. While it waits, j keeps its turn on the
// resource (t), unless a waiting command covers it (turns.go): then j
// yields the turn, waits for it again and begins again, most likely to be
// superseded. It returns false when the worker is stopping or j has
// waited longer than Config.MaxParked (it is then handed back like a
// command whose retry budget is spent).
func (w *Worker) park(ctx context.Context, j *job, g *flow.Gate, pe *parkedError, t *turn) (bool, string) {
	j.span.AddEvent("flow_wait", trace.WithAttributes(attribute.String("oauthsync.reason", pe.reason), attrFlowWait.Int64(pe.wait.Milliseconds())))
	if j.parkedSince.IsZero() {
		j.parkedSince = w.cfg.now()
		w.cfg.Logger.Debug("command waits for flow control", w.logAttrs(j, slog.String("reason", pe.reason), slog.Duration("wait", pe.wait))...)
	}
	wait := pe.wait
	for {
		if w.cfg.now().Sub(j.parkedSince) > w.cfg.MaxParked {
			return false, reasonFlowParked
		}
		if j.held.prepaid == 0 && w.turns.yield(j.leaseKey, t) {
			j.span.AddEvent("turn_yielded")
			if !w.turns.await(j.leaseKey, t, w.stopping.Done(), nil) {
				return false, "stopping"
			}
			return true, ""
		}
		select {
		case <-time.After(min(wait, maxFlowPoll)):
		case <-w.stopping.Done():
			return false, "stopping"
		}
		next, _ := g.Wait(ctx, j.owner)
		if next <= 0 {
			next = w.reserve(ctx, j, g)
		}
		if next <= 0 {
			return true, ""
		}
		wait = next
	}
}

// reserve takes j's next attempt's permits while it waits (see park), and
// returns 0 once it holds them, otherwise how long to wait.
func (w *Worker) reserve(ctx context.Context, j *job, g *flow.Gate) time.Duration {
	next, err := g.Reserve(ctx, &j.held.prepaid, j.lane == laneBulk)
	if err != nil {
		w.flowStoreFailed(g.Connection(), err)
	}
	if next > 0 {
		w.wantFirst(ctx, j, g, next)
	}
	return next
}

// wantFirst says to the fleet, for an interactive command that found no
// permit and asks again in retryIn, that it goes before the bulk
// commands' next permits (flow.Gate.WantFirst): each time it finds none,
// at its attempt (admitAttempt) and while it waits (reserve).
func (w *Worker) wantFirst(ctx context.Context, j *job, g *flow.Gate, retryIn time.Duration) {
	if j.lane != laneInteractive || !g.Limited() {
		return
	}
	if err := g.WantFirst(ctx, retryIn); err != nil {
		w.flowStoreFailed(g.Connection(), err)
	}
}
