package kvdedup

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/internal/reqcheck"
)

// Defaults of Config.
const (
	DefaultBucket    = "oauthsync_dedup"
	DefaultResultTTL = 72 * time.Hour
)

// maxAttempts bounds the read-compare-write loops: an attempt is retried
// only when another writer changed the key between our read and our write.
const maxAttempts = 10

// rollbackTimeout bounds the best-effort undo of a partly taken Begin, which
// runs even when the caller's context is done.
const rollbackTimeout = 5 * time.Second

// ErrContended is returned (wrapped) when a read-compare-write loop lost
// maxAttempts races in a row. It is a transient backend failure.
var ErrContended = errors.New("kvdedup: too many concurrent writers, gave up")

// Config configures a Store.
type Config struct {
	// Bucket names the two key-value buckets: <Bucket>_cmd holds the
	// command records, <Bucket>_state the leases and order keys. Letters,
	// digits, '_' and '-' only. Default DefaultBucket ("oauthsync_dedup").
	Bucket string
	// ResultTTL is the MaxAge of <Bucket>_cmd: how long a command record is
	// kept after its last write. It replaces CompleteRequest.ResultTTL, which
	// a JetStream KV before nats-server 2.11 cannot apply per key. Default
	// DefaultResultTTL (72h).
	ResultTTL time.Duration
	// Replicas of both buckets' streams. Default 1.
	Replicas int
	// Storage of both buckets' streams. Default jetstream.FileStorage.
	Storage jetstream.StorageType
}

var bucketRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (c *Config) setDefaults() {
	c.Bucket = cmp.Or(c.Bucket, DefaultBucket)
	c.ResultTTL = cmp.Or(c.ResultTTL, DefaultResultTTL)
	c.Replicas = cmp.Or(c.Replicas, 1)
}

func (c *Config) validate() error {
	switch {
	case !bucketRe.MatchString(c.Bucket):
		return fmt.Errorf("kvdedup: Bucket %q: only letters, digits, '_' and '-'", c.Bucket)
	case c.ResultTTL < 0:
		return fmt.Errorf("kvdedup: ResultTTL %v is negative", c.ResultTTL)
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("kvdedup: Replicas %d not in 1..5", c.Replicas)
	case c.Storage != jetstream.FileStorage && c.Storage != jetstream.MemoryStorage:
		return fmt.Errorf("kvdedup: unknown Storage %v", c.Storage)
	}
	return nil
}

// Store is a dedup.Store on two JetStream key-value buckets. It is safe for
// concurrent use and does not own the JetStream connection. See the package
// documentation for what it guarantees and what it cannot.
type Store struct {
	cmd   jetstream.KeyValue // command records, MaxAge = ResultTTL
	state jetstream.KeyValue // leases, order keys and the epoch marker, kept forever
	// fenced is what Begin requires of the store's marker (Fence); nil none.
	fenced atomic.Pointer[dedup.Marker]
}

var _ dedup.Store = (*Store)(nil)

// New creates or updates the buckets (idempotent: every worker of a fleet
// calls it at start) and returns a Store on them.
func New(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cmdKV, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket + "_cmd",
		Description: "oauthsync dedup: command claims and done records",
		TTL:         cfg.ResultTTL,
		Replicas:    cfg.Replicas,
		Storage:     cfg.Storage,
	})
	if err != nil {
		return nil, fmt.Errorf("kvdedup: bucket %s_cmd: %w", cfg.Bucket, err)
	}
	stateKV, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket + "_state",
		Description: "oauthsync dedup: resource leases and order keys",
		Replicas:    cfg.Replicas,
		Storage:     cfg.Storage,
	})
	if err != nil {
		return nil, fmt.Errorf("kvdedup: bucket %s_state: %w", cfg.Bucket, err)
	}
	return &Store{cmd: cmdKV, state: stateKV}, nil
}

// Open returns a Store on the buckets a worker created, without creating
// or changing them: for tools that read or reset order keys (syncctl).
// Only Config.Bucket is used. It fails when the buckets do not exist.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cmdKV, err := js.KeyValue(ctx, cfg.Bucket+"_cmd")
	if err != nil {
		return nil, fmt.Errorf("kvdedup: bucket %s_cmd: %w", cfg.Bucket, err)
	}
	stateKV, err := js.KeyValue(ctx, cfg.Bucket+"_state")
	if err != nil {
		return nil, fmt.Errorf("kvdedup: bucket %s_state: %w", cfg.Bucket, err)
	}
	return &Store{cmd: cmdKV, state: stateKV}, nil
}

// Ping checks that both buckets answer, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	for _, kv := range []jetstream.KeyValue{s.cmd, s.state} {
		if _, err := kv.Status(ctx); err != nil {
			return fmt.Errorf("kvdedup: ping %s: %w", kv.Bucket(), err)
		}
	}
	return nil
}

// ---- keys ----

// cmdKey encodes a command id (charset [A-Za-z0-9._:-], but any string is
// accepted) into the KV key charset.
func cmdKey(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

// traceKey is the key of a command's delivery trace record in the command
// bucket: base64url never produces '.', so it is no command key.
func traceKey(id string) string { return "trace." + cmdKey(id) }

// leaseKey and orderKey map "<connection>/<resource>" to
// "lease.<connection>.<resource>" and "order.<connection>.<resource>".
func leaseKey(lk string) string { return "lease." + resourceTokens(lk) }
func orderKey(lk string) string { return "order." + resourceTokens(lk) }

var rawTokenRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// resourceTokens splits a lease key at its first '/' and encodes each part
// as one KV key token: a part made only of [A-Za-z0-9_-] is kept as is, any
// other part (empty, or with '.', '/', ':' ...) becomes '=' followed by its
// unpadded base64url. Raw tokens never contain '=' and base64url never
// produces it, so the mapping is injective. A lease key without '/' is a
// single token.
func resourceTokens(lk string) string {
	conn, res, found := strings.Cut(lk, "/")
	if !found {
		return token(lk)
	}
	return token(conn) + "." + token(res)
}

func token(part string) string {
	if rawTokenRe.MatchString(part) {
		return part
	}
	return "=" + base64.RawURLEncoding.EncodeToString([]byte(part))
}

// ---- values ----

// Command record states. A "free" record is what Release and a rolled-back
// Begin leave behind: it counts as absent, and keeps the key's revision so
// the next writer can use a plain compare-and-set.
const (
	stateClaim = "claim"
	stateDone  = "done"
	stateFree  = "free"
)

// cmdRecord is the value of a command key.
type cmdRecord struct {
	State string `json:"s"`
	Hash  string `json:"h,omitempty"`
	Owner string `json:"o,omitempty"`
	// Expires is a claim's deadline in unix milliseconds of the writer's clock.
	Expires int64  `json:"x,omitempty"`
	Result  []byte `json:"r,omitempty"`
	// Reopenable marks a done record that a Begin with Replay may claim
	// again (CompleteRequest.Reopenable).
	Reopenable bool `json:"f,omitempty"`
	// OriginSeq and OriginTime (Unix ns) are the Origin a reopenable done
	// record keeps for the Begin that reopens it.
	OriginSeq  uint64 `json:"q,omitempty"`
	OriginTime int64  `json:"t,omitempty"`
	// Wrote: a delivery of the command may have written without its
	// answer (Store.MayHaveWritten); kept with the sighting until the
	// command is done.
	Wrote bool `json:"w,omitempty"`
}

// origin returns the Origin r kept; zero when none.
func (r cmdRecord) origin() dedup.Origin {
	if r.OriginSeq == 0 && r.OriginTime == 0 {
		return dedup.Origin{}
	}
	return dedup.Origin{Seq: r.OriginSeq, Time: time.Unix(0, r.OriginTime)}
}

// orderValue is one field's order key as stored: the JSON array
// [key, stream sequence]. A bare JSON integer, written before order keys
// had a stream sequence, reads as [key, 0].
type orderValue dedup.OrderKey

func (v orderValue) MarshalJSON() ([]byte, error) {
	return []byte("[" + strconv.FormatInt(v.Key, 10) + "," + strconv.FormatUint(v.Seq, 10) + "]"), nil
}

func (v *orderValue) UnmarshalJSON(b []byte) error {
	var pair []json.Number
	if err := json.Unmarshal(b, &pair); err == nil {
		if len(pair) != 2 {
			return fmt.Errorf("order key %s: want [key, sequence]", b)
		}
		key, err1 := strconv.ParseInt(string(pair[0]), 10, 64)
		seq, err2 := strconv.ParseUint(string(pair[1]), 10, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("order key %s: want two integers", b)
		}
		*v = orderValue{Key: key, Seq: seq}
		return nil
	}
	key, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("order key %s: want [key, sequence] or an integer", b)
	}
	*v = orderValue{Key: key}
	return nil
}

// orderRecord is the value of an order key: field -> order key.
type orderRecord map[string]orderValue

// reopenedBy reports whether a Begin of req claims the done record r again:
// a reopenable outcome of the same payload, met by a replay.
func (r cmdRecord) reopenedBy(req dedup.BeginRequest) bool {
	return r.State == stateDone && r.Reopenable && req.Replay && r.Hash == req.PayloadHash
}

// liveClaim reports whether r is a claim whose deadline has not passed.
func (r cmdRecord) liveClaim(now int64) bool { return r.State == stateClaim && r.Expires > now }

// leaseRecord is the value of a lease key: the lease (Owner "" when
// released) and the resource's holds. The resource is held for the command
// whose delivery took the lease and for the commands that joined that
// lease (dedup.BeginRequest.JoinOwner), each by its own owner until its own
// deadline, beyond the lease: command id -> hold. A hold whose deadline
// passed counts as gone, and is dropped whenever the record is rewritten.
type leaseRecord struct {
	Owner   string `json:"o,omitempty"`
	Expires int64  `json:"x,omitempty"`
	Holds   holds  `json:"h,omitempty"`
}

// hold is one command's hold on a resource: the owner whose delivery holds
// it, and until when (unix ms).
type hold struct {
	Owner string `json:"o"`
	Until int64  `json:"u"`
}

// holds is a resource's holds, by command id.
type holds map[string]hold

// UnmarshalJSON reads a lease record, and also the one hold of a record
// written before a resource could be held for several commands: its
// "c" (command) and "y" (deadline), held by the lease's owner. Such a
// record is read, never written: its next write has the holds map.
func (r *leaseRecord) UnmarshalJSON(b []byte) error {
	type plain leaseRecord // without this method
	var v struct {
		plain
		Command string `json:"c"`
		Hold    int64  `json:"y"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = leaseRecord(v.plain)
	if v.Command != "" {
		r.Holds = holds{v.Command: {Owner: r.Owner, Until: v.Hold}}
	}
	return nil
}

// holdOf returns commandID's hold, if live.
func (r leaseRecord) holdOf(commandID string, now int64) (hold, bool) {
	h, ok := r.Holds[commandID]
	return h, ok && h.Until > now
}

// heldForOthers returns the latest deadline of the live holds of commands
// other than commandID; 0 when there is none.
func (r leaseRecord) heldForOthers(commandID string, now int64) int64 {
	var latest int64
	for id, h := range r.Holds {
		if id != commandID && h.Until > now {
			latest = max(latest, h.Until)
		}
	}
	return latest
}

// live returns a copy of r without its lapsed holds: what a rewrite of
// the record starts from (the copy may be changed without changing r).
func (r leaseRecord) live(now int64) leaseRecord {
	next := leaseRecord{Owner: r.Owner, Expires: r.Expires}
	for id, h := range r.Holds {
		if h.Until > now {
			if next.Holds == nil {
				next.Holds = holds{}
			}
			next.Holds[id] = h
		}
	}
	return next
}

func (r leaseRecord) heldBy(owner string, now int64) bool {
	return r.Owner == owner && r.Expires > now
}

func (r leaseRecord) busyFor(owner string, now int64) bool {
	return r.Owner != "" && r.Owner != owner && r.Expires > now
}

// admission is what a resource's lease record says of a Begin.
type admission struct {
	// ok: the Begin may claim its command (and take the lease, or join it).
	ok bool
	// heldFor (not ok): how long at most the resource stays held for other
	// commands, in ms; 0 when a live lease makes it busy.
	heldFor int64
	// resumed (ok): the command's live hold is another owner's, an earlier
	// delivery that did not finish.
	resumed bool
}

// admit decides req's Begin on the resource whose lease record is r. A
// joining Begin needs the lease live and JoinOwner's. Otherwise a live
// lease of another owner is busy; a command the resource is held for, or
// the lease's own live holder, is admitted (the other commands' holds
// stay); any other command is busy while the resource is held for others.
func (r leaseRecord) admit(req dedup.BeginRequest, now int64) admission {
	own, member := r.holdOf(req.CommandID, now)
	resumed := member && own.Owner != req.Owner
	switch {
	case req.JoinOwner != "":
		return admission{ok: r.heldBy(req.JoinOwner, now), resumed: resumed}
	case r.busyFor(req.Owner, now):
		return admission{}
	case member || r.heldBy(req.Owner, now):
		return admission{ok: true, resumed: resumed}
	}
	if until := r.heldForOthers(req.CommandID, now); until > 0 {
		return admission{heldFor: until - now}
	}
	return admission{ok: true}
}

// leaseBusy is the LeaseBusy answer to a Begin that a does not admit.
func (a admission) leaseBusy() dedup.BeginResult {
	return dedup.BeginResult{State: dedup.LeaseBusy, HeldFor: time.Duration(a.heldFor) * time.Millisecond}
}

// admitted returns r with req's Begin admitted: its command held by its
// owner until holdUntil, and the lease taken until deadline unless req
// joins it.
func (r leaseRecord) admitted(req dedup.BeginRequest, deadline, holdUntil, now int64) leaseRecord {
	next := r.live(now)
	if req.JoinOwner == "" {
		next.Owner, next.Expires = req.Owner, deadline
	}
	if next.Holds == nil {
		next.Holds = holds{}
	}
	next.Holds[req.CommandID] = hold{Owner: req.Owner, Until: holdUntil}
	return next
}

// renewed returns r with req's Renew applied: the lease extended to
// deadline unless req joined it, and the command's live hold, if Owner's,
// to holdUntil. write is false when that changes nothing.
func (r leaseRecord) renewed(req dedup.RenewRequest, deadline, holdUntil, now int64) (next leaseRecord, write bool) {
	next = r.live(now)
	if req.JoinOwner == "" {
		next.Expires, write = deadline, true
	}
	if h, ok := next.Holds[req.CommandID]; ok && h.Owner == req.Owner {
		h.Until = holdUntil
		next.Holds[req.CommandID], write = h, true
	}
	return next, write
}

// entry is a decoded value and the revision it was read at; rev 0 means
// the key does not exist (never written, aged out, or deleted).
type entry[T any] struct {
	val T
	raw []byte
	rev uint64
}

func get[T any](ctx context.Context, kv jetstream.KeyValue, key string) (entry[T], error) {
	var e entry[T]
	kve, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return e, nil
	}
	if err != nil {
		return e, fmt.Errorf("kvdedup: get %s/%s: %w", kv.Bucket(), key, err)
	}
	if err := json.Unmarshal(kve.Value(), &e.val); err != nil {
		return e, fmt.Errorf("kvdedup: decode %s/%s: %w", kv.Bucket(), key, err)
	}
	e.raw, e.rev = kve.Value(), kve.Revision()
	return e, nil
}

// errRace marks a lost compare-and-set: the key changed since it was read.
var errRace = errors.New("kvdedup: key changed since read")

// put writes v if the key is still at rev (0: still absent). A lost race
// returns errRace.
func put(ctx context.Context, kv jetstream.KeyValue, key string, v any, rev uint64) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("kvdedup: encode %s/%s: %w", kv.Bucket(), key, err)
	}
	return putRaw(ctx, kv, key, b, rev)
}

func putRaw(ctx context.Context, kv jetstream.KeyValue, key string, b []byte, rev uint64) (uint64, error) {
	var n uint64
	var err error
	if rev == 0 {
		n, err = kv.Create(ctx, key, b)
	} else {
		n, err = kv.Update(ctx, key, b, rev)
	}
	if isRace(err) {
		return 0, errRace
	}
	if err != nil {
		return 0, fmt.Errorf("kvdedup: write %s/%s: %w", kv.Bucket(), key, err)
	}
	return n, nil
}

func isRace(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func contended(op string) error { return fmt.Errorf("kvdedup: %s: %w", op, ErrContended) }

// update changes the record at key by compare-and-set, reading it again
// when another writer got there first. change returns the next value, or
// write false to leave the record as it is; its error is returned as is.
// op names the operation in a contended error.
func update[T any](ctx context.Context, kv jetstream.KeyValue, key, op string, change func(cur T) (next T, write bool, err error)) error {
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		cur, err := get[T](ctx, kv, key)
		if err != nil {
			return err
		}
		next, write, err := change(cur.val)
		if err != nil || !write {
			return err
		}
		_, err = put(ctx, kv, key, next, cur.rev)
		if errors.Is(err, errRace) {
			continue
		}
		return err
	}
	return contended(op)
}

// nonNil returns b, or an empty slice when b is nil: a stored result is
// never nil, as with the Redis store.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// nowMs is the local clock in unix milliseconds: deadlines are written and
// compared with it (see the package documentation on clock skew).
func (s *Store) nowMs() int64 { return time.Now().UnixMilli() }

// undoCtx is the context of a best-effort undo: the caller's values, its
// own deadline, never its cancellation.
func undoCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
}

// ---- Store ----

// Begin implements dedup.Store. It reads the command record, then the
// lease record, writes the claim (compare-and-set on the record's
// revision), then the lease record (compare-and-set on its revision: the
// command's hold, and the lease unless req joins it) and reads the order
// keys. A busy lease is reported only if the command record is still as
// first read, so every outcome holds at one instant, as if atomic. When
// the lease is taken by someone else (or the joined lease lost) between
// its read and its write, the claim is rolled back to what it was and
// LeaseBusy returned. Between the claim write and the lease write a
// concurrent Begin of the same command sees InProgress, as it would a
// moment later.
func (s *Store) Begin(ctx context.Context, req dedup.BeginRequest) (dedup.BeginResult, error) {
	if err := reqcheck.Begin(req); err != nil {
		return dedup.BeginResult{}, err
	}
	if err := s.fence(ctx); err != nil {
		return dedup.BeginResult{}, err
	}
	ck := cmdKey(req.CommandID)
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return dedup.BeginResult{}, err
		}
		cur, err := get[cmdRecord](ctx, s.cmd, ck)
		if err != nil {
			return dedup.BeginResult{}, err
		}
		now := s.nowMs()
		reopen := cur.val.reopenedBy(req)
		switch {
		case reopen:
			// A replay of a failed command: claimed like a new one, below.
		case cur.val.State == stateDone:
			res := nonNil(cur.val.Result)
			if cur.val.Hash == req.PayloadHash {
				return dedup.BeginResult{State: dedup.Done, Result: res}, nil
			}
			return dedup.BeginResult{State: dedup.Conflict, Result: res}, nil
		case cur.val.liveClaim(now) && cur.val.Owner != req.Owner:
			if cur.val.Hash == req.PayloadHash {
				return dedup.BeginResult{State: dedup.InProgress}, nil
			}
			return dedup.BeginResult{State: dedup.Conflict}, nil
		}

		// The sighting (an expired, released or own claim): another
		// payload under a known id is a conflict; the earliest copy's
		// origin is kept. A reopened done record keeps its own origin.
		origin := req.Origin
		if !reopen {
			if cur.val.Hash != "" && cur.val.Hash != req.PayloadHash {
				return dedup.BeginResult{State: dedup.Conflict}, nil
			}
			origin = earlier(cur.val.origin(), req.Origin)
		}

		var lease entry[leaseRecord]
		if req.LeaseKey != "" {
			if lease, err = get[leaseRecord](ctx, s.state, leaseKey(req.LeaseKey)); err != nil {
				return dedup.BeginResult{}, err
			}
			if a := lease.val.admit(req, now); !a.ok {
				// The two reads are no snapshot: if the command record
				// changed in between (another owner claimed or finished
				// it), that decides instead; decide again.
				again, err := get[cmdRecord](ctx, s.cmd, ck)
				if err != nil {
					return dedup.BeginResult{}, err
				}
				if again.rev != cur.rev {
					continue
				}
				if err := s.recordSighting(ctx, ck, cur, req, origin, now); errors.Is(err, errRace) {
					continue
				} else if err != nil {
					return dedup.BeginResult{}, err
				}
				return a.leaseBusy(), nil
			}
		}
		wrote := !reopen && cur.val.Wrote

		deadline := now + reqcheck.Millis(req.TTL)
		claimRev, err := put(ctx, s.cmd, ck, withOrigin(cmdRecord{
			State: stateClaim, Hash: req.PayloadHash, Owner: req.Owner, Expires: deadline, Wrote: wrote,
		}, origin), cur.rev)
		if errors.Is(err, errRace) {
			continue
		}
		if err != nil {
			return dedup.BeginResult{}, err
		}
		var reopened []byte // the result of a reopened done record
		if reopen {
			reopened = nonNil(cur.val.Result)
		}
		if reopen {
			origin = cur.val.origin()
		}
		if req.LeaseKey == "" {
			return dedup.BeginResult{State: dedup.Claimed, Result: reopened, Origin: origin, OrderKeys: map[string]dedup.OrderKey{}}, nil
		}

		a, err := s.holdResource(ctx, req, deadline, lease)
		if err != nil || !a.ok {
			s.undoClaim(ctx, ck, cur, claimRev, req.PayloadHash, origin)
			if err != nil {
				return dedup.BeginResult{}, err
			}
			return a.leaseBusy(), nil
		}

		keys, err := s.readOrder(ctx, req.LeaseKey, req.Fields)
		if err != nil {
			if reopen {
				// Put the done record back rather than leave the id unknown.
				s.undoClaim(ctx, ck, cur, claimRev, req.PayloadHash, origin)
				uctx, cancel := undoCtx(ctx)
				_ = s.leaveResource(uctx, req.LeaseKey, req.CommandID, req.Owner, 0)
				cancel()
				return dedup.BeginResult{}, err
			}
			uctx, cancel := undoCtx(ctx)
			_ = s.Release(uctx, dedup.ReleaseRequest{CommandID: req.CommandID, Owner: req.Owner, LeaseKey: req.LeaseKey})
			cancel()
			return dedup.BeginResult{}, err
		}
		return dedup.BeginResult{State: dedup.Claimed, Result: reopened, Origin: origin, OrderKeys: keys, Resumed: a.resumed || wrote}, nil
	}
	return dedup.BeginResult{}, contended("begin")
}

// Sight implements dedup.Store: a compare-and-set per command.
func (s *Store) Sight(ctx context.Context, sightings []dedup.Sighting) error {
	if err := reqcheck.Sightings(sightings); err != nil {
		return err
	}
	for _, st := range sightings {
		ours, err := s.sight(ctx, st)
		if err != nil {
			return err
		}
		if ours && st.LeaseKey != "" && st.Hold > 0 {
			if err := s.keepHold(ctx, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// keepHold keeps st's command's hold on st's resource, when it has a live
// one (whoever's), for at least st.Hold from now.
func (s *Store) keepHold(ctx context.Context, st dedup.Sighting) error {
	return update(ctx, s.state, leaseKey(st.LeaseKey), "keep hold", func(cur leaseRecord) (leaseRecord, bool, error) {
		now := s.nowMs()
		until := now + max(reqcheck.Millis(st.Hold), 1)
		h, ok := cur.holdOf(st.CommandID, now)
		if !ok || h.Until >= until {
			return cur, false, nil
		}
		next := cur.live(now)
		h.Until = until
		next.Holds[st.CommandID] = h
		return next, true, nil
	})
}

// sight records one sighting; ours reports that the command is not done
// and its sighting is of st's payload.
func (s *Store) sight(ctx context.Context, st dedup.Sighting) (ours bool, err error) {
	ck := cmdKey(st.CommandID)
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		cur, err := get[cmdRecord](ctx, s.cmd, ck)
		if err != nil {
			return false, err
		}
		rec := cur.val
		switch {
		case rec.State == stateDone, rec.Hash != "" && rec.Hash != st.PayloadHash:
			return false, nil // Begin decides
		case cur.rev == 0 || rec.Hash == "":
			rec = withOrigin(cmdRecord{State: stateFree, Hash: st.PayloadHash}, st.Origin)
		case st.Origin.IsZero() || (rec.OriginSeq != 0 && rec.OriginSeq <= st.Origin.Seq):
			return true, nil // nothing earlier to keep
		default:
			rec = withOrigin(rec, st.Origin) // a claim stays the claim it is
		}
		_, err = put(ctx, s.cmd, ck, rec, cur.rev)
		if errors.Is(err, errRace) {
			continue
		}
		return err == nil, err
	}
	return false, contended("sight")
}

// holdResource admits req's Begin on its resource (leaseRecord.admit) and
// writes what it takes: the command's hold until deadline + Hold, and the
// lease until deadline unless req joins it. It starts from the lease record
// as read and decides again on every attempt, reading the record again
// after a lost race; a Begin no longer admitted writes nothing.
func (s *Store) holdResource(ctx context.Context, req dedup.BeginRequest, deadline int64, lease entry[leaseRecord]) (admission, error) {
	key := leaseKey(req.LeaseKey)
	for attempt := range maxAttempts {
		if attempt > 0 {
			if err := ctx.Err(); err != nil {
				return admission{}, err
			}
			var err error
			if lease, err = get[leaseRecord](ctx, s.state, key); err != nil {
				return admission{}, err
			}
		}
		now := s.nowMs()
		a := lease.val.admit(req, now)
		if !a.ok {
			return a, nil
		}
		_, err := put(ctx, s.state, key, lease.val.admitted(req, deadline, deadline+reqcheck.Millis(req.Hold), now), lease.rev)
		if errors.Is(err, errRace) {
			continue
		}
		if err != nil {
			return admission{}, err
		}
		return a, nil
	}
	return admission{}, contended("take lease")
}

// undoClaim puts back the command record as it was before our claim
// (revision claimRev), or, when there was none, a free record keeping the
// sighting (hash and origin). Best effort: if it fails the claim simply
// expires with its TTL.
func (s *Store) undoClaim(ctx context.Context, ck string, prev entry[cmdRecord], claimRev uint64, hash string, origin dedup.Origin) {
	uctx, cancel := undoCtx(ctx)
	defer cancel()
	if prev.rev != 0 {
		_, _ = putRaw(uctx, s.cmd, ck, prev.raw, claimRev)
		return
	}
	_, _ = put(uctx, s.cmd, ck, withOrigin(cmdRecord{State: stateFree, Hash: hash}, origin), claimRev) // no record before: nothing written
}

// recordSighting records, for a Begin that met the lease busy, the
// command's sighting (hash and earliest origin) in a free record, unless
// the record already says as much or is req's own live claim. errRace
// when the record changed since cur was read.
func (s *Store) recordSighting(ctx context.Context, ck string, cur entry[cmdRecord], req dedup.BeginRequest, origin dedup.Origin, now int64) error {
	want := withOrigin(cmdRecord{}, origin)
	if cur.val.liveClaim(now) || (cur.val.State != "" && cur.val.Hash == req.PayloadHash &&
		cur.val.OriginSeq == want.OriginSeq && cur.val.OriginTime == want.OriginTime) {
		return nil
	}
	_, err := put(ctx, s.cmd, ck, withOrigin(cmdRecord{State: stateFree, Hash: req.PayloadHash, Wrote: cur.val.Wrote}, origin), cur.rev)
	return err
}

// earlier returns the origin of the earlier copy (lower stream sequence);
// a zero origin counts as unknown.
func earlier(a, b dedup.Origin) dedup.Origin {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Seq < b.Seq:
		return a
	}
	return b
}

// withOrigin returns r keeping origin o.
func withOrigin(r cmdRecord, o dedup.Origin) cmdRecord {
	if !o.IsZero() {
		r.OriginSeq, r.OriginTime = o.Seq, o.Time.UnixNano()
	}
	return r
}

func (s *Store) readOrder(ctx context.Context, lk string, fields []string) (map[string]dedup.OrderKey, error) {
	keys := map[string]dedup.OrderKey{}
	if len(fields) == 0 {
		return keys, nil
	}
	stored, err := get[orderRecord](ctx, s.state, orderKey(lk))
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if v, ok := stored.val[f]; ok {
			keys[f] = dedup.OrderKey(v)
		}
	}
	return keys, nil
}

// OrderKeys implements dedup.Store: one read of order.<connection>.<resource>.
func (s *Store) OrderKeys(ctx context.Context, leaseKey string) (map[string]dedup.OrderKey, error) {
	if err := reqcheck.LeaseKey("order keys", leaseKey); err != nil {
		return nil, err
	}
	stored, err := get[orderRecord](ctx, s.state, orderKey(leaseKey))
	if err != nil {
		return nil, err
	}
	keys := make(map[string]dedup.OrderKey, len(stored.val))
	for f, v := range stored.val {
		keys[f] = dedup.OrderKey(v)
	}
	return keys, nil
}

// ResetOrderKeys implements dedup.Store: the named fields (all when none)
// are removed from order.<connection>.<resource> by compare-and-set, so that
// a key raised meanwhile is never lost except the ones reset.
func (s *Store) ResetOrderKeys(ctx context.Context, leaseKey string, fields []string) error {
	if err := reqcheck.LeaseKey("reset order keys", leaseKey); err != nil {
		return err
	}
	key := orderKey(leaseKey)
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		cur, err := get[orderRecord](ctx, s.state, key)
		if err != nil {
			return err
		}
		if cur.rev == 0 {
			return nil
		}
		next := orderRecord{}
		if len(fields) > 0 {
			for f, v := range cur.val {
				next[f] = v
			}
			for _, f := range fields {
				delete(next, f)
			}
			if len(next) == len(cur.val) {
				return nil
			}
		}
		_, err = put(ctx, s.state, key, next, cur.rev)
		if errors.Is(err, errRace) {
			continue
		}
		return err
	}
	return contended("reset order keys")
}

// Renew implements dedup.Store. It checks claim and lease (JoinOwner's for
// a command that joined it), then extends the lease record (the lease
// unless joined, and the command's hold if Owner's) and then the claim,
// each by compare-and-set; if the claim changed in between, the lease
// record is put back (best effort) and the check repeated.
func (s *Store) Renew(ctx context.Context, req dedup.RenewRequest) error {
	if err := reqcheck.Renew(req); err != nil {
		return err
	}
	ck := cmdKey(req.CommandID)
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		cur, err := get[cmdRecord](ctx, s.cmd, ck)
		if err != nil {
			return err
		}
		now := s.nowMs()
		if !cur.val.liveClaim(now) || cur.val.Owner != req.Owner {
			return dedup.ErrLeaseLost
		}
		deadline := now + reqcheck.Millis(req.TTL)
		var lease entry[leaseRecord]
		var leaseRev uint64 // of our write of the lease record; 0 none
		if req.LeaseKey != "" {
			if lease, err = get[leaseRecord](ctx, s.state, leaseKey(req.LeaseKey)); err != nil {
				return err
			}
			if !lease.val.heldBy(cmp.Or(req.JoinOwner, req.Owner), now) {
				return dedup.ErrLeaseLost
			}
			if next, write := lease.val.renewed(req, deadline, deadline+reqcheck.Millis(req.Hold), now); write {
				leaseRev, err = put(ctx, s.state, leaseKey(req.LeaseKey), next, lease.rev)
				if errors.Is(err, errRace) {
					continue
				}
				if err != nil {
					return err
				}
			}
		}
		claim := cur.val
		claim.Expires = deadline
		_, err = put(ctx, s.cmd, ck, claim, cur.rev)
		if err == nil {
			return nil
		}
		if leaseRev != 0 {
			uctx, cancel := undoCtx(ctx)
			_, _ = putRaw(uctx, s.state, leaseKey(req.LeaseKey), lease.raw, leaseRev)
			cancel()
		}
		if !errors.Is(err, errRace) {
			return err
		}
	}
	return contended("renew")
}

// Complete implements dedup.Store. Order: check the command record, raise
// the order keys, write the done record (compare-and-set on the revision
// checked: the commit point), then release the lease and end the command's
// hold, each if Owner's. The order keys are raised before the commit so
// that a crash in between never leaves a done command whose order keys
// were not recorded; if the commit then loses a race the keys stay raised,
// which is harmless: they record effects the caller has already applied.
// Order keys are ignored when LeaseKey is empty.
func (s *Store) Complete(ctx context.Context, req dedup.CompleteRequest) error {
	if err := reqcheck.Complete(req); err != nil {
		return err
	}
	ck := cmdKey(req.CommandID)
	raised := false
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		cur, err := get[cmdRecord](ctx, s.cmd, ck)
		if err != nil {
			return err
		}
		switch {
		case cur.val.State == stateDone:
			if cur.val.Hash != req.PayloadHash {
				return dedup.ErrLeaseLost
			}
			// Done before (maybe by a call of ours that failed after its
			// commit): finish its last step.
			return s.leaveResource(ctx, req.LeaseKey, req.CommandID, req.Owner, 0)
		case cur.val.liveClaim(s.nowMs()) && cur.val.Owner != req.Owner:
			return dedup.ErrLeaseLost
		}
		if !raised && req.LeaseKey != "" && len(req.OrderKeys) > 0 {
			if err := s.raiseOrder(ctx, req.LeaseKey, req.OrderKeys); err != nil {
				return err
			}
			raised = true
		}
		done := cmdRecord{State: stateDone, Hash: req.PayloadHash, Result: req.Result, Reopenable: req.Reopenable}
		if req.Reopenable && !req.Origin.IsZero() {
			done.OriginSeq, done.OriginTime = req.Origin.Seq, req.Origin.Time.UnixNano()
		}
		_, err = put(ctx, s.cmd, ck, done, cur.rev)
		if errors.Is(err, errRace) {
			continue
		}
		if err != nil {
			return err
		}
		return s.leaveResource(ctx, req.LeaseKey, req.CommandID, req.Owner, 0)
	}
	return contended("complete")
}

// raiseOrder sets each order key to max(stored, given).
func (s *Store) raiseOrder(ctx context.Context, lk string, given map[string]dedup.OrderKey) error {
	key := orderKey(lk)
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		cur, err := get[orderRecord](ctx, s.state, key)
		if err != nil {
			return err
		}
		next := make(orderRecord, len(cur.val)+len(given))
		for f, v := range cur.val {
			next[f] = v
		}
		changed := false
		for f, v := range given {
			if old, ok := next[f]; !ok || v.Compare(dedup.OrderKey(old)) > 0 {
				next[f] = orderValue(v)
				changed = true
			}
		}
		if !changed {
			return nil
		}
		_, err = put(ctx, s.state, key, next, cur.rev)
		if errors.Is(err, errRace) {
			continue
		}
		return err
	}
	return contended("raise order keys")
}

// PutDeliveryTrace implements dedup.Store: a plain put of
// trace.<base64url(id)> in the command bucket, last writer wins. The
// request's TTL is validated but not applied per record: the record ages
// out with the bucket's MaxAge (Config.ResultTTL), like a command record.
func (s *Store) PutDeliveryTrace(ctx context.Context, req dedup.DeliveryTraceRequest) error {
	if err := reqcheck.DeliveryTrace(req); err != nil {
		return err
	}
	if _, err := s.cmd.PutString(ctx, traceKey(req.CommandID), req.Traceparent); err != nil {
		return fmt.Errorf("kvdedup: put delivery trace: %w", err)
	}
	return nil
}

// DeliveryTrace implements dedup.Store.
func (s *Store) DeliveryTrace(ctx context.Context, commandID string) (string, error) {
	if err := reqcheck.DeliveryTraceID(commandID); err != nil {
		return "", err
	}
	e, err := s.cmd.Get(ctx, traceKey(commandID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("kvdedup: delivery trace: %w", err)
	}
	return string(e.Value()), nil
}

// Release implements dedup.Store. The claim, then the lease and the
// command's hold (kept for Hold with KeepHold), are each freed by a
// compare-and-set on the revision at which they were seen to be Owner's.
func (s *Store) Release(ctx context.Context, req dedup.ReleaseRequest) error {
	if err := reqcheck.Release(req); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.releaseClaim(ctx, cmdKey(req.CommandID), req.Owner); err != nil {
		return err
	}
	var keep time.Duration
	if req.KeepHold {
		keep = req.Hold // the resource stays held for the command
	}
	return s.leaveResource(ctx, req.LeaseKey, req.CommandID, req.Owner, keep)
}

// MayHaveWritten implements dedup.Store.
func (s *Store) MayHaveWritten(ctx context.Context, commandID, owner string, ttl time.Duration) error {
	if commandID == "" || owner == "" || ttl <= 0 {
		return errors.New("kvdedup: MayHaveWritten needs a command id, an owner and a TTL")
	}
	return update(ctx, s.cmd, cmdKey(commandID), "may have written", func(cur cmdRecord) (cmdRecord, bool, error) {
		if !cur.liveClaim(s.nowMs()) || cur.Owner != owner {
			return cur, false, dedup.ErrLeaseLost
		}
		write := !cur.Wrote
		cur.Wrote = true
		return cur, write, nil
	})
}

func (s *Store) releaseClaim(ctx context.Context, ck, owner string) error {
	return update(ctx, s.cmd, ck, "release claim", func(cur cmdRecord) (cmdRecord, bool, error) {
		if cur.State != stateClaim || cur.Owner != owner {
			return cur, false, nil
		}
		// The sighting stays: hash, origin, and whether it may have written.
		return withOrigin(cmdRecord{State: stateFree, Hash: cur.Hash, Wrote: cur.Wrote}, cur.origin()), true, nil
	})
}

// leaveResource ends owner's part in the resource lk: it frees the lease
// if owner holds it (expired or not), and ends commandID's live hold if
// owner's, or keeps it for keep from now when keep > 0. The other
// commands' holds stay. A no-op for an empty lease key.
func (s *Store) leaveResource(ctx context.Context, lk, commandID, owner string, keep time.Duration) error {
	if lk == "" {
		return nil
	}
	return update(ctx, s.state, leaseKey(lk), "leave resource", func(cur leaseRecord) (leaseRecord, bool, error) {
		now := s.nowMs()
		next, write := cur.live(now), false
		if next.Owner == owner {
			next.Owner, next.Expires, write = "", 0, true
		}
		if h, ok := next.Holds[commandID]; ok && h.Owner == owner {
			if keep > 0 {
				h.Until = now + reqcheck.Millis(keep)
				next.Holds[commandID] = h
			} else {
				delete(next.Holds, commandID)
			}
			write = true
		}
		return next, write, nil
	})
}
