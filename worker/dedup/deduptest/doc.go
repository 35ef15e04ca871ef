// Package deduptest is the conformance suite every dedup.Store passes.
//
// A store's test calls Run with a constructor that gives each subtest a
// fresh, isolated namespace on a real backend (a unique key prefix, unique
// buckets) and cleans it up:
//
//	func TestStore(t *testing.T) {
//		client := testenv.Redis(t)
//		deduptest.Run(t, func(t *testing.T) dedup.Store {
//			return redisdedup.New(client, redisdedup.Config{Prefix: "test:" + testenv.Unique()})
//		})
//	}
//
// The suite pins the behaviour the worker relies on, identical for every
// store: Begin's five outcomes and their precedence (done record, then live
// claim, then lease, then claim), that LeaseBusy and InProgress take
// nothing, TTL expiry of claims and leases, Renew and ErrLeaseLost, order
// keys (key, stream sequence) raised to the lexicographic maximum and
// returned per requested field with full int64/uint64 precision (ties
// broken by the sequence, beyond 2^53), read whole (OrderKeys) and reset
// per field or per resource (ResetOrderKeys), the Origin a reopenable
// record keeps for the replay that reopens it, Complete's ownership rule and idempotence, Release
// touching only what the caller owns, single winners under 32-way races,
// delivery trace records (last put wins, distinct per id, independent of
// the command records), replays (a Reopenable done record claimed again
// by a Begin with Replay and the same hash, and only then; a busy lease
// leaving it as it was; one winner among racing replays), the store's own
// state (dedup.Marked: an epoch marker set only when absent, or reset; one
// epoch among racing initialisations; a completion counter raised by every
// done record; a fenced Begin refused with ErrStoreLost, taking nothing,
// while the marker is missing or another or the counter below the fence's),
// and refusal of
// cancelled contexts and malformed requests. Waits for a TTL
// to pass are bounded polling, never fixed sleeps.
package deduptest
