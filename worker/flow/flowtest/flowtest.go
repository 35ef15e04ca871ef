// Package flowtest is the conformance suite every flow.Store passes.
//
// A store's test calls Run with a constructor that gives each subtest a
// fresh, isolated namespace on a real backend (for Redis a unique key
// prefix). The suite pins what the worker relies on: Take grants at least
// least permits at once or nothing, never more than most, never more than
// the burst plus the rate over any span of time (fractional rates
// included, under concurrent takers), and says how long until least are
// there; a refusal of requests that can never be granted; the wait signal
// kept at its latest; an open circuit, half-open past its time, closed
// only by CloseCircuit; one probe claim at a time, renewable by its owner,
// free again after its TTL or when the circuit opens again; and keys that
// never mix connections. Waits are bounded polling, never fixed sleeps.
package flowtest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/worker/flow"
)

// Run runs the suite against the stores newStore returns.
func Run(t *testing.T, newStore func(t *testing.T) flow.Store) {
	t.Run("TakeGrantsTheBurstThenWaits", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		lim := flow.Limit{PerSecond: 10, Burst: 5}
		took, _, err := s.Take(ctx, "c", lim, 1, 100)
		if err != nil || took != 5 {
			t.Fatalf("first take = %d, %v; want the burst, 5", took, err)
		}
		took, retryIn, err := s.Take(ctx, "c", lim, 1, 1)
		if err != nil || took != 0 {
			t.Fatalf("take past the burst = %d, %v; want 0", took, err)
		}
		if retryIn <= 0 || retryIn > 150*time.Millisecond {
			t.Fatalf("retryIn = %v; want about one interval (100ms)", retryIn)
		}
		eventually(t, 2*time.Second, func() bool {
			took, _, err := s.Take(ctx, "c", lim, 1, 1)
			return err == nil && took == 1
		})
	})
	t.Run("LeastIsAllOrNothing", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		lim := flow.Limit{PerSecond: 1, Burst: 3}
		if took, _, err := s.Take(ctx, "c", lim, 2, 2); err != nil || took != 2 {
			t.Fatalf("take 2 of 3 = %d, %v", took, err)
		}
		took, retryIn, err := s.Take(ctx, "c", lim, 2, 2)
		if err != nil || took != 0 || retryIn <= 0 {
			t.Fatalf("take 2 with 1 left = %d, %v, %v; want nothing taken and a wait", took, retryIn, err)
		}
		if took, _, err := s.Take(ctx, "c", lim, 1, 1); err != nil || took != 1 {
			t.Fatalf("the one left was taken by the refused take: %d, %v", took, err)
		}
	})
	t.Run("FractionalRate", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		lim := flow.Limit{PerSecond: 0.5, Burst: 1} // one every 2s
		if took, _, err := s.Take(ctx, "c", lim, 1, 1); err != nil || took != 1 {
			t.Fatalf("first take = %d, %v", took, err)
		}
		_, retryIn, err := s.Take(ctx, "c", lim, 1, 1)
		if err != nil || retryIn < 1500*time.Millisecond || retryIn > 2100*time.Millisecond {
			t.Fatalf("retryIn = %v, %v; want about 2s", retryIn, err)
		}
	})
	t.Run("ImpossibleTakesAreRefused", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		lim := flow.Limit{PerSecond: 10, Burst: 2}
		for _, c := range []struct{ least, most int }{{0, 1}, {2, 1}, {3, 3}} {
			if _, _, err := s.Take(ctx, "c", lim, c.least, c.most); !errors.Is(err, flow.ErrBadTake) {
				t.Errorf("Take(least %d, most %d) = %v; want ErrBadTake", c.least, c.most, err)
			}
		}
	})
	t.Run("ConcurrentTakersKeepTheLimit", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		lim := flow.Limit{PerSecond: 40, Burst: 10}
		const span = 1500 * time.Millisecond
		start := time.Now()
		var mu sync.Mutex
		total := 0
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for time.Since(start) < span {
					took, retryIn, err := s.Take(ctx, "c", lim, 1, 3)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					total += took
					mu.Unlock()
					if took == 0 {
						time.Sleep(min(retryIn, 20*time.Millisecond))
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if most := lim.Burst + int(lim.PerSecond*elapsed.Seconds()) + 1; total > most {
			t.Fatalf("4 takers got %d permits in %v; the limit allows %d", total, elapsed, most)
		}
		if least := int(lim.PerSecond * span.Seconds() / 2); total < least {
			t.Fatalf("4 takers got only %d permits in %v; want at least %d", total, elapsed, least)
		}
	})
	t.Run("WaitSignalKeepsTheLatest", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		now := time.Now()
		must(t, s.WaitUntil(ctx, "c", now.Add(3*time.Second)))
		must(t, s.WaitUntil(ctx, "c", now.Add(time.Second)))
		st, err := s.State(ctx, "c")
		must(t, err)
		if d := st.WaitUntil.Sub(now.Add(3 * time.Second)); d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("WaitUntil = %v; want the later wait, %v", st.WaitUntil, now.Add(3*time.Second))
		}
		if other, _ := s.State(ctx, "other"); !other.WaitUntil.IsZero() || other.CircuitOpen {
			t.Fatalf("another connection's state = %+v; want nothing", other)
		}
		must(t, s.WaitUntil(ctx, "short", time.Now().Add(50*time.Millisecond)))
		eventually(t, 2*time.Second, func() bool {
			st, err := s.State(ctx, "short")
			return err == nil && st.WaitUntil.IsZero()
		})
	})
	t.Run("WantFirstKeepsTheLatest", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		now := time.Now()
		must(t, s.WantFirst(ctx, "c", now.Add(3*time.Second)))
		must(t, s.WantFirst(ctx, "c", now.Add(time.Second)))
		st, err := s.State(ctx, "c")
		must(t, err)
		if d := st.FirstUntil.Sub(now.Add(3 * time.Second)); d < -time.Millisecond || d > time.Millisecond {
			t.Fatalf("FirstUntil = %v; want the later one, %v", st.FirstUntil, now.Add(3*time.Second))
		}
		if !st.WaitUntil.IsZero() || st.CircuitOpen {
			t.Fatalf("state = %+v; interactive commands waiting are no wait signal and no circuit", st)
		}
		if other, _ := s.State(ctx, "other"); !other.FirstUntil.IsZero() {
			t.Fatalf("another connection's state = %+v; want nothing", other)
		}
		must(t, s.WantFirst(ctx, "short", time.Now().Add(50*time.Millisecond)))
		eventually(t, 2*time.Second, func() bool {
			st, err := s.State(ctx, "short")
			return err == nil && st.FirstUntil.IsZero()
		})
	})
	t.Run("CircuitOpensAndCloses", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		until := time.Now().Add(100 * time.Millisecond)
		must(t, s.OpenCircuit(ctx, "c", until))
		st, err := s.State(ctx, "c")
		must(t, err)
		if !st.CircuitOpen || st.OpenUntil.UnixMilli() != until.UnixMilli() {
			t.Fatalf("state = %+v; want open until %v", st, until)
		}
		time.Sleep(time.Until(until) + 10*time.Millisecond)
		if st, _ := s.State(ctx, "c"); !st.CircuitOpen {
			t.Fatalf("past its time the circuit is %+v; want still open (half-open) until a probe succeeds", st)
		}
		must(t, s.CloseCircuit(ctx, "c"))
		if st, _ := s.State(ctx, "c"); st.CircuitOpen {
			t.Fatalf("closed circuit reads %+v", st)
		}
	})
	t.Run("OneProbeAtATime", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), context.Background()
		must(t, s.OpenCircuit(ctx, "c", time.Now()))
		claim := func(owner string, ttl time.Duration) bool {
			ok, err := s.ClaimProbe(ctx, "c", owner, ttl)
			must(t, err)
			return ok
		}
		if !claim("a", 200*time.Millisecond) {
			t.Fatal("first claim refused")
		}
		if claim("b", time.Second) {
			t.Fatal("a second worker claimed a live probe")
		}
		if !claim("a", 200*time.Millisecond) {
			t.Fatal("the owner's own claim was refused")
		}
		eventually(t, 3*time.Second, func() bool { return claim("b", time.Second) })
		must(t, s.OpenCircuit(ctx, "c", time.Now()))
		if !claim("a", time.Second) {
			t.Fatal("after the circuit opened again the old probe claim still held")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not true within %v", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
