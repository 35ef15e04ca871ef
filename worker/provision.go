package worker

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// unroutedConsumer is the durable name of the catch-all consumer that
// answers commands for connections no worker is configured for (see
// unroutedscan.go). Its "-" keeps it apart from every connection's
// consumer (consumerName).
const unroutedConsumer = "syncworker-catchall"

// legacyUnroutedConsumer is the catch-all of earlier versions, which
// delivered every command in full and acked each: provision deletes it.
const legacyUnroutedConsumer = "syncworker_unrouted"

// ackAllUnroutedConsumer is the catch-all of the version before this one,
// headers-only but acking a batch at once (AckAll), which could cover
// commands another worker held (see unroutedscan.go). A consumer's ack
// policy cannot change, so this one has a new name: it starts where that
// one's acks ended, and provision deletes that one.
const ackAllUnroutedConsumer = "syncworker-unrouted"

// consumerName is the durable consumer of one connection's commands.
func consumerName(connection string) string { return consumerPrefix + connection }

// consumerPrefix starts every connection consumer's name.
const consumerPrefix = "syncworker_"

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
		if _, err := w.cfg.JetStream.CreateOrUpdateConsumer(ctx, s.Commands, w.consumerConfig(bulkConsumerName(c.Name),
			w.cfg.Subjects.ConnectionBulkCommands(c.Name), c.MaxInFlight, w.backstop(false))); err != nil {
			return fmt.Errorf("provision bulk consumer for connection %s: %w", c.Name, err)
		}
	}
	if *w.cfg.RejectUnknownConnections {
		if err := w.provisionCatchAll(ctx); err != nil {
			return err
		}
		if err := w.deleteLegacyCatchAll(ctx); err != nil {
			return err
		}
	}
	return nil
}

// provisionCatchAll creates or updates the catch-all consumer. A new one
// starts where the AckAll catch-all of the previous version (if any) had
// acked to, and that one is deleted: its commands beyond that are scanned
// again, and those already answered are answered from the store.
func (w *Worker) provisionCatchAll(ctx context.Context) error {
	s := w.cfg.Streams
	cc := w.consumerConfig(unroutedConsumer, w.cfg.Subjects.Commands(), 1, w.backstop(true))
	cc.HeadersOnly = true
	cc.MaxAckPending = 4 * unroutedScanBatch
	old, err := w.cfg.JetStream.Consumer(ctx, s.Commands, ackAllUnroutedConsumer)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		old = nil // none: nothing to start from or delete
	case err != nil:
		return fmt.Errorf("provision: look up consumer %s: %w", ackAllUnroutedConsumer, err)
	}
	cur, err := w.cfg.JetStream.Consumer(ctx, s.Commands, unroutedConsumer)
	switch {
	case err == nil: // its start stays what it was
		cc.DeliverPolicy, cc.OptStartSeq = cur.CachedInfo().Config.DeliverPolicy, cur.CachedInfo().Config.OptStartSeq
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("provision: look up consumer %s: %w", unroutedConsumer, err)
	case old != nil:
		if floor := old.CachedInfo().AckFloor.Stream; floor > 0 {
			cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, floor+1
		}
	}
	if _, err := w.cfg.JetStream.CreateOrUpdateConsumer(ctx, s.Commands, cc); err != nil {
		return fmt.Errorf("provision consumer %s: %w", unroutedConsumer, err)
	}
	if old == nil {
		return nil
	}
	return w.deleteOldCatchAll(ctx, ackAllUnroutedConsumer, "the previous version")
}

// deleteLegacyCatchAll deletes the catch-all consumer of earlier versions,
// if there is one: the one named legacyUnroutedConsumer whose filter is
// every command's (a connection named "unrouted" has a consumer of that
// name too, filtered to its own commands: it is kept).
func (w *Worker) deleteLegacyCatchAll(ctx context.Context) error {
	s := w.cfg.Streams
	c, err := w.cfg.JetStream.Consumer(ctx, s.Commands, legacyUnroutedConsumer)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("provision: look up consumer %s: %w", legacyUnroutedConsumer, err)
	}
	if c.CachedInfo().Config.FilterSubject != w.cfg.Subjects.Commands() {
		return nil
	}
	return w.deleteOldCatchAll(ctx, legacyUnroutedConsumer, "an earlier version")
}

// deleteOldCatchAll deletes the catch-all consumer name of version (one
// already gone is no error) and logs it.
func (w *Worker) deleteOldCatchAll(ctx context.Context, name, version string) error {
	err := w.cfg.JetStream.DeleteConsumer(ctx, w.cfg.Streams.Commands, name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("provision: delete consumer %s: %w", name, err)
	}
	w.cfg.Logger.Info("deleted the catch-all consumer of "+version, "consumer", name)
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
