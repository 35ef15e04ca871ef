package deduptest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/worker/dedup"
)

// BenchBeginComplete measures the hot path of one command: Sight (as the
// consume loop does on arrival), Begin (claim, lease, read two order keys)
// then Complete (done record, raise two order keys, release the lease),
// from parallel goroutines each working its own resource, so no iteration
// ever meets LeaseBusy, as many at once as a worker's slots. s must be
// empty (a fresh namespace).
func BenchBeginComplete(b *testing.B, s dedup.Store) {
	b.Helper()
	ctx := context.Background()
	result := []byte(`{"event_id":"01JD8Z3Q","status":"applied"}`)
	var goroutines atomic.Int64
	b.ReportAllocs()
	// As many at once as a worker's slots (64 in flight on 2 cores), so
	// that a store that batches concurrent calls is measured doing so.
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := goroutines.Add(1)
		owner := fmt.Sprintf("bench-owner-%d", g)
		leaseKey := fmt.Sprintf("bench/res-%d", g)
		var i int64
		for pb.Next() {
			i++
			id := fmt.Sprintf("bench-%d-%d", g, i)
			if err := s.Sight(ctx, []dedup.Sighting{{CommandID: id, PayloadHash: "h", Origin: dedup.Origin{Seq: uint64(i), Time: time.Now()},
				TTL: time.Hour, LeaseKey: leaseKey, Hold: 10 * time.Second}}); err != nil {
				b.Errorf("Sight(%s): %v", id, err)
				return
			}
			res, err := s.Begin(ctx, dedup.BeginRequest{
				CommandID: id, PayloadHash: "h", Owner: owner, LeaseKey: leaseKey,
				Fields: []string{"name", "email"}, TTL: 30 * time.Second, SightingTTL: time.Hour,
			})
			if err != nil || res.State != dedup.Claimed {
				b.Errorf("Begin(%s) = %v, %v; want claimed", id, res.State, err)
				return
			}
			if err := s.Complete(ctx, dedup.CompleteRequest{
				CommandID: id, PayloadHash: "h", Owner: owner, LeaseKey: leaseKey, Result: result,
				OrderKeys: map[string]dedup.OrderKey{"name": {Key: i, Seq: uint64(i)}, "email": {Key: i, Seq: uint64(i)}}, ResultTTL: time.Hour,
			}); err != nil {
				b.Errorf("Complete(%s): %v", id, err)
				return
			}
		}
	})
}
