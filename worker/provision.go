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
	for i, sc := range streams {
		sc.Storage = s.Storage
		sc.Replicas = s.Replicas
		sc.MaxAge = s.MaxAge
		sc.Duplicates = s.DuplicateWindow
		sc.Retention = jetstream.LimitsPolicy
		sc.MaxBytes = s.MaxBytes
		sc.MaxMsgSize = int32(max(s.deadLetterMaxMsgSize(), -1))
		sc.Discard = jetstream.DiscardOld
		if i == 0 {
			// A full commands stream refuses publishes rather than
			// dropping commands nobody has processed.
			sc.MaxMsgSize = s.MaxMsgSize
			sc.Discard = jetstream.DiscardNew
		}
		if _, err := w.cfg.JetStream.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
	}
	for _, c := range w.cfg.Connections {
		if _, err := w.cfg.JetStream.CreateOrUpdateConsumer(ctx, s.Commands, w.consumerConfig(consumerName(c.Name),
			w.cfg.Subjects.ConnectionCommands(c.Name), c.MaxInFlight, w.backstop(false))); err != nil {
			return fmt.Errorf("provision consumer for connection %s: %w", c.Name, err)
		}
	}
	if *w.cfg.RejectUnknownConnections {
		if _, err := w.cfg.JetStream.CreateOrUpdateConsumer(ctx, s.Commands,
			w.consumerConfig(unroutedConsumer, w.cfg.Subjects.Commands(), 1, w.backstop(true))); err != nil {
			return fmt.Errorf("provision consumer %s: %w", unroutedConsumer, err)
		}
	}
	return nil
}

// consumerConfig is a durable pull consumer's configuration. maxDeliver is
// the server-side backstop (see Worker.backstop): the worker enforces its
// own delivery budget (it dead-letters) and ends every command by the
// backstop's last delivery, so the server never drops one silently; the
// backstop only guards against a message the worker could never settle.
func (w *Worker) consumerConfig(name, filter string, inFlight, maxDeliver int) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "oauthsync syncworker",
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		MaxDeliver:    maxDeliver,
		MaxAckPending: max(1000, 4*inFlight*w.cfg.FetchBatch),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
}
