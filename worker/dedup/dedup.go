package dedup

import (
	"context"
	"errors"
	"time"

	"github.com/oauthsync/oauthsync/messages"
)

// OrderKey is a field's position in its resource's order: the order key
// and the stream sequence that breaks ties, compared lexicographically
// (messages.OrderKey.Compare). A store keeps, per resource and field, the
// highest OrderKey completed, exactly (all of int64 and uint64).
type OrderKey = messages.OrderKey

// Origin is where and when JetStream stored a command: its stream sequence
// and the time of that store. The worker derives a command's OrderKey from
// it (and data.sequence). A failed (Reopenable) done record keeps its
// command's Origin, so that a replay of the dead letter takes its place in
// the order from the store, never from a header a publisher could forge.
type Origin struct {
	Seq  uint64
	Time time.Time
}

// IsZero reports whether o is unset.
func (o Origin) IsZero() bool { return o.Seq == 0 && o.Time.IsZero() }

// ErrLeaseLost is returned by Renew and Complete when the caller no longer
// holds the resource lease or the command claim (it expired and another owner
// took it).
var ErrLeaseLost = errors.New("dedup: lease or claim no longer held by this owner")

// State is what Begin found.
type State int

const (
	// Claimed: the caller now holds the command claim and (when LeaseKey was
	// given) the resource lease; OrderKeys holds the current order keys.
	Claimed State = iota + 1
	// Done: the command finished before; Result holds its stored result.
	Done
	// Conflict: the id is known (claimed or done) with another payload hash.
	// Result holds the stored result when the other payload finished.
	Conflict
	// InProgress: another owner holds a live claim on this id with the same
	// payload. Nothing was taken.
	InProgress
	// LeaseBusy: another owner holds the resource lease. Nothing was taken.
	LeaseBusy
)

func (s State) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case Done:
		return "done"
	case Conflict:
		return "conflict"
	case InProgress:
		return "in_progress"
	case LeaseBusy:
		return "lease_busy"
	}
	return "unknown"
}

// BeginRequest asks to start work on a command.
type BeginRequest struct {
	// CommandID is the command's idempotency key.
	CommandID string
	// PayloadHash identifies the payload; the same id with another hash is a conflict.
	PayloadHash string
	// Owner identifies this processing attempt; unique per delivery being worked.
	Owner string
	// LeaseKey names the resource ("<connection>/<resource>"). Empty: no
	// lease and no order keys (used for commands that will be rejected).
	LeaseKey string
	// Fields are the fields whose order keys to return.
	Fields []string
	// TTL bounds the claim and the lease; Renew extends them.
	TTL time.Duration
	// Replay marks a delivery that replays a dead-lettered command (the
	// worker's Sync-Replay header). It lets Begin reopen a done record
	// that Complete marked Reopenable (see Store.Begin); it changes
	// nothing else.
	Replay bool
	// Origin is where and when JetStream stored this delivery's copy of
	// the command (zero: unknown). Begin keeps the earliest copy's (lowest
	// Seq) in the command's sighting (see Store.Begin).
	Origin Origin
	// SightingTTL is how long at least the command's sighting is kept
	// while the command is not done (the worker gives its result TTL).
	SightingTTL time.Duration
	// Hold is how long the resource stays held for this command after
	// its claim lapses (its worker died) or is released with KeepHold: no
	// other command may take the lease meanwhile, only a later delivery
	// of this one (see Store.Begin). Zero: no hold.
	Hold time.Duration
	// JoinOwner, when set, joins the resource lease that owner holds
	// instead of taking it: the command rides in a write the lease's
	// holder makes for several commands (a merged write). Begin claims
	// the command and adds it to the resource's hold as for a command
	// that took the lease (the resource stays held for it until it is
	// done, or its hold lapses), and leaves the lease to its holder;
	// LeaseBusy (nothing taken) unless JoinOwner holds the lease, live.
	// It needs LeaseKey.
	JoinOwner string
}

// BeginResult is what Begin found and took.
type BeginResult struct {
	State State
	// Result is the stored result: non-nil on Done, on Conflict when the
	// other payload finished, and on Claimed when Begin reopened a done
	// record for a replay (the result that record held, which the claim
	// replaced); nil otherwise.
	Result []byte
	// OrderKeys are the current order keys of the requested fields (State
	// Claimed); a field with no key yet is absent.
	OrderKeys map[string]OrderKey
	// Resumed (State Claimed): the resource was held for this command by
	// an earlier delivery of it that did not finish (its worker died, or
	// it was released with KeepHold after a write that may have landed):
	// that delivery may have written.
	Resumed bool
	// HeldFor (State LeaseBusy): the resource is held for another command
	// whose delivery stopped without finishing, for at most this long;
	// zero when a live delivery holds the lease.
	HeldFor time.Duration
	// Origin is the command's place in the stream (State Claimed): the
	// Origin the reopened done record kept when Result is set, otherwise
	// the earliest copy's Origin of the command's sighting (zero when no
	// Begin brought one, or the reopened record kept none).
	Origin Origin
}

// CompleteRequest records a command's terminal result.
type CompleteRequest struct {
	CommandID   string
	PayloadHash string
	Owner       string
	LeaseKey    string
	// Result is the encoded result event, returned by later Begins.
	Result []byte
	// OrderKeys are set to max(stored, given) for each field, by
	// OrderKey.Compare.
	OrderKeys map[string]OrderKey
	// ResultTTL is how long the done record is kept; duplicates later than
	// that are processed as new commands.
	ResultTTL time.Duration
	// Reopenable marks an outcome that a replay may retry: a Begin with
	// Replay (and the same payload hash) claims the done record again
	// instead of answering Done. The worker sets it for a failed command
	// (dead-lettered) only; an applied, unchanged, superseded or rejected
	// outcome is final.
	Reopenable bool
	// Origin is kept with a Reopenable done record and given back by the
	// Begin that reopens it (BeginResult.Origin); ignored otherwise.
	Origin Origin
}

// Sighting is a copy of a command that a worker holds but has not begun:
// what Begin would record of it (see Store.Begin), recorded earlier.
type Sighting struct {
	CommandID   string
	PayloadHash string
	// Origin is where and when JetStream stored this copy.
	Origin Origin
	// TTL is how long at least the sighting is kept (as
	// BeginRequest.SightingTTL).
	TTL time.Duration
	// LeaseKey and Hold, when set: if the resource is held for this
	// command (an earlier delivery of it took the lease and stopped
	// without an outcome, see BeginRequest.Hold), the hold is kept for at
	// least Hold from now. A worker holding a copy of the command that
	// has not begun yet (it waits for a goroutine) sights it again every
	// heartbeat, so that the hold lasts until the copy begins however
	// long it waits, and no other command takes the resource first.
	LeaseKey string
	Hold     time.Duration
}

// ReleaseRequest gives up a claim and a lease after a transient failure, so
// a redelivery may try again.
type ReleaseRequest struct {
	CommandID string
	Owner     string
	LeaseKey  string
	// KeepHold keeps the resource held for the command for Hold (a write
	// may have landed without its answer): only the command's redelivery
	// may take the lease, and its Begin says Resumed. Otherwise the hold
	// ends with the lease.
	KeepHold bool
	Hold     time.Duration
}

// RenewRequest extends a claim and a lease.
type RenewRequest struct {
	CommandID string
	Owner     string
	LeaseKey  string
	TTL       time.Duration
	// Hold extends the command's hold on the resource to TTL + Hold, as
	// BeginRequest.Hold does.
	Hold time.Duration
	// JoinOwner: the command joined that owner's lease (see
	// BeginRequest.JoinOwner). Renew then extends the claim and the
	// command's hold while JoinOwner holds the lease (it renews the lease
	// itself), and is ErrLeaseLost otherwise.
	JoinOwner string
}

// DeliveryTraceRequest records the trace context of a delivery that handed
// a command back for redelivery, so that the next delivery can link its span
// to it.
type DeliveryTraceRequest struct {
	CommandID string
	// Traceparent is the W3C traceparent of the handing-back delivery's span.
	Traceparent string
	// TTL is how long the record is kept at least.
	TTL time.Duration
}

// Store is the dedup, lease and order-key store. Implementations are safe
// for concurrent use, shared by every worker process of a fleet, and must
// pass deduptest.Run.
type Store interface {
	// Begin looks up CommandID and, unless it is done, conflicting or owned
	// by someone else, atomically claims it, takes the resource lease and
	// reads the order keys of Fields: one round trip where the backend
	// allows. A claim or lease whose TTL passed counts as free. It never
	// retries; errors are backend failures.
	//
	// A done record is answered Done (same payload hash) or Conflict
	// (another hash), with its result, with one exception: a record
	// completed Reopenable, met by a Begin with Replay and the same hash,
	// is claimed like a new command (claim, lease and order keys; state
	// Claimed, Result the reopened record's result). The claim replaces
	// the done record: a Complete stores the new outcome (reopenable or
	// not), a Release or an expired claim leaves the id unknown, as for
	// any claim. A busy lease leaves the done record as it was. A record
	// completed without Reopenable is never reopened.
	//
	// A Begin that takes the lease holds the resource for the command
	// until TTL + Hold (Renew extends it), beyond the claim: when the
	// claim lapses without a Complete (the worker died, maybe after a
	// write whose outcome it could not record), the resource stays held,
	// so that no other command touches it before the command's own
	// redelivery has recorded its outcome. Meanwhile another command's
	// Begin is LeaseBusy with HeldFor set; a Begin of the command itself
	// (another owner) takes the lease, with Resumed set. Complete and
	// Release end the hold (Release with KeepHold keeps it for Hold).
	//
	// A resource may be held for several commands at once: the lease's
	// holder and the commands that joined its lease (JoinOwner), each with
	// its own owner and deadline. It is held while any of them is: a
	// command not among them is LeaseBusy (HeldFor: until the last of
	// their deadlines); one among them, once the lease is free, takes it
	// (Resumed when its hold was another owner's), keeping the others'
	// holds. Complete and Release end (or keep) the caller's own hold
	// only.
	//
	// Until a command is done, Begin keeps its sighting: the payload hash
	// first seen under its id and the earliest Origin (lowest Seq) any
	// Begin of it brought, for at least SightingTTL. A Begin that meets
	// the resource lease busy records it too, and a Release or an expired
	// claim leaves it in place. While it is kept, a Begin with another
	// payload hash is a Conflict (Result nil), whoever holds or held the
	// claim, and a Claimed result carries the sighting's Origin: a copy
	// of a command published again after JetStream's duplicate window
	// takes the first copy's place in the order, not its own, once any
	// Begin saw the first copy. Complete drops the sighting with the claim
	// (the done record answers from then on).
	Begin(ctx context.Context, req BeginRequest) (BeginResult, error)

	// MayHaveWritten records that the owner's delivery of commandID (it
	// holds the claim) made a provider call that may have written without
	// its answer. Until the command is done, every later Begin that
	// claims it says Resumed, however late it comes: after its hold
	// lapsed too (the worker died, and the redelivery came late), the
	// values found in place may be its own. ErrLeaseLost when the claim
	// is not the owner's. Release leaves it; Complete drops it with the
	// sighting, which is kept at least ttl (as BeginRequest.SightingTTL).
	MayHaveWritten(ctx context.Context, commandID, owner string, ttl time.Duration) error

	// Sight records the sightings of commands a worker holds before it
	// begins them (a batch it fetched), as Begin would: a command not seen
	// yet gets its sighting, one seen with the same hash keeps the earlier
	// origin; a done command, or one seen with another hash, is left as it
	// is (its Begin decides). It claims nothing and takes no lease. One
	// round trip where the backend allows; it never retries; errors are
	// backend failures. A worker killed while it holds fetched commands
	// thus leaves their first copies' places in the order and their
	// payloads behind, for late copies and reused ids to meet.
	Sight(ctx context.Context, sightings []Sighting) error

	// Renew extends the claim and lease held by Owner. ErrLeaseLost if
	// either is no longer Owner's.
	Renew(ctx context.Context, req RenewRequest) error

	// Complete atomically stores the done record (replacing the claim),
	// raises the order keys, and releases the lease if Owner holds it.
	// It succeeds when the claim is Owner's or has lapsed with nobody
	// else taking it; ErrLeaseLost (nothing written) when another owner
	// holds a live claim or the command is done with another payload.
	// It is idempotent: completing a command already done with the same
	// payload returns nil.
	Complete(ctx context.Context, req CompleteRequest) error

	// Release drops Owner's claim and lease, if still held; a no-op otherwise.
	Release(ctx context.Context, req ReleaseRequest) error

	// PutDeliveryTrace records the trace context of a delivery that hands
	// CommandID back, replacing any earlier one, for at least TTL (a store
	// that cannot expire one key keeps it as long as its command records).
	// It is a record of its own: it never changes what Begin, Renew,
	// Complete or Release see, nor they it. Idempotent; it never retries.
	PutDeliveryTrace(ctx context.Context, req DeliveryTraceRequest) error

	// DeliveryTrace returns the trace context last recorded for commandID
	// by PutDeliveryTrace, or "" when there is none (never recorded, or
	// expired). It never retries; errors are backend failures.
	DeliveryTrace(ctx context.Context, commandID string) (string, error)

	// OrderKeys returns every order key stored for the resource leaseKey
	// (field -> key; empty when none). It only reads: no claim, no lease.
	// It never retries; errors are backend failures.
	OrderKeys(ctx context.Context, leaseKey string) (map[string]OrderKey, error)

	// ResetOrderKeys deletes the order keys of the named fields of the
	// resource leaseKey, or all of its order keys when fields is empty, so
	// that the next command on a field writes it whatever its key: the
	// operator's way out of a key pinned too high. Fields without a key
	// are ignored. It takes no lease: a command completing at the same
	// time raises its keys as usual. It never retries.
	ResetOrderKeys(ctx context.Context, leaseKey string, fields []string) error
}
