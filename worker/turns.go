package worker

import (
	"slices"
	"sync"
	"time"

	"github.com/oauthsync/oauthsync/messages"
)

// Coalescing (docs/CONTRACT.md §5.8, README "Flow control"): the commands
// for one resource that a worker holds at once take turns, one at a time,
// the highest order key first. A command whose turn comes after a higher
// one has set all its fields is superseded when it begins, with no
// provider call and no rate-limit permit: under a rate limit, a hot
// resource costs about one write per batch of commands waiting for it, not
// one per command, and each command still gets its own result.
//
// Turns are an order in this worker only; what makes the outcome right is
// the store (the resource lease and the order keys Begin reads), as
// without them. Several workers' turns on one resource meet at its lease.
//
// A command whose turn comes may also carry waiting commands of its
// resource that set other fields in its own write (merge.go): a merged
// write, one provider call for several commands.

// maxTurnPasses bounds how often a waiting command is passed over for a
// higher one: then it goes next, so that a stream of higher commands on
// other fields cannot keep it waiting.
const maxTurnPasses = 8

// resourceTurns is the turn queue of every resource this worker holds
// commands for. It is safe for concurrent use.
type resourceTurns struct {
	mu     sync.Mutex
	queues map[string]*turnQueue
}

// turnQueue is one resource's: the command whose turn it is, and those
// waiting.
type turnQueue struct {
	holder  *turn
	waiting []*turn
	// last is the finished turn with the highest order key: the waiters
	// it supersedes (a lower key, no field it did not set) go before the
	// others, as they finish at once. (The last one to finish would not
	// do: once one of those finishes, it would cover none of the others.)
	last *turn
}

// turn is one command's place in its resource's queue.
type turn struct {
	key    messages.OrderKey
	fields []string
	// interactive: the command came in the interactive lane (lanes.go).
	interactive bool
	// overflow: the command came when its resource had as many waiters as
	// its worker lets wait for it at length (take's maxWaiting): a waiting
	// command holds a goroutine, and a hot resource must leave some to the
	// others, so it waits a bounded time (as for a busy lease), then it is
	// handed back.
	overflow bool
	passed   int
	// mergeable: the command may ride in another's write (merge.go).
	mergeable bool
	// ride is set, before ready is closed, when the turn is granted as a
	// rider in another command's write rather than as the command's own.
	ride *ride
	// ready is closed when the turn is granted.
	ready chan struct{}
}

// covers reports whether t sets every field of o with a higher order key:
// o is superseded once t is done.
func (t *turn) covers(o *turn) bool {
	if t.key.Compare(o.key) <= 0 {
		return false
	}
	for _, f := range o.fields {
		if !slices.Contains(t.fields, f) {
			return false
		}
	}
	return true
}

// take returns a turn on resource for a command of key and fields (of
// the interactive lane or not, mergeable into another's write or not), and
// whether it is granted at once; otherwise it waits in the queue until its
// ready channel is closed (see await). A bulk command that finds
// maxWaiting commands waiting already is an overflow: its caller waits a
// bounded time only (see turn.overflow).
func (r *resourceTurns) take(resource string, key messages.OrderKey, fields []string, interactive, mergeable bool, maxWaiting int) (*turn, bool) {
	t := &turn{key: key, fields: fields, interactive: interactive, mergeable: mergeable, ready: make(chan struct{})}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queues == nil {
		r.queues = map[string]*turnQueue{}
	}
	q := r.queues[resource]
	if q == nil {
		q = &turnQueue{}
		r.queues[resource] = q
	}
	if q.holder == nil {
		q.holder = t
		close(t.ready)
		return t, true
	}
	t.overflow = !interactive && len(q.waiting) >= maxWaiting
	q.waiting = append(q.waiting, t)
	return t, false
}

// await waits until t's turn is granted, or stop is closed or timeout
// fires (nil: never): then t leaves the queue (passing its turn on, if it
// was granted meanwhile) and await returns false; unless t was granted a
// ride meanwhile (its holder waits for its answer): await returns true.
func (r *resourceTurns) await(resource string, t *turn, stop <-chan struct{}, timeout <-chan time.Time) bool {
	select {
	case <-stop:
	default:
		select {
		case <-t.ready:
			return true
		case <-stop:
		case <-timeout:
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.ride != nil {
		return true
	}
	q := r.queues[resource]
	if q.holder == t {
		r.passOn(resource, q)
		return false
	}
	q.waiting = slices.DeleteFunc(q.waiting, func(w *turn) bool { return w == t })
	return false
}

// done ends t's turn and grants the next one, if any.
func (r *resourceTurns) done(resource string, t *turn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[resource]
	if q == nil || q.holder != t {
		return
	}
	if q.last == nil || t.key.Compare(q.last.key) > 0 {
		q.last = t
	}
	r.passOn(resource, q)
}

// yield gives t's turn (t waits, see park) to a waiting command that
// covers t (see covers): t is superseded once that command is done, so
// the write (and the rate-limit permit) is better spent on it; or, when t
// is a bulk command, to a waiting interactive one, which should not wait
// behind a migration. t goes back in the queue. It reports whether t
// yielded; the caller then awaits its turn again.
func (r *resourceTurns) yield(resource string, t *turn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[resource]
	if q == nil || q.holder != t {
		return false
	}
	i := slices.IndexFunc(q.waiting, func(w *turn) bool { return w.covers(t) || w.interactive && !t.interactive })
	if i < 0 {
		return false
	}
	// A parked command waits for its turn again with its permits and its
	// wait under way: it does not ride in another's write.
	t.mergeable = false
	t.ready = make(chan struct{})
	q.waiting = append(q.waiting, t)
	r.grant(q, i)
	return true
}

// takeRiders grants, as riders of rd, the waiting commands of resource
// that the write of holder h can carry besides its own fields: mergeable
// ones none of whose fields h's write or another rider sets (so that
// each field's value is one command's, and each rider's redelivery after
// a crash rewrites exactly what the merged write wrote for it), the
// highest order keys first, at most max. It returns how many it granted;
// each answers on rd.joined.
func (r *resourceTurns) takeRiders(resource string, h *turn, fields []string, rd *ride, max int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queues[resource]
	if q == nil || q.holder != h || max <= 0 || len(q.waiting) == 0 {
		return 0
	}
	candidates := slices.Clone(q.waiting)
	slices.SortStableFunc(candidates, func(a, b *turn) int { return b.key.Compare(a.key) })
	taken := slices.Clone(fields)
	n := 0
	for _, w := range candidates {
		if n == max {
			break
		}
		if !w.mergeable || slices.ContainsFunc(w.fields, func(f string) bool { return slices.Contains(taken, f) }) {
			continue
		}
		taken = append(taken, w.fields...)
		q.waiting = slices.DeleteFunc(q.waiting, func(o *turn) bool { return o == w })
		w.ride = rd
		close(w.ready)
		n++
	}
	return n
}

// passOn grants the turn to the next waiting command, or drops the queue
// when none waits. Call with r.mu held.
func (r *resourceTurns) passOn(resource string, q *turnQueue) {
	q.holder = nil
	if len(q.waiting) == 0 {
		delete(r.queues, resource)
		return
	}
	r.grant(q, q.next())
}

// grant gives the turn to q.waiting[i]. Every other waiter is passed over
// once more, unless t covers it (it is superseded once t is done: t goes
// first on its behalf) or t is covered already (it finishes at once): a
// hot resource whose commands set the same fields takes them highest
// first however many wait, and no waiter ages into a write of its own.
func (r *resourceTurns) grant(q *turnQueue, i int) {
	t := q.waiting[i]
	q.waiting = slices.Delete(q.waiting, i, i+1)
	if q.last == nil || !q.last.covers(t) {
		for _, w := range q.waiting {
			if !t.covers(w) {
				w.passed++
			}
		}
	}
	q.holder = t
	close(t.ready)
}

// next picks the waiter whose turn comes: one passed over maxTurnPasses
// times (the longest waiting of those), else one the last holder covers
// (it finishes at once), else the interactive command with the highest
// order key, else the highest order key.
func (q *turnQueue) next() int {
	best := -1
	for i, w := range q.waiting {
		if w.passed >= maxTurnPasses && (best < 0 || w.passed > q.waiting[best].passed) {
			best = i
		}
	}
	if best >= 0 {
		return best
	}
	if q.last != nil {
		if i := slices.IndexFunc(q.waiting, q.last.covers); i >= 0 {
			return i
		}
	}
	best = 0
	for i, w := range q.waiting {
		b := q.waiting[best]
		if w.interactive != b.interactive {
			if w.interactive {
				best = i
			}
			continue
		}
		if w.key.Compare(b.key) > 0 {
			best = i
		}
	}
	return best
}
