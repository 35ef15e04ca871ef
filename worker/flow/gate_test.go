package flow_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/memflow"
)

// changes records a gate's circuit transitions.
type changes struct {
	mu  sync.Mutex
	got []string
}

func (c *changes) add(ch flow.Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, ch.From+">"+ch.To)
}

func (c *changes) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// fleet is two workers' gates of one connection on one store.
func fleet(t *testing.T, lim flow.Limit, openFor time.Duration) (a, b *flow.Gate, ca, cb *changes) {
	t.Helper()
	store := memflow.New()
	ca, cb = &changes{}, &changes{}
	mk := func(_ string, c *changes) *flow.Gate {
		return flow.NewGate(flow.GateConfig{Connection: "c", Store: store, Limit: lim,
			Circuit: flow.CircuitConfig{Failures: 3, OpenFor: openFor}, Refresh: time.Nanosecond, OnChange: c.add})
	}
	return mk("a", ca), mk("b", cb), ca, cb
}

func attempt(t *testing.T, g *flow.Gate) (*flow.Ticket, time.Duration) {
	t.Helper()
	prepaid := 0
	tk, wait, err := g.Attempt(context.Background(), t.Name()+time.Now().String(), &prepaid, false)
	if err != nil {
		t.Fatal(err)
	}
	return tk, wait
}

func TestFailuresInARowOpenTheCircuitForTheFleet(t *testing.T) {
	ctx := context.Background()
	a, b, ca, _ := fleet(t, flow.Limit{}, 300*time.Millisecond)
	for range 2 {
		tk, _ := attempt(t, a)
		tk.Done(ctx, flow.Failed)
	}
	tk, _ := attempt(t, a)
	tk.Done(ctx, flow.Succeeded) // a success in between: not in a row
	for range 3 {
		tk, wait := attempt(t, a)
		if tk == nil {
			t.Fatalf("attempt refused (wait %v) before the third failure in a row", wait)
		}
		tk.Done(ctx, flow.Failed)
	}
	if got := ca.list(); len(got) != 1 || got[0] != "closed>open" {
		t.Fatalf("transitions = %v; want closed>open", got)
	}
	for name, g := range map[string]*flow.Gate{"a": a, "b": b} {
		if tk, wait := attempt(t, g); tk != nil || wait <= 0 || wait > 300*time.Millisecond {
			t.Fatalf("worker %s: attempt while open = %v, wait %v; want refused until the probe time", name, tk, wait)
		}
		if n, wait, err := g.Pull(ctx, 10); n != 0 || wait <= 0 || err != nil {
			t.Fatalf("worker %s: pull while open = %d, %v, %v; want nothing", name, n, wait, err)
		}
		if st, _ := g.Status(ctx); st.Circuit != flow.Open {
			t.Fatalf("worker %s: status %+v; want open", name, st)
		}
	}
}

func TestOneProbeHalfOpensAndItsSuccessClosesForEveryone(t *testing.T) {
	ctx := context.Background()
	a, b, ca, cb := fleet(t, flow.Limit{}, 100*time.Millisecond)
	for range 6 { // failures 3, and twice that counted
		tk, _ := attempt(t, a)
		tk.Done(ctx, flow.Failed)
	}
	time.Sleep(120 * time.Millisecond)
	if n, _, _ := b.Pull(ctx, 10); n != 1 {
		t.Fatalf("pull while half-open = %d; want one command, the probe", n)
	}
	probe, _ := attempt(t, b)
	if probe == nil {
		t.Fatal("no worker may probe the half-open circuit")
	}
	if tk, wait := attempt(t, a); tk != nil || wait <= 0 {
		t.Fatalf("a second probe was admitted (%v, wait %v) while one is out", tk, wait)
	}
	probe.Done(ctx, flow.Failed)
	if tk, wait := attempt(t, a); tk != nil || wait < 50*time.Millisecond {
		t.Fatalf("after a failed probe: %v, wait %v; want the circuit open again for OpenFor", tk, wait)
	}
	time.Sleep(120 * time.Millisecond)
	probe, _ = attempt(t, a)
	if probe == nil {
		t.Fatal("no probe after the second open period")
	}
	probe.Done(ctx, flow.Succeeded)
	for name, g := range map[string]*flow.Gate{"a": a, "b": b} {
		if tk, wait := attempt(t, g); tk == nil {
			t.Fatalf("worker %s: refused (wait %v) after the probe succeeded", name, wait)
		} else {
			tk.Done(ctx, flow.Succeeded)
		}
		if n, _, _ := g.Pull(ctx, 10); n != 10 {
			t.Fatalf("worker %s: pull after closing = %d; want all 10", name, n)
		}
	}
	if got := cb.list(); len(got) != 1 || got[0] != "half-open>open" {
		t.Fatalf("b saw %v; want its failed probe to open the circuit again: half-open>open", got)
	}
	if got := ca.list(); len(got) < 2 || got[len(got)-1] != "half-open>closed" {
		t.Fatalf("a saw %v; want it to end half-open>closed", got)
	}
}

func TestAProviderWaitHoldsTheFleet(t *testing.T) {
	ctx := context.Background()
	a, b, _, _ := fleet(t, flow.Limit{}, time.Second)
	if err := a.ProviderWait(ctx, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n, wait, _ := b.Pull(ctx, 5); n != 0 || wait < 100*time.Millisecond {
		t.Fatalf("other worker pulled %d (wait %v) during the provider's wait", n, wait)
	}
	if tk, wait := attempt(t, b); tk != nil || wait < 100*time.Millisecond {
		t.Fatalf("other worker attempted (%v, wait %v) during the provider's wait", tk, wait)
	}
	time.Sleep(210 * time.Millisecond)
	if n, _, _ := b.Pull(ctx, 5); n != 5 {
		t.Fatalf("after the wait: pulled %d of 5", n)
	}
}

func TestPullsTakeNoPermitsAndReservedOnesServeTheNextAttempt(t *testing.T) {
	ctx := context.Background()
	store := memflow.New()
	g := flow.NewGate(flow.GateConfig{Connection: "c", Store: store, Limit: flow.Limit{PerSecond: 1, Burst: 4}, Cost: 2})
	if n, wait, err := g.Pull(ctx, 10); err != nil || n != 10 || wait != 0 {
		t.Fatalf("pull = %d, %v, %v; want all 10 at once: a pull takes no permit", n, wait, err)
	}
	// A waiting command reserves its attempt's permits ...
	prepaid := 0
	if wait, err := g.Reserve(ctx, &prepaid, true); wait != 0 || err != nil || prepaid != 2 {
		t.Fatalf("reserve = %v, %v, prepaid %d; want the attempt's 2 permits", wait, err, prepaid)
	}
	if wait, _ := g.Reserve(ctx, &prepaid, true); wait != 0 || prepaid != 2 {
		t.Fatalf("a second reserve = %v, prepaid %d; it holds its permits already and takes none", wait, prepaid)
	}
	// ... another takes the rest of the burst ...
	other := 0
	if tk, _, _ := g.Attempt(ctx, "other", &other, true); tk == nil {
		t.Fatal("the burst's second attempt was refused")
	}
	// ... and the first one's attempt uses its own.
	tk, wait, err := g.Attempt(ctx, "cmd", &prepaid, true)
	if tk == nil || err != nil || prepaid != 0 {
		t.Fatalf("attempt with its reserved permits = %v, %v, %v, prepaid left %d", tk, wait, err, prepaid)
	}
	tk.Done(ctx, flow.Succeeded)
	// A retry has no permits of its own left: it waits for the limit.
	if tk, wait, _ := g.Attempt(ctx, "cmd", &prepaid, true); tk != nil || wait <= 0 {
		t.Fatalf("retry without permits = %v, wait %v; want a wait", tk, wait)
	}
	if wait, _ := g.Reserve(ctx, &prepaid, true); wait <= 0 || prepaid != 0 {
		t.Fatalf("reserve past the limit = %v, prepaid %d; want a wait", wait, prepaid)
	}
}

func TestWaitingCommandsProbeOneAtATime(t *testing.T) {
	ctx := context.Background()
	a, b, _, _ := fleet(t, flow.Limit{}, 100*time.Millisecond)
	for range 6 { // failures 3, and twice that counted
		tk, _ := attempt(t, a)
		tk.Done(ctx, flow.Failed)
	}
	if wait, err := b.Wait(ctx, "cmd-1"); err != nil || wait <= 0 {
		t.Fatalf("wait while open = %v, %v; want until the probe time", wait, err)
	}
	time.Sleep(120 * time.Millisecond)
	if wait, _ := b.Wait(ctx, "cmd-1"); wait != 0 {
		t.Fatalf("the first waiting command may not probe the half-open circuit (wait %v)", wait)
	}
	if wait, _ := a.Wait(ctx, "cmd-2"); wait <= 0 {
		t.Fatal("a second waiting command may probe while the first holds the claim")
	}
	prepaid := 0
	tk, wait, err := b.Attempt(ctx, "cmd-1", &prepaid, false)
	if tk == nil || err != nil {
		t.Fatalf("the probe's holder was refused its attempt (wait %v, %v)", wait, err)
	}
	tk.Done(ctx, flow.Succeeded)
	if wait, _ := a.Wait(ctx, "cmd-2"); wait != 0 {
		t.Fatalf("after the probe succeeded the others still wait %v", wait)
	}
}

// A worker that has just started (a restart, a deploy) counts its first
// attempts only: failures in a row among them open no circuit until the
// window has counted twice CircuitConfig.Failures.
func TestAFreshBreakerNeedsMoreThanItsFirstFailures(t *testing.T) {
	ctx := context.Background()
	a, _, ca, _ := fleet(t, flow.Limit{}, time.Minute)
	for range 5 { // failures 3 in a row, but only 5 counted
		tk, wait := attempt(t, a)
		if tk == nil {
			t.Fatalf("refused (wait %v) on a fresh breaker's first failures", wait)
		}
		tk.Done(ctx, flow.Failed)
	}
	if got := ca.list(); len(got) != 0 || !a.CircuitClosed() {
		t.Fatalf("transitions %v: a fresh breaker opened the circuit on its first 5 attempts", got)
	}
	tk, _ := attempt(t, a)
	tk.Done(ctx, flow.Failed) // the sixth
	if got := ca.list(); len(got) != 1 || got[0] != "closed>open" {
		t.Fatalf("transitions %v after 6 failures of 6; want closed>open", got)
	}
}

func TestAProviderThatFailsNowAndThenKeepsItsCircuitClosed(t *testing.T) {
	ctx := context.Background()
	a, _, ca, _ := fleet(t, flow.Limit{}, time.Minute)
	// Failures 3 in a row, among many successes: a noisy provider, not a
	// down one.
	for range 20 {
		tk, _ := attempt(t, a)
		tk.Done(ctx, flow.Succeeded)
	}
	for range 4 {
		tk, wait := attempt(t, a)
		if tk == nil {
			t.Fatalf("refused (wait %v) after a few failures among many successes", wait)
		}
		tk.Done(ctx, flow.Failed)
	}
	if got := ca.list(); len(got) != 0 || !a.CircuitClosed() {
		t.Fatalf("transitions %v (closed: %v); a provider failing 4 of 24 attempts must keep its circuit closed", got, a.CircuitClosed())
	}
	// Down for good: the failures soon outnumber the successes.
	for i := 0; ; i++ {
		tk, _ := attempt(t, a)
		if tk == nil {
			break
		}
		tk.Done(ctx, flow.Failed)
		if i > 30 {
			t.Fatal("a provider failing every attempt never opened its circuit")
		}
	}
	if got := ca.list(); len(got) != 1 || got[0] != "closed>open" || a.CircuitClosed() {
		t.Fatalf("transitions %v (closed: %v); want closed>open", got, a.CircuitClosed())
	}
}

func TestInteractiveCommandsWaitingForPermitsGoFirst(t *testing.T) {
	ctx := context.Background()
	a, b, _, _ := fleet(t, flow.Limit{PerSecond: 10, Burst: 4}, time.Minute)
	for i := range 4 { // the bulk lane takes the burst
		var none int
		if tk, wait, err := a.Attempt(ctx, fmt.Sprint("bulk-", i), &none, true); tk == nil || err != nil {
			t.Fatalf("bulk attempt %d = %v, %v; want the burst, 4", i, wait, err)
		} else {
			tk.Done(ctx, flow.Succeeded)
		}
	}
	// An interactive command on b finds no permit and says so.
	var none int
	if tk, wait, _ := b.Attempt(ctx, "int-1", &none, false); tk != nil || wait <= 0 {
		t.Fatalf("Attempt with no permit left = %v, %v; want a wait", tk, wait)
	}
	if err := b.WantFirst(ctx, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// The fleet's bulk commands take no permit while it waits ...
	time.Sleep(200 * time.Millisecond) // two permits come back
	if tk, wait, _ := a.Attempt(ctx, "bulk-5", &none, true); tk != nil || wait <= 0 {
		t.Fatalf("bulk Attempt while an interactive command waits = %v, %v; want none and a wait", tk, wait)
	}
	if wait, _ := a.Reserve(ctx, &none, true); wait <= 0 || none != 0 {
		t.Fatalf("bulk Reserve while an interactive command waits = %v, %d permits; want none and a wait", wait, none)
	}
	// ... so it gets the next one.
	if tk, wait, _ := b.Attempt(ctx, "int-1", &none, false); tk == nil {
		t.Fatalf("the waiting interactive command was not admitted (wait %v)", wait)
	} else {
		tk.Done(ctx, flow.Succeeded)
	}
	// Once nobody waits any more, bulk commands take permits again.
	time.Sleep(time.Second) // past its retry and the margin
	if wait, _ := a.Reserve(ctx, &none, true); wait != 0 || none == 0 {
		t.Fatalf("bulk Reserve after the interactive wait ended = %v, %d permits; want its permits", wait, none)
	}
}
