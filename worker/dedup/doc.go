// Package dedup defines the store behind the worker's exactly-once promise:
// a two-phase claim/done record per command id, a lease per resource, and
// per-field order keys per resource (the pair key and stream sequence,
// compared lexicographically; readable and resettable by operators); beside them, the trace context of the
// last delivery that handed a command back, which the next delivery's span
// links to. A done record is final, except one completed Reopenable (a
// failed, dead-lettered command, which keeps its command's Origin), which a
// replay of the dead letter may claim again. Implementations live in subpackages
// (redisdedup for production, kvdedup on JetStream key-value buckets for the
// embedded default) and all pass deduptest.Run.
package dedup
