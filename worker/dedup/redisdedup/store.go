package redisdedup

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/internal/reqcheck"
)

//go:embed *.lua
var scripts embed.FS

func mustScript(name string) *redis.Script {
	src, err := scripts.ReadFile(name)
	if err != nil {
		panic("redisdedup: missing embedded script " + name)
	}
	return redis.NewScript(string(src))
}

// mustScripts returns one script made of the named sources, in order.
func mustScripts(names ...string) *redis.Script {
	var src []byte
	for _, name := range names {
		b, err := scripts.ReadFile(name)
		if err != nil {
			panic("redisdedup: missing embedded script " + name)
		}
		src = append(append(src, b...), '\n')
	}
	return redis.NewScript(string(src))
}

var (
	// beginScript is fence.lua then begin.lua (after decimal.lua's
	// helper): the epoch fence and the claim in one atomic step.
	beginScript    = mustScripts("decimal.lua", "holds.lua", "fence.lua", "begin.lua")
	renewScript    = mustScripts("holds.lua", "renew.lua")
	sightScript    = mustScripts("decimal.lua", "holds.lua", "sight.lua")
	completeScript = mustScripts("holds.lua", "complete.lua")
	releaseScript  = mustScripts("holds.lua", "release.lua")
	wroteScript    = mustScript("may_have_written.lua")
)

// DefaultPrefix is the key prefix used when Config.Prefix is empty.
const DefaultPrefix = "oauthsync"

// Config configures a Store.
type Config struct {
	// Prefix starts every key the store writes: <Prefix>:cmd:<id>,
	// <Prefix>:seen:<id>, <Prefix>:holds:<leaseKey>, <Prefix>:order:<leaseKey>,
	// <Prefix>:trace:<id>, <Prefix>:store:epoch and
	// <Prefix>:store:completions. Default
	// DefaultPrefix ("oauthsync").
	Prefix string
}

// Store is a dedup.Store on Redis. Every method is one round trip: a Lua
// script run for Begin, Renew, Complete and Release (EVALSHA, with an EVAL
// fallback when the server's script cache was flushed), a plain SET or GET
// for the delivery trace records. It is safe for concurrent use and does
// not own the client.
type Store struct {
	client redis.UniversalClient
	// scripts runs Begin's, Renew's, Complete's and Release's scripts,
	// batched across concurrent calls (see batcher).
	scripts *batcher
	prefix  string
	// fenced is what Begin requires of the store's marker (Fence); nil none.
	fenced atomic.Pointer[dedup.Marker]
}

var _ dedup.Store = (*Store)(nil)

// New returns a Store writing through client. The client is not closed by
// the Store.
func New(client redis.UniversalClient, cfg Config) *Store {
	return &Store{client: client, scripts: &batcher{client: client}, prefix: cmp.Or(cfg.Prefix, DefaultPrefix)}
}

// Ping checks that Redis answers, for readiness probes.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisdedup: ping: %w", err)
	}
	return nil
}

// sightingKey is the key of a command's sighting (see begin.lua).
func (s *Store) sightingKey(id string) string { return s.prefix + ":seen:" + id }

// keys returns the KEYS of a script run: the command record and, when a
// lease key is given, the resource's lease and holds and (withOrder) its
// order keys.
func (s *Store) keys(id, leaseKey string, withOrder bool) []string {
	cmd := s.prefix + ":cmd:" + id
	switch {
	case leaseKey == "":
		return []string{cmd}
	case !withOrder:
		return []string{cmd, s.holdsKey(leaseKey)}
	}
	return []string{cmd, s.holdsKey(leaseKey), s.prefix + ":order:" + leaseKey}
}

// holdsKey is the key of a resource's lease and holds (see holds.lua): a
// hash, not the string of earlier versions' lease (p:lease:) or single hold
// (p:hold:), so that the types never meet under one key.
func (s *Store) holdsKey(leaseKey string) string { return s.prefix + ":holds:" + leaseKey }

// Begin implements dedup.Store.
func (s *Store) Begin(ctx context.Context, req dedup.BeginRequest) (dedup.BeginResult, error) {
	if err := reqcheck.Begin(req); err != nil {
		return dedup.BeginResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return dedup.BeginResult{}, err
	}
	args := make([]any, 0, 4+len(req.Fields))
	args = append(args, req.PayloadHash, req.Owner, reqcheck.Millis(req.TTL), flag(req.Replay))
	if req.LeaseKey != "" {
		for _, f := range req.Fields {
			args = append(args, f)
		}
	}
	originSeq, originTime := formatOrigin(req.Origin)
	fence := s.fence()
	args = append(args, originSeq, originTime, reqcheck.Millis(req.SightingTTL), req.CommandID, reqcheck.Millis(req.TTL+req.Hold), req.JoinOwner,
		fence.Epoch, strconv.FormatInt(fence.Completions, 10))
	keys := append(s.keys(req.CommandID, req.LeaseKey, true), s.sightingKey(req.CommandID), s.epochKey(), s.completionsKey())
	reply, err := s.scripts.run(ctx, beginScript, keys, args...).Slice()
	if err != nil {
		return dedup.BeginResult{}, fmt.Errorf("redisdedup: begin: %w", err)
	}
	return parseBegin(reply)
}

// Sight implements dedup.Store: one script for the whole batch.
func (s *Store) Sight(ctx context.Context, sightings []dedup.Sighting) error {
	if err := reqcheck.Sightings(sightings); err != nil {
		return err
	}
	if len(sightings) == 0 {
		return nil
	}
	keys := make([]string, 0, 3*len(sightings))
	args := make([]any, 0, 6*len(sightings))
	for _, st := range sightings {
		seq, unixNano := formatOrigin(st.Origin)
		hold, keep := s.sightingKey(st.CommandID), int64(0)
		if st.LeaseKey != "" && st.Hold > 0 {
			hold, keep = s.holdsKey(st.LeaseKey), max(reqcheck.Millis(st.Hold), 1)
		}
		keys = append(keys, s.prefix+":cmd:"+st.CommandID, s.sightingKey(st.CommandID), hold)
		args = append(args, st.PayloadHash, seq, unixNano, reqcheck.Millis(st.TTL), st.CommandID, keep)
	}
	if err := s.scripts.run(ctx, sightScript, keys, args...).Err(); err != nil {
		return fmt.Errorf("redisdedup: sight: %w", err)
	}
	return nil
}

// flag is a boolean script argument: "1" or "0".
func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func parseBegin(reply []any) (dedup.BeginResult, error) {
	if len(reply) == 3 && reply[0] == "store_lost" { // fence.lua's three-element reply
		reply = append(reply, nil)
	}
	if len(reply) < 2 || len(reply)%2 != 0 {
		return dedup.BeginResult{}, fmt.Errorf("redisdedup: begin: malformed reply of %d elements", len(reply))
	}
	state, _ := reply[0].(string)
	var res dedup.BeginResult
	switch state {
	case "claimed":
		if len(reply) < 6 {
			return dedup.BeginResult{}, fmt.Errorf("redisdedup: begin: malformed reply of %d elements", len(reply))
		}
		res.State = dedup.Claimed
		res.Resumed = reply[4] == "1"
		res.OrderKeys = make(map[string]dedup.OrderKey, (len(reply)-6)/2)
		for i := 6; i < len(reply); i += 2 {
			f, _ := reply[i].(string)
			v, _ := reply[i+1].(string)
			k, err := parseOrderKey(v)
			if err != nil {
				return dedup.BeginResult{}, fmt.Errorf("redisdedup: begin: order key of %q: %w", f, err)
			}
			res.OrderKeys[f] = k
		}
		// A reopened done record: the result it held. The origin is that
		// record's, or the sighting's.
		if r, ok := reply[1].(string); ok {
			res.Result = []byte(r)
		}
		o, err := parseOrigin(reply[2], reply[3])
		if err != nil {
			return dedup.BeginResult{}, fmt.Errorf("redisdedup: begin: %w", err)
		}
		res.Origin = o
		return res, nil
	case "done":
		res.State = dedup.Done
	case "conflict":
		res.State = dedup.Conflict
	case "in_progress":
		return dedup.BeginResult{State: dedup.InProgress}, nil
	case "lease_busy":
		res := dedup.BeginResult{State: dedup.LeaseBusy}
		if ms, ok := reply[1].(string); ok {
			n, err := strconv.ParseInt(ms, 10, 64)
			if err != nil {
				return dedup.BeginResult{}, fmt.Errorf("redisdedup: begin: malformed hold time %q", ms)
			}
			res.HeldFor = time.Duration(max(n, 1)) * time.Millisecond
		}
		return res, nil
	case "store_lost":
		marker, _ := reply[1].(string)
		counter := "none"
		if len(reply) > 2 {
			if c, ok := reply[2].(string); ok {
				counter = c
			}
		}
		return dedup.BeginResult{}, fmt.Errorf("redisdedup: begin: %w: marker %q, completions %s", dedup.ErrStoreLost, marker, counter)
	default:
		return dedup.BeginResult{}, fmt.Errorf("redisdedup: begin: unknown state %q", state)
	}
	// Done, or Conflict with a finished other payload: the stored result
	// (never nil, possibly empty). A Conflict with a live claim has none.
	if r, ok := reply[1].(string); ok {
		res.Result = []byte(r)
	}
	return res, nil
}

// formatOrderKey is an order key as stored: "key/seq" in canonical decimals.
func formatOrderKey(k dedup.OrderKey) string {
	return strconv.FormatInt(k.Key, 10) + "/" + strconv.FormatUint(k.Seq, 10)
}

// parseOrderKey reads a stored order key: "key/seq", or a bare "key"
// written before order keys had a stream sequence (sequence 0).
func parseOrderKey(v string) (dedup.OrderKey, error) {
	key, seq, pair := strings.Cut(v, "/")
	var k dedup.OrderKey
	var err error
	if k.Key, err = strconv.ParseInt(key, 10, 64); err != nil {
		return k, fmt.Errorf("malformed order key %q", v)
	}
	if pair {
		if k.Seq, err = strconv.ParseUint(seq, 10, 64); err != nil {
			return k, fmt.Errorf("malformed order key %q", v)
		}
	}
	return k, nil
}

// formatOrigin is an origin as the scripts keep it: the stream sequence
// and the time in Unix nanoseconds, canonical decimals; "", "" for zero.
func formatOrigin(o dedup.Origin) (seq, unixNano string) {
	if o.IsZero() {
		return "", ""
	}
	return strconv.FormatUint(o.Seq, 10), strconv.FormatInt(o.Time.UnixNano(), 10)
}

// parseOrigin reads an origin (q, t) a record kept; zero when it kept
// none.
func parseOrigin(q, t any) (dedup.Origin, error) {
	qs, _ := q.(string)
	ts, _ := t.(string)
	if qs == "" {
		return dedup.Origin{}, nil
	}
	seq, err := strconv.ParseUint(qs, 10, 64)
	if err != nil {
		return dedup.Origin{}, fmt.Errorf("malformed origin sequence %q", qs)
	}
	ns, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return dedup.Origin{}, fmt.Errorf("malformed origin time %q", ts)
	}
	return dedup.Origin{Seq: seq, Time: time.Unix(0, ns)}, nil
}

// OrderKeys implements dedup.Store: HGETALL <prefix>:order:<leaseKey>.
func (s *Store) OrderKeys(ctx context.Context, leaseKey string) (map[string]dedup.OrderKey, error) {
	if err := reqcheck.LeaseKey("order keys", leaseKey); err != nil {
		return nil, err
	}
	all, err := s.client.HGetAll(ctx, s.prefix+":order:"+leaseKey).Result()
	if err != nil {
		return nil, fmt.Errorf("redisdedup: order keys: %w", err)
	}
	keys := make(map[string]dedup.OrderKey, len(all))
	for f, v := range all {
		k, err := parseOrderKey(v)
		if err != nil {
			return nil, fmt.Errorf("redisdedup: order key of %q: %w", f, err)
		}
		keys[f] = k
	}
	return keys, nil
}

// ResetOrderKeys implements dedup.Store: HDEL of the fields, or DEL of the
// resource's order-key hash when fields is empty.
func (s *Store) ResetOrderKeys(ctx context.Context, leaseKey string, fields []string) error {
	if err := reqcheck.LeaseKey("reset order keys", leaseKey); err != nil {
		return err
	}
	key := s.prefix + ":order:" + leaseKey
	var err error
	if len(fields) == 0 {
		err = s.client.Del(ctx, key).Err()
	} else {
		err = s.client.HDel(ctx, key, fields...).Err()
	}
	if err != nil {
		return fmt.Errorf("redisdedup: reset order keys: %w", err)
	}
	return nil
}

// PutDeliveryTrace implements dedup.Store: SET <prefix>:trace:<id> PX TTL.
func (s *Store) PutDeliveryTrace(ctx context.Context, req dedup.DeliveryTraceRequest) error {
	if err := reqcheck.DeliveryTrace(req); err != nil {
		return err
	}
	if err := s.client.Set(ctx, s.prefix+":trace:"+req.CommandID, req.Traceparent, req.TTL).Err(); err != nil {
		return fmt.Errorf("redisdedup: put delivery trace: %w", err)
	}
	return nil
}

// DeliveryTrace implements dedup.Store: GET <prefix>:trace:<id>.
func (s *Store) DeliveryTrace(ctx context.Context, commandID string) (string, error) {
	if err := reqcheck.DeliveryTraceID(commandID); err != nil {
		return "", err
	}
	v, err := s.client.Get(ctx, s.prefix+":trace:"+commandID).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redisdedup: delivery trace: %w", err)
	}
	return v, nil
}

// Renew implements dedup.Store.
func (s *Store) Renew(ctx context.Context, req dedup.RenewRequest) error {
	if err := reqcheck.Renew(req); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n, err := s.scripts.run(ctx, renewScript, s.keys(req.CommandID, req.LeaseKey, false), req.Owner, reqcheck.Millis(req.TTL),
		reqcheck.Millis(req.TTL+req.Hold), req.CommandID, req.JoinOwner).Int()
	if err != nil {
		return fmt.Errorf("redisdedup: renew: %w", err)
	}
	if n != 1 {
		return dedup.ErrLeaseLost
	}
	return nil
}

// MayHaveWritten implements dedup.Store: a flag on the command's
// sighting, which Begin made and keeps until the command is done.
func (s *Store) MayHaveWritten(ctx context.Context, commandID, owner string, ttl time.Duration) error {
	if commandID == "" || owner == "" || ttl <= 0 {
		return errors.New("redisdedup: MayHaveWritten needs a command id, an owner and a TTL")
	}
	n, err := s.scripts.run(ctx, wroteScript, []string{s.prefix + ":cmd:" + commandID, s.sightingKey(commandID)}, owner, reqcheck.Millis(ttl)).Int()
	if err != nil {
		return fmt.Errorf("redisdedup: may have written: %w", err)
	}
	if n != 1 {
		return dedup.ErrLeaseLost
	}
	return nil
}

// Complete implements dedup.Store. Order keys are ignored when LeaseKey is
// empty (they belong to a resource).
func (s *Store) Complete(ctx context.Context, req dedup.CompleteRequest) error {
	if err := reqcheck.Complete(req); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	args := make([]any, 0, 7+2*len(req.OrderKeys))
	args = append(args, req.PayloadHash, req.Owner, req.Result, reqcheck.Millis(req.ResultTTL), flag(req.Reopenable))
	if req.Reopenable {
		seq, unixNano := formatOrigin(req.Origin)
		args = append(args, seq, unixNano)
	} else {
		args = append(args, "", "")
	}
	if req.LeaseKey != "" {
		for f, v := range req.OrderKeys {
			args = append(args, f, formatOrderKey(v))
		}
	}
	args = append(args, req.CommandID)
	keys := append(s.keys(req.CommandID, req.LeaseKey, true), s.sightingKey(req.CommandID), s.completionsKey())
	n, err := s.scripts.run(ctx, completeScript, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("redisdedup: complete: %w", err)
	}
	if n != 1 {
		return dedup.ErrLeaseLost
	}
	return nil
}

// Release implements dedup.Store.
func (s *Store) Release(ctx context.Context, req dedup.ReleaseRequest) error {
	if err := reqcheck.Release(req); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	hold := max(reqcheck.Millis(req.Hold), 1)
	if err := s.scripts.run(ctx, releaseScript, s.keys(req.CommandID, req.LeaseKey, false), req.Owner, req.CommandID,
		flag(req.KeepHold), hold).Err(); err != nil {
		return fmt.Errorf("redisdedup: release: %w", err)
	}
	return nil
}
