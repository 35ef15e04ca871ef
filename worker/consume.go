package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
	// filter is the consumer's filter subject: the destination template
	// of its process spans, named "process <filter>".
	filter, spanName string
	metrics          *connMetrics

	cons jetstream.Consumer
}

func (w *Worker) newConsumeLoop(consumer, filter string, workers int, unrouted bool) *consumeLoop {
	return &consumeLoop{w: w, consumer: consumer, workers: workers, unrouted: unrouted,
		filter: filter, spanName: "process " + filter, metrics: w.consumerMetrics[consumer]}
}

func (l *consumeLoop) start(ctx context.Context) error {
	c, err := l.w.consumer(ctx, l.consumer)
	if err != nil {
		return err
	}
	l.cons = c
	return nil
}

// run pulls until the worker stops, then waits for the pool. It returns an
// error only when the consumer is gone for good.
//
// It never pulls more messages than it has idle goroutines (and at most
// FetchBatch): a pulled message starts at once instead of waiting behind
// others while its ack wait runs. Every pulled message is held under the
// heartbeat (see tracked) from the moment it arrives until it is settled.
func (l *consumeLoop) run(ctx context.Context) error {
	msgs := make(chan *tracked)
	// slots holds one token per idle goroutine.
	slots := make(chan struct{}, l.workers)
	for range l.workers {
		slots <- struct{}{}
	}
	var wg sync.WaitGroup
	for range l.workers {
		wg.Go(func() {
			for t := range msgs {
				l.w.handle(l, t)
				l.w.inflight.release(t)
				slots <- struct{}{}
			}
		})
	}
	defer func() {
		close(msgs)
		wg.Wait()
	}()
	failures := 0
	for l.w.stopping.Err() == nil {
		n := l.idle(slots)
		if n == 0 {
			break // stopping
		}
		batch, err := l.cons.Fetch(n, jetstream.FetchMaxWait(fetchWait))
		if err == nil {
			for m := range batch.Messages() {
				t := l.w.inflight.hold(m)
				n--
				msgs <- t // handle hands it back if the worker is stopping
			}
			err = batch.Error()
		}
		for range n { // tokens of messages that did not come
			slots <- struct{}{}
		}
		switch {
		case err == nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, jetstream.ErrNoMessages):
			failures = 0
		case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
			return fmt.Errorf("consumer %s: %w", l.consumer, err)
		default:
			failures++
			l.w.cfg.Logger.Warn("pulling messages failed; retrying", "consumer", l.consumer, "error", err)
			select {
			case <-time.After(min(time.Duration(failures)*100*time.Millisecond, 2*time.Second)):
			case <-l.w.stopping.Done():
			case <-ctx.Done():
			}
		}
	}
	return nil
}

// idle waits for at least one idle goroutine and takes the tokens of up to
// FetchBatch idle goroutines; 0 when the worker stops first.
func (l *consumeLoop) idle(slots chan struct{}) int {
	select {
	case <-slots:
	case <-l.w.stopping.Done():
		return 0
	}
	n := 1
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
