// Package flow is the provider-facing flow control of a connection, held
// for the whole fleet of workers in a shared Store (docs/CONTRACT.md §5.8):
//
//   - a rate limit (GCRA: perSecond, possibly fractional, and a burst),
//     whose permits a worker takes before it pulls commands, so that a
//     command waiting for one holds no resource lease and no worker slot;
//   - the provider's own wait signal (a 429 with its reset, jframework's
//     209): the whole fleet waits until the reset;
//   - interactive commands first: an interactive command that finds no
//     permit says so (WantFirst), and the bulk lane takes none until it
//     has had one;
//   - a circuit: after repeated transient failures it opens, the fleet
//     stops pulling the connection's commands (they wait in the stream, no
//     delivery budget is spent), and after OpenFor one probe command
//     half-opens it; its success closes the circuit for everyone.
//
// A Gate is one worker's view of one connection's flow state. It trips on
// a local circuit breaker (sony/gobreaker) and shares what it decides
// through the Store; it reads the Store's state at most every
// Gate.Refresh, so the usual path costs no round trip.
package flow

import (
	"context"
	"errors"
	"time"
)

// Limit is a connection's rate limit: PerSecond requests a second on
// average (fractional: 0.1667 is 10 a minute), Burst at once. A zero
// PerSecond is no limit.
type Limit struct {
	PerSecond float64
	Burst     int
}

// Unlimited reports whether l limits nothing.
func (l Limit) Unlimited() bool { return l.PerSecond <= 0 }

// State is a connection's shared flow state.
type State struct {
	// WaitUntil is the provider's own wait signal: nobody calls the
	// provider before it. Zero (or past): no wait.
	WaitUntil time.Time
	// CircuitOpen: the circuit is open, or half-open once OpenUntil is
	// past, until a probe succeeds.
	CircuitOpen bool
	OpenUntil   time.Time
	// FirstUntil: interactive commands wait for permits until then; the
	// bulk lane takes none before (see Store.WantFirst). Zero (or past):
	// none waits.
	FirstUntil time.Time
}

// Store keeps the fleet's shared flow state, by key (a connection name).
// Implementations must be safe for concurrent use by many processes.
type Store interface {
	// Take takes at least least and at most most permits of key's limit,
	// at once: took is how many (0 when fewer than least were available,
	// and then nothing was taken); retryIn is how long until least are.
	Take(ctx context.Context, key string, lim Limit, least, most int) (took int, retryIn time.Duration, err error)
	// WaitUntil records the provider's wait signal: nobody calls key's
	// provider before until. A later wait already recorded stays.
	WaitUntil(ctx context.Context, key string, until time.Time) error
	// WantFirst records that interactive commands wait for key's
	// permits until until: meanwhile the bulk lane takes none, so that
	// they get the next ones. A later time already recorded stays.
	WantFirst(ctx context.Context, key string, until time.Time) error
	// OpenCircuit opens key's circuit until until: half-open after it,
	// until CloseCircuit.
	OpenCircuit(ctx context.Context, key string, until time.Time) error
	// CloseCircuit closes key's circuit (a probe succeeded).
	CloseCircuit(ctx context.Context, key string) error
	// ClaimProbe claims the probe of key's half-open circuit for ttl: true
	// when the caller got it (nobody else holds a live claim).
	ClaimProbe(ctx context.Context, key, owner string, ttl time.Duration) (bool, error)
	// State returns key's shared flow state.
	State(ctx context.Context, key string) (State, error)
}

// ErrBadTake is returned by Store.Take for a request that can never be
// granted: least below one, most below least, or least above the burst.
var ErrBadTake = errors.New("flow: take asks for fewer than one permit, or for more than the burst at once")
