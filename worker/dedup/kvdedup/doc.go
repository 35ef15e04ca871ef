// Package kvdedup is a dedup.Store on JetStream key-value buckets: the
// embedded default, needing nothing but the NATS server the worker already
// uses. It works on nats-server 2.9 and later (it uses no per-message TTL,
// which needs 2.11).
//
// # Buckets and keys
//
// With Config.Bucket b (default "oauthsync_dedup"), New creates or updates
// two buckets (history 1):
//
//	b_cmd    MaxAge = Config.ResultTTL (default 72h): command records
//	         <base64url(command id)>          {"s":"claim","h":hash,"o":owner,"x":deadline}
//	                                          {"s":"done","h":hash,"r":result}
//	                                          ("f":true as well when Reopenable,
//	                                          with "q":<origin stream sequence>,
//	                                          "t":<origin time, Unix ns>)
//	                                          {"s":"free","h":hash,"q":...,"t":...}
//	                                          (a released claim, or a Begin that
//	                                          met the lease busy: the command's
//	                                          sighting, see dedup.Store.Begin)
//	         trace.<base64url(command id)>    W3C traceparent of the last delivery
//	                                          that handed the command back
//	b_state  no MaxAge: leases, holds and order keys
//	         lease.<connection>.<resource>    {"o":owner,"x":deadline,   (no "o", "x" when free)
//	                                           "h":{"<command id>":{"o":owner,"u":deadline}, ...}}
//	         order.<connection>.<resource>    {"<field>":[<key int64>,<stream seq uint64>], ...}
//	         store.epoch                      the epoch marker (dedup.Marked)
//
// A lease record holds the resource's lease ("o", "x") and its holds ("h"):
// the command whose delivery took the lease and each command that joined
// it (dedup.BeginRequest.JoinOwner), each with the owner of its delivery
// and the deadline until which the resource stays held for it, beyond the
// lease (see dedup.Store.Begin). A hold whose deadline passed counts as
// gone; it is dropped whenever the record is rewritten. A record written
// before a resource could be held for several commands ("c": command,
// "y": deadline) reads as the one hold of its lease's owner, and is
// rewritten in the new layout by its next write.
//
// An order key is the pair (key, stream sequence), compared
// lexicographically. A bare integer written before keys had a stream
// sequence reads as [key, 0]: it keeps its key and loses a tie (such a key
// of a command without data.sequence was its stream sequence, far below
// any Unix time in ms, so the next command stored since wins it).
//
// A lease key "<connection>/<resource>" is split at its first '/'. A part
// made only of [A-Za-z0-9_-] is used as is; any other part (one with '.',
// '/', ':', other characters, or empty) becomes '=' + base64url(part), so
// that every key is valid and no two lease keys share a KV key.
//
// # Expiry and clocks
//
// Claim, lease and hold deadlines ("x", "u") are unix milliseconds of the writer's
// local clock, compared with the reader's local clock. This assumes the
// clocks of all workers sharing the buckets agree (NTP) to well within the
// claim TTL: a clock running d ahead sees others' claims and leases expire d
// early. A free or expired record holds no claim; it keeps the command's
// sighting (the payload hash first seen and the earliest copy's origin, as
// claims do too), so that another payload under its id is a conflict and a
// later copy takes the earliest one's place in the order.
//
// Done records expire with the b_cmd bucket's MaxAge, counted from the last
// write of the key: CompleteRequest.ResultTTL is validated but not applied
// per record (nats-server 2.9 has no per-message TTL); Config.ResultTTL is
// the retention of every done record, and should be set to the worker's
// ResultTTL. Claims, and records left "free", age out the same way.
// Lease records and order keys are never deleted: a lease is released by
// writing the record without it (keeping the holds still live; {} when
// none), one small message per resource, so that the next taker can
// compare-and-set on a known revision.
//
// # The store's own state
//
// The epoch marker is the key store.epoch of b_state; the completion
// counter (dedup.Marker.Completions) is the last sequence of b_cmd's
// stream, which every write of a command record raises and which only a
// recreated or restored stream lowers. The fence on Begin
// (Fence) is a read of the marker (two round trips) before Begin's first
// read, not atomic with the claim. With the store guard (worker/storeguard) this
// detects the dedup buckets deleted, recreated or restored from an older
// copy while the rest of JetStream lives on. It cannot detect the loss of
// the whole JetStream store: the guard's record lives in the same server
// and is lost with it, and so is the commands stream.
//
// # Atomicity
//
// JetStream KV has no multi-key transaction on 2.9. Each key is changed by
// compare-and-set on the revision it was read at (Create for an absent key,
// Update otherwise); a lost race re-reads and decides again, at most 10
// times (then an error wrapping ErrContended, a transient failure), and
// ctx is checked before every attempt. Per method:
//
//   - Begin reads the command record, then the lease record (LeaseBusy
//     returns before anything is written, after checking that the command
//     record did not change meanwhile), writes the claim, then writes the
//     lease record (the lease, or for a joining Begin only its hold, by
//     compare-and-set: the joined lease is checked at that write), then
//     reads the order keys. If the lease was taken in between (or the
//     joined one lost), the claim is put back as it was and LeaseBusy
//     returned. Between the claim and the lease write, a concurrent Begin
//     of the same command sees InProgress, as it would a moment later. A
//     crash there leaves a claim without a lease, which expires with its
//     TTL. A reopenable done record
//     met by a replay (same hash) is claimed the same way, by
//     compare-and-set on the done record's revision; when the lease then
//     turns out busy (or the order keys cannot be read), the done record
//     is put back as it was.
//   - Renew checks claim and lease (the joined owner's, for a command that
//     joined a lease), extends the lease record (the lease unless joined,
//     and the command's hold), then the claim; if the claim changed in
//     between, the lease record is put back (best effort) and the check
//     repeated (ErrLeaseLost once it fails).
//   - Complete checks the command record, raises the order keys, writes the
//     done record (the commit point, compare-and-set on the revision it
//     checked), then releases the lease and ends the command's hold (each
//     only if Owner's; the other commands' holds stay). Order keys are
//     raised before the commit so that no done command lacks them; if the
//     commit then loses the claim to another owner, ErrLeaseLost is
//     returned with the order keys raised, which is harmless since they
//     only record effects already applied. A crash after the commit leaves
//     the lease held until its TTL, and the command's hold until its
//     deadline; a repeated Complete releases both.
//   - Release frees the claim, then the lease and the command's hold (or
//     keeps the hold, KeepHold), each only if Owner's.
//
// The outcomes the conformance suite checks (single winners, LeaseBusy
// taking nothing, ownership rules, order keys only rising) hold as for the
// Redis store; what differs is that a crash between two steps leaves a
// partial state for its TTL instead of nothing.
//
// With Replicas > 1, reads are direct gets that a follower may serve
// slightly behind the leader: the compare-and-set writes keep the rules,
// but a stale read can cost extra attempts or a transient InProgress or
// LeaseBusy.
package kvdedup
