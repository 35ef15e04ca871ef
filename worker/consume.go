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
func (l *consumeLoop) run(ctx context.Context) error {
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range l.workers {
		wg.Go(func() {
			for m := range msgs {
				l.w.handle(l, m)
			}
		})
	}
	defer func() {
		close(msgs)
		wg.Wait()
	}()
	failures := 0
	for l.w.stopping.Err() == nil {
		if !l.w.waitStoreTrusted() { // the store guard: commands wait in the stream
			break
		}
		batch, err := l.cons.Fetch(l.w.cfg.FetchBatch, jetstream.FetchMaxWait(fetchWait))
		if err == nil {
			for m := range batch.Messages() {
				msgs <- m // handle hands it back if the worker is stopping
			}
			err = batch.Error()
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
