// Package storeguard detects that the dedup store lost its state and keeps
// the verdict until an operator decides (contract §5.7).
//
// A dedup store that comes back empty, or from an older snapshot, forgets
// which commands finished and which order keys were written: late
// duplicates would be applied again, reused ids written, stale commands
// win. The store cannot notice this by itself, so the guard compares what
// the store says about itself (dedup.Marker: an epoch marker and a
// completion counter, kept by the store) with a durable record kept
// elsewhere: a JetStream key-value bucket (DefaultBucket, file storage,
// history 1; nats-server 2.9 and later), one key per store
// (Key("redis", prefix) ...):
//
//	{"epoch":"…","highWater":N,"lost":"why","lostAt":…,"acceptedAt":…,"updatedAt":…}
//
// Guard.Check decides, in this order:
//
//   - no record and no epoch in the store: a fresh install. The store's
//     marker is set (only if still absent: racing workers agree on one) and
//     the record created with it.
//   - no record but an epoch in the store: the record was lost, not the
//     store; the record is created from the store's marker.
//   - the record says lost: lost, until Accept (sticky, and fleet-wide:
//     every worker reads the same record).
//   - the store has no epoch, or another epoch than the record's, or a
//     completion counter below the record's high-water mark: lost. The
//     reason is written into the record (compare-and-set), so that every
//     worker of the fleet stops.
//   - otherwise ok; the high-water mark is raised to the store's counter
//     (compare-and-set; a lost race decides again).
//
// The record is read before the store's marker, and the counter only rises
// while the store keeps its data, so a check never finds a counter below a
// high-water mark that was recorded from a later reading.
//
// Accept is the operator's decision (syncctl store accept): the store's
// present state becomes the baseline. A new epoch is written to the store
// and to the record, the high-water mark is set to the store's counter and
// the lost verdict cleared.
//
// What is detected: a store that came back without its marker (restarted
// empty, flushed, replaced by a new server), one with another epoch (a
// copy of a store taken before an Accept, another deployment's store), and
// one restored from a snapshot older than the last check that saw a higher
// counter (the high-water mark is recorded at every check, every few
// seconds). A restore losing only the writes since the last check (for
// example Redis with appendfsync everysec losing its last second) can go
// unnoticed by the counter. Between checks, the fence on Begin
// (dedup.Marked.Fence, set by every check to the record's epoch and
// high-water mark) refuses a claim on a store that came back empty or
// below the mark, in the same atomic step as the claim.
package storeguard
