package deduptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

// Durations of the suite.
const (
	// longTTL outlives every test: a claim or lease with it never expires
	// during the suite.
	longTTL = time.Minute
	// shortTTL is the TTL of claims and leases that a test lets expire.
	shortTTL = 200 * time.Millisecond
	// renewTTL is the TTL of a claim that a test renews before it expires:
	// longer than shortTTL, so a slow machine still renews in time.
	renewTTL = time.Second
	// expiryDeadline bounds the polling for a short TTL to pass.
	expiryDeadline = 10 * time.Second
	// pollEvery is the polling interval while waiting for an expiry.
	pollEvery = 10 * time.Millisecond
	// resultTTL is the ResultTTL of every Complete.
	resultTTL = time.Hour
	// concurrency is the number of goroutines racing in the concurrency tests.
	concurrency = 32
)

// Run runs the conformance suite against the stores newStore returns. Each
// subtest calls newStore once and gets a store of its own: an empty
// namespace no other subtest sees (its own key prefix, its own buckets).
// Subtests run in parallel, so newStore must be safe for concurrent use;
// it registers its own cleanup with t.Cleanup. The suite uses real time
// (TTLs of 200ms that it waits out by bounded polling), no fake clock.
func Run(t *testing.T, newStore func(t *testing.T) dedup.Store) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			tc.fn(t, &harness{t: t, ctx: ctx, s: newStore(t)})
		})
	}
}

var cases = []struct {
	name string
	fn   func(t *testing.T, h *harness)
}{
	{"FirstBeginClaims", testFirstBeginClaims},
	{"DoneReturnsResult", testDoneReturnsResult},
	{"DoneWithOtherHashConflicts", testDoneWithOtherHashConflicts},
	{"ClaimedWithOtherHashConflicts", testClaimedWithOtherHashConflicts},
	{"ClaimedByOtherOwnerInProgress", testClaimedByOtherOwnerInProgress},
	{"SameOwnerReBeginClaims", testSameOwnerReBeginClaims},
	{"LeaseBusy", testLeaseBusy},
	{"EmptyLeaseKeyNeverBusy", testEmptyLeaseKeyNeverBusy},
	{"ExpiredClaimIsFree", testExpiredClaimIsFree},
	{"ExpiredLeaseIsFree", testExpiredLeaseIsFree},
	{"RenewKeepsClaimAlive", testRenewKeepsClaimAlive},
	{"RenewAfterLoss", testRenewAfterLoss},
	{"RenewAfterRelease", testRenewAfterRelease},
	{"OrderKeysRaised", testOrderKeysRaised},
	{"OrderKeysNeedLeaseKey", testOrderKeysNeedLeaseKey},
	{"OrderKeyTieBrokenBySequence", testOrderKeyTieBrokenBySequence},
	{"OrderKeysReadAndReset", testOrderKeysReadAndReset},
	{"ReopenGivesOrigin", testReopenGivesOrigin},
	{"CompleteByNonOwner", testCompleteByNonOwner},
	{"CompleteAfterClaimLost", testCompleteAfterClaimLost},
	{"CompleteIdempotent", testCompleteIdempotent},
	{"CompleteWithoutClaim", testCompleteWithoutClaim},
	{"CompleteReleasesLease", testCompleteReleasesLease},
	{"Release", testRelease},
	{"ReleaseByNonOwner", testReleaseByNonOwner},
	{"ReleaseKeepsDone", testReleaseKeepsDone},
	{"ConcurrentBeginSameCommand", testConcurrentBeginSameCommand},
	{"ConcurrentBeginSameLease", testConcurrentBeginSameLease},
	{"CancelledContext", testCancelledContext},
	{"InvalidRequests", testInvalidRequests},
	{"KeyCharset", testKeyCharset},
	{"DeliveryTrace", testDeliveryTrace},
	{"DeliveryTraceIndependentOfRecords", testDeliveryTraceIndependentOfRecords},
	{"ReplayReopensReopenable", testReplayReopensReopenable},
	{"ReopenableWithoutReplayIsDone", testReopenableWithoutReplayIsDone},
	{"ReplayOfFinalOutcomeIsDone", testReplayOfFinalOutcomeIsDone},
	{"ReplayAppliedOnce", testReplayAppliedOnce},
	{"ReplayWithOtherHashConflicts", testReplayWithOtherHashConflicts},
	{"ReplayLeaseBusyKeepsDone", testReplayLeaseBusyKeepsDone},
	{"ReopenedClaimRules", testReopenedClaimRules},
	{"ConcurrentReplay", testConcurrentReplay},
	{"LateCopyTakesTheFirstCopysPlace", testLateCopyTakesTheFirstCopysPlace},
	{"SightingOutlivesAnExpiredClaim", testSightingOutlivesAnExpiredClaim},
	{"LeaseBusyRecordsTheSighting", testLeaseBusyRecordsTheSighting},
	{"SightedIDRefusesAnotherPayload", testSightedIDRefusesAnotherPayload},
	{"DoneForgetsTheSighting", testDoneForgetsTheSighting},
	{"HoldOutlivesALapsedClaim", testHoldOutlivesALapsedClaim},
	{"MayHaveWrittenOutlivesTheHold", testMayHaveWrittenOutlivesTheHold},
	{"ReleaseKeepsTheHoldWhenAsked", testReleaseKeepsTheHoldWhenAsked},
	{"HoldEndsWithReleaseAndExpiry", testHoldEndsWithReleaseAndExpiry},
	{"InvalidHolds", testInvalidHolds},
	{"SightBeforeBegin", testSightBeforeBegin},
	{"SightKeepsTheEarliestCopy", testSightKeepsTheEarliestCopy},
	{"SightLeavesDoneAndConflictsToBegin", testSightLeavesDoneAndConflictsToBegin},
	{"SightKeepsTheCommandsHold", testSightKeepsTheCommandsHold},
	{"JoinTheLease", testJoinTheLease},
	{"JoinedHoldsOutliveLapsedClaims", testJoinedHoldsOutliveLapsedClaims},
	{"ABeginAfterItsHoldLapsedHoldsAgain", testABeginAfterItsHoldLapsedHoldsAgain},
	{"JoinedRenewReleaseAndComplete", testJoinedRenewReleaseAndComplete},
	{"InvalidJoins", testInvalidJoins},
}

// ---- harness ----

type harness struct {
	t        *testing.T
	ctx      context.Context
	s        dedup.Store
	controls int
}

// begin returns a BeginRequest with a long TTL.
func begin(id, hash, owner, leaseKey string, fields ...string) dedup.BeginRequest {
	return dedup.BeginRequest{CommandID: id, PayloadHash: hash, Owner: owner, LeaseKey: leaseKey, Fields: fields, TTL: longTTL, SightingTTL: resultTTL}
}

// copyAt returns req for the copy of its command stored at stream
// sequence seq (and a time derived from it).
func copyAt(req dedup.BeginRequest, seq uint64) dedup.BeginRequest {
	req.Origin = originAt(seq)
	return req
}

func originAt(seq uint64) dedup.Origin {
	return dedup.Origin{Seq: seq, Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Millisecond)}
}

// wantOrigin checks that res carries the origin of the copy at seq.
func wantOrigin(t *testing.T, res dedup.BeginResult, seq uint64) {
	t.Helper()
	want := originAt(seq)
	if res.Origin.Seq != want.Seq || !res.Origin.Time.Equal(want.Time) {
		t.Fatalf("Origin = %+v, want the copy at sequence %d (%v)", res.Origin, seq, want.Time)
	}
}

// complete returns a CompleteRequest raising the order keys keys, each
// with stream sequence 0 (completeKeys gives the sequences too).
func complete(id, hash, owner, leaseKey string, result []byte, keys map[string]int64) dedup.CompleteRequest {
	return completeKeys(id, hash, owner, leaseKey, result, withSeq0(keys))
}

func completeKeys(id, hash, owner, leaseKey string, result []byte, keys map[string]dedup.OrderKey) dedup.CompleteRequest {
	return dedup.CompleteRequest{CommandID: id, PayloadHash: hash, Owner: owner, LeaseKey: leaseKey, Result: result, OrderKeys: keys, ResultTTL: resultTTL}
}

// withSeq0 turns bare keys into order keys of stream sequence 0; nil stays nil.
func withSeq0(keys map[string]int64) map[string]dedup.OrderKey {
	if keys == nil {
		return nil
	}
	out := make(map[string]dedup.OrderKey, len(keys))
	for f, k := range keys {
		out[f] = dedup.OrderKey{Key: k}
	}
	return out
}

// replay returns a BeginRequest of a replay (Replay set) with a long TTL.
func replay(id, hash, owner, leaseKey string, fields ...string) dedup.BeginRequest {
	req := begin(id, hash, owner, leaseKey, fields...)
	req.Replay = true
	return req
}

// failed returns a CompleteRequest of an outcome a replay may reopen.
func failed(id, hash, owner, leaseKey string, result []byte, keys map[string]int64) dedup.CompleteRequest {
	req := complete(id, hash, owner, leaseKey, result, keys)
	req.Reopenable = true
	return req
}

func (h *harness) begin(req dedup.BeginRequest) dedup.BeginResult {
	h.t.Helper()
	res, err := h.s.Begin(h.ctx, req)
	if err != nil {
		h.t.Fatalf("Begin(%s by %s): %v", req.CommandID, req.Owner, err)
	}
	return res
}

// expect Begins req and checks its state.
func (h *harness) expect(req dedup.BeginRequest, want dedup.State) dedup.BeginResult {
	h.t.Helper()
	res := h.begin(req)
	if res.State != want {
		h.t.Fatalf("Begin(%s hash %s by %s, lease %q): state %v, want %v", req.CommandID, req.PayloadHash, req.Owner, req.LeaseKey, res.State, want)
	}
	return res
}

// claim Begins req and requires Claimed.
func (h *harness) claim(req dedup.BeginRequest) dedup.BeginResult {
	h.t.Helper()
	return h.expect(req, dedup.Claimed)
}

func (h *harness) complete(req dedup.CompleteRequest) {
	h.t.Helper()
	if err := h.s.Complete(h.ctx, req); err != nil {
		h.t.Fatalf("Complete(%s by %s): %v", req.CommandID, req.Owner, err)
	}
}

func (h *harness) release(id, owner, leaseKey string) {
	h.t.Helper()
	if err := h.s.Release(h.ctx, dedup.ReleaseRequest{CommandID: id, Owner: owner, LeaseKey: leaseKey}); err != nil {
		h.t.Fatalf("Release(%s by %s): %v", id, owner, err)
	}
}

// pollUntilClaimed Begins req until it is Claimed, while it is one of
// waiting; it fails on any other state or when expiryDeadline passes. It is
// how the suite waits for a TTL to pass without a fixed sleep.
func (h *harness) pollUntilClaimed(req dedup.BeginRequest, waiting ...dedup.State) dedup.BeginResult {
	h.t.Helper()
	deadline := time.Now().Add(expiryDeadline)
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		res := h.begin(req)
		if res.State == dedup.Claimed {
			return res
		}
		ok := false
		for _, w := range waiting {
			ok = ok || res.State == w
		}
		if !ok {
			h.t.Fatalf("Begin(%s by %s) while waiting for expiry: state %v, want one of %v then claimed", req.CommandID, req.Owner, res.State, waiting)
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("Begin(%s by %s): still %v after %v of polling for a TTL to pass", req.CommandID, req.Owner, res.State, expiryDeadline)
		}
		select {
		case <-tick.C:
		case <-h.ctx.Done():
			h.t.Fatalf("waiting for expiry: %v", h.ctx.Err())
		}
	}
}

// waitTTL returns once every claim and lease taken before the call with
// ttl (or less) has expired: it claims a control command with ttl and polls
// until another owner can claim it.
func (h *harness) waitTTL(ttl time.Duration) {
	h.t.Helper()
	h.controls++
	id := fmt.Sprintf("control-%d", h.controls)
	req := begin(id, "h", "control-owner", "")
	req.TTL = ttl
	h.claim(req)
	h.pollUntilClaimed(begin(id, "h", "control-waiter", ""), dedup.InProgress)
}

func wantNoOrderKeys(t *testing.T, res dedup.BeginResult) {
	t.Helper()
	if len(res.OrderKeys) != 0 {
		t.Fatalf("OrderKeys = %v, want none", res.OrderKeys)
	}
}

func wantOrderKeys(t *testing.T, res dedup.BeginResult, want map[string]int64) {
	t.Helper()
	wantKeys(t, res.OrderKeys, withSeq0(want))
}

func wantKeys(t *testing.T, got, want map[string]dedup.OrderKey) {
	t.Helper()
	if len(got) != len(want) || !maps.Equal(got, want) {
		t.Fatalf("OrderKeys = %v, want %v", got, want)
	}
}

// storedKeys returns Store.OrderKeys(leaseKey).
func (h *harness) storedKeys(leaseKey string) map[string]dedup.OrderKey {
	h.t.Helper()
	keys, err := h.s.OrderKeys(h.ctx, leaseKey)
	if err != nil {
		h.t.Fatalf("OrderKeys(%s): %v", leaseKey, err)
	}
	return keys
}

func wantResult(t *testing.T, res dedup.BeginResult, want []byte) {
	t.Helper()
	if res.Result == nil || !bytes.Equal(res.Result, want) {
		t.Fatalf("Result = %q (nil: %t), want %q", res.Result, res.Result == nil, want)
	}
}

// result is a result event with bytes a text encoding could mangle.
var result = []byte("{\"event_id\":\"e1\"}\x00\xff\xfe\n\r\t\"'\\ ü")

// ---- cases ----

func testFirstBeginClaims(t *testing.T, h *harness) {
	res := h.claim(begin("cmd-1", "h1", "o1", "conn/res", "a", "b"))
	wantNoOrderKeys(t, res)
	if res.Result != nil {
		t.Fatalf("Result = %q, want nil", res.Result)
	}
}

func testDoneReturnsResult(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, nil))
	res := h.expect(begin("cmd-1", "h1", "o2", "conn/res", "a"), dedup.Done)
	wantResult(t, res, result)
	wantNoOrderKeys(t, res)
	// The original owner, and a Begin without a lease key, see it too.
	wantResult(t, h.expect(begin("cmd-1", "h1", "o1", "conn/res"), dedup.Done), result)
	wantResult(t, h.expect(begin("cmd-1", "h1", "o3", ""), dedup.Done), result)

	// An empty result is kept as such.
	h.claim(begin("cmd-2", "h2", "o1", "conn/res"))
	h.complete(complete("cmd-2", "h2", "o1", "conn/res", nil, nil))
	wantResult(t, h.expect(begin("cmd-2", "h2", "o2", "conn/res"), dedup.Done), []byte{})
}

func testDoneWithOtherHashConflicts(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, nil))
	res := h.expect(begin("cmd-1", "h2", "o2", "conn/res"), dedup.Conflict)
	wantResult(t, res, result)
	// Refused, nothing taken: the resource is free for other commands.
	h.claim(begin("cmd-2", "h2", "o3", "conn/res"))
}

func testClaimedWithOtherHashConflicts(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	res := h.expect(begin("cmd-1", "h2", "o2", "conn/res"), dedup.Conflict)
	if res.Result != nil {
		t.Fatalf("Result = %q, want nil for a conflict with a claim", res.Result)
	}
	// Without a lease key too.
	h.expect(begin("cmd-1", "h2", "o2", ""), dedup.Conflict)
}

func testClaimedByOtherOwnerInProgress(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	res := h.expect(begin("cmd-1", "h1", "o2", "conn/res"), dedup.InProgress)
	if res.Result != nil || len(res.OrderKeys) != 0 {
		t.Fatalf("InProgress result = %+v, want empty", res)
	}
	h.expect(begin("cmd-1", "h1", "o2", ""), dedup.InProgress)
	// o2 took nothing: o1 still completes.
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, nil))
}

func testSameOwnerReBeginClaims(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.expect(begin("cmd-1", "h1", "o2", "conn/res"), dedup.InProgress)
	h.expect(begin("cmd-2", "h2", "o2", "conn/res"), dedup.LeaseBusy)
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, nil))
}

func testLeaseBusy(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	res := h.expect(begin("cmd-2", "h2", "o2", "conn/res", "a"), dedup.LeaseBusy)
	if res.Result != nil || len(res.OrderKeys) != 0 {
		t.Fatalf("LeaseBusy result = %+v, want empty", res)
	}
	// No claim was written for cmd-2: another owner can claim it (without
	// the lease), which it could not if o2 held a claim.
	h.claim(begin("cmd-2", "h2", "o3", ""))
	h.release("cmd-2", "o3", "")
	// Other resources of the connection are not affected.
	h.claim(begin("cmd-3", "h3", "o3", "conn/other"))
	// Once o1 lets go, cmd-2 gets both.
	h.release("cmd-1", "o1", "conn/res")
	h.claim(begin("cmd-2", "h2", "o2", "conn/res"))
	h.expect(begin("cmd-1", "h1", "o1", "conn/res"), dedup.LeaseBusy)
}

func testEmptyLeaseKeyNeverBusy(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	res := h.claim(begin("cmd-2", "h2", "o2", "", "a"))
	wantNoOrderKeys(t, res)
	h.claim(begin("cmd-3", "h3", "o3", ""))
	// And it took no lease.
	h.release("cmd-1", "o1", "conn/res")
	h.claim(begin("cmd-4", "h4", "o4", "conn/res"))
}

func testExpiredClaimIsFree(t *testing.T, h *harness) {
	req := begin("cmd-1", "h1", "o1", "conn/res")
	req.TTL = shortTTL
	h.claim(req)
	h.pollUntilClaimed(begin("cmd-1", "h1", "o2", "conn/res"), dedup.InProgress)

	// An expired claim leaves the command's sighting: another payload
	// under its id stays a conflict.
	req = begin("cmd-2", "h1", "o1", "")
	req.TTL = shortTTL
	h.claim(req)
	h.pollUntilClaimed(begin("cmd-2", "h1", "o2", ""), dedup.InProgress)
	h.expect(begin("cmd-2", "h2", "o3", ""), dedup.Conflict)

	// A TTL of a millisecond (the smallest that means anything) works.
	req = begin("cmd-3", "h1", "o1", "conn/res3")
	req.TTL = time.Millisecond
	h.claim(req)
	h.pollUntilClaimed(begin("cmd-3", "h1", "o2", "conn/res3"), dedup.InProgress)
}

func testExpiredLeaseIsFree(t *testing.T, h *harness) {
	req := begin("cmd-1", "h1", "o1", "conn/res")
	req.TTL = shortTTL
	h.claim(req)
	h.pollUntilClaimed(begin("cmd-2", "h2", "o2", "conn/res"), dedup.LeaseBusy)
	h.expect(begin("cmd-3", "h3", "o3", "conn/res"), dedup.LeaseBusy)
}

func testRenewKeepsClaimAlive(t *testing.T, h *harness) {
	renewed := begin("cmd-1", "h1", "o1", "conn/res")
	renewed.TTL = renewTTL
	h.claim(renewed)
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-1", Owner: "o1", LeaseKey: "conn/res", TTL: longTTL}); err != nil {
		t.Fatalf("Renew: %v", err)
	}
	// Past the original TTL: a control claimed after it with the same TTL
	// expired.
	h.waitTTL(renewTTL)
	h.expect(begin("cmd-1", "h1", "o2", "conn/res"), dedup.InProgress)
	h.expect(begin("cmd-3", "h3", "o2", "conn/res"), dedup.LeaseBusy)
	// Renewing again is fine, and the owner completes.
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-1", Owner: "o1", LeaseKey: "conn/res", TTL: longTTL}); err != nil {
		t.Fatalf("second Renew: %v", err)
	}
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, nil))

	// Without a lease key.
	h.claim(begin("cmd-4", "h4", "o1", ""))
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-4", Owner: "o1", TTL: longTTL}); err != nil {
		t.Fatalf("Renew without lease: %v", err)
	}
}

func testRenewAfterLoss(t *testing.T, h *harness) {
	wantLost := func(req dedup.RenewRequest) {
		t.Helper()
		if err := h.s.Renew(h.ctx, req); !errors.Is(err, dedup.ErrLeaseLost) {
			t.Fatalf("Renew(%s by %s, lease %q) = %v, want ErrLeaseLost", req.CommandID, req.Owner, req.LeaseKey, err)
		}
	}
	// Never claimed.
	wantLost(dedup.RenewRequest{CommandID: "cmd-0", Owner: "o1", LeaseKey: "conn/res", TTL: longTTL})

	// Claim expired and taken by o2.
	req := begin("cmd-1", "h1", "o1", "conn/res")
	req.TTL = shortTTL
	h.claim(req)
	h.pollUntilClaimed(begin("cmd-1", "h1", "o2", "conn/res"), dedup.InProgress)
	wantLost(dedup.RenewRequest{CommandID: "cmd-1", Owner: "o1", LeaseKey: "conn/res", TTL: longTTL})
	wantLost(dedup.RenewRequest{CommandID: "cmd-1", Owner: "o1", TTL: longTTL})
	// o2's claim and lease are untouched.
	h.expect(begin("cmd-1", "h1", "o3", "conn/res"), dedup.InProgress)
	h.expect(begin("cmd-9", "h9", "o3", "conn/res"), dedup.LeaseBusy)

	// Claim still o3's (renewed alone) but the lease expired and was taken
	// by another command: Renew with the lease key is lost, and changes
	// nothing.
	req = begin("cmd-2", "h2", "o3", "conn/res2")
	req.TTL = renewTTL
	h.claim(req)
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-2", Owner: "o3", TTL: longTTL}); err != nil {
		t.Fatalf("Renew of the claim alone: %v", err)
	}
	h.pollUntilClaimed(begin("cmd-3", "h3", "o4", "conn/res2"), dedup.LeaseBusy)
	wantLost(dedup.RenewRequest{CommandID: "cmd-2", Owner: "o3", LeaseKey: "conn/res2", TTL: longTTL})
	h.expect(begin("cmd-2", "h2", "o5", ""), dedup.InProgress)
	h.expect(begin("cmd-5", "h5", "o5", "conn/res2"), dedup.LeaseBusy)

	// Claim expired, nobody took it: lost as well.
	req = begin("cmd-6", "h6", "o6", "conn/res6")
	req.TTL = shortTTL
	h.claim(req)
	h.waitTTL(shortTTL)
	wantLost(dedup.RenewRequest{CommandID: "cmd-6", Owner: "o6", LeaseKey: "conn/res6", TTL: longTTL})
	wantLost(dedup.RenewRequest{CommandID: "cmd-6", Owner: "o6", TTL: longTTL})

	// A done command cannot be renewed.
	h.claim(begin("cmd-7", "h7", "o8", "conn/res7"))
	h.complete(complete("cmd-7", "h7", "o8", "conn/res7", result, nil))
	wantLost(dedup.RenewRequest{CommandID: "cmd-7", Owner: "o8", LeaseKey: "conn/res7", TTL: longTTL})
}

func testRenewAfterRelease(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.release("cmd-1", "o1", "conn/res")
	err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-1", Owner: "o1", LeaseKey: "conn/res", TTL: longTTL})
	if !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Renew after Release = %v, want ErrLeaseLost", err)
	}
	// Renew by a non-owner of a live claim.
	h.claim(begin("cmd-2", "h2", "o1", "conn/res"))
	err = h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-2", Owner: "o2", LeaseKey: "conn/res", TTL: longTTL})
	if !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Renew by non-owner = %v, want ErrLeaseLost", err)
	}
}

func testOrderKeysRaised(t *testing.T, h *harness) {
	const big = math.MaxInt64 - 1 // beyond a float64's exact integers
	lk := "conn/res"
	h.claim(begin("cmd-1", "h1", "o1", lk, "a", "b", "c"))
	h.complete(complete("cmd-1", "h1", "o1", lk, result, map[string]int64{"a": 5, "b": big, "n": -10}))

	res := h.claim(begin("cmd-2", "h2", "o2", lk, "a", "b"))
	wantOrderKeys(t, res, map[string]int64{"a": 5, "b": big})
	// Lower values never lower a key; higher ones raise it, new fields appear.
	h.complete(complete("cmd-2", "h2", "o2", lk, result, map[string]int64{"a": 3, "b": big - 1, "c": 7, "n": -20}))

	res = h.claim(begin("cmd-3", "h3", "o3", lk, "a", "b", "c", "d", "n"))
	wantOrderKeys(t, res, map[string]int64{"a": 5, "b": big, "c": 7, "n": -10})
	h.complete(complete("cmd-3", "h3", "o3", lk, result, map[string]int64{"a": 6, "b": big + 1, "n": -3, "z": math.MinInt64}))

	res = h.claim(begin("cmd-4", "h4", "o4", lk, "a", "b", "n", "z"))
	wantOrderKeys(t, res, map[string]int64{"a": 6, "b": big + 1, "n": -3, "z": math.MinInt64})
	h.complete(complete("cmd-4", "h4", "o4", lk, result, map[string]int64{"a": 10, "z": -1}))

	// Only the requested fields come back; no fields, no keys.
	res = h.claim(begin("cmd-5", "h5", "o5", lk, "z"))
	wantOrderKeys(t, res, map[string]int64{"z": -1})
	h.release("cmd-5", "o5", lk)
	wantNoOrderKeys(t, h.claim(begin("cmd-6", "h6", "o6", lk)))
	h.release("cmd-6", "o6", lk)

	// Order keys belong to one resource.
	wantNoOrderKeys(t, h.claim(begin("cmd-7", "h7", "o7", "conn/other", "a")))
	wantNoOrderKeys(t, h.claim(begin("cmd-8", "h8", "o8", "other/res", "a")))

	// A replayed Complete with lower keys (a duplicate of cmd-1) changes nothing.
	h.complete(complete("cmd-1", "h1", "o1", lk, result, map[string]int64{"a": 0}))
	wantOrderKeys(t, h.claim(begin("cmd-9", "h9", "o9", lk, "a")), map[string]int64{"a": 10})
}

func testOrderKeysNeedLeaseKey(t *testing.T, h *harness) {
	// Fields without a lease key return no keys, and a Complete without a
	// lease key records none.
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, map[string]int64{"a": 1}))
	wantNoOrderKeys(t, h.claim(begin("cmd-2", "h2", "o2", "", "a")))
	h.complete(complete("cmd-2", "h2", "o2", "", result, map[string]int64{"a": 9}))
	wantOrderKeys(t, h.claim(begin("cmd-3", "h3", "o3", "conn/res", "a")), map[string]int64{"a": 1})
}

func testCompleteByNonOwner(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(begin("cmd-1", "h1", "o1", lk))
	err := h.s.Complete(h.ctx, complete("cmd-1", "h1", "o2", lk, []byte("other"), map[string]int64{"a": 100}))
	if !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Complete by non-owner = %v, want ErrLeaseLost", err)
	}
	err = h.s.Complete(h.ctx, complete("cmd-1", "h2", "o2", lk, []byte("other"), nil))
	if !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Complete by non-owner with other hash = %v, want ErrLeaseLost", err)
	}
	// Nothing written: still o1's claim and lease, no order key.
	h.expect(begin("cmd-1", "h1", "o3", lk), dedup.InProgress)
	h.expect(begin("cmd-2", "h2", "o3", lk), dedup.LeaseBusy)
	h.complete(complete("cmd-1", "h1", "o1", lk, result, nil))
	wantResult(t, h.expect(begin("cmd-1", "h1", "o3", lk), dedup.Done), result)
	wantNoOrderKeys(t, h.claim(begin("cmd-2", "h2", "o3", lk, "a")))
}

func testCompleteAfterClaimLost(t *testing.T, h *harness) {
	req := begin("cmd-1", "h1", "o1", "conn/res")
	req.TTL = shortTTL
	h.claim(req)
	h.pollUntilClaimed(begin("cmd-1", "h1", "o2", "conn/res"), dedup.InProgress)
	err := h.s.Complete(h.ctx, complete("cmd-1", "h1", "o1", "conn/res", []byte("late"), nil))
	if !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Complete after the claim was taken = %v, want ErrLeaseLost", err)
	}
	h.complete(complete("cmd-1", "h1", "o2", "conn/res", result, nil))
	wantResult(t, h.expect(begin("cmd-1", "h1", "o3", ""), dedup.Done), result)
}

func testCompleteIdempotent(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(begin("cmd-1", "h1", "o1", lk))
	c := complete("cmd-1", "h1", "o1", lk, result, map[string]int64{"a": 2})
	h.complete(c)
	h.complete(c)
	// Same hash by anyone: done already, fine.
	c2 := c
	c2.Owner = "o2"
	h.complete(c2)
	wantResult(t, h.expect(begin("cmd-1", "h1", "o3", lk), dedup.Done), result)
	// Another hash: refused, nothing changed.
	c3 := c
	c3.PayloadHash, c3.Result = "h2", []byte("other")
	if err := h.s.Complete(h.ctx, c3); !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Complete of a done command with another hash = %v, want ErrLeaseLost", err)
	}
	wantResult(t, h.expect(begin("cmd-1", "h1", "o3", lk), dedup.Done), result)
	wantResult(t, h.expect(begin("cmd-1", "h2", "o3", lk), dedup.Conflict), result)
	wantOrderKeys(t, h.claim(begin("cmd-2", "h2", "o4", lk, "a")), map[string]int64{"a": 2})
}

func testCompleteWithoutClaim(t *testing.T, h *harness) {
	// Absent claim: recorded all the same.
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, map[string]int64{"a": 4}))
	wantResult(t, h.expect(begin("cmd-1", "h1", "o2", "conn/res"), dedup.Done), result)
	wantOrderKeys(t, h.claim(begin("cmd-2", "h2", "o2", "conn/res", "a")), map[string]int64{"a": 4})

	// Expired own claim and lease, nobody took them: recorded, and the
	// order keys raised.
	req := begin("cmd-3", "h3", "o3", "conn/res3")
	req.TTL = shortTTL
	h.claim(req)
	h.waitTTL(shortTTL)
	h.complete(complete("cmd-3", "h3", "o3", "conn/res3", result, map[string]int64{"a": 8}))
	wantResult(t, h.expect(begin("cmd-3", "h3", "o4", ""), dedup.Done), result)
	wantOrderKeys(t, h.claim(begin("cmd-4", "h4", "o4", "conn/res3", "a")), map[string]int64{"a": 8})

	// Released claim: recorded.
	h.claim(begin("cmd-5", "h5", "o5", ""))
	h.release("cmd-5", "o5", "")
	h.complete(complete("cmd-5", "h5", "o5", "", result, nil))
	wantResult(t, h.expect(begin("cmd-5", "h5", "o6", ""), dedup.Done), result)
}

func testCompleteReleasesLease(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, nil))
	h.claim(begin("cmd-2", "h2", "o2", "conn/res"))
	// A Complete whose lease is someone else's leaves that lease alone.
	h.complete(complete("cmd-3", "h3", "o3", "conn/res", result, nil))
	h.expect(begin("cmd-4", "h4", "o4", "conn/res"), dedup.LeaseBusy)
}

func testRelease(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.release("cmd-1", "o1", "conn/res")
	// Claim and lease both free.
	h.claim(begin("cmd-2", "h2", "o2", "conn/res"))
	h.claim(begin("cmd-1", "h1", "o3", ""))
	// Releasing again, or what was never held, is a no-op.
	h.release("cmd-1", "o1", "conn/res")
	h.release("cmd-never", "o1", "conn/never")
	h.release("cmd-never", "o1", "")
	h.expect(begin("cmd-1", "h1", "o4", ""), dedup.InProgress)
	h.expect(begin("cmd-5", "h5", "o4", "conn/res"), dedup.LeaseBusy)
}

func testReleaseByNonOwner(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.release("cmd-1", "o2", "conn/res")
	h.expect(begin("cmd-1", "h1", "o3", "conn/res"), dedup.InProgress)
	h.expect(begin("cmd-2", "h2", "o3", "conn/res"), dedup.LeaseBusy)
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-1", Owner: "o1", LeaseKey: "conn/res", TTL: longTTL}); err != nil {
		t.Fatalf("Renew by the owner after another's Release: %v", err)
	}
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, nil))
}

func testReleaseKeepsDone(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, nil))
	h.release("cmd-1", "o1", "conn/res")
	wantResult(t, h.expect(begin("cmd-1", "h1", "o2", "conn/res"), dedup.Done), result)
}

// race runs fn(i) in concurrency goroutines released together and returns
// their results.
func race(t *testing.T, fn func(i int) (dedup.BeginResult, error)) []dedup.BeginResult {
	t.Helper()
	results := make([]dedup.BeginResult, concurrency)
	errs := make([]error, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			<-start
			results[i], errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Begin: %v", err)
	}
	return results
}

func countStates(results []dedup.BeginResult) map[dedup.State]int {
	n := map[dedup.State]int{}
	for _, r := range results {
		n[r.State]++
	}
	return n
}

func testConcurrentBeginSameCommand(t *testing.T, h *harness) {
	results := race(t, func(i int) (dedup.BeginResult, error) {
		return h.s.Begin(h.ctx, begin("cmd-1", "h1", fmt.Sprintf("o%d", i), "conn/res"))
	})
	n := countStates(results)
	if n[dedup.Claimed] != 1 || n[dedup.InProgress] != concurrency-1 {
		t.Fatalf("states = %v, want 1 claimed and %d in progress", n, concurrency-1)
	}
	var winner string
	for i, r := range results {
		if r.State == dedup.Claimed {
			winner = fmt.Sprintf("o%d", i)
		}
	}
	h.complete(complete("cmd-1", "h1", winner, "conn/res", result, nil))
	wantResult(t, h.expect(begin("cmd-1", "h1", "late", "conn/res"), dedup.Done), result)
}

func testConcurrentBeginSameLease(t *testing.T, h *harness) {
	results := race(t, func(i int) (dedup.BeginResult, error) {
		return h.s.Begin(h.ctx, begin(fmt.Sprintf("cmd-%d", i), "h", fmt.Sprintf("o%d", i), "conn/res"))
	})
	n := countStates(results)
	if n[dedup.Claimed] != 1 || n[dedup.LeaseBusy] != concurrency-1 {
		t.Fatalf("states = %v, want 1 claimed and %d lease busy", n, concurrency-1)
	}
	// The losers hold no claim: each can be claimed by someone else.
	for i, r := range results {
		if r.State == dedup.LeaseBusy {
			h.claim(begin(fmt.Sprintf("cmd-%d", i), "h", "other", ""))
		}
	}
}

func testCancelledContext(t *testing.T, h *harness) {
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	if _, err := h.s.Begin(ctx, begin("cmd-1", "h1", "o1", "conn/res")); err == nil {
		t.Error("Begin with a cancelled context: no error")
	}
	if err := h.s.Renew(ctx, dedup.RenewRequest{CommandID: "cmd-1", Owner: "o1", LeaseKey: "conn/res", TTL: longTTL}); err == nil || errors.Is(err, dedup.ErrLeaseLost) {
		t.Errorf("Renew with a cancelled context = %v, want a context error", err)
	}
	if err := h.s.Complete(ctx, complete("cmd-1", "h1", "o1", "conn/res", result, nil)); err == nil {
		t.Error("Complete with a cancelled context: no error")
	}
	if err := h.s.Release(ctx, dedup.ReleaseRequest{CommandID: "cmd-1", Owner: "o1", LeaseKey: "conn/res"}); err == nil {
		t.Error("Release with a cancelled context: no error")
	}
	if err := h.s.PutDeliveryTrace(ctx, dedup.DeliveryTraceRequest{CommandID: "cmd-1", Traceparent: traceparentA, TTL: longTTL}); err == nil {
		t.Error("PutDeliveryTrace with a cancelled context: no error")
	}
	if _, err := h.s.DeliveryTrace(ctx, "cmd-1"); err == nil {
		t.Error("DeliveryTrace with a cancelled context: no error")
	}
	if tp := h.deliveryTrace("cmd-1"); tp != "" {
		t.Errorf("DeliveryTrace after a cancelled put = %q, want none", tp)
	}
	// Nothing was written.
	h.claim(begin("cmd-1", "h2", "o2", "conn/res"))
}

func testInvalidRequests(t *testing.T, h *harness) {
	bad := []dedup.BeginRequest{
		{PayloadHash: "h", Owner: "o", TTL: longTTL, SightingTTL: resultTTL},
		{CommandID: "cmd-1", PayloadHash: "h", TTL: longTTL, SightingTTL: resultTTL},
		{CommandID: "cmd-1", PayloadHash: "h", Owner: "o", SightingTTL: resultTTL},
		{CommandID: "cmd-1", PayloadHash: "h", Owner: "o", TTL: -time.Second, SightingTTL: resultTTL},
		{CommandID: "cmd-1", PayloadHash: "h", Owner: "o", TTL: longTTL},
	}
	for _, req := range bad {
		if _, err := h.s.Begin(h.ctx, req); err == nil {
			t.Errorf("Begin(%+v): no error", req)
		}
	}
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-1", Owner: "o"}); err == nil {
		t.Error("Renew without TTL: no error")
	}
	if err := h.s.Complete(h.ctx, dedup.CompleteRequest{CommandID: "cmd-1", PayloadHash: "h"}); err == nil {
		t.Error("Complete without Owner: no error")
	}
	if err := h.s.Complete(h.ctx, dedup.CompleteRequest{CommandID: "cmd-1", PayloadHash: "h", Owner: "o"}); err == nil {
		t.Error("Complete without ResultTTL: no error")
	}
	if err := h.s.Release(h.ctx, dedup.ReleaseRequest{Owner: "o"}); err == nil {
		t.Error("Release without CommandID: no error")
	}
	for _, req := range []dedup.DeliveryTraceRequest{
		{Traceparent: traceparentA, TTL: longTTL},
		{CommandID: "cmd-1", TTL: longTTL},
		{CommandID: "cmd-1", Traceparent: traceparentA},
	} {
		if err := h.s.PutDeliveryTrace(h.ctx, req); err == nil {
			t.Errorf("PutDeliveryTrace(%+v): no error", req)
		}
	}
	if _, err := h.s.DeliveryTrace(h.ctx, ""); err == nil {
		t.Error("DeliveryTrace without CommandID: no error")
	}
	if tp := h.deliveryTrace("cmd-1"); tp != "" {
		t.Errorf("DeliveryTrace after refused puts = %q, want none", tp)
	}
	// Nothing was written.
	wantNoOrderKeys(t, h.claim(begin("cmd-1", "h", "o", "conn/res")))
}

func testKeyCharset(t *testing.T, h *harness) {
	// Command ids that differ only in punctuation are distinct commands.
	ids := []string{"x", "X", "x.y", "x:y", "x-y", "x_y", "x.y.", ".x", "x..y", "01JD8Z3Q:provision.rocketchat-user_42"}
	for _, id := range ids {
		h.claim(begin(id, "h", "o-"+id, ""))
	}
	// Lease keys that an encoding could confuse are distinct resources.
	leaseKeys := []string{
		"conn/res", "conn/res.x", "conn.res/x", "conn/res/x", "conn/res=x", "conn/=cmVz", "conn/res x",
		"conn/", "/res", "conn//res", "conn/res/", "connres", "conn", "conn/ü", "c:1/r-2_3",
	}
	for i, lk := range leaseKeys {
		id := fmt.Sprintf("lk-%d", i)
		h.claim(begin(id, "h", "o", lk, "f"))
		h.complete(complete(id, "h", "o", lk, result, map[string]int64{"f": int64(i)}))
	}
	for i, lk := range leaseKeys {
		res := h.claim(begin(fmt.Sprintf("lk2-%d", i), "h", "o", lk, "f"))
		wantOrderKeys(t, res, map[string]int64{"f": int64(i)})
	}
}

// Traceparents of the delivery trace tests.
const (
	traceparentA = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traceparentB = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"
)

func (h *harness) putDeliveryTrace(id, tp string) {
	h.t.Helper()
	if err := h.s.PutDeliveryTrace(h.ctx, dedup.DeliveryTraceRequest{CommandID: id, Traceparent: tp, TTL: longTTL}); err != nil {
		h.t.Fatalf("PutDeliveryTrace(%s): %v", id, err)
	}
}

func (h *harness) deliveryTrace(id string) string {
	h.t.Helper()
	tp, err := h.s.DeliveryTrace(h.ctx, id)
	if err != nil {
		h.t.Fatalf("DeliveryTrace(%s): %v", id, err)
	}
	return tp
}

func testDeliveryTrace(t *testing.T, h *harness) {
	if tp := h.deliveryTrace("cmd-1"); tp != "" {
		t.Fatalf("DeliveryTrace of an unknown command = %q, want none", tp)
	}
	h.putDeliveryTrace("cmd-1", traceparentA)
	if tp := h.deliveryTrace("cmd-1"); tp != traceparentA {
		t.Fatalf("DeliveryTrace = %q, want %q", tp, traceparentA)
	}
	h.putDeliveryTrace("cmd-1", traceparentB) // the last hand-back wins
	if tp := h.deliveryTrace("cmd-1"); tp != traceparentB {
		t.Fatalf("DeliveryTrace after a second put = %q, want %q", tp, traceparentB)
	}
	// Ids that differ only in punctuation are distinct commands.
	ids := []string{"x", "X", "x.y", "x:y", "x-y", "x_y", ".x", "x..y"}
	for i, id := range ids {
		h.putDeliveryTrace(id, fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e4736-%016x-01", i+1))
	}
	for i, id := range ids {
		if tp, want := h.deliveryTrace(id), fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e4736-%016x-01", i+1); tp != want {
			t.Errorf("DeliveryTrace(%q) = %q, want %q", id, tp, want)
		}
	}
}

func testDeliveryTraceIndependentOfRecords(t *testing.T, h *harness) {
	// A trace record does not make a command known...
	h.putDeliveryTrace("cmd-1", traceparentA)
	h.claim(begin("cmd-1", "h1", "o1", "conn/res", "f"))
	h.release("cmd-1", "o1", "conn/res")
	if tp := h.deliveryTrace("cmd-1"); tp != traceparentA {
		t.Fatalf("DeliveryTrace after Begin and Release = %q, want %q", tp, traceparentA)
	}
	// ...and survives the command's completion, which it does not disturb.
	h.claim(begin("cmd-1", "h1", "o2", "conn/res", "f"))
	h.putDeliveryTrace("cmd-1", traceparentB)
	h.complete(complete("cmd-1", "h1", "o2", "conn/res", result, map[string]int64{"f": 1}))
	wantResult(t, h.expect(begin("cmd-1", "h1", "o3", "conn/res"), dedup.Done), result)
	if tp := h.deliveryTrace("cmd-1"); tp != traceparentB {
		t.Fatalf("DeliveryTrace after Complete = %q, want %q", tp, traceparentB)
	}
}

func testOrderKeyTieBrokenBySequence(t *testing.T, h *harness) {
	const p53 = 1 << 53 // the first integer a float64 cannot tell from its successor
	k := func(key int64, seq uint64) dedup.OrderKey { return dedup.OrderKey{Key: key, Seq: seq} }
	lk := "conn/res"
	steps := []struct {
		given, want map[string]dedup.OrderKey
	}{
		{map[string]dedup.OrderKey{"a": k(5, 7), "b": k(p53+1, math.MaxUint64-1), "c": k(-1, 3)},
			map[string]dedup.OrderKey{"a": k(5, 7), "b": k(p53+1, math.MaxUint64-1), "c": k(-1, 3)}},
		// Same key: the lower sequence loses, the higher wins, exactly
		// (sequences beyond 2^53 and 2^63 too).
		{map[string]dedup.OrderKey{"a": k(5, 6), "b": k(p53+1, math.MaxUint64), "c": k(-1, 2)},
			map[string]dedup.OrderKey{"a": k(5, 7), "b": k(p53+1, math.MaxUint64), "c": k(-1, 3)}},
		{map[string]dedup.OrderKey{"a": k(5, 8), "b": k(p53, math.MaxUint64), "c": k(-1, 10)},
			map[string]dedup.OrderKey{"a": k(5, 8), "b": k(p53+1, math.MaxUint64), "c": k(-1, 10)}},
		// A higher key wins whatever its sequence; a lower one loses
		// whatever its sequence.
		{map[string]dedup.OrderKey{"a": k(6, 0), "b": k(p53+2, 1), "c": k(-2, math.MaxUint64)},
			map[string]dedup.OrderKey{"a": k(6, 0), "b": k(p53+2, 1), "c": k(-1, 10)}},
		// The same pair again changes nothing.
		{map[string]dedup.OrderKey{"a": k(6, 0)},
			map[string]dedup.OrderKey{"a": k(6, 0), "b": k(p53+2, 1), "c": k(-1, 10)}},
	}
	for i, st := range steps {
		id := fmt.Sprintf("cmd-%d", i)
		h.claim(begin(id, "h", "o", lk, "a"))
		h.complete(completeKeys(id, "h", "o", lk, result, st.given))
		res := h.claim(begin(fmt.Sprintf("read-%d", i), "h", "r", lk, "a", "b", "c"))
		wantKeys(t, res.OrderKeys, st.want)
		h.release(fmt.Sprintf("read-%d", i), "r", lk)
		wantKeys(t, h.storedKeys(lk), st.want)
	}
}

func testOrderKeysReadAndReset(t *testing.T, h *harness) {
	k := func(key int64, seq uint64) dedup.OrderKey { return dedup.OrderKey{Key: key, Seq: seq} }
	lk, other := "conn/res", "conn/other"
	wantKeys(t, h.storedKeys(lk), map[string]dedup.OrderKey{})
	h.claim(begin("cmd-1", "h", "o", lk))
	h.complete(completeKeys("cmd-1", "h", "o", lk, result, map[string]dedup.OrderKey{"a": k(1, 1), "b": k(math.MaxInt64, 2), "providerFields.mode": k(3, 3)}))
	h.claim(begin("cmd-2", "h", "o", other))
	h.complete(completeKeys("cmd-2", "h", "o", other, result, map[string]dedup.OrderKey{"a": k(9, 9)}))

	// OrderKeys reads every field of one resource, and takes nothing.
	wantKeys(t, h.storedKeys(lk), map[string]dedup.OrderKey{"a": k(1, 1), "b": k(math.MaxInt64, 2), "providerFields.mode": k(3, 3)})
	h.claim(begin("cmd-3", "h", "o3", lk))
	wantKeys(t, h.storedKeys(lk), map[string]dedup.OrderKey{"a": k(1, 1), "b": k(math.MaxInt64, 2), "providerFields.mode": k(3, 3)})
	h.release("cmd-3", "o3", lk)

	// Reset of named fields: only those go (unknown ones are ignored); a
	// pinned key no longer holds a lower command back.
	if err := h.s.ResetOrderKeys(h.ctx, lk, []string{"b", "nope"}); err != nil {
		t.Fatalf("ResetOrderKeys(b): %v", err)
	}
	wantKeys(t, h.storedKeys(lk), map[string]dedup.OrderKey{"a": k(1, 1), "providerFields.mode": k(3, 3)})
	h.claim(begin("cmd-4", "h", "o", lk))
	h.complete(completeKeys("cmd-4", "h", "o", lk, result, map[string]dedup.OrderKey{"b": k(5, 5)}))
	wantKeys(t, h.storedKeys(lk), map[string]dedup.OrderKey{"a": k(1, 1), "b": k(5, 5), "providerFields.mode": k(3, 3)})

	// Reset of all fields; the other resource keeps its keys.
	if err := h.s.ResetOrderKeys(h.ctx, lk, nil); err != nil {
		t.Fatalf("ResetOrderKeys(all): %v", err)
	}
	wantKeys(t, h.storedKeys(lk), map[string]dedup.OrderKey{})
	wantKeys(t, h.storedKeys(other), map[string]dedup.OrderKey{"a": k(9, 9)})
	wantNoOrderKeys(t, h.claim(begin("cmd-5", "h", "o5", lk, "a", "b")))
	h.release("cmd-5", "o5", lk)
	// Keys rise again after a reset.
	h.claim(begin("cmd-6", "h", "o", lk))
	h.complete(completeKeys("cmd-6", "h", "o", lk, result, map[string]dedup.OrderKey{"a": k(0, 1)}))
	wantKeys(t, h.storedKeys(lk), map[string]dedup.OrderKey{"a": k(0, 1)})

	// Resetting a resource without keys is a no-op; no lease key is refused.
	if err := h.s.ResetOrderKeys(h.ctx, "conn/never", []string{"a"}); err != nil {
		t.Fatalf("ResetOrderKeys of a resource without keys: %v", err)
	}
	if err := h.s.ResetOrderKeys(h.ctx, "conn/never", nil); err != nil {
		t.Fatalf("ResetOrderKeys of a resource without keys: %v", err)
	}
	if _, err := h.s.OrderKeys(h.ctx, ""); err == nil {
		t.Fatal("OrderKeys without a lease key: no error")
	}
	if err := h.s.ResetOrderKeys(h.ctx, "", nil); err == nil {
		t.Fatal("ResetOrderKeys without a lease key: no error")
	}
}

func testReopenGivesOrigin(t *testing.T, h *harness) {
	lk := "conn/res"
	at := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	origin := dedup.Origin{Seq: math.MaxUint64 - 3, Time: at}
	h.claim(begin("cmd-1", "h1", "o1", lk))
	req := failed("cmd-1", "h1", "o1", lk, failedResult, nil)
	req.Origin = origin
	h.complete(req)
	// A plain duplicate learns nothing of it.
	if res := h.expect(begin("cmd-1", "h1", "o2", lk), dedup.Done); !res.Origin.IsZero() {
		t.Fatalf("Done: Origin = %v, want none", res.Origin)
	}
	res := h.claim(replay("cmd-1", "h1", "o2", lk, "a"))
	if res.Origin.Seq != origin.Seq || !res.Origin.Time.Equal(at) {
		t.Fatalf("reopened: Origin = %+v, want %+v", res.Origin, origin)
	}
	// Failing again keeps (or replaces) it.
	req = failed("cmd-1", "h1", "o2", lk, failedResult, nil)
	req.Origin = dedup.Origin{Seq: 7, Time: at.Add(time.Second)}
	h.complete(req)
	res = h.claim(replay("cmd-1", "h1", "o3", lk))
	if res.Origin.Seq != 7 || !res.Origin.Time.Equal(at.Add(time.Second)) {
		t.Fatalf("reopened again: Origin = %+v, want seq 7", res.Origin)
	}

	// A failed record stored without an origin, a new command and a final
	// outcome give none.
	h.claim(begin("cmd-2", "h2", "o1", "conn/res2"))
	h.complete(failed("cmd-2", "h2", "o1", "conn/res2", failedResult, nil))
	if res := h.claim(replay("cmd-2", "h2", "o2", "conn/res2")); !res.Origin.IsZero() {
		t.Fatalf("reopened without origin: Origin = %+v, want none", res.Origin)
	}
	if res := h.claim(replay("cmd-3", "h3", "o2", "conn/res3")); !res.Origin.IsZero() {
		t.Fatalf("new command: Origin = %+v, want none", res.Origin)
	}
	h.claim(begin("cmd-4", "h4", "o1", "conn/res4"))
	req = complete("cmd-4", "h4", "o1", "conn/res4", appliedResult, nil)
	req.Origin = origin // ignored: not reopenable
	h.complete(req)
	if res := h.expect(replay("cmd-4", "h4", "o2", "conn/res4"), dedup.Done); !res.Origin.IsZero() {
		t.Fatalf("final outcome: Origin = %+v, want none", res.Origin)
	}
}

// Results of the replay tests: a failed outcome (reopenable) and the
// outcome of its replay.
var (
	failedResult  = []byte(`{"status":"failed"}`)
	appliedResult = []byte(`{"status":"applied"}`)
)

func testReplayReopensReopenable(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(begin("cmd-0", "h0", "o0", lk, "a"))
	h.complete(complete("cmd-0", "h0", "o0", lk, result, map[string]int64{"a": 3}))
	h.claim(begin("cmd-1", "h1", "o1", lk, "a"))
	h.complete(failed("cmd-1", "h1", "o1", lk, failedResult, nil))

	// Claimed like a new command: order keys read, the reopened result
	// returned, the claim and the lease taken.
	res := h.claim(replay("cmd-1", "h1", "o2", lk, "a", "b"))
	wantOrderKeys(t, res, map[string]int64{"a": 3})
	wantResult(t, res, failedResult)
	h.expect(begin("cmd-1", "h1", "o3", lk), dedup.InProgress)
	h.expect(replay("cmd-1", "h1", "o3", lk), dedup.InProgress)
	h.expect(begin("cmd-2", "h2", "o3", lk), dedup.LeaseBusy)
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-1", Owner: "o2", LeaseKey: lk, TTL: longTTL}); err != nil {
		t.Fatalf("Renew of a reopened claim: %v", err)
	}
	h.complete(complete("cmd-1", "h1", "o2", lk, appliedResult, map[string]int64{"a": 4}))
	wantResult(t, h.expect(begin("cmd-1", "h1", "o3", lk), dedup.Done), appliedResult)
	wantOrderKeys(t, h.claim(begin("cmd-2", "h2", "o3", lk, "a")), map[string]int64{"a": 4})

	// Without a lease key too (a replay that will be rejected).
	h.claim(begin("cmd-3", "h3", "o1", ""))
	h.complete(failed("cmd-3", "h3", "o1", "", failedResult, nil))
	res = h.claim(replay("cmd-3", "h3", "o2", "", "a"))
	wantNoOrderKeys(t, res)
	wantResult(t, res, failedResult)

	// Replay of an id never seen: an ordinary claim, no result.
	res = h.claim(replay("cmd-4", "h4", "o1", "conn/res4"))
	if res.Result != nil {
		t.Fatalf("Result = %q, want nil for a replay of an unknown id", res.Result)
	}
}

func testReopenableWithoutReplayIsDone(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.complete(failed("cmd-1", "h1", "o1", "conn/res", failedResult, nil))
	// A plain duplicate: the stored failed result, nothing taken.
	res := h.expect(begin("cmd-1", "h1", "o2", "conn/res", "a"), dedup.Done)
	wantResult(t, res, failedResult)
	wantNoOrderKeys(t, res)
	h.expect(begin("cmd-1", "h1", "o2", ""), dedup.Done)
	h.claim(begin("cmd-2", "h2", "o3", "conn/res"))
	h.release("cmd-2", "o3", "conn/res")
	// The record is still reopenable afterwards.
	wantResult(t, h.claim(replay("cmd-1", "h1", "o4", "conn/res")), failedResult)
}

func testReplayOfFinalOutcomeIsDone(t *testing.T, h *harness) {
	// Complete without Reopenable (applied, unchanged, superseded,
	// rejected): never reopened.
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, map[string]int64{"a": 1}))
	res := h.expect(replay("cmd-1", "h1", "o2", "conn/res", "a"), dedup.Done)
	wantResult(t, res, result)
	wantNoOrderKeys(t, res)
	h.expect(replay("cmd-1", "h1", "o2", ""), dedup.Done)
	// Nothing taken.
	h.claim(begin("cmd-2", "h2", "o3", "conn/res"))

	// A repeated Complete of a done command never makes it reopenable.
	h.complete(failed("cmd-1", "h1", "o1", "conn/res", failedResult, nil))
	wantResult(t, h.expect(replay("cmd-1", "h1", "o4", ""), dedup.Done), result)
}

func testReplayAppliedOnce(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(begin("cmd-1", "h1", "o1", lk))
	h.complete(failed("cmd-1", "h1", "o1", lk, failedResult, nil))

	// A replay that fails again leaves a reopenable record, which the next
	// replay reopens.
	h.claim(replay("cmd-1", "h1", "o2", lk))
	h.complete(failed("cmd-1", "h1", "o2", lk, []byte("failed again"), nil))
	wantResult(t, h.expect(begin("cmd-1", "h1", "o3", lk), dedup.Done), []byte("failed again"))
	wantResult(t, h.claim(replay("cmd-1", "h1", "o3", lk)), []byte("failed again"))

	// Applied: every later replay, and every duplicate, is Done with the
	// new result.
	h.complete(complete("cmd-1", "h1", "o3", lk, appliedResult, nil))
	for _, owner := range []string{"o2", "o3", "o4"} {
		wantResult(t, h.expect(replay("cmd-1", "h1", owner, lk), dedup.Done), appliedResult)
	}
	wantResult(t, h.expect(begin("cmd-1", "h1", "o5", lk), dedup.Done), appliedResult)
	// A late Complete of the first failure changes nothing.
	h.complete(failed("cmd-1", "h1", "o1", lk, failedResult, nil))
	wantResult(t, h.expect(replay("cmd-1", "h1", "o6", lk), dedup.Done), appliedResult)
	// And the lease is free.
	h.claim(begin("cmd-2", "h2", "o7", lk))
}

func testReplayWithOtherHashConflicts(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.complete(failed("cmd-1", "h1", "o1", "conn/res", failedResult, nil))
	wantResult(t, h.expect(replay("cmd-1", "h2", "o2", "conn/res"), dedup.Conflict), failedResult)
	h.expect(replay("cmd-1", "h2", "o2", ""), dedup.Conflict)
	// Nothing taken, the record unchanged.
	h.claim(begin("cmd-2", "h2", "o3", "conn/res"))
	h.release("cmd-2", "o3", "conn/res")
	wantResult(t, h.claim(replay("cmd-1", "h1", "o4", "conn/res")), failedResult)
	// A reopened claim meets another hash as any claim does.
	res := h.expect(replay("cmd-1", "h2", "o5", "conn/res"), dedup.Conflict)
	if res.Result != nil {
		t.Fatalf("Result = %q, want nil for a conflict with a claim", res.Result)
	}
}

func testReplayLeaseBusyKeepsDone(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(begin("cmd-1", "h1", "o1", lk))
	h.complete(failed("cmd-1", "h1", "o1", lk, failedResult, nil))
	h.claim(begin("cmd-2", "h2", "o2", lk))
	// The lease is busy: nothing taken, the done record as it was.
	res := h.expect(replay("cmd-1", "h1", "o3", lk, "a"), dedup.LeaseBusy)
	if res.Result != nil || len(res.OrderKeys) != 0 {
		t.Fatalf("LeaseBusy result = %+v, want empty", res)
	}
	wantResult(t, h.expect(begin("cmd-1", "h1", "o4", lk), dedup.Done), failedResult)
	h.release("cmd-2", "o2", lk)
	wantResult(t, h.claim(replay("cmd-1", "h1", "o3", lk)), failedResult)
}

func testReopenedClaimRules(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(begin("cmd-1", "h1", "o1", lk))
	h.complete(failed("cmd-1", "h1", "o1", lk, failedResult, nil))

	// The reopened claim is an ordinary claim: a Complete by another
	// owner is refused...
	h.claim(replay("cmd-1", "h1", "o2", lk))
	if err := h.s.Complete(h.ctx, complete("cmd-1", "h1", "o3", lk, []byte("other"), nil)); !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Complete of a reopened claim by another owner = %v, want ErrLeaseLost", err)
	}
	// ...and a Release drops it: the failed record is gone and the id is
	// unknown again, so the next delivery of the replay (or of the
	// command) claims it like a new command.
	h.release("cmd-1", "o2", lk)
	res := h.claim(begin("cmd-1", "h1", "o3", lk))
	if res.Result != nil {
		t.Fatalf("Result = %q after the reopened claim was released, want nil", res.Result)
	}
	h.complete(complete("cmd-1", "h1", "o3", lk, appliedResult, nil))
	wantResult(t, h.expect(replay("cmd-1", "h1", "o4", lk), dedup.Done), appliedResult)

	// A reopened claim expires like any other.
	h.claim(begin("cmd-2", "h2", "o1", "conn/res2"))
	h.complete(failed("cmd-2", "h2", "o1", "conn/res2", failedResult, nil))
	req := replay("cmd-2", "h2", "o2", "conn/res2")
	req.TTL = shortTTL
	h.claim(req)
	h.pollUntilClaimed(replay("cmd-2", "h2", "o3", "conn/res2"), dedup.InProgress)
}

func testConcurrentReplay(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o", "conn/res"))
	h.complete(failed("cmd-1", "h1", "o", "conn/res", failedResult, nil))
	results := race(t, func(i int) (dedup.BeginResult, error) {
		return h.s.Begin(h.ctx, replay("cmd-1", "h1", fmt.Sprintf("o%d", i), "conn/res"))
	})
	n := countStates(results)
	if n[dedup.Claimed] != 1 || n[dedup.InProgress] != concurrency-1 {
		t.Fatalf("states = %v, want 1 claimed and %d in progress", n, concurrency-1)
	}
	var winner string
	for i, r := range results {
		if r.State == dedup.Claimed {
			winner = fmt.Sprintf("o%d", i)
			wantResult(t, r, failedResult)
		}
	}
	h.complete(complete("cmd-1", "h1", winner, "conn/res", appliedResult, nil))
	wantResult(t, h.expect(replay("cmd-1", "h1", "late", "conn/res"), dedup.Done), appliedResult)
}

// ---- sightings: a command's first payload and earliest copy ----

func testLateCopyTakesTheFirstCopysPlace(t *testing.T, h *harness) {
	lk := "conn/res"
	wantOrigin(t, h.claim(copyAt(begin("cmd-1", "h1", "o1", lk), 10)), 10)
	h.release("cmd-1", "o1", lk)
	// A copy published again after the duplicate window (a later stream
	// sequence) takes the first copy's place.
	wantOrigin(t, h.claim(copyAt(begin("cmd-1", "h1", "o2", lk), 50)), 10)
	h.release("cmd-1", "o2", lk)
	// An earlier copy met later moves the place earlier, and it sticks.
	wantOrigin(t, h.claim(copyAt(begin("cmd-1", "h1", "o3", lk), 5)), 5)
	h.release("cmd-1", "o3", lk)
	wantOrigin(t, h.claim(copyAt(begin("cmd-1", "h1", "o4", lk), 10)), 5)
	// A delivery that knows no origin gets the sighting's.
	h.release("cmd-1", "o4", lk)
	wantOrigin(t, h.claim(begin("cmd-1", "h1", "o5", lk)), 5)

	// A first Begin without origin, then one with: that one's.
	h.claim(begin("cmd-2", "h2", "o1", "conn/res2"))
	h.release("cmd-2", "o1", "conn/res2")
	wantOrigin(t, h.claim(copyAt(begin("cmd-2", "h2", "o2", "conn/res2"), 70)), 70)
}

func testSightingOutlivesAnExpiredClaim(t *testing.T, h *harness) {
	req := copyAt(begin("cmd-1", "h1", "o1", "conn/res"), 10)
	req.TTL = shortTTL
	h.claim(req)
	// Its worker died: the claim expires, the sighting stays.
	res := h.pollUntilClaimed(copyAt(begin("cmd-1", "h1", "o2", "conn/res"), 90), dedup.InProgress)
	wantOrigin(t, res, 10)
}

func testLeaseBusyRecordsTheSighting(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(begin("cmd-a", "ha", "oa", lk))
	// cmd-1's first copy meets the lease busy: its sighting is recorded.
	h.expect(copyAt(begin("cmd-1", "h1", "o1", lk), 10), dedup.LeaseBusy)
	h.expect(copyAt(begin("cmd-1", "h1", "o1b", lk), 12), dedup.LeaseBusy)
	// Another payload under its id is refused even before any claim.
	h.expect(copyAt(begin("cmd-1", "h2", "o2", lk), 30), dedup.Conflict)
	h.complete(complete("cmd-a", "ha", "oa", lk, result, nil))
	// A late copy claims it at the first copy's place.
	wantOrigin(t, h.claim(copyAt(begin("cmd-1", "h1", "o3", lk), 40)), 10)
}

func testSightedIDRefusesAnotherPayload(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(begin("cmd-1", "h1", "o1", lk))
	h.release("cmd-1", "o1", lk)
	// The id was seen with h1: a reused id's other payload is refused,
	// with no result (the first payload has not finished).
	res := h.expect(begin("cmd-1", "h2", "o2", lk), dedup.Conflict)
	if res.Result != nil {
		t.Fatalf("Conflict with an unfinished first payload: Result = %q, want nil", res.Result)
	}
	// The first payload is still welcome, and finishes.
	h.claim(begin("cmd-1", "h1", "o3", lk))
	h.complete(complete("cmd-1", "h1", "o3", lk, result, nil))
	wantResult(t, h.expect(begin("cmd-1", "h2", "o4", lk), dedup.Conflict), result)
}

func testDoneForgetsTheSighting(t *testing.T, h *harness) {
	// A done record answers from then on: a replay reopening a failed
	// record takes the record's origin, not the sighting's.
	lk := "conn/res"
	h.claim(copyAt(begin("cmd-1", "h1", "o1", lk), 10))
	req := failed("cmd-1", "h1", "o1", lk, failedResult, nil)
	req.Origin = originAt(20)
	h.complete(req)
	wantOrigin(t, h.claim(copyAt(replay("cmd-1", "h1", "o2", lk), 30)), 20)
}

// ---- holds: a resource kept for a command whose delivery did not finish ----

// held returns a BeginRequest holding the resource for longTTL beyond its
// claim of ttl.
func held(req dedup.BeginRequest, ttl time.Duration) dedup.BeginRequest {
	req.TTL, req.Hold = ttl, longTTL
	return req
}

// wantHeld Begins req and requires LeaseBusy with the resource held for
// another command (HeldFor set, at most max).
func (h *harness) wantHeld(req dedup.BeginRequest, max time.Duration) {
	h.t.Helper()
	res := h.expect(req, dedup.LeaseBusy)
	if res.HeldFor <= 0 || res.HeldFor > max {
		h.t.Fatalf("Begin(%s) LeaseBusy: HeldFor = %v, want in (0, %v]", req.CommandID, res.HeldFor, max)
	}
}

// A parked delivery (Release with KeepHold) whose kept hold lapsed while it
// waited holds the resource again when it begins again: once its new claim
// and lease lapse, another command finds the resource held for it.
func testABeginAfterItsHoldLapsedHoldsAgain(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(held(begin("cmd-1", "h1", "o1", lk), longTTL))
	if err := h.s.Release(h.ctx, dedup.ReleaseRequest{CommandID: "cmd-1", Owner: "o1", LeaseKey: lk, KeepHold: true, Hold: shortTTL}); err != nil {
		t.Fatal(err)
	}
	h.waitTTL(shortTTL) // the kept hold lapses
	h.claim(held(begin("cmd-1", "h1", "o1", lk), shortTTL))
	h.waitTTL(shortTTL) // its claim and lease lapse, not its new hold
	h.wantHeld(begin("cmd-2", "h2", "o2", lk), 2*longTTL)
}

func testHoldOutlivesALapsedClaim(t *testing.T, h *harness) {
	lk := "conn/res"
	first := h.claim(held(begin("cmd-1", "h1", "o1", lk), shortTTL))
	if first.Resumed {
		t.Fatal("a first Begin says Resumed")
	}
	// While the claim lives, the lease is simply busy.
	if res := h.expect(begin("cmd-2", "h2", "o2", lk), dedup.LeaseBusy); res.HeldFor != 0 {
		t.Fatalf("live lease: HeldFor = %v, want 0", res.HeldFor)
	}
	// The worker died: the claim lapses, the resource stays held for cmd-1.
	deadline := time.Now().Add(expiryDeadline)
	for res := h.expect(begin("cmd-2", "h2", "o2", lk), dedup.LeaseBusy); res.HeldFor == 0; res = h.expect(begin("cmd-2", "h2", "o2", lk), dedup.LeaseBusy) {
		if time.Now().After(deadline) {
			t.Fatalf("the lease never lapsed into a hold after %v", expiryDeadline)
		}
		time.Sleep(pollEvery)
	}
	h.wantHeld(begin("cmd-2", "h2", "o2", lk), shortTTL+longTTL)
	// cmd-1's redelivery takes it over: resumed.
	res := h.claim(held(begin("cmd-1", "h1", "o3", lk), longTTL))
	if !res.Resumed {
		t.Fatal("the redelivery of the command holding the resource: Resumed = false")
	}
	// The same owner again is no resumption.
	if res := h.claim(held(begin("cmd-1", "h1", "o3", lk), longTTL)); res.Resumed {
		t.Fatal("the same owner's second Begin says Resumed")
	}
	h.complete(complete("cmd-1", "h1", "o3", lk, result, nil))
	if res := h.claim(begin("cmd-2", "h2", "o2", lk)); res.Resumed {
		t.Fatal("another command after the hold ended says Resumed")
	}
}

// A delivery that may have written without its answer says so; its
// worker dies and the redelivery comes after the hold lapsed, after
// another command had the resource: it still begins Resumed (the values in
// place may be its own), until the command is done.
func testMayHaveWrittenOutlivesTheHold(t *testing.T, h *harness) {
	lk := "conn/res"
	req := begin("cmd-1", "h1", "o1", lk)
	req.TTL = shortTTL // and no hold beyond the claim
	if res := h.claim(req); res.Resumed {
		t.Fatal("a first Begin says Resumed")
	}
	if err := h.s.MayHaveWritten(h.ctx, "cmd-1", "someone-else", time.Hour); !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("MayHaveWritten by another owner: %v, want ErrLeaseLost", err)
	}
	if err := h.s.MayHaveWritten(h.ctx, "cmd-1", "o1", time.Hour); err != nil {
		t.Fatal(err)
	}
	// The worker died: the claim and the lease lapse; cmd-2 has the
	// resource and finishes.
	h.pollUntilClaimed(begin("cmd-2", "h2", "o2", lk), dedup.LeaseBusy)
	h.complete(complete("cmd-2", "h2", "o2", lk, result, nil))
	if err := h.s.MayHaveWritten(h.ctx, "cmd-1", "o1", time.Hour); !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("MayHaveWritten after the claim lapsed: %v, want ErrLeaseLost", err)
	}
	if res := h.claim(begin("cmd-1", "h1", "o3", lk)); !res.Resumed {
		t.Fatal("the late redelivery of a command that may have written: Resumed = false")
	}
	h.release("cmd-1", "o3", lk)
	if res := h.claim(begin("cmd-1", "h1", "o4", lk)); !res.Resumed {
		t.Fatal("the delivery after a release: Resumed = false")
	}
	h.complete(complete("cmd-1", "h1", "o4", lk, result, nil))
	if res := h.claim(begin("cmd-3", "h3", "o5", lk)); res.Resumed {
		t.Fatal("another command says Resumed")
	}
	h.expect(begin("cmd-1", "h1", "o6", lk), dedup.Done)
}

func testReleaseKeepsTheHoldWhenAsked(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(held(begin("cmd-1", "h1", "o1", lk), longTTL))
	// A write may have landed without its answer: released, held.
	if err := h.s.Release(h.ctx, dedup.ReleaseRequest{CommandID: "cmd-1", Owner: "o1", LeaseKey: lk, KeepHold: true, Hold: longTTL}); err != nil {
		t.Fatal(err)
	}
	h.wantHeld(begin("cmd-2", "h2", "o2", lk), longTTL)
	if res := h.claim(begin("cmd-1", "h1", "o3", lk)); !res.Resumed {
		t.Fatal("the redelivery after a release keeping the hold: Resumed = false")
	}
	h.release("cmd-1", "o3", lk)
	// A plain release ends the hold.
	if res := h.claim(begin("cmd-2", "h2", "o2", lk)); res.Resumed {
		t.Fatal("another command says Resumed")
	}
}

func testHoldEndsWithReleaseAndExpiry(t *testing.T, h *harness) {
	h.claim(held(begin("cmd-1", "h1", "o1", "conn/res"), longTTL))
	h.release("cmd-1", "o1", "conn/res")
	h.claim(begin("cmd-2", "h2", "o2", "conn/res"))

	// A hold expires: lease and hold both short.
	req := begin("cmd-3", "h3", "o1", "conn/res3")
	req.TTL, req.Hold = shortTTL, shortTTL
	h.claim(req)
	h.pollUntilClaimed(begin("cmd-4", "h4", "o2", "conn/res3"), dedup.LeaseBusy)

	// A release keeping the hold for a short while: it expires too.
	h.claim(begin("cmd-5", "h5", "o1", "conn/res5"))
	if err := h.s.Release(h.ctx, dedup.ReleaseRequest{CommandID: "cmd-5", Owner: "o1", LeaseKey: "conn/res5", KeepHold: true, Hold: shortTTL}); err != nil {
		t.Fatal(err)
	}
	h.pollUntilClaimed(begin("cmd-6", "h6", "o2", "conn/res5"), dedup.LeaseBusy)
	// Another owner's release keeps nothing of a hold not its own.
	h.claim(held(begin("cmd-7", "h7", "o1", "conn/res7"), longTTL))
	if err := h.s.Release(h.ctx, dedup.ReleaseRequest{CommandID: "cmd-7", Owner: "o-other", LeaseKey: "conn/res7", KeepHold: true, Hold: longTTL}); err != nil {
		t.Fatal(err)
	}
	h.complete(complete("cmd-7", "h7", "o1", "conn/res7", result, nil))
	h.claim(begin("cmd-8", "h8", "o2", "conn/res7"))
}

func testInvalidHolds(t *testing.T, h *harness) {
	req := begin("cmd-1", "h1", "o1", "conn/res")
	req.Hold = -time.Second
	if _, err := h.s.Begin(h.ctx, req); err == nil {
		t.Error("Begin with a negative Hold: no error")
	}
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-1", Owner: "o1", TTL: longTTL, Hold: -time.Second}); err == nil {
		t.Error("Renew with a negative Hold: no error")
	}
	if err := h.s.Release(h.ctx, dedup.ReleaseRequest{CommandID: "cmd-1", Owner: "o1", KeepHold: true}); err == nil {
		t.Error("Release keeping a hold of no duration: no error")
	}
}

// ---- Sight: sightings of held commands, recorded before their Begin ----

func sighting(id, hash string, seq uint64) dedup.Sighting {
	return dedup.Sighting{CommandID: id, PayloadHash: hash, Origin: originAt(seq), TTL: resultTTL}
}

func (h *harness) sight(ss ...dedup.Sighting) {
	h.t.Helper()
	if err := h.s.Sight(h.ctx, ss); err != nil {
		h.t.Fatalf("Sight(%d): %v", len(ss), err)
	}
}

func testSightBeforeBegin(t *testing.T, h *harness) {
	// A worker fetched three commands and was killed before it began
	// them: late copies and reused ids meet their sightings.
	h.sight(sighting("cmd-1", "h1", 10), sighting("cmd-2", "h2", 11), sighting("cmd-3", "h3", 12))
	wantOrigin(t, h.claim(copyAt(begin("cmd-1", "h1", "o1", "conn/res1"), 90)), 10)
	h.expect(copyAt(begin("cmd-2", "h-other", "o1", "conn/res2"), 91), dedup.Conflict)
	wantOrigin(t, h.claim(copyAt(begin("cmd-2", "h2", "o1", "conn/res2"), 91)), 11)
	// It takes no claim and no lease.
	h.claim(begin("cmd-4", "h4", "o1", "conn/res3"))
	wantOrigin(t, h.claim(copyAt(begin("cmd-3", "h3", "o2", ""), 12)), 12)
	h.sight() // nothing to sight: no error
}

func testSightKeepsTheEarliestCopy(t *testing.T, h *harness) {
	h.sight(sighting("cmd-1", "h1", 50))
	h.sight(sighting("cmd-1", "h1", 10))
	h.sight(sighting("cmd-1", "h1", 70), sighting("cmd-1", "h-other", 5))
	wantOrigin(t, h.claim(copyAt(begin("cmd-1", "h1", "o1", "conn/res"), 60)), 10)
	// A live claim keeps its owner; its sighting still learns an earlier copy.
	h.sight(sighting("cmd-1", "h1", 3))
	h.expect(begin("cmd-1", "h1", "o2", "conn/res"), dedup.InProgress)
	h.release("cmd-1", "o1", "conn/res")
	wantOrigin(t, h.claim(copyAt(begin("cmd-1", "h1", "o3", "conn/res"), 60)), 3)
}

func testSightLeavesDoneAndConflictsToBegin(t *testing.T, h *harness) {
	h.claim(begin("cmd-1", "h1", "o1", "conn/res"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, nil))
	h.sight(sighting("cmd-1", "h1", 10), sighting("cmd-1", "h2", 11))
	wantResult(t, h.expect(begin("cmd-1", "h1", "o2", "conn/res"), dedup.Done), result)
	wantResult(t, h.expect(begin("cmd-1", "h2", "o2", "conn/res"), dedup.Conflict), result)

	if err := h.s.Sight(h.ctx, []dedup.Sighting{{PayloadHash: "h", TTL: resultTTL}}); err == nil {
		t.Error("Sight without CommandID: no error")
	}
	if err := h.s.Sight(h.ctx, []dedup.Sighting{{CommandID: "cmd-9", PayloadHash: "h"}}); err == nil {
		t.Error("Sight without TTL: no error")
	}
}

// heldSighting is a sighting of a copy a worker holds and has not begun,
// keeping its command's hold of leaseKey.
func heldSighting(id, hash string, seq uint64, leaseKey string) dedup.Sighting {
	st := sighting(id, hash, seq)
	st.LeaseKey, st.Hold = leaseKey, longTTL
	return st
}

func testSightKeepsTheCommandsHold(t *testing.T, h *harness) {
	// cmd-1's delivery took the resource, holding it a short while, and
	// died; a worker holds cmd-1's redelivery, which waits for a goroutine
	// longer than that: its sightings keep the hold.
	req := begin("cmd-1", "h1", "o1", "conn/res")
	req.TTL, req.Hold = shortTTL, shortTTL
	h.claim(req)
	h.sight(heldSighting("cmd-1", "h1", 1, "conn/res"))
	time.Sleep(3 * shortTTL) // the lease and the hold as Begin set it have lapsed
	h.wantHeld(begin("cmd-2", "h2", "o2", "conn/res"), longTTL)
	if res := h.claim(held(begin("cmd-1", "h1", "o3", "conn/res"), longTTL)); !res.Resumed {
		t.Fatal("the redelivery of the command whose hold its sightings kept: Resumed = false")
	}

	// Sightings of another command, or of another payload under the id,
	// keep nothing: the hold lapses.
	req = begin("cmd-3", "h3", "o1", "conn/res2")
	req.TTL, req.Hold = shortTTL, shortTTL
	h.claim(req)
	h.sight(heldSighting("cmd-4", "h4", 4, "conn/res2"), heldSighting("cmd-3", "h-other", 3, "conn/res2"))
	h.pollUntilClaimed(begin("cmd-5", "h5", "o2", "conn/res2"), dedup.LeaseBusy)

	// A sighting without a lease key keeps nothing either.
	req = begin("cmd-6", "h6", "o1", "conn/res3")
	req.TTL, req.Hold = shortTTL, shortTTL
	h.claim(req)
	h.sight(sighting("cmd-6", "h6", 6))
	h.pollUntilClaimed(begin("cmd-7", "h7", "o2", "conn/res3"), dedup.LeaseBusy)
}

// ---- joins: commands riding in the write of the lease's holder ----

// joining returns req joining the lease owner holds.
func joining(req dedup.BeginRequest, owner string) dedup.BeginRequest {
	req.JoinOwner = owner
	return req
}

func testJoinTheLease(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(begin("cmd-0", "h0", "o0", lk, "name"))
	h.complete(complete("cmd-0", "h0", "o0", lk, result, map[string]int64{"name": 5}))

	// Nobody holds the lease: nothing to join.
	h.expect(joining(begin("cmd-2", "h2", "o2", lk), "o1"), dedup.LeaseBusy)
	h.claim(held(begin("cmd-1", "h1", "o1", lk, "uri"), longTTL))
	// Another owner's lease is not joined.
	h.expect(joining(begin("cmd-2", "h2", "o2", lk), "o-other"), dedup.LeaseBusy)
	res := h.claim(joining(held(begin("cmd-2", "h2", "o2", lk, "name"), longTTL), "o1"))
	if res.Resumed {
		t.Fatal("a first joining Begin says Resumed")
	}
	wantOrderKeys(t, res, map[string]int64{"name": 5})
	// A second command joins too; an unrelated one is busy.
	h.claim(joining(held(begin("cmd-3", "h3", "o3", lk, "logo"), longTTL), "o1"))
	if res := h.expect(begin("cmd-4", "h4", "o4", lk), dedup.LeaseBusy); res.HeldFor != 0 {
		t.Fatalf("live lease: HeldFor = %v, want 0", res.HeldFor)
	}
	// The holder finishes first: the lease is free, the resource is still
	// held for the commands that joined it.
	h.complete(complete("cmd-1", "h1", "o1", lk, result, map[string]int64{"uri": 7}))
	h.wantHeld(begin("cmd-4", "h4", "o4", lk), 2*longTTL)
	h.complete(complete("cmd-2", "h2", "o2", lk, result, map[string]int64{"name": 7}))
	h.wantHeld(begin("cmd-4", "h4", "o4", lk), 2*longTTL)
	h.complete(complete("cmd-3", "h3", "o3", lk, result, map[string]int64{"logo": 7}))
	if res := h.claim(begin("cmd-4", "h4", "o4", lk, "name", "uri", "logo")); res.Resumed {
		t.Fatal("a command after every joined hold ended says Resumed")
	} else {
		wantOrderKeys(t, res, map[string]int64{"name": 7, "uri": 7, "logo": 7})
	}
	// Joined commands are done like any.
	h.expect(begin("cmd-2", "h2", "o9", lk), dedup.Done)
}

// The worker making a merged write dies before any of its commands is
// done: the resource stays held for each of them until its own
// redelivery has recorded its outcome, and each redelivery resumes.
func testJoinedHoldsOutliveLapsedClaims(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(held(begin("cmd-1", "h1", "o1", lk), shortTTL))
	h.claim(joining(held(begin("cmd-2", "h2", "o2", lk), shortTTL), "o1"))
	h.claim(joining(held(begin("cmd-3", "h3", "o3", lk), shortTTL), "o1"))
	// The claims and the lease lapse; the resource stays held.
	deadline := time.Now().Add(expiryDeadline)
	for res := h.expect(begin("cmd-4", "h4", "o4", lk), dedup.LeaseBusy); res.HeldFor == 0; res = h.expect(begin("cmd-4", "h4", "o4", lk), dedup.LeaseBusy) {
		if time.Now().After(deadline) {
			t.Fatalf("the lease never lapsed into a hold after %v", expiryDeadline)
		}
		time.Sleep(pollEvery)
	}
	// The joined claims were taken after the lease: they lapse a little
	// later.
	h.waitTTL(shortTTL)
	// A joined command's redelivery takes the lease, resumed.
	if res := h.claim(held(begin("cmd-2", "h2", "o5", lk), longTTL)); !res.Resumed {
		t.Fatal("the redelivery of a command that joined a lease: Resumed = false")
	}
	h.expect(begin("cmd-3", "h3", "o6", lk), dedup.LeaseBusy)
	h.complete(complete("cmd-2", "h2", "o5", lk, result, nil))
	h.wantHeld(begin("cmd-4", "h4", "o4", lk), 2*longTTL)
	// The holder's redelivery resumes too, then the last joined one.
	if res := h.claim(held(begin("cmd-1", "h1", "o7", lk), longTTL)); !res.Resumed {
		t.Fatal("the redelivery of the lease's holder: Resumed = false")
	}
	h.complete(complete("cmd-1", "h1", "o7", lk, result, nil))
	h.wantHeld(begin("cmd-4", "h4", "o4", lk), 2*longTTL)
	if res := h.claim(held(begin("cmd-3", "h3", "o8", lk), longTTL)); !res.Resumed {
		t.Fatal("the redelivery of the last joined command: Resumed = false")
	}
	h.release("cmd-3", "o8", lk)
	if res := h.claim(begin("cmd-4", "h4", "o4", lk)); res.Resumed {
		t.Fatal("another command after the holds ended says Resumed")
	}

	// Holds that nobody resumes lapse.
	lk = "conn/res2"
	req := begin("cmd-11", "h1", "o1", lk)
	req.TTL, req.Hold = shortTTL, shortTTL
	h.claim(req)
	req = begin("cmd-12", "h2", "o2", lk)
	req.TTL, req.Hold = shortTTL, 2*shortTTL
	h.claim(joining(req, "o1"))
	h.pollUntilClaimed(begin("cmd-14", "h4", "o4", lk), dedup.LeaseBusy)
}

func testJoinedRenewReleaseAndComplete(t *testing.T, h *harness) {
	lk := "conn/res"
	h.claim(held(begin("cmd-1", "h1", "o1", lk), longTTL))
	req := joining(begin("cmd-2", "h2", "o2", lk), "o1")
	req.TTL = shortTTL
	h.claim(req)
	renew := dedup.RenewRequest{CommandID: "cmd-2", Owner: "o2", LeaseKey: lk, TTL: shortTTL, Hold: longTTL, JoinOwner: "o1"}
	for range 3 {
		time.Sleep(shortTTL / 2)
		if err := h.s.Renew(h.ctx, renew); err != nil {
			t.Fatalf("Renew of a joined command: %v", err)
		}
	}
	h.expect(begin("cmd-2", "h2", "o9", lk), dedup.InProgress)
	// Renewed without its JoinOwner, or with another: the lease is not its own.
	bad := renew
	bad.JoinOwner = ""
	if err := h.s.Renew(h.ctx, bad); !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Renew of a joined command without JoinOwner: %v, want ErrLeaseLost", err)
	}
	bad.JoinOwner = "o-other"
	if err := h.s.Renew(h.ctx, bad); !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Renew of a joined command with another JoinOwner: %v, want ErrLeaseLost", err)
	}
	// Its Release keeping the hold: the resource stays held for it after
	// the holder is done; its redelivery resumes.
	if err := h.s.Release(h.ctx, dedup.ReleaseRequest{CommandID: "cmd-2", Owner: "o2", LeaseKey: lk, KeepHold: true, Hold: longTTL}); err != nil {
		t.Fatal(err)
	}
	h.expect(begin("cmd-3", "h3", "o3", lk), dedup.LeaseBusy) // the holder's lease
	h.complete(complete("cmd-1", "h1", "o1", lk, result, nil))
	h.wantHeld(begin("cmd-3", "h3", "o3", lk), 2*longTTL)
	if res := h.claim(begin("cmd-2", "h2", "o4", lk)); !res.Resumed {
		t.Fatal("a joined command's redelivery after a release keeping its hold: Resumed = false")
	}
	h.complete(complete("cmd-2", "h2", "o4", lk, result, nil))
	h.claim(begin("cmd-3", "h3", "o3", lk))
	h.complete(complete("cmd-3", "h3", "o3", lk, result, nil))

	// A joined command's Complete raises its order keys and leaves the
	// holder's lease alone; a plain Release ends its hold.
	h.claim(held(begin("cmd-5", "h5", "o5", lk), longTTL))
	h.claim(joining(held(begin("cmd-6", "h6", "o6", lk, "name"), longTTL), "o5"))
	h.claim(joining(held(begin("cmd-7", "h7", "o7", lk, "logo"), longTTL), "o5"))
	h.complete(complete("cmd-6", "h6", "o6", lk, result, map[string]int64{"name": 9}))
	h.release("cmd-7", "o7", lk)
	h.expect(begin("cmd-8", "h8", "o8", lk), dedup.LeaseBusy)
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-5", Owner: "o5", LeaseKey: lk, TTL: longTTL}); err != nil {
		t.Fatalf("the holder's Renew after a joined command finished: %v", err)
	}
	h.complete(complete("cmd-5", "h5", "o5", lk, result, nil))
	res := h.claim(begin("cmd-8", "h8", "o8", lk, "name"))
	if res.Resumed {
		t.Fatal("another command after the holds ended says Resumed")
	}
	wantOrderKeys(t, res, map[string]int64{"name": 9})
}

func testInvalidJoins(t *testing.T, h *harness) {
	if _, err := h.s.Begin(h.ctx, joining(begin("cmd-1", "h1", "o1", ""), "o0")); err == nil {
		t.Error("Begin joining a lease without a LeaseKey: no error")
	}
	if err := h.s.Renew(h.ctx, dedup.RenewRequest{CommandID: "cmd-1", Owner: "o1", TTL: longTTL, JoinOwner: "o0"}); err == nil {
		t.Error("Renew joining a lease without a LeaseKey: no error")
	}
}
