// Package memflow is a flow.Store kept in the process: the flow state of
// one worker alone. It is what the embedded default uses (no Redis, dedup
// in a JetStream key-value bucket), where the worker is the fleet; a fleet
// of workers shares flow state through redisflow.
package memflow

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/oauthsync/oauthsync/worker/flow"
)

// Store is an in-process flow.Store. The zero value is not usable; use New.
type Store struct {
	now func() time.Time

	mu    sync.Mutex
	conns map[string]*conn
}

type conn struct {
	limiter    *rate.Limiter
	limit      flow.Limit
	state      flow.State
	probe      string
	probeUntil time.Time
}

// New returns an empty Store.
func New() *Store { return &Store{now: time.Now, conns: map[string]*conn{}} }

func (s *Store) conn(key string) *conn {
	c := s.conns[key]
	if c == nil {
		c = &conn{}
		s.conns[key] = c
	}
	return c
}

// Take implements flow.Store with golang.org/x/time/rate's token bucket.
func (s *Store) Take(_ context.Context, key string, lim flow.Limit, least, most int) (int, time.Duration, error) {
	if least < 1 || most < least {
		return 0, 0, flow.ErrBadTake
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn(key)
	now := s.now()
	burst := max(lim.Burst, 1)
	if c.limiter == nil || c.limit != lim {
		if c.limiter == nil {
			c.limiter = rate.NewLimiter(rate.Limit(lim.PerSecond), burst)
		} else {
			c.limiter.SetLimitAt(now, rate.Limit(lim.PerSecond))
			c.limiter.SetBurstAt(now, burst)
		}
		c.limit = lim
	}
	if least > burst {
		return 0, 0, flow.ErrBadTake
	}
	have := c.limiter.TokensAt(now)
	if have < float64(least) {
		missing := float64(least) - have
		return 0, time.Duration(math.Ceil(missing / lim.PerSecond * float64(time.Second))), nil
	}
	took := min(most, int(have))
	c.limiter.AllowN(now, took)
	return took, 0, nil
}

// WaitUntil implements flow.Store.
func (s *Store) WaitUntil(_ context.Context, key string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keepLater(&s.conn(key).state.WaitUntil, until)
	return nil
}

// WantFirst implements flow.Store.
func (s *Store) WantFirst(_ context.Context, key string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keepLater(&s.conn(key).state.FirstUntil, until)
	return nil
}

// keepLater sets *t to until unless *t is later already.
func keepLater(t *time.Time, until time.Time) {
	if until.After(*t) {
		*t = until
	}
}

// OpenCircuit implements flow.Store.
func (s *Store) OpenCircuit(_ context.Context, key string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn(key)
	c.state.CircuitOpen, c.state.OpenUntil = true, until
	c.probe = ""
	return nil
}

// CloseCircuit implements flow.Store.
func (s *Store) CloseCircuit(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn(key)
	c.state.CircuitOpen, c.state.OpenUntil = false, time.Time{}
	c.probe = ""
	return nil
}

// ClaimProbe implements flow.Store.
func (s *Store) ClaimProbe(_ context.Context, key, owner string, ttl time.Duration) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn(key)
	now := s.now()
	if c.probe != "" && c.probe != owner && now.Before(c.probeUntil) {
		return false, nil
	}
	c.probe, c.probeUntil = owner, now.Add(ttl)
	return true, nil
}

// State implements flow.Store.
func (s *Store) State(_ context.Context, key string) (flow.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.conn(key).state
	now := s.now()
	if !st.WaitUntil.After(now) {
		st.WaitUntil = time.Time{}
	}
	if !st.FirstUntil.After(now) {
		st.FirstUntil = time.Time{}
	}
	return st, nil
}
