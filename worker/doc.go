// Package worker is the syncworker pipeline of docs/CONTRACT.md §5: it consumes
// update commands from JetStream, deduplicates and orders them through a
// dedup.Store, applies them through provider adapters with backoff, and
// publishes one result event per command id (and one per replay of its
// dead letter).
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
//   - A field is written only when the command's order key (data.sequence,
//     else the time JetStream stored the command in Unix ms; the stream
//     sequence breaking ties: messages.OrderKey) is not lower than the
//     field's stored order key. Every skipped field is in the result, with
//     the key that won.
//   - A replay of a dead letter (header Sync-Replay, see replay.go) retries
//     a failed command and nothing else: only a failed outcome is stored
//     Reopenable, so once a replay is applied or rejected every later replay
//     is a duplicate. Its result has an id of its own
//     (messages.ReplayResultEventID), and its order key is the original
//     command's, taken from the failed record (no header value is trusted).
//   - Adapters classify errors; only this package retries, with
//     cenkalti/backoff/v4, inside a budget below the ack wait.
//   - Once a provider may have accepted a write, the command's outcome is
//     stored before anything else: a failing store is retried while the
//     lease is held (outcome.go); only a forced stop leaves the delivery to
//     its ack wait and the claim to its TTL, never released or nak'ed.
//   - Held means heartbeated: a consume loop pulls no more than its idle
//     goroutines, and every pulled message is kept in progress from its
//     arrival until it is settled (heartbeat.go).
//   - Every message ends in bounded deliveries (limits.go): a dead letter
//     that cannot be stored verbatim is trimmed; a command whose headers
//     leave no room for it is refused; the consumers' MaxDeliver is a
//     backstop above the delivery budget whose last delivery ends the
//     command (giveUp); a panic ends its command (panic.go).
//   - The fleet-wide catch-all consumer rejects a command as
//     unknown_connection only when no durable consumer serves its
//     connection and Config.UnknownConnectionGrace has passed (unrouted.go);
//     it reads headers only and acks a batch at once, so served commands
//     are not delivered twice (unroutedscan.go).
//   - Nothing a command carries decides which host is called, and no secret
//     reaches a log line, a span, a metric, a result or a dead-letter header.
//
// Telemetry (docs/STYLE.md habit 12: at the boundaries only):
//   - Metrics, through Config.MeterProvider, are those of deploy/METRICS.md
//     (metrics.go names them; the provider request counter lives in the
//     providers' HTTP client, worker/providerhttp). Labels are bounded:
//     configured connection and provider names, the closed sets of
//     statuses, error codes and store operations; never an id. Attribute
//     sets are built once per consumer, not per command. A command counts
//     once, when its result is published (a duplicate republishing a stored
//     result counts as a duplicate, not a command; an id_conflict counts as
//     both a conflict and a rejected command, since it gets a result of its
//     own). The consumer pending gauges and CheckReady share one view of
//     the streams and consumers, asked of JetStream at most once per
//     Config.JetStreamInfoTTL and for at most 2s.
//   - Traces: one consumer span per delivery, "process <filter subject>"
//     with the messaging conventions' attributes, child of the command's
//     traceparent; children for the dedup calls, each provider attempt
//     ("apply <provider>", its attempt number and, when it failed
//     transiently, the wait chosen before the next one) with its HTTP
//     requests, and each publish. Events: deduplicated, superseded,
//     id_conflict, dead_lettered, handed_back, reopened (a replay claimed a
//     failed command again); a replay's span has oauthsync.replay. A delivery that hands its
//     command back records its span's context in the store; the next
//     delivery's span links to it. Only hand-backs and redeliveries pay for
//     that, and only when spans are recorded.
//   - Logs: one "command finished" line per outcome, with the command id,
//     connection, resource, batch, status, attempts, duration, trace and
//     span ids (an unreadable, dead-lettered message included).
package worker
