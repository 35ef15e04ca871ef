package worker_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
)

// TestALostAnswerToAWriteIsApplied: the provider applies the command's
// write but its answer is lost (a 502 after the write landed). The retry
// reads the values back in place; they are this command's own write, so its
// result is applied, never unchanged (docs/CONTRACT.md §5.1), and nothing is
// written a second time.
func TestALostAnswerToAWriteIsApplied(t *testing.T) {
	b := newBundle(t)
	var lost atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == rocketchatsim.PathUpdate && lost.CompareAndSwap(0, 1) {
			b.sim.ServeHTTP(httptest.NewRecorder(), r)          // applied...
			http.Error(w, "bad gateway", http.StatusBadGateway) // ...and the answer lost
			return
		}
		b.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b.simURL = srv.URL
	b.start(b.config())
	b.publish(command("cmd-lost-answer", res1, nil, messages.Changes{RedirectURI: ptr("https://lost.example.com/cb")}), true)
	r := b.result("cmd-lost-answer").Data
	if r.Status != messages.StatusApplied || len(r.AppliedFields) != 1 || r.AppliedFields[0] != "redirectUri" {
		t.Fatalf("result = %s %v after %d attempts, want applied [redirectUri]", r.Status, r.AppliedFields, r.Attempts)
	}
	if lost.Load() != 1 || r.Attempts < 2 {
		t.Fatalf("the answer was lost %d times, %d attempts: the test did not lose the first answer", lost.Load(), r.Attempts)
	}
	if p := b.posts(); len(p) != 1 {
		t.Fatalf("provider got %d writes, want 1 (the retry found the values in place)", len(p))
	}
}

// TestALostAnswerHandedBackKeepsItsResource (§5.1, the chaos test's "written
// (the answer was lost) but superseded"): the provider applies a command's
// write but its answer is lost, then fails every retry until the delivery's
// budget is spent and the command is handed back. A newer command on the
// same resource waits until the command's redelivery has recorded that its
// write landed (applied), then goes on.
func TestALostAnswerHandedBackKeepsItsResource(t *testing.T) {
	b := newBundle(t)
	_, healed := b.loseOneAnswer()
	cfg := b.config()
	cfg.RetryBudget, cfg.MaxNakDelay = 300*time.Millisecond, 2*time.Second
	b.start(cfg)

	b.publish(command("cmd-lost", res1, nil, messages.Changes{Name: ptr("lost-answer")}), true)
	deadline := time.Now().Add(20 * time.Second)
	for !slices.ContainsFunc(b.spans.GetSpans(), func(s tracetest.SpanStub) bool { return hasEvent(s, "handed_back") }) {
		if time.Now().After(deadline) {
			t.Fatal("the command was never handed back")
		}
		time.Sleep(10 * time.Millisecond)
	}
	healed.Store(true)
	b.publish(command("cmd-newer", res1, nil, messages.Changes{Name: ptr("newer")}), true)

	if r := b.result("cmd-newer").Data; r.Status != messages.StatusApplied {
		t.Fatalf("newer: %s", r.Status)
	}
	r := b.result("cmd-lost").Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"name"}) {
		t.Fatalf("the command whose answer was lost: %s applied=%v skipped=%v; want applied: its write landed", r.Status, r.AppliedFields, r.SkippedFields)
	}
	if app, _ := b.sim.App(res1); app.Name != "newer" {
		t.Fatalf("provider name = %q, want the newer command's", app.Name)
	}
}

// TestALostAnswerIsAppliedAfterItsHoldLapsed (§5.1, the chaos test's
// "written (the answer was lost) but its result is unchanged"): the
// provider applies a command's write but its answer is lost, and its worker
// stops before the command is settled; the command's next delivery comes
// only after the resource's hold for it lapsed. The values it reads in
// place are its own write: applied, never unchanged.
func TestALostAnswerIsAppliedAfterItsHoldLapsed(t *testing.T) {
	b := newBundle(t)
	lost, healed := b.loseOneAnswer()
	cfg := b.config()
	cfg.AckWait, cfg.LeaseTTL, cfg.RetryBudget = 3*time.Second, time.Second, 2*time.Second
	stop := b.start(cfg)

	b.publish(command("cmd-lost", res1, nil, messages.Changes{Name: ptr("lost-answer")}), true)
	waitFor(t, "the answer to the write to be lost", lost.Load)
	time.Sleep(100 * time.Millisecond) // retrying
	stop()
	healed.Store(true)
	time.Sleep(cfg.AckWait + 2*cfg.LeaseTTL) // the hold (ack wait + lease TTL) lapses
	b.start(cfg)

	r := b.result("cmd-lost").Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"name"}) {
		t.Fatalf("the command whose answer was lost: %s applied=%v; want applied: its write landed", r.Status, r.AppliedFields)
	}
}

// loseOneAnswer puts a provider in front of the bundle's simulator that
// applies the first write but loses its answer (a 502), then answers 503
// to everything until healed is set.
func (b *bundle) loseOneAnswer() (lost, healed *atomic.Bool) {
	lost, healed = new(atomic.Bool), new(atomic.Bool)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == rocketchatsim.PathUpdate && lost.CompareAndSwap(false, true):
			b.sim.ServeHTTP(httptest.NewRecorder(), r)          // applied...
			http.Error(w, "bad gateway", http.StatusBadGateway) // ...and the answer lost
		case lost.Load() && !healed.Load():
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		default:
			b.sim.ServeHTTP(w, r)
		}
	}))
	b.t.Cleanup(srv.Close)
	b.simURL = srv.URL
	return lost, healed
}
