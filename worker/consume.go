package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/worker/flow"
)

// fetchWait bounds one pull request: how long an idle consumer waits for
// messages, and so how long stopping may wait for the request in flight.
const fetchWait = time.Second

// consumeLoop pulls one durable consumer's messages in batches and works
// them with a fixed pool of goroutines: no goroutine per message.
//
// It pulls with Fetch rather than a continuous iterator so that stopping is
// exact: every message of the last pull is received and, if not started,
// handed back with a Nak, instead of being dropped in transit and
// redelivered only after the ack wait.
type consumeLoop struct {
	w        *Worker
	consumer string
	workers  int
	unrouted bool
	// lane is the connection's lane this loop pulls (see lanes.go).
	lane string
	// filter is the consumer's filter subject: the destination template
	// of its process spans, named "process <filter>".
	filter, spanName string
	metrics          *connMetrics
	// gate is the connection's flow control (nil for the catch-all).
	gate *flow.Gate

	cons jetstream.Consumer
	// slots holds one token per message the loop may still hold (see
	// pull).
	slots chan struct{}
}

// newConsumeLoop is the loop of one connection's lane; connection is ""
// for the catch-all (unrouted).
func (w *Worker) newConsumeLoop(consumer, filter, connection, lane string, workers int) *consumeLoop {
	l := &consumeLoop{w: w, consumer: consumer, workers: workers, unrouted: connection == "", lane: lane,
		filter: filter, spanName: "process " + filter, metrics: w.consumerMetrics[consumer]}
	if !l.unrouted {
		l.gate = w.gates[connection]
	}
	return l
}

func (l *consumeLoop) start(ctx context.Context) error {
	c, err := l.w.consumer(ctx, l.consumer)
	if err != nil {
		return err
	}
	l.cons = c
	return nil
}

// run scans the catch-all consumer until the worker stops (see
// unroutedscan.go); a connection's loops are run by their lanePool.
func (l *consumeLoop) run(ctx context.Context) error {
	return l.scan(ctx)
}

// pull pulls until the worker stops or ctx is done, handing every message
// to msgs, where the connection's pool takes it (see lanePool). It
// returns an error only when the consumer is gone for good.
//
// It holds at most its goroutines plus a prefetch of messages (and pulls at
// most FetchBatch at a time): enough that a freed goroutine finds its next
// message without waiting for a pull, few enough that a busy worker does
// not sit on messages other workers of the fleet could take. Every pulled
// message is held under the heartbeat (see tracked) from the moment it
// arrives until it is settled, so none reaches its ack wait while it waits.
func (l *consumeLoop) pull(ctx context.Context, msgs chan<- *tracked) error {
	held := l.holds()
	l.slots = make(chan struct{}, held)
	slots := l.slots
	for range held {
		slots <- struct{}{}
	}
	failures := 0
	for l.w.stopping.Err() == nil && ctx.Err() == nil {
		if !l.w.waitStoreTrusted() { // the store guard: commands wait in the stream
			break
		}
		n := l.idle(slots)
		if n == 0 {
			break // stopping
		}
		if n = l.admit(n, slots); n == 0 {
			break // stopping
		}
		batch, err := l.cons.Fetch(n, jetstream.FetchMaxWait(fetchWait))
		if err == nil {
			n -= l.dispatch(batch.Messages(), msgs)
			err = batch.Error()
		}
		for range n { // tokens of messages that did not come
			slots <- struct{}{}
		}
		if err := l.pullFailed(ctx, err, &failures); err != nil {
			return err
		}
	}
	return nil
}

// work handles one message of this loop on the calling goroutine. The
// delivery keeps its slot (and stays under the heartbeat) until it is
// settled, maybe by the completer after the goroutine has moved on.
func (l *consumeLoop) work(t *tracked) {
	l.w.handle(l, t, func() {
		l.w.inflight.release(t)
		l.slots <- struct{}{}
	})
}

// pullFailed deals with the error of one pull: nil when pulling goes on
// (after a pause growing with the failures in a row, for a transient
// one); an error when the consumer is gone for good.
func (l *consumeLoop) pullFailed(ctx context.Context, err error, failures *int) error {
	switch {
	case err == nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, jetstream.ErrNoMessages):
		*failures = 0
	case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("consumer %s: %w", l.consumer, err)
	default:
		*failures++
		l.w.cfg.Logger.Warn("pulling messages failed; retrying", "consumer", l.consumer, "error", err)
		select {
		case <-time.After(min(time.Duration(*failures)*100*time.Millisecond, 2*time.Second)):
		case <-l.w.stopping.Done():
		case <-ctx.Done():
		}
	}
	return nil
}

// dispatch hands the messages of one fetch to the goroutines (msgs), in
// order, and returns how many came. Every message is held (under the
// heartbeat) the moment it arrives; the messages that arrived together are
// sighted in one round trip before any of them is handed on (see sight.go),
// so that the store knows a command's copy before anything is done with it.
func (l *consumeLoop) dispatch(in <-chan jetstream.Msg, msgs chan<- *tracked) int {
	came := 0
	var queue []*tracked
	for in != nil || len(queue) > 0 {
		var out chan<- *tracked
		var head *tracked
		if len(queue) > 0 {
			out, head = msgs, queue[0]
		}
		select {
		case m, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			arrived := []*tracked{l.hold(m)}
		more: // and those that came with it
			for len(arrived) < maxSightBatch {
				select {
				case m, ok := <-in:
					if !ok {
						in = nil
						break more
					}
					arrived = append(arrived, l.hold(m))
				default:
					break more
				}
			}
			came += len(arrived)
			l.w.sight(context.Background(), arrived)
			queue = append(queue, arrived...)
		case out <- head: // handle hands it back if the worker is stopping
			queue[0] = nil
			queue = queue[1:]
		}
	}
	return came
}

// hold puts a pulled message under the heartbeat.
func (l *consumeLoop) hold(m jetstream.Msg) *tracked {
	return l.w.inflight.hold(m, true)
}

// waitsForPermits reports whether the loop's commands are likely to wait
// in the worker for rate-limit permits: the bulk lane of a rate-limited
// connection. Its commands take their permits when they attempt, not when
// they are pulled, so that the commands of one resource that wait
// together are coalesced (turns.go) and a superseded one spends none; so
// the loop holds no more than it can hope to send within
// maxPermitHorizon (see holds).
func (l *consumeLoop) waitsForPermits() bool {
	return l.gate != nil && l.gate.Limited() && l.lane == laneBulk
}

// maxPermitHorizon bounds what a rate-limited bulk lane holds: the
// commands its connection's limit lets through in this time (one at
// least), so that a worker of a small fleet does not sit for long on
// commands waiting for permits (Config.MaxParked is the backstop).
const maxPermitHorizon = 30 * time.Second

// holds is how many messages the loop holds at most: its goroutines and
// its prefetch; for a loop that waits for permits, no more than its
// connection's limit lets through in maxPermitHorizon.
func (l *consumeLoop) holds() int {
	n := l.workers + l.prefetch()
	if l.waitsForPermits() {
		lim := l.gate.Limit()
		n = min(n, max(1, int(lim.PerSecond*maxPermitHorizon.Seconds())/l.gate.Cost()))
	}
	return n
}

// prefetch is how many messages the loop holds beyond its goroutines: one
// more round of them for a connection's consumer; none for the catch-all,
// whose scan handles one command at a time (see scan), nor for a loop
// whose commands wait for permits (waitsForPermits).
func (l *consumeLoop) prefetch() int {
	if l.unrouted || l.waitsForPermits() {
		return 0
	}
	return min(l.workers, l.w.cfg.FetchBatch)
}

// idle waits for want free tokens and takes up to FetchBatch of them; 0
// when the worker stops first. want is half of what a pull may bring (one
// when the loop holds three messages or fewer): pulls of one message each, as
// slots free one by one under load, would cost JetStream a pull request per
// command, while the prefetched messages (at least want of them) keep the
// goroutines busy in the meantime.
func (l *consumeLoop) idle(slots chan struct{}) int {
	batch := min(l.w.cfg.FetchBatch, l.holds())
	want := max(1, batch/2)
	n := 0
	for n < want {
		select {
		case <-slots:
			n++
		case <-l.w.stopping.Done():
			for range n {
				slots <- struct{}{}
			}
			return 0
		}
	}
	for n < l.w.cfg.FetchBatch {
		select {
		case <-slots:
			n++
		default:
			return n
		}
	}
	return n
}
