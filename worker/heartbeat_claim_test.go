package worker

import (
	"testing"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

// A delivery gives its lease back while it waits for flow control and
// claims again: a renewal of the earlier claim that comes back lost (it
// was given back) must not mark the new claim lost, or the command would
// be handed back after its write without its outcome recorded.
func TestALostRenewalOfAnEarlierClaimLeavesTheNextOneAlone(t *testing.T) {
	tr := &tracked{}
	tr.claim(dedup.RenewRequest{CommandID: "c"}, func() {})
	_, _, first, _ := tr.claimedGen()
	tr.unclaim()
	tr.claim(dedup.RenewRequest{CommandID: "c"}, func() {})
	if tr.lose(first) || tr.lost.Load() {
		t.Fatal("the earlier claim's lost renewal marked the new claim lost")
	}
	_, _, second, _ := tr.claimedGen()
	if !tr.lose(second) || !tr.lost.Load() {
		t.Fatal("the held claim's lost renewal was not recorded")
	}
	tr.unclaim()
	tr.claim(dedup.RenewRequest{CommandID: "c"}, func() {})
	if tr.lost.Load() {
		t.Fatal("a new claim starts lost")
	}
}
