// Command checkservers exits non-zero, saying why, unless the Redis and the
// NATS JetStream server the tests use both answer.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/internal/testenv/servers"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := false
	opt, err := redis.ParseURL(servers.RedisURL())
	if err == nil {
		c := redis.NewClient(opt)
		err = c.Ping(ctx).Err()
		_ = c.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "Redis at %s: %v\n", servers.RedisURL(), err)
		failed = true
	}
	nc, err := nats.Connect(servers.NATSURL(), nats.Timeout(3*time.Second))
	if err == nil {
		var js jetstream.JetStream
		if js, err = jetstream.New(nc); err == nil {
			_, err = js.AccountInfo(ctx)
		}
		nc.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "NATS JetStream at %s: %v\n", servers.NATSURL(), err)
		failed = true
	}
	if failed {
		fmt.Fprintln(os.Stderr, "the tests need both servers; see README (Development)")
		os.Exit(1)
	}
	fmt.Printf("servers: Redis %s and NATS JetStream %s answer\n", servers.RedisURL(), servers.NATSURL())
}
