package flow

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Circuit states, as Status and Change report them.
const (
	Closed   = "closed"
	Open     = "open"
	HalfOpen = "half-open"
)

// CircuitConfig configures a connection's circuit.
type CircuitConfig struct {
	// Failures is how many transient failures in a row (unavailable,
	// timeout, 5xx; not a rate limit) open the circuit, provided at least
	// half of the attempts of the last FailureWindow failed too: a
	// provider that fails now and then (a 5xx in six) keeps its circuit
	// closed, one that is down opens it after Failures attempts. Default 5;
	// negative: the connection has no circuit.
	Failures int
	// OpenFor is how long the circuit stays open before a probe command
	// may half-open it. Default 30s.
	OpenFor time.Duration
}

// Pauser pauses a connection's JetStream consumer for the whole fleet
// (consumer pause, NATS 2.11+): the server stops delivering until until
// or Resume. A nil Pauser: the workers stop pulling on their own.
type Pauser interface {
	Pause(ctx context.Context, until time.Time) error
	Resume(ctx context.Context) error
}

// Change is a transition of a connection's circuit, as seen by one worker.
type Change struct {
	Connection string
	From, To   string
	// Until is when an opened circuit may be probed.
	Until time.Time
	// Err is what failed while sharing the change (Store, Pauser), if
	// anything: the worker still acts on it alone.
	Err error
}

// GateConfig configures a Gate.
type GateConfig struct {
	// Connection names the connection: the key in the Store.
	Connection string
	Store      Store
	Limit      Limit
	// Cost is how many provider requests one command's attempt makes (a
	// read and a write: 2). Default 1.
	Cost    int
	Circuit CircuitConfig
	Pauser  Pauser
	// OnChange is told every circuit transition (for logs, metrics and
	// alerts). It must not block.
	OnChange func(Change)
	// Refresh is how old the shared state this worker acts on may be.
	// Default 500ms.
	Refresh time.Duration
	// ProbeTTL bounds a probe claim: another worker may probe once it is
	// past (the prober died). Default 15s: the circuit stays shut that
	// long when a worker dies holding the probe; a probe slower than that
	// may have a second one beside it.
	ProbeTTL time.Duration
	Now      func() time.Time
}

// Gate is one worker's flow control of one connection. It is safe for
// concurrent use.
type Gate struct {
	cfg     GateConfig
	breaker *gobreaker.TwoStepCircuitBreaker[struct{}]

	mu      sync.Mutex
	shared  State
	fetched time.Time
	// changes are the breaker's transitions not yet shared (see share):
	// gobreaker reports them under its own lock, where no I/O belongs.
	changes []gobreaker.State
}

// pollWait is how long a caller waits before asking again when nothing
// says when to (a probe claimed by another worker, a breaker about to
// half-open).
const pollWait = time.Second

// DefaultOpenFor is CircuitConfig.OpenFor's default.
const DefaultOpenFor = 30 * time.Second

// FailureWindow is the rolling window whose failure ratio must reach one
// half, beside CircuitConfig.Failures in a row, to open a circuit.
const FailureWindow = 30 * time.Second

// readyToTrip opens the circuit after failures transient failures in a
// row when at least half of the window's counted attempts failed, and the
// window has counted at least twice failures: a breaker that has just
// started (a worker restarted) does not open the fleet's circuit on its
// first few attempts against a provider that fails now and then.
func readyToTrip(c gobreaker.Counts, failures int) bool {
	counted := c.TotalSuccesses + c.TotalFailures
	return c.ConsecutiveFailures >= uint32(failures) && counted >= 2*uint32(failures) && 2*c.TotalFailures >= counted
}

// errExcluded marks an attempt the breaker must not count (a rate limit,
// a cancelled call, an attempt not made).
var errExcluded = errors.New("flow: not counted")

// errFailed is a transient failure, counted by the breaker.
var errFailed = errors.New("flow: transient failure")

// NewGate returns the Gate of cfg.Connection.
func NewGate(cfg GateConfig) *Gate {
	cfg.Cost = max(cfg.Cost, 1)
	if !cfg.Limit.Unlimited() {
		cfg.Limit.Burst = max(cfg.Limit.Burst, cfg.Cost)
	}
	if cfg.Circuit.Failures == 0 {
		cfg.Circuit.Failures = 5
	}
	cfg.Circuit.OpenFor = cmp.Or(cfg.Circuit.OpenFor, DefaultOpenFor)
	cfg.Refresh = cmp.Or(cfg.Refresh, 500*time.Millisecond)
	cfg.ProbeTTL = cmp.Or(cfg.ProbeTTL, 15*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Gate{cfg: cfg}
	if cfg.Circuit.Failures > 0 {
		g.breaker = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name:         cfg.Connection,
			MaxRequests:  1,
			Timeout:      cfg.Circuit.OpenFor,
			Interval:     FailureWindow,
			BucketPeriod: FailureWindow / 6,
			ReadyToTrip:  func(c gobreaker.Counts) bool { return readyToTrip(c, cfg.Circuit.Failures) },
			IsExcluded:   func(err error) bool { return errors.Is(err, errExcluded) },
			OnStateChange: func(_ string, _, to gobreaker.State) {
				g.mu.Lock()
				g.changes = append(g.changes, to)
				g.mu.Unlock()
			},
		})
	}
	return g
}

// Connection is the gate's connection.
func (g *Gate) Connection() string { return g.cfg.Connection }

// Cost is the permits one attempt takes.
func (g *Gate) Cost() int { return g.cfg.Cost }

// Limited reports whether the connection has a rate limit.
func (g *Gate) Limited() bool { return !g.cfg.Limit.Unlimited() }

// Limit is the connection's rate limit.
func (g *Gate) Limit() Limit { return g.cfg.Limit }

// state returns the shared state, read again when older than Refresh. A
// Store that cannot be read leaves the last state known (flow control
// fails open: the dedup store's guard is what stops a worker).
func (g *Gate) state(ctx context.Context) (State, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.Now()
	if now.Sub(g.fetched) < g.cfg.Refresh {
		return g.shared, nil
	}
	st, err := g.cfg.Store.State(ctx, g.cfg.Connection)
	g.fetched = now
	if err != nil {
		return g.shared, err
	}
	g.shared = st
	return st, nil
}

// blocked says how long nobody may call the provider by the shared state
// (a wait signal, an open circuit); half is set when the circuit is
// half-open: only a probe may.
func (g *Gate) blocked(st State) (wait time.Duration, half bool) {
	now := g.cfg.Now()
	if now.Before(st.WaitUntil) {
		return st.WaitUntil.Sub(now), false
	}
	if st.CircuitOpen {
		if now.Before(st.OpenUntil) {
			return st.OpenUntil.Sub(now), false
		}
		return 0, true
	}
	return 0, false
}

// Pull says how many of want commands the consume loop may pull now, or,
// when none, how long to wait: none while the provider's wait signal
// holds or the circuit is open; one, the probe, while it is half-open.
// It takes no rate-limit permit: a command takes its permits when it
// attempts (Attempt) or, while it waits for them, with Reserve, so that
// a command superseded before it calls the provider spends none.
func (g *Gate) Pull(ctx context.Context, want int) (n int, wait time.Duration, err error) {
	g.share(ctx)
	st, err := g.state(ctx)
	if wait, half := g.blocked(st); wait > 0 {
		return 0, wait, err
	} else if half {
		want = min(want, 1)
	}
	if g.breaker != nil && g.breaker.State() == gobreaker.StateOpen {
		return 0, pollWait, err
	}
	return want, 0, err
}

// firstMargin is how long past its next try an interactive command that
// found no permit keeps the bulk lane from taking any (see WantFirst):
// long enough that it begins again and asks.
const firstMargin = 500 * time.Millisecond

// WantFirst says, for the fleet, that an interactive command found no
// permit and tries again in retryIn: until it has had one, no bulk
// command takes a permit (Attempt and Reserve with bulk set). It costs a
// store call; the others read it with the rest of the shared state, so
// other workers see it within Refresh.
func (g *Gate) WantFirst(ctx context.Context, retryIn time.Duration) error {
	until := g.cfg.Now().Add(retryIn + firstMargin)
	g.mu.Lock()
	if until.After(g.shared.FirstUntil) {
		g.shared.FirstUntil = until // this worker's own bulk lane at once
	}
	g.mu.Unlock()
	return g.cfg.Store.WantFirst(ctx, g.cfg.Connection, until)
}

// Reserve takes one attempt's permits (Cost) into prepaid for a command
// that waits for the rate limit without its resource lease, unless it
// holds them already: its next Attempt uses them, so that waiting
// commands do not take their leases again only to find no permit. It
// returns 0 once prepaid holds them (or the connection has no limit),
// otherwise how long to wait before asking again. bulk: a bulk command,
// which takes none while interactive commands wait (WantFirst).
func (g *Gate) Reserve(ctx context.Context, prepaid *int, bulk bool) (time.Duration, error) {
	if !g.Limited() || *prepaid >= g.cfg.Cost {
		return 0, nil
	}
	st, err := g.state(ctx)
	if wait := g.yieldFirst(st, bulk); wait > 0 {
		return wait, err
	}
	took, retryIn, terr := g.cfg.Store.Take(ctx, g.cfg.Connection, g.cfg.Limit, g.cfg.Cost, g.cfg.Cost)
	if terr != nil {
		return pollWait, terr
	}
	if took == 0 {
		return max(retryIn, time.Millisecond), err
	}
	*prepaid += took
	return 0, err
}

// yieldFirst is how long a bulk command waits before it may take a permit
// (interactive commands wait for one: WantFirst); 0 when it may now.
func (g *Gate) yieldFirst(st State, bulk bool) time.Duration {
	if now := g.cfg.Now(); bulk && now.Before(st.FirstUntil) {
		return min(st.FirstUntil.Sub(now), pollWait)
	}
	return 0
}

// Wait says how long a command already pulled should wait before it is
// worth asking Attempt again: the provider's wait, an open circuit's
// time; while the circuit is half-open, no wait for the one delivery
// (owner) that claims the fleet's probe, a poll for the others.
func (g *Gate) Wait(ctx context.Context, owner string) (time.Duration, error) {
	g.share(ctx)
	st, err := g.state(ctx)
	wait, half := g.blocked(st)
	if wait > 0 || !half {
		return wait, err
	}
	ok, cerr := g.cfg.Store.ClaimProbe(ctx, g.cfg.Connection, owner, g.cfg.ProbeTTL)
	if cerr != nil || !ok {
		return pollWait, cmp.Or(cerr, err)
	}
	return 0, err
}

// Ticket is one admitted attempt: Done reports how it went.
type Ticket struct {
	g     *Gate
	done  func(error)
	probe bool
}

// Outcome is how an attempt went, for the circuit.
type Outcome int

const (
	// Succeeded: the provider answered (a permanent refusal included).
	Succeeded Outcome = iota
	// Failed: a transient failure (unavailable, timeout, 5xx).
	Failed
	// NotCounted: the provider asked to wait (a rate limit), or the call
	// was cancelled: it says nothing of the provider's health.
	NotCounted
)

// Attempt admits one attempt of a command, or says how long to wait.
// owner names the command's delivery: while the circuit is half-open, the
// one delivery that holds the fleet's probe claim is admitted. An
// admitted attempt uses Cost of the permits in prepaid (taken by Reserve
// while the command waited) or, when there are not enough, takes its
// own (bulk: not while interactive commands wait for one, see
// WantFirst). Every admitted attempt must be reported with Ticket.Done.
func (g *Gate) Attempt(ctx context.Context, owner string, prepaid *int, bulk bool) (*Ticket, time.Duration, error) {
	g.share(ctx)
	st, err := g.state(ctx)
	t := &Ticket{g: g, done: func(error) {}}
	wait, half := g.blocked(st)
	if wait > 0 {
		return nil, wait, err
	}
	if half {
		ok, cerr := g.cfg.Store.ClaimProbe(ctx, g.cfg.Connection, owner, g.cfg.ProbeTTL)
		if cerr != nil || !ok {
			return nil, pollWait, cmp.Or(cerr, err)
		}
		t.probe = true
	}
	if g.breaker != nil {
		done, berr := g.breaker.Allow()
		if berr != nil {
			return nil, pollWait, err
		}
		t.done = done
	}
	if !g.Limited() {
		return t, 0, err
	}
	if *prepaid >= g.cfg.Cost {
		*prepaid -= g.cfg.Cost
		return t, 0, err
	}
	var took int
	retryIn, terr := g.yieldFirst(st, bulk), error(nil)
	if retryIn == 0 {
		took, retryIn, terr = g.cfg.Store.Take(ctx, g.cfg.Connection, g.cfg.Limit, g.cfg.Cost, g.cfg.Cost)
	}
	if terr != nil || took == 0 {
		t.done(errExcluded)
		if t.probe {
			// Let another worker probe at once rather than after ProbeTTL.
			_ = g.cfg.Store.OpenCircuit(ctx, g.cfg.Connection, g.cfg.Now())
			g.forget()
		}
		return nil, max(retryIn, time.Millisecond), cmp.Or(terr, err)
	}
	return t, 0, err
}

// Done reports the attempt's outcome. A probe's outcome decides the
// shared circuit: success closes it, a failure opens it again.
func (t *Ticket) Done(ctx context.Context, o Outcome) {
	g := t.g
	switch o {
	case Succeeded:
		t.done(nil)
	case Failed:
		t.done(errFailed)
	default:
		t.done(errExcluded)
	}
	g.share(ctx) // the breaker's own transition, if the probe made one
	if !t.probe || o == NotCounted {
		return
	}
	g.mu.Lock()
	st := g.shared
	g.mu.Unlock()
	switch {
	case o == Succeeded && st.CircuitOpen:
		g.closeCircuit(ctx, HalfOpen)
	case o == Failed && (!st.CircuitOpen || !g.cfg.Now().Before(st.OpenUntil)):
		g.openCircuit(ctx, HalfOpen)
	}
}

// ProviderWait records the provider's own wait signal for the fleet:
// nobody calls it for d.
func (g *Gate) ProviderWait(ctx context.Context, d time.Duration) error {
	until := g.cfg.Now().Add(d)
	g.mu.Lock()
	if until.After(g.shared.WaitUntil) {
		g.shared.WaitUntil = until
	}
	g.mu.Unlock()
	return g.cfg.Store.WaitUntil(ctx, g.cfg.Connection, until)
}

// share carries the breaker's transitions to the fleet: an opened breaker
// opens the shared circuit (and pauses the consumer); a closed one
// closes it.
func (g *Gate) share(ctx context.Context) {
	g.mu.Lock()
	changes := g.changes
	g.changes = nil
	g.mu.Unlock()
	for _, to := range changes {
		switch to {
		case gobreaker.StateOpen:
			g.openCircuit(ctx, Closed)
		case gobreaker.StateClosed:
			g.closeCircuit(ctx, HalfOpen)
		}
	}
}

func (g *Gate) openCircuit(ctx context.Context, from string) {
	until := g.cfg.Now().Add(g.cfg.Circuit.OpenFor)
	g.mu.Lock()
	if g.shared.CircuitOpen && !g.cfg.Now().Before(g.shared.OpenUntil) {
		from = HalfOpen
	}
	g.shared.CircuitOpen, g.shared.OpenUntil = true, until
	g.mu.Unlock()
	err := g.cfg.Store.OpenCircuit(ctx, g.cfg.Connection, until)
	if g.cfg.Pauser != nil {
		err = errors.Join(err, g.cfg.Pauser.Pause(ctx, until))
	}
	g.notify(Change{Connection: g.cfg.Connection, From: from, To: Open, Until: until, Err: err})
}

func (g *Gate) closeCircuit(ctx context.Context, from string) {
	g.mu.Lock()
	was := g.shared.CircuitOpen
	g.shared.CircuitOpen, g.shared.OpenUntil = false, time.Time{}
	g.mu.Unlock()
	err := g.cfg.Store.CloseCircuit(ctx, g.cfg.Connection)
	if g.cfg.Pauser != nil {
		err = errors.Join(err, g.cfg.Pauser.Resume(ctx))
	}
	if was {
		g.notify(Change{Connection: g.cfg.Connection, From: from, To: Closed, Err: err})
	}
}

// forget makes the next state call read the Store.
func (g *Gate) forget() {
	g.mu.Lock()
	g.fetched = time.Time{}
	g.mu.Unlock()
}

func (g *Gate) notify(c Change) {
	if g.cfg.OnChange != nil {
		g.cfg.OnChange(c)
	}
}

// Status is a connection's flow state as one worker sees it.
type Status struct {
	Connection string
	// Circuit is the shared circuit: Closed, Open or HalfOpen.
	Circuit string
	// OpenUntil: when an open circuit may be probed.
	OpenUntil time.Time
	// WaitUntil: the provider's wait signal, if any.
	WaitUntil time.Time
	Limit     Limit
}

// Status returns the connection's flow state (read again if stale).
func (g *Gate) Status(ctx context.Context) (Status, error) {
	st, err := g.state(ctx)
	return StatusOf(g.cfg.Connection, st, g.cfg.Limit, g.cfg.Now()), err
}

// CircuitClosed reports whether the connection's circuit is closed, as
// this worker last knew it (no I/O): false while it is open or half-open
// here or in the shared state. A gate without a circuit is always closed.
func (g *Gate) CircuitClosed() bool {
	if g.breaker == nil {
		return true
	}
	g.mu.Lock()
	open := g.shared.CircuitOpen
	g.mu.Unlock()
	return !open && g.breaker.State() == gobreaker.StateClosed
}

// StatusOf describes a shared state at now.
func StatusOf(conn string, st State, lim Limit, now time.Time) Status {
	s := Status{Connection: conn, Circuit: Closed, Limit: lim}
	if now.Before(st.WaitUntil) {
		s.WaitUntil = st.WaitUntil
	}
	if st.CircuitOpen {
		s.Circuit, s.OpenUntil = Open, st.OpenUntil
		if !now.Before(st.OpenUntil) {
			s.Circuit = HalfOpen
		}
	}
	return s
}
