package storeguard

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

// DefaultBucket is the key-value bucket of the guard records.
const DefaultBucket = "SYNC_STORE_GUARD"

// maxAttempts bounds the compare-and-set loops of Check.
const maxAttempts = 10

// Config configures a Guard.
type Config struct {
	// Bucket is the key-value bucket of the records. Default DefaultBucket.
	Bucket string
	// Key names the guarded store in the bucket (see Key). Required.
	Key string
	// Replicas of the bucket's stream. Default 1.
	Replicas int
	// Storage of the bucket's stream. Default jetstream.FileStorage: the
	// record must outlive a NATS restart.
	Storage jetstream.StorageType
}

var (
	rawToken = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	keyRe    = regexp.MustCompile(`^[A-Za-z0-9_=-]+(\.[A-Za-z0-9_=-]+)*$`)
)

// Key returns the record key of a store of kind ("redis", "kv") named
// name (its key prefix or bucket): "<kind>.<name>", the name base64url
// encoded after '=' when it holds characters a key cannot.
func Key(kind, name string) string {
	if !rawToken.MatchString(name) {
		name = "=" + base64.RawURLEncoding.EncodeToString([]byte(name))
	}
	return kind + "." + name
}

// Record is the durable copy of a store's marker.
type Record struct {
	// Epoch is the store's agreed epoch marker.
	Epoch string `json:"epoch"`
	// HighWater is the highest completion counter a check saw.
	HighWater int64 `json:"highWater"`
	// Lost is why a check found the store's state lost; "" while it is not.
	Lost   string    `json:"lost,omitempty"`
	LostAt time.Time `json:"lostAt,omitzero"`
	// AcceptedAt is when an operator last accepted the store's state.
	AcceptedAt time.Time `json:"acceptedAt,omitzero"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// State is a guard's verdict.
type State int

const (
	// Unknown: no check decided yet (no record, or the check failed).
	Unknown State = iota
	// OK: the store kept its state.
	OK
	// Lost: the store lost its state; nothing may be applied until Accept.
	Lost
)

func (s State) String() string {
	switch s {
	case OK:
		return "ok"
	case Lost:
		return "lost"
	}
	return "unknown"
}

// Status is what a check found.
type Status struct {
	State State
	// Reason says why the state is Lost.
	Reason string
	// Store is the store's marker as read by the check.
	Store dedup.Marker
	// Record is the guard's record after the check (zero when there is none).
	Record Record
	// Created is true when the check created the record (a fresh install,
	// or a record lost while the store kept its marker).
	Created bool
}

// Guard checks one store against its record. Safe for concurrent use.
type Guard struct {
	kv    jetstream.KeyValue
	key   string
	store dedup.Marked
	now   func() time.Time
}

// Open creates or updates the bucket (idempotent) and returns a Guard of
// store.
func Open(ctx context.Context, js jetstream.JetStream, store dedup.Marked, cfg Config) (*Guard, error) {
	if cfg.Bucket == "" {
		cfg.Bucket = DefaultBucket
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if !keyRe.MatchString(cfg.Key) {
		return nil, fmt.Errorf("storeguard: key %q: want tokens of [A-Za-z0-9_=-] separated by '.' (see Key)", cfg.Key)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "oauthsync: durable copy of each dedup store's epoch and completion high-water mark",
		History:     1,
		Replicas:    cfg.Replicas,
		Storage:     cfg.Storage,
	})
	if err != nil {
		return nil, fmt.Errorf("storeguard: bucket %s: %w", cfg.Bucket, err)
	}
	return &Guard{kv: kv, key: cfg.Key, store: store, now: time.Now}, nil
}

// Key is the guarded store's record key.
func (g *Guard) Key() string { return g.key }

// NewEpoch returns a random epoch marker.
func NewEpoch() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (g *Guard) read(ctx context.Context) (Record, uint64, error) {
	var rec Record
	e, err := g.kv.Get(ctx, g.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return rec, 0, nil
	}
	if err != nil {
		return rec, 0, fmt.Errorf("storeguard: read record %s: %w", g.key, err)
	}
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return rec, 0, fmt.Errorf("storeguard: decode record %s: %w", g.key, err)
	}
	return rec, e.Revision(), nil
}

// write stores rec at rev (0: create). A lost race returns errRace.
func (g *Guard) write(ctx context.Context, rec Record, rev uint64) error {
	rec.UpdatedAt = g.now().UTC()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = g.kv.Create(ctx, g.key, b)
	} else {
		_, err = g.kv.Update(ctx, g.key, b, rev)
	}
	if isRace(err) {
		return errRace
	}
	if err != nil {
		return fmt.Errorf("storeguard: write record %s: %w", g.key, err)
	}
	return nil
}

var errRace = errors.New("storeguard: record changed since read")

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

// compare returns why m shows a lost state against rec, "" when it does not.
func compare(rec Record, m dedup.Marker) string {
	switch {
	case m.Epoch == "":
		return fmt.Sprintf("dedup store state lost: the store has no epoch marker (expected %s): it came back empty (restarted without its data, flushed, or a new server)", rec.Epoch)
	case m.Epoch != rec.Epoch:
		return fmt.Sprintf("dedup store state lost: the store's epoch marker is %s, expected %s: another store, or a copy taken before the last accept", m.Epoch, rec.Epoch)
	case m.Completions < rec.HighWater:
		return fmt.Sprintf("dedup store state lost: the store's completion counter is %d, below the high-water mark %d: it was restored from an older snapshot (at least %d completions lost)",
			m.Completions, rec.HighWater, rec.HighWater-m.Completions)
	}
	return ""
}

// Check runs one check (see the package documentation), writing the
// record as it decides, and fences the store's Begin on the record's epoch
// and high-water mark (dedup.Marked.Fence): from then on a Begin on a
// store that lost its marker, or came back with a lower counter, is
// refused at once, before the next check. An error
// means no verdict (NATS or the store did not answer); the caller keeps its
// last one.
func (g *Guard) Check(ctx context.Context) (Status, error) {
	st, err := g.check(ctx)
	if err == nil {
		g.store.Fence(dedup.Marker{Epoch: st.Record.Epoch, Completions: st.Record.HighWater})
	}
	return st, err
}

func (g *Guard) check(ctx context.Context) (Status, error) {
	for range maxAttempts {
		if err := ctx.Err(); err != nil {
			return Status{}, err
		}
		rec, rev, err := g.read(ctx)
		if err != nil {
			return Status{}, err
		}
		m, err := g.store.Marker(ctx)
		if err != nil {
			return Status{}, fmt.Errorf("storeguard: store marker: %w", err)
		}
		if rev == 0 {
			if m.Epoch == "" {
				if m, err = g.store.InitMarker(ctx, NewEpoch()); err != nil {
					return Status{}, fmt.Errorf("storeguard: init store marker: %w", err)
				}
			}
			rec = Record{Epoch: m.Epoch, HighWater: m.Completions}
			if err := g.write(ctx, rec, 0); errors.Is(err, errRace) {
				continue
			} else if err != nil {
				return Status{}, err
			}
			return Status{State: OK, Store: m, Record: rec, Created: true}, nil
		}
		if rec.Lost != "" {
			return Status{State: Lost, Reason: rec.Lost, Store: m, Record: rec}, nil
		}
		if reason := compare(rec, m); reason != "" {
			rec.Lost, rec.LostAt = reason, g.now().UTC()
			if err := g.write(ctx, rec, rev); errors.Is(err, errRace) {
				continue
			} else if err != nil {
				return Status{}, err
			}
			return Status{State: Lost, Reason: reason, Store: m, Record: rec}, nil
		}
		if m.Completions > rec.HighWater {
			rec.HighWater = m.Completions
			if err := g.write(ctx, rec, rev); errors.Is(err, errRace) {
				continue
			} else if err != nil {
				return Status{}, err
			}
		}
		return Status{State: OK, Store: m, Record: rec}, nil
	}
	return Status{}, errors.New("storeguard: check: the record kept changing under it; gave up")
}

// Inspect reports the state as Check would find it, writing nothing: for
// an operator's status. With no record, the state is Unknown.
func (g *Guard) Inspect(ctx context.Context) (Status, error) {
	rec, rev, err := g.read(ctx)
	if err != nil {
		return Status{}, err
	}
	m, err := g.store.Marker(ctx)
	if err != nil {
		return Status{}, fmt.Errorf("storeguard: store marker: %w", err)
	}
	st := Status{Store: m, Record: rec}
	switch {
	case rev == 0:
		st.State, st.Reason = Unknown, "no guard record yet: the first worker check creates it"
	case rec.Lost != "":
		st.State, st.Reason = Lost, rec.Lost
	default:
		if st.Reason = compare(rec, m); st.Reason != "" {
			st.State = Lost
		} else {
			st.State = OK
		}
	}
	return st, nil
}

// Accept adopts the store's present state as the new baseline: a new
// epoch written to the store, then the record replaced (epoch, high-water
// mark = the store's counter, no lost verdict). Workers resume at their
// next check. Use it only after deciding what the lost state means (see
// deploy/PRODUCTION.md).
func (g *Guard) Accept(ctx context.Context) (Status, error) {
	m, err := g.store.ResetMarker(ctx, NewEpoch())
	if err != nil {
		return Status{}, fmt.Errorf("storeguard: reset store marker: %w", err)
	}
	now := g.now().UTC()
	rec := Record{Epoch: m.Epoch, HighWater: m.Completions, AcceptedAt: now, UpdatedAt: now}
	b, err := json.Marshal(rec)
	if err != nil {
		return Status{}, err
	}
	if _, err := g.kv.Put(ctx, g.key, b); err != nil {
		return Status{}, fmt.Errorf("storeguard: write record %s: %w", g.key, err)
	}
	return Status{State: OK, Store: m, Record: rec}, nil
}
