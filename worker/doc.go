// Package worker is the syncworker pipeline of CONTRACT §5: it consumes
// update commands from JetStream, deduplicates and orders them through a
// dedup.Store, applies them through provider adapters with backoff, and
// publishes one result event per command id.
//
// Lifecycle: New validates a Config; Run provisions streams and consumers,
// consumes until its context is cancelled, then stops fetching, hands back
// messages it has not started, finishes (or, past Config.DrainTimeout, hands
// back) the ones in flight, and returns.
//
// Invariants:
//   - One outcome, one acknowledgement: a terminal result is stored in the
//     dedup store, then published (Nats-Msg-Id derived from the command id),
//     then the command is double-acked. A crash between any two steps is
//     repaired by redelivery: the stored result is republished.
//   - A resource's read-modify-write holds the resource lease in the store
//     for its whole duration, renewed by the heartbeat; losing it aborts the
//     work and hands the message back.
//   - A field is written only when the command's order key is not lower than
//     the field's stored order key.
//   - Adapters classify errors; only this package retries, with
//     cenkalti/backoff/v4, inside a budget below the ack wait.
//   - Nothing a command carries decides which host is called, and no secret
//     reaches a log line, a span, a result or a dead-letter header.
package worker
