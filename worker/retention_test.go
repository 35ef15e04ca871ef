package worker_test

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
)

// TestStoragePerCommandIsBounded: what a finished command leaves in Redis,
// how long, and how many bytes (MEMORY USAGE, logged with -v). A rejected
// command keeps its record for RejectedResultTTL (1h), not ResultTTL
// (72h), so a flood of invalid commands cannot fill Redis for days.
func TestStoragePerCommandIsBounded(t *testing.T) {
	b := newBundle(t)
	rc := testenv.Redis(t)
	prefix := "oauthsync-test-" + testenv.Unique()
	b.store = redisdedup.New(rc, redisdedup.Config{Prefix: prefix})
	t.Cleanup(func() {
		iter := rc.Scan(context.Background(), 0, prefix+":*", 1000).Iterator()
		for iter.Next(context.Background()) {
			rc.Del(context.Background(), iter.Val())
		}
	})
	b.start(b.config())

	body, err := command("bad-1", res1, nil, messages.Changes{Name: ptr("n")}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	m["data"].(map[string]any)["changes"].(map[string]any)["colour"] = "red"
	bad, _ := json.Marshal(m)
	b.publishRaw(b.subjects.Command(connName, res1), bad, true, "bad-1")
	b.publish(command("good-1", res2, ptr(int64(7)), messages.Changes{Name: ptr("renamed"), RedirectURI: ptr("https://new.example.com/cb")}), true)
	if r := b.result("bad-1"); r.Data.Status != messages.StatusRejected {
		t.Fatalf("bad-1: %s", r.Data.Status)
	}
	if r := b.result("good-1"); r.Data.Status != messages.StatusApplied {
		t.Fatalf("good-1: %s", r.Data.Status)
	}
	waitConsumed(t, b, "syncworker_"+connName, 2)

	ctx := t.Context()
	var keys []string
	iter := rc.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, strings.TrimPrefix(iter.Val(), prefix+":"))
	}
	sort.Strings(keys)
	want := []string{"cmd:bad-1", "cmd:good-1", "order:" + connName + "/" + res2, "store:completions"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Fatalf("keys left behind: %v, want %v", keys, want)
	}
	ttl := func(k string) time.Duration {
		d, err := rc.PTTL(ctx, prefix+":"+k).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := ttl("cmd:bad-1"); d <= 59*time.Minute || d > time.Hour {
		t.Errorf("a rejected command's record lives %v, want the 1h RejectedResultTTL", d)
	}
	if d := ttl("cmd:good-1"); d <= 71*time.Hour || d > 72*time.Hour {
		t.Errorf("an applied command's record lives %v, want the 72h ResultTTL", d)
	}
	for _, k := range keys {
		n, err := rc.MemoryUsage(ctx, prefix+":"+k).Result()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("MEMORY USAGE %-40s %5d bytes, TTL %v", k, n, ttl(k).Round(time.Minute))
	}
}
