package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
)

// infoTimeout bounds one refresh of what JetStream says about the streams
// and consumers, so that a slow NATS never holds a probe or a scrape long.
const infoTimeout = 2 * time.Second

// topology is what JetStream last said about the worker's three streams and
// its durable consumers.
type topology struct {
	at time.Time
	// problems are readiness reasons: a stream or consumer missing, or
	// JetStream not answering about it.
	problems []error
	// consumers holds the info of each consumer found, by durable name.
	consumers map[string]*jetstream.ConsumerInfo
}

// topologyCache reuses one topology for Config.JetStreamInfoTTL. Its lock
// is held during a refresh: concurrent probes and scrapes wait for that
// one refresh (bounded by infoTimeout) instead of each asking JetStream.
type topologyCache struct {
	mu   sync.Mutex
	last *topology
}

// consumerNames are the durable consumers the worker needs.
func (w *Worker) consumerNames() []string {
	var names []string
	for _, c := range w.cfg.Connections {
		names = append(names, consumerName(c.Name), bulkConsumerName(c.Name))
	}
	if *w.cfg.RejectUnknownConnections {
		names = append(names, unroutedConsumer)
	}
	return names
}

// topology returns what JetStream says about the streams and consumers, at
// most Config.JetStreamInfoTTL old.
func (w *Worker) topology(ctx context.Context) *topology {
	c := &w.topo
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last != nil && w.cfg.now().Sub(c.last.at) < w.cfg.JetStreamInfoTTL {
		return c.last
	}
	ctx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	s := w.cfg.Streams
	streams := []string{s.Commands, s.Results, s.DeadLetter}
	consumers := w.consumerNames()
	streamErrs := make([]error, len(streams))
	infos := make([]*jetstream.ConsumerInfo, len(consumers))
	consumerErrs := make([]error, len(consumers))
	var wg sync.WaitGroup
	for i, name := range streams {
		wg.Go(func() {
			_, err := w.cfg.JetStream.Stream(ctx, name)
			switch {
			case errors.Is(err, jetstream.ErrStreamNotFound):
				streamErrs[i] = fmt.Errorf("stream %s missing", name)
			case err != nil:
				streamErrs[i] = fmt.Errorf("stream %s: %w", name, err)
			}
		})
	}
	for i, name := range consumers {
		wg.Go(func() {
			cons, err := w.cfg.JetStream.Consumer(ctx, s.Commands, name)
			switch {
			case errors.Is(err, jetstream.ErrConsumerNotFound):
				consumerErrs[i] = fmt.Errorf("consumer %s on stream %s missing", name, s.Commands)
			case errors.Is(err, jetstream.ErrStreamNotFound):
				consumerErrs[i] = fmt.Errorf("consumer %s: stream %s missing", name, s.Commands)
			case err != nil:
				consumerErrs[i] = fmt.Errorf("consumer %s on stream %s: %w", name, s.Commands, err)
			default:
				infos[i] = cons.CachedInfo() // fetched by Consumer just now
			}
		})
	}
	wg.Wait()
	t := &topology{at: w.cfg.now(), consumers: make(map[string]*jetstream.ConsumerInfo, len(consumers))}
	for _, err := range append(streamErrs, consumerErrs...) {
		if err != nil {
			t.problems = append(t.problems, err)
		}
	}
	for i, name := range consumers {
		if infos[i] != nil {
			t.consumers[name] = infos[i]
		}
	}
	c.last = t
	return t
}

// CheckReady returns nil when the worker is ready to take commands, else
// an error joining every reason (one per line): the worker is not
// consuming; a stream or consumer it needs is missing, or JetStream does
// not answer about it; the store guard (Config.StoreGuard) found the dedup
// store's state lost, or has not verified it yet. What JetStream says is reused for
// Config.JetStreamInfoTTL, and asking it takes at most 2s (or ctx's
// deadline, if sooner). It does not check the NATS connection or ping the
// dedup store, which the caller owns. Safe for concurrent use.
func (w *Worker) CheckReady(ctx context.Context) error {
	var errs []error
	if !w.Ready() {
		errs = append(errs, errors.New("worker not consuming"))
	}
	if err := w.storeProblem(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, w.topology(ctx).problems...)
	return errors.Join(errs...)
}

// observeConsumers reports the consumer pending and ack-pending gauges from
// the cached topology: a scrape asks JetStream at most once per
// Config.JetStreamInfoTTL, for at most 2s. A consumer JetStream did not
// describe is not reported.
func (w *Worker) observeConsumers(ctx context.Context, o metric.Observer) error {
	t := w.topology(ctx)
	for name, info := range t.consumers {
		m := w.consumerMetrics[name]
		if m == nil {
			continue
		}
		o.ObserveInt64(w.inst.pending, int64(info.NumPending), m.consumer)
		o.ObserveInt64(w.inst.ackPending, int64(info.NumAckPending), m.consumer)
	}
	return nil
}
