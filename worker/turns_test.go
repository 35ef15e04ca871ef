package worker

import (
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/messages"
)

func granted(t *turn) bool {
	select {
	case <-t.ready:
		return true
	default:
		return false
	}
}

func key(k int64) messages.OrderKey { return messages.OrderKey{Key: k, Seq: uint64(k)} }

// bulk takes a turn on resource c/r for a bulk command of order key k
// setting fields, with room for 10 waiters; now reports whether it holds
// the turn at once.
func bulk(r *resourceTurns, k int64, fields ...string) (t *turn, now bool) {
	return r.take("c/r", key(k), fields, false, true, 10)
}

func TestTurnsGoHighestFirstAndCoveredOnesRightAfter(t *testing.T) {
	var r resourceTurns
	first, now := bulk(&r, 1, "name")
	if !now || !granted(first) {
		t.Fatal("the first command of a resource waited for a turn")
	}
	other, now := r.take("c/other", key(1), []string{"name"}, false, false, 10)
	if !now || !granted(other) {
		t.Fatal("a command of another resource waited behind the first")
	}
	low, _ := bulk(&r, 2, "name", "active") // not covered by high
	mid, _ := bulk(&r, 3, "name")
	high, _ := bulk(&r, 5, "name")
	if granted(low) || granted(mid) || granted(high) {
		t.Fatal("a second command of the resource was granted a turn while the first holds it")
	}
	r.done("c/r", first)
	if !granted(high) || granted(mid) || granted(low) {
		t.Fatal("after the first: want the highest order key next")
	}
	r.done("c/r", high)
	if !granted(mid) || granted(low) {
		t.Fatal("after the highest: want the command it covers (superseded at once) before the others")
	}
	r.done("c/r", mid)
	if !granted(low) {
		t.Fatal("the last waiting command was not granted its turn")
	}
	r.done("c/r", low)
	r.done("c/other", other)
	if len(r.queues) != 0 {
		t.Fatalf("%d queues left after every turn ended; want none", len(r.queues))
	}
}

func TestEveryWaiterAFinishedCommandCoversGoesBeforeNewerOnes(t *testing.T) {
	var r resourceTurns
	holder, _ := bulk(&r, 1, "name")
	var covered []*turn
	for i := range 3 {
		w, _ := bulk(&r, int64(10+i), "name")
		covered = append(covered, w)
	}
	high, _ := bulk(&r, 50, "name")
	r.done("c/r", holder)
	if !granted(high) {
		t.Fatal("want the highest first")
	}
	newer, _ := bulk(&r, 60, "name") // came while high held the turn
	r.done("c/r", high)
	for i := len(covered); i > 0; i-- {
		cur := r.queues["c/r"].holder
		if cur == newer {
			t.Fatalf("a newer command went before %d waiters the highest finished one covers", i)
		}
		r.done("c/r", cur)
	}
	if !granted(newer) {
		t.Fatal("the newer command was not granted after the covered ones")
	}
}

func TestWaitersPassedOverByCommandsThatCoverThemDoNotAge(t *testing.T) {
	var r resourceTurns
	holder, _ := r.take("c/r", key(1), []string{"name"}, false, false, 100)
	low, _ := r.take("c/r", key(2), []string{"name"}, false, false, 100)
	other, _ := r.take("c/r", key(3), []string{"active"}, false, false, 100)
	higher, _ := r.take("c/r", key(100), []string{"name"}, false, false, 100)
	r.done("c/r", holder)
	if !granted(higher) {
		t.Fatal("the highest command did not go first")
	}
	if low.passed != 0 || other.passed != 1 {
		t.Fatalf("passes: covered waiter %d, other %d; want 0 (the command that went covers it) and 1", low.passed, other.passed)
	}
	r.done("c/r", higher)
	if !granted(low) {
		t.Fatal("the covered waiter did not go next")
	}
	r.done("c/r", low)
	if other.passed != 1 {
		t.Fatalf("other passed %d times; a covered command finishing at once passes nobody", other.passed)
	}
}

func TestATurnPassedOverTooOftenGoesNext(t *testing.T) {
	var r resourceTurns
	holder, _ := bulk(&r, 100, "name")
	old, _ := bulk(&r, 1, "active")
	for i := range maxTurnPasses {
		newer, _ := bulk(&r, int64(200+i), "name")
		r.done("c/r", holder)
		if !granted(newer) {
			t.Fatalf("round %d: the higher command was not next", i)
		}
		holder = newer
	}
	r.done("c/r", holder)
	if !granted(old) {
		t.Fatalf("a command passed over %d times still waits", maxTurnPasses)
	}
}

func TestAWaitingHolderYieldsToACommandThatCoversIt(t *testing.T) {
	var r resourceTurns
	holder, _ := bulk(&r, 5, "name")
	narrower, _ := bulk(&r, 9, "active")
	if r.yield("c/r", holder) {
		t.Fatal("the holder yielded to a command that does not set its fields")
	}
	covering, _ := bulk(&r, 7, "name", "active")
	if !r.yield("c/r", holder) {
		t.Fatal("the holder did not yield to a higher command that sets all its fields")
	}
	if !granted(covering) || granted(holder) || granted(narrower) {
		t.Fatal("the yielded turn did not go to the covering command")
	}
	r.done("c/r", covering)
	if !granted(holder) {
		t.Fatal("after the covering command: want the one it covers next")
	}
}

func TestAStoppedWaiterLeavesTheQueue(t *testing.T) {
	var r resourceTurns
	holder, _ := bulk(&r, 1, "name")
	waiting, _ := bulk(&r, 2, "name")
	stop := make(chan struct{})
	close(stop)
	if r.await("c/r", waiting, stop, nil) {
		t.Fatal("await returned true after stop")
	}
	r.done("c/r", holder)
	if len(r.queues) != 0 {
		t.Fatal("the stopped waiter was granted a turn after it left")
	}
	// A waiter granted its turn as it stops passes it on.
	a, _ := bulk(&r, 1, "name")
	b, _ := bulk(&r, 2, "name")
	c, _ := bulk(&r, 3, "name")
	r.done("c/r", a) // c, the highest, is granted
	if r.await("c/r", c, stop, nil) {
		t.Fatal("await returned true after stop")
	}
	if !granted(b) {
		t.Fatal("the turn of a waiter that stopped was not passed on")
	}
}

func TestAnInteractiveCommandGoesBeforeBulkOnes(t *testing.T) {
	var r resourceTurns
	holder, _ := bulk(&r, 1, "name")
	bulk, _ := bulk(&r, 9, "name")
	interactive, _ := r.take("c/r", key(5), []string{"active"}, true, false, 10)
	r.done("c/r", holder)
	if !granted(interactive) || granted(bulk) {
		t.Fatal("a bulk command went before a waiting interactive one")
	}
	r.done("c/r", interactive)
	// A bulk command waiting for a permit yields to an interactive one.
	later, _ := r.take("c/r", key(2), []string{"active"}, true, false, 10)
	if !r.yield("c/r", bulk) || !granted(later) {
		t.Fatal("a waiting bulk holder did not yield to an interactive command")
	}
	if r.yield("c/r", later) {
		t.Fatal("an interactive holder yielded to a bulk command that does not cover it")
	}
}

func TestAHotResourceHoldsABoundedNumberOfWaiters(t *testing.T) {
	var r resourceTurns
	if _, now := r.take("c/r", key(1), []string{"name"}, false, false, 2); !now {
		t.Fatal("the first command waited")
	}
	for i := range 2 {
		if w, _ := r.take("c/r", key(int64(2+i)), []string{"name"}, false, false, 2); w.overflow {
			t.Fatalf("waiter %d is an overflow below the bound", i)
		}
	}
	over, _ := r.take("c/r", key(9), []string{"name"}, false, false, 2)
	if !over.overflow {
		t.Fatal("a bulk command past the bound is not an overflow")
	}
	if w, _ := r.take("c/r", key(10), []string{"name"}, true, false, 2); w.overflow {
		t.Fatal("an interactive command is an overflow: it always waits for its turn")
	}
	// An overflow whose wait times out leaves the queue.
	timeout := make(chan time.Time)
	close(timeout)
	if r.await("c/r", over, nil, timeout) {
		t.Fatal("await returned true after its timeout")
	}
	for range 3 {
		r.done("c/r", r.queues["c/r"].holder)
		if r.queues["c/r"] != nil && r.queues["c/r"].holder == over {
			t.Fatal("the timed-out overflow was granted a turn")
		}
	}
}

func TestTurnsGiveAWriteTheWaitersOfOtherFields(t *testing.T) {
	var r resourceTurns
	holder, _ := bulk(&r, 1, "name")
	sameField, _ := bulk(&r, 2, "name")
	lowURI, _ := bulk(&r, 3, "uri")
	highURI, _ := bulk(&r, 5, "uri")
	secret, _ := r.take("c/r", key(4), []string{"active"}, false, false, 10) // not mergeable
	overlap, _ := bulk(&r, 6, "scopes", "name")
	logo, _ := bulk(&r, 7, "logo", "scopes")
	rd := &ride{}
	if n := r.takeRiders("c/r", sameField, []string{"name"}, rd, 10); n != 0 {
		t.Fatalf("a command whose turn it is not took %d riders", n)
	}
	if n := r.takeRiders("c/r", holder, []string{"name"}, rd, 10); n != 2 {
		t.Fatalf("took %d riders; want 2: the highest of each other field set, none sharing a field", n)
	}
	for _, w := range []*turn{highURI, logo} {
		if !granted(w) || w.ride != rd {
			t.Fatalf("rider %v: granted %v, ride %p; want granted as a rider of the write", w.key, granted(w), w.ride)
		}
	}
	for _, w := range []*turn{sameField, lowURI, secret, overlap} {
		if granted(w) || w.ride != nil {
			t.Fatalf("waiter %v granted a ride: it shares a field with the write or a rider, or is not mergeable", w.key)
		}
	}
	// At most max riders; the riders left the queue: the rest go on as before.
	if n := r.takeRiders("c/r", holder, []string{"name"}, &ride{}, 1); n != 1 || !granted(lowURI) {
		t.Fatalf("took %d riders with max 1 (the remaining uri waiter granted: %v)", n, granted(lowURI))
	}
	r.done("c/r", holder)
	if !granted(overlap) {
		t.Fatal("after the write, the highest waiter did not get its turn")
	}
}

func TestARiderGrantedWhileItsWaitEndsStillRides(t *testing.T) {
	var r resourceTurns
	holder, _ := bulk(&r, 1, "name")
	waiter, _ := bulk(&r, 2, "uri")
	stop := make(chan struct{})
	close(stop)
	r.takeRiders("c/r", holder, []string{"name"}, &ride{}, 10)
	if !r.await("c/r", waiter, stop, nil) {
		t.Fatal("a waiter granted a ride gave up its wait: its holder would wait for its answer forever")
	}
}
