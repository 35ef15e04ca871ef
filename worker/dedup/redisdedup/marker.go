package redisdedup

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

var _ dedup.Marked = (*Store)(nil)

func (s *Store) epochKey() string       { return s.prefix + ":store:epoch" }
func (s *Store) completionsKey() string { return s.prefix + ":store:completions" }

func (s *Store) fence() dedup.Marker {
	if m := s.fenced.Load(); m != nil {
		return *m
	}
	return dedup.Marker{}
}

// Fence implements dedup.Marked: the fence is fence.lua, run in Begin's
// script before anything else.
func (s *Store) Fence(m dedup.Marker) { s.fenced.Store(&m) }

// Marker implements dedup.Marked: one MGET of <prefix>:store:epoch and
// <prefix>:store:completions.
func (s *Store) Marker(ctx context.Context) (dedup.Marker, error) {
	vals, err := s.client.MGet(ctx, s.epochKey(), s.completionsKey()).Result()
	if err != nil {
		return dedup.Marker{}, fmt.Errorf("redisdedup: marker: %w", err)
	}
	return parseMarker(vals)
}

// InitMarker implements dedup.Marked: SET NX and MGET in one MULTI.
func (s *Store) InitMarker(ctx context.Context, epoch string) (dedup.Marker, error) {
	return s.setMarker(ctx, epoch, true)
}

// ResetMarker implements dedup.Marked: SET and MGET in one MULTI.
func (s *Store) ResetMarker(ctx context.Context, epoch string) (dedup.Marker, error) {
	return s.setMarker(ctx, epoch, false)
}

func (s *Store) setMarker(ctx context.Context, epoch string, onlyIfAbsent bool) (dedup.Marker, error) {
	if epoch == "" {
		return dedup.Marker{}, errors.New("redisdedup: empty epoch")
	}
	var get *redis.SliceCmd
	_, err := s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if onlyIfAbsent {
			p.SetNX(ctx, s.epochKey(), epoch, 0)
		} else {
			p.Set(ctx, s.epochKey(), epoch, 0)
		}
		get = p.MGet(ctx, s.epochKey(), s.completionsKey())
		return nil
	})
	if err != nil {
		return dedup.Marker{}, fmt.Errorf("redisdedup: set marker: %w", err)
	}
	return parseMarker(get.Val())
}

func parseMarker(vals []any) (dedup.Marker, error) {
	var m dedup.Marker
	if len(vals) != 2 {
		return m, fmt.Errorf("redisdedup: marker: %d values", len(vals))
	}
	m.Epoch, _ = vals[0].(string)
	if c, ok := vals[1].(string); ok {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			return m, fmt.Errorf("redisdedup: marker: completions %q: %w", c, err)
		}
		m.Completions = n
	}
	return m, nil
}
