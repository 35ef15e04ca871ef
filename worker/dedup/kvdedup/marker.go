package kvdedup

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

var _ dedup.Marked = (*Store)(nil)

// epochKey is the epoch marker's key in the state bucket (no MaxAge). No
// lease or order key starts with "store.".
const epochKey = "store.epoch"

// Fence implements dedup.Marked. The fence is a read of the marker (two
// round trips, Marker) before Begin's first read: JetStream KV has no
// multi-key transaction, so it is checked just before the claim, not with
// it.
func (s *Store) Fence(m dedup.Marker) { s.fenced.Store(&m) }

// fence returns an error wrapping dedup.ErrStoreLost when a fence is set
// and the marker does not pass it.
func (s *Store) fence(ctx context.Context) error {
	want := s.fenced.Load()
	if want == nil || want.Epoch == "" {
		return nil
	}
	got, err := s.Marker(ctx)
	if err != nil {
		return err
	}
	if got.Epoch != want.Epoch || got.Completions < want.Completions {
		return fmt.Errorf("kvdedup: begin: %w: marker %q, completions %d", dedup.ErrStoreLost, got.Epoch, got.Completions)
	}
	return nil
}

func (s *Store) epoch(ctx context.Context) (string, error) {
	e, err := s.state.Get(ctx, epochKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("kvdedup: epoch marker: %w", err)
	}
	return string(e.Value()), nil
}

// Marker implements dedup.Marked. Completions is the last sequence of the
// command bucket's stream: every write of a command record raises it (a
// done record in the same step as it is written), it never falls while the
// stream keeps its state, and a stream recreated or restored from an older
// copy answers a lower one.
func (s *Store) Marker(ctx context.Context) (dedup.Marker, error) {
	st, err := s.cmd.Status(ctx)
	if err != nil {
		return dedup.Marker{}, fmt.Errorf("kvdedup: marker: %w", err)
	}
	epoch, err := s.epoch(ctx)
	if err != nil {
		return dedup.Marker{}, err
	}
	m := dedup.Marker{Epoch: epoch}
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok && bs.StreamInfo() != nil {
		m.Completions = int64(bs.StreamInfo().State.LastSeq)
	}
	return m, nil
}

// InitMarker implements dedup.Marked: Create of the marker key (only one
// creator wins), then Marker.
func (s *Store) InitMarker(ctx context.Context, epoch string) (dedup.Marker, error) {
	if epoch == "" {
		return dedup.Marker{}, errors.New("kvdedup: empty epoch")
	}
	if _, err := s.state.Create(ctx, epochKey, []byte(epoch)); err != nil && !isRace(err) {
		return dedup.Marker{}, fmt.Errorf("kvdedup: init marker: %w", err)
	}
	return s.Marker(ctx)
}

// ResetMarker implements dedup.Marked: Put of the marker key, then Marker.
func (s *Store) ResetMarker(ctx context.Context, epoch string) (dedup.Marker, error) {
	if epoch == "" {
		return dedup.Marker{}, errors.New("kvdedup: empty epoch")
	}
	if _, err := s.state.Put(ctx, epochKey, []byte(epoch)); err != nil {
		return dedup.Marker{}, fmt.Errorf("kvdedup: reset marker: %w", err)
	}
	return s.Marker(ctx)
}
