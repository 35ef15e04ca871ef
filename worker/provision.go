package worker

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// unroutedConsumer is the durable name of the catch-all consumer that
// answers commands for connections no worker is configured for.
const unroutedConsumer = "syncworker_unrouted"

// consumerName is the durable consumer of one connection's commands.
func consumerName(connection string) string { return "syncworker_" + connection }

// provision creates or updates the three streams and the durable consumers,
// idempotently.
func (w *Worker) provision(ctx context.Context) error {
	s := w.cfg.Streams
	streams := []jetstream.StreamConfig{
		{Name: s.Commands, Subjects: []string{w.cfg.Subjects.Commands()}, Description: "oauthsync update commands"},
		{Name: s.Results, Subjects: []string{w.cfg.Subjects.Results()}, Description: "oauthsync result events, one per command id"},
		{Name: s.DeadLetter, Subjects: []string{w.cfg.Subjects.DeadLetters()}, Description: "oauthsync commands that failed for good"},
	}
	for _, sc := range streams {
		sc.Storage = s.Storage
		sc.Replicas = s.Replicas
		sc.MaxAge = s.MaxAge
		sc.Duplicates = s.DuplicateWindow
		sc.Retention = jetstream.LimitsPolicy
		if _, err := w.cfg.JetStream.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
	}
	for _, c := range w.cfg.Connections {
		if _, err := w.cfg.JetStream.CreateOrUpdateConsumer(ctx, s.Commands, w.consumerConfig(consumerName(c.Name),
			w.cfg.Subjects.ConnectionCommands(c.Name), c.MaxInFlight)); err != nil {
			return fmt.Errorf("provision consumer for connection %s: %w", c.Name, err)
		}
	}
	if *w.cfg.RejectUnknownConnections {
		if _, err := w.cfg.JetStream.CreateOrUpdateConsumer(ctx, s.Commands,
			w.consumerConfig(unroutedConsumer, w.cfg.Subjects.Commands(), 1)); err != nil {
			return fmt.Errorf("provision consumer %s: %w", unroutedConsumer, err)
		}
	}
	return nil
}

func (w *Worker) consumerConfig(name, filter string, inFlight int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "oauthsync syncworker",
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		// The delivery budget is enforced by the worker (it dead-letters);
		// the server must keep redelivering until then, so no MaxDeliver.
		MaxDeliver:    -1,
		MaxAckPending: max(1000, 4*inFlight*w.cfg.FetchBatch),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
}
