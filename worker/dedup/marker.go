package dedup

import (
	"context"
	"errors"
)

// ErrStoreLost is returned (wrapped) by Begin of a fenced Marked store
// (Fence) when the store's epoch marker is missing or another one, or its
// completion counter is below the fence's: the store lost its state (it
// came back empty, from an older snapshot, or is another store) since the
// fence was set.
// Nothing was read or written. It is not a transient failure: only a check
// of the store guard (worker/storeguard), and an operator's decision, end it.
var ErrStoreLost = errors.New("dedup: store state lost (epoch marker missing or changed)")

// Marker is what a store says about its own state: the epoch marker that
// identifies this incarnation of its data, and a counter of the done
// records it has written.
type Marker struct {
	// Epoch is the store's epoch marker, "" when the store has none (a
	// fresh store, or one that lost its data).
	Epoch string
	// Completions counts the done records the store has written (each
	// Complete that wrote one, in the same atomic step): it only rises
	// while the store keeps its data. A store restored from an older
	// snapshot answers a lower count.
	Completions int64
}

// Marked is a Store that can tell whether it kept its state (contract
// §5.7): an epoch marker, kept without expiry beside the store's records,
// and a completion counter. Both stores implement it and deduptest.Run
// checks it.
type Marked interface {
	Store

	// Marker returns the current epoch marker and completion counter.
	Marker(ctx context.Context) (Marker, error)

	// InitMarker sets the epoch marker to epoch if the store has none, and
	// returns the marker as it then stands (another caller's epoch if one
	// was set first).
	InitMarker(ctx context.Context, epoch string) (Marker, error)

	// ResetMarker sets the epoch marker to epoch, whatever it was, and
	// returns the marker as it then stands. An operator's decision to
	// accept the store's present state (syncctl store accept).
	ResetMarker(ctx context.Context, epoch string) (Marker, error)

	// Fence fences Begin: while m.Epoch is not "", a Begin on a store
	// whose epoch marker is not m.Epoch (missing or another), or whose
	// completion counter is below m.Completions, returns an error wrapping
	// ErrStoreLost, checked in the same atomic step as the claim where the
	// backend allows, before anything is read or written. A zero Marker
	// (the default) turns the fence off. It changes this Store value only,
	// not the shared store.
	Fence(m Marker)
}
