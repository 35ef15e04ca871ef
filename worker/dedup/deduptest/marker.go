package deduptest

import (
	"errors"
	"fmt"
	"testing"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

// The cases of the store's own state (contract §5.7): the epoch marker,
// the completion counter and the fence on Begin. Every Store passes them:
// a store that cannot tell that it lost its state cannot fail closed.
func init() {
	cases = append(cases, []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"MarkerAbsentOnAFreshStore", testMarkerAbsentOnAFreshStore},
		{"InitMarkerOnlyIfAbsent", testInitMarkerOnlyIfAbsent},
		{"ConcurrentInitMarkerOneEpoch", testConcurrentInitMarkerOneEpoch},
		{"CompletionsRiseWithEachDoneRecord", testCompletionsRiseWithEachDoneRecord},
		{"FenceRefusesBeginWithoutMarker", testFenceRefusesBeginWithoutMarker},
		{"FenceFollowsTheMarker", testFenceFollowsTheMarker},
		{"FenceRefusesBeginBelowTheFloor", testFenceRefusesBeginBelowTheFloor},
	}...)
}

// marked returns the harness's store as a dedup.Marked, failing the test
// when it is not one.
func (h *harness) marked() dedup.Marked {
	h.t.Helper()
	m, ok := h.s.(dedup.Marked)
	if !ok {
		h.t.Fatalf("%T does not implement dedup.Marked: it cannot detect the loss of its state (contract §5.7)", h.s)
	}
	return m
}

func (h *harness) marker() dedup.Marker {
	h.t.Helper()
	m, err := h.marked().Marker(h.ctx)
	if err != nil {
		h.t.Fatalf("Marker: %v", err)
	}
	return m
}

func testMarkerAbsentOnAFreshStore(t *testing.T, h *harness) {
	if m := h.marker(); m.Epoch != "" {
		t.Fatalf("fresh store: epoch %q, want none", m.Epoch)
	}
	// Records do not make a marker.
	h.claim(begin("cmd-1", "h1", "o1", "conn/res", "name"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, map[string]int64{"name": 1}))
	if m := h.marker(); m.Epoch != "" {
		t.Fatalf("after a command: epoch %q, want none", m.Epoch)
	}
}

func testInitMarkerOnlyIfAbsent(t *testing.T, h *harness) {
	s := h.marked()
	m, err := s.InitMarker(h.ctx, "epoch-1")
	if err != nil || m.Epoch != "epoch-1" {
		t.Fatalf("InitMarker(epoch-1) = %+v, %v; want epoch-1", m, err)
	}
	if m, err = s.InitMarker(h.ctx, "epoch-2"); err != nil || m.Epoch != "epoch-1" {
		t.Fatalf("second InitMarker(epoch-2) = %+v, %v; want epoch-1 kept", m, err)
	}
	if m, err = s.ResetMarker(h.ctx, "epoch-3"); err != nil || m.Epoch != "epoch-3" {
		t.Fatalf("ResetMarker(epoch-3) = %+v, %v; want epoch-3", m, err)
	}
	if m := h.marker(); m.Epoch != "epoch-3" {
		t.Fatalf("Marker after reset: epoch %q, want epoch-3", m.Epoch)
	}
	if _, err := s.InitMarker(h.ctx, ""); err == nil {
		t.Fatal("InitMarker with an empty epoch: no error")
	}
}

func testConcurrentInitMarkerOneEpoch(t *testing.T, h *harness) {
	s := h.marked()
	epochs := make([]string, concurrency)
	race(t, func(i int) (dedup.BeginResult, error) {
		m, err := s.InitMarker(h.ctx, fmt.Sprintf("epoch-%d", i))
		epochs[i] = m.Epoch
		return dedup.BeginResult{}, err
	})
	for i, e := range epochs {
		if e == "" || e != epochs[0] {
			t.Fatalf("racing InitMarker %d answered epoch %q, #0 %q: want one epoch for all", i, e, epochs[0])
		}
	}
}

func testCompletionsRiseWithEachDoneRecord(t *testing.T, h *harness) {
	last := h.marker().Completions
	rose := func(what string) {
		t.Helper()
		now := h.marker().Completions
		if now <= last {
			t.Fatalf("%s: completions %d, was %d: want a rise", what, now, last)
		}
		last = now
	}
	h.claim(begin("cmd-1", "h1", "o1", "conn/res", "name"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, map[string]int64{"name": 1}))
	rose("Complete with a claim")
	h.complete(complete("cmd-2", "h1", "o1", "", result, nil))
	rose("Complete without a claim")
	h.complete(failed("cmd-3", "h1", "o1", "conn/res", result, nil))
	rose("Complete reopenable")
	h.claim(replay("cmd-3", "h1", "o2", "conn/res"))
	h.complete(complete("cmd-3", "h1", "o2", "conn/res", result, nil))
	rose("Complete of a replay")
	// Nothing lowers it: a refused Complete, a Release, a duplicate Begin.
	h.claim(begin("cmd-4", "h1", "o1", "conn/res"))
	if err := h.s.Complete(h.ctx, complete("cmd-4", "h1", "other", "conn/res", result, nil)); !errors.Is(err, dedup.ErrLeaseLost) {
		t.Fatalf("Complete by a non-owner: %v, want ErrLeaseLost", err)
	}
	h.release("cmd-4", "o1", "conn/res")
	h.expect(begin("cmd-1", "h1", "o3", "conn/res"), dedup.Done)
	if now := h.marker().Completions; now < last {
		t.Fatalf("completions fell from %d to %d", last, now)
	}
}

func (h *harness) wantStoreLost(req dedup.BeginRequest) {
	h.t.Helper()
	res, err := h.s.Begin(h.ctx, req)
	if !errors.Is(err, dedup.ErrStoreLost) {
		h.t.Fatalf("fenced Begin(%s) = %v, %v; want ErrStoreLost", req.CommandID, res.State, err)
	}
}

func testFenceRefusesBeginWithoutMarker(t *testing.T, h *harness) {
	s := h.marked()
	s.Fence(dedup.Marker{Epoch: "epoch-1"})
	h.wantStoreLost(begin("cmd-1", "h1", "o1", "conn/res", "name"))
	h.wantStoreLost(begin("cmd-2", "h1", "o1", ""))
	// Nothing was taken: unfenced, another owner claims both, lease included.
	s.Fence(dedup.Marker{})
	h.claim(begin("cmd-1", "h1", "o2", "conn/res", "name"))
	h.claim(begin("cmd-2", "h1", "o2", ""))
}

func testFenceFollowsTheMarker(t *testing.T, h *harness) {
	s := h.marked()
	if _, err := s.InitMarker(h.ctx, "epoch-1"); err != nil {
		t.Fatal(err)
	}
	s.Fence(dedup.Marker{Epoch: "epoch-1"})
	h.claim(begin("cmd-1", "h1", "o1", "conn/res", "name"))
	h.complete(complete("cmd-1", "h1", "o1", "conn/res", result, map[string]int64{"name": 5}))
	wantResult(t, h.expect(begin("cmd-1", "h1", "o2", "conn/res"), dedup.Done), result)

	s.Fence(dedup.Marker{Epoch: "epoch-2"})
	h.wantStoreLost(begin("cmd-1", "h1", "o2", "conn/res"))
	h.wantStoreLost(begin("cmd-2", "h1", "o2", "conn/res", "name"))

	if _, err := s.ResetMarker(h.ctx, "epoch-2"); err != nil {
		t.Fatal(err)
	}
	wantOrderKeys(t, h.claim(begin("cmd-2", "h1", "o2", "conn/res", "name")), map[string]int64{"name": 5})
	s.Fence(dedup.Marker{Epoch: "epoch-1"})
	h.wantStoreLost(begin("cmd-3", "h1", "o3", ""))
}

// testFenceRefusesBeginBelowTheFloor: a store whose counter is below the
// fence's (restored from an older snapshot) refuses claims; at or above
// it, claims go on.
func testFenceRefusesBeginBelowTheFloor(t *testing.T, h *harness) {
	s := h.marked()
	if _, err := s.InitMarker(h.ctx, "epoch-1"); err != nil {
		t.Fatal(err)
	}
	h.complete(complete("cmd-1", "h1", "o1", "", result, nil))
	m := h.marker()
	s.Fence(dedup.Marker{Epoch: "epoch-1", Completions: m.Completions + 1000})
	h.wantStoreLost(begin("cmd-2", "h1", "o1", "conn/res"))
	s.Fence(dedup.Marker{Epoch: "epoch-1", Completions: m.Completions})
	h.claim(begin("cmd-2", "h1", "o1", "conn/res"))
}
