package redisflow_test

import (
	"context"
	"testing"

	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/flowtest"
	"github.com/oauthsync/oauthsync/worker/flow/redisflow"
)

func TestConformance(t *testing.T) {
	client := testenv.Redis(t)
	flowtest.Run(t, func(t *testing.T) flow.Store {
		prefix := "oauthsync-test-" + testenv.Unique()
		t.Cleanup(func() {
			keys, _ := client.Keys(context.Background(), "*"+prefix+"*").Result()
			if len(keys) > 0 {
				client.Del(context.Background(), keys...)
			}
		})
		return redisflow.New(client, prefix)
	})
}
