// Package servers names the machine's Redis and NATS JetStream the tests
// use (overridable by OAUTHSYNC_TEST_REDIS_URL and OAUTHSYNC_TEST_NATS_URL).
// It imports nothing heavy, so `make servers` can check them before the
// first compile of the NATS server (package testenv embeds it).
package servers

import "os"

// RedisURL is the Redis the tests use.
func RedisURL() string {
	if u := os.Getenv("OAUTHSYNC_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// NATSURL is the machine's NATS server the tests use.
func NATSURL() string {
	if u := os.Getenv("OAUTHSYNC_TEST_NATS_URL"); u != "" {
		return u
	}
	return "nats://127.0.0.1:4222"
}
