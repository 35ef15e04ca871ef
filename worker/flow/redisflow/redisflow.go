// Package redisflow is a flow.Store in Redis, shared by a fleet of
// workers: the rate limit is go-redis/redis_rate's GCRA (one script call,
// on Redis's clock), the wait signal, the circuit and its probe claim are
// plain keys that expire by themselves.
//
// Keys, for a connection <c> under the prefix <p>:
//
//	rate:<p>:flow:<c>       the GCRA state (redis_rate's own key)
//	<p>:flow:<c>:wait       the provider's wait signal: Unix ms; expires then
//	<p>:flow:<c>:first      interactive commands wait for permits: Unix ms; expires then
//	<p>:flow:<c>:circuit    open circuit: open-until in Unix ms; kept a day at most
//	<p>:flow:<c>:probe      the half-open circuit's probe claim: its owner
package redisflow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/worker/flow"
)

// circuitTTL bounds how long an open circuit's key outlives its last
// failed probe: a connection removed from the configuration leaves nothing
// behind for longer.
const circuitTTL = 24 * time.Hour

// laterScript records a time (a wait signal, interactive commands
// waiting) unless a later one is recorded: the key expires at that time.
var laterScript = redis.NewScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PXAT', ARGV[1])
end
return 1`)

// Store is a flow.Store on a Redis client.
type Store struct {
	rdb     redis.UniversalClient
	limiter *redis_rate.Limiter
	prefix  string
}

// New returns a Store whose keys start with prefix (default "oauthsync",
// the dedup store's).
func New(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, limiter: redis_rate.NewLimiter(rdb), prefix: cmp.Or(prefix, "oauthsync")}
}

func (s *Store) key(conn, what string) string {
	if what == "" {
		return s.prefix + ":flow:" + conn
	}
	return s.prefix + ":flow:" + conn + ":" + what
}

// redisLimit is lim in redis_rate's terms: one request per interval, so
// that a fractional rate is exact.
func redisLimit(lim flow.Limit) redis_rate.Limit {
	return redis_rate.Limit{Rate: 1, Period: time.Duration(float64(time.Second) / lim.PerSecond), Burst: max(lim.Burst, 1)}
}

// Take implements flow.Store: least permits at once (AllowN, all or
// nothing), then as many more as there are, up to most (AllowAtMost).
func (s *Store) Take(ctx context.Context, key string, lim flow.Limit, least, most int) (int, time.Duration, error) {
	if least < 1 || most < least || least > max(lim.Burst, 1) || lim.PerSecond <= 0 {
		return 0, 0, flow.ErrBadTake
	}
	rl := redisLimit(lim)
	k := s.key(key, "")
	res, err := s.limiter.AllowN(ctx, k, rl, least)
	if err != nil {
		return 0, 0, fmt.Errorf("rate limit of %s: %w", key, err)
	}
	if res.Allowed == 0 {
		return 0, max(res.RetryAfter, time.Millisecond), nil
	}
	took := least
	if most > least && res.Remaining > 0 {
		more, err := s.limiter.AllowAtMost(ctx, k, rl, most-least)
		if err != nil {
			return took, 0, nil // the first ones are taken; the rest next time
		}
		took += more.Allowed
	}
	return took, 0, nil
}

// WaitUntil implements flow.Store.
func (s *Store) WaitUntil(ctx context.Context, key string, until time.Time) error {
	if err := laterScript.Run(ctx, s.rdb, []string{s.key(key, "wait")}, until.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("wait signal of %s: %w", key, err)
	}
	return nil
}

// WantFirst implements flow.Store.
func (s *Store) WantFirst(ctx context.Context, key string, until time.Time) error {
	if err := laterScript.Run(ctx, s.rdb, []string{s.key(key, "first")}, until.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("interactive wait of %s: %w", key, err)
	}
	return nil
}

// OpenCircuit implements flow.Store.
func (s *Store) OpenCircuit(ctx context.Context, key string, until time.Time) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.key(key, "circuit"), until.UnixMilli(), time.Until(until)+circuitTTL)
		p.Del(ctx, s.key(key, "probe"))
		return nil
	})
	if err != nil {
		return fmt.Errorf("opening the circuit of %s: %w", key, err)
	}
	return nil
}

// CloseCircuit implements flow.Store.
func (s *Store) CloseCircuit(ctx context.Context, key string) error {
	if err := s.rdb.Del(ctx, s.key(key, "circuit"), s.key(key, "probe")).Err(); err != nil {
		return fmt.Errorf("closing the circuit of %s: %w", key, err)
	}
	return nil
}

// ClaimProbe implements flow.Store.
func (s *Store) ClaimProbe(ctx context.Context, key, owner string, ttl time.Duration) (bool, error) {
	k := s.key(key, "probe")
	ok, err := s.rdb.SetNX(ctx, k, owner, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("probe claim of %s: %w", key, err)
	}
	if ok {
		return true, nil
	}
	cur, err := s.rdb.Get(ctx, k).Result()
	if errors.Is(err, redis.Nil) {
		return s.ClaimProbe(ctx, key, owner, ttl) // it just expired
	}
	if err != nil {
		return false, fmt.Errorf("probe claim of %s: %w", key, err)
	}
	if cur == owner {
		return true, s.rdb.PExpire(ctx, k, ttl).Err()
	}
	return false, nil
}

// State implements flow.Store: one round trip.
func (s *Store) State(ctx context.Context, key string) (flow.State, error) {
	vals, err := s.rdb.MGet(ctx, s.key(key, "wait"), s.key(key, "circuit"), s.key(key, "first")).Result()
	if err != nil {
		return flow.State{}, fmt.Errorf("flow state of %s: %w", key, err)
	}
	var st flow.State
	now := time.Now().UnixMilli()
	if ms, ok := millis(vals[0]); ok && ms > now {
		st.WaitUntil = time.UnixMilli(ms)
	}
	if ms, ok := millis(vals[2]); ok && ms > now {
		st.FirstUntil = time.UnixMilli(ms)
	}
	if ms, ok := millis(vals[1]); ok {
		st.CircuitOpen, st.OpenUntil = true, time.UnixMilli(ms)
	}
	return st, nil
}

func millis(v any) (int64, bool) {
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
