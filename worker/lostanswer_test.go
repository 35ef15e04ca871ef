package worker_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

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
