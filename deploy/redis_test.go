package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/flowtest"
	"github.com/oauthsync/oauthsync/worker/flow/redisflow"

	"github.com/redis/go-redis/v9"

	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/deduptest"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
)

// startProductionRedis runs a private redis-server with redis/redis.conf and
// redis/users.acl, both users' placeholder hashes replaced by one test
// password, on a unix socket. It returns the socket, the password and an
// admin client; the server is stopped at cleanup.
func startProductionRedis(t *testing.T) (sock, password string, admin *redis.Client) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is required (the tests run against real Redis; see README, Development): %v", err)
	}
	dir, err := os.MkdirTemp("", "oauthsync-redis-") // short: a unix socket path is limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	password = "test-" + testenv.Unique()
	sum := sha256.Sum256([]byte(password))
	hash := hex.EncodeToString(sum[:])

	acl := readFile(t, "redis/users.acl")
	placeholder := regexp.MustCompile(`#REPLACE_WITH_SHA256_HEX_OF_THE_[A-Z]+_PASSWORD`)
	if n := len(placeholder.FindAll(acl, -1)); n != 2 {
		t.Fatalf("users.acl: %d password hash placeholders, want 2 (admin and oauthsync)", n)
	}
	aclPath := filepath.Join(dir, "users.acl")
	if err := os.WriteFile(aclPath, placeholder.ReplaceAll(acl, []byte("#"+hash)), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := readFile(t, "redis/redis.conf")
	aclLine := regexp.MustCompile(`(?m)^aclfile .*$`)
	if !aclLine.Match(conf) {
		t.Fatal("redis.conf: no aclfile")
	}
	confPath := filepath.Join(dir, "redis.conf")
	if err := os.WriteFile(confPath, aclLine.ReplaceAll(conf, []byte("aclfile "+aclPath)), 0o600); err != nil {
		t.Fatal(err)
	}

	sock = filepath.Join(dir, "redis.sock")
	var out bytes.Buffer
	cmd := exec.Command(bin, confPath, "--port", "0", "--unixsocket", sock, "--dir", dir, "--daemonize", "no", "--save", "")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	client := func(user string) *redis.Client {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, Username: user, Password: password})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	admin = client("admin")
	ctx := t.Context()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil && admin.Ping(ctx).Err() == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("redis-server refused the configuration (%v):\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not answer within 10s:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	return sock, password, admin
}

// TestRedisProductionSettings runs the dedup store's conformance suite as the
// worker's ACL user on Redis configured for production: the ACL allows every
// command the store sends, and refuses everything else.
func TestRedisProductionSettings(t *testing.T) {
	sock, password, admin := startProductionRedis(t)
	ctx := t.Context()
	client := func(user string) *redis.Client {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: sock, Username: user, Password: password})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	for k, want := range map[string]string{"appendonly": "yes", "appendfsync": "everysec", "maxmemory-policy": "noeviction"} {
		if got := admin.ConfigGet(ctx, k).Val()[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if v := admin.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; v == "0" || v == "" {
		t.Error("maxmemory is unset: noeviction needs a bound to refuse at")
	}
	anon := redis.NewClient(&redis.Options{Network: "unix", Addr: sock})
	defer func() { _ = anon.Close() }()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("the default user answers without a password: %v", err)
	}

	// The worker's user: the whole dedup conformance suite passes through it,
	// under the production prefix's namespace.
	worker := client("oauthsync")
	t.Run("conformance", func(t *testing.T) {
		deduptest.Run(t, func(t *testing.T) dedup.Store {
			return redisdedup.New(worker, redisdedup.Config{Prefix: redisdedup.DefaultPrefix + ":acltest-" + testenv.Unique()})
		})
	})
	// And the flow-control store (rate limits, wait signals, circuits).
	t.Run("flow", func(t *testing.T) {
		flowtest.Run(t, func(*testing.T) flow.Store {
			return redisflow.New(worker, redisdedup.DefaultPrefix+":acltest-"+testenv.Unique())
		})
	})
	if err := redisdedup.New(worker, redisdedup.Config{}).Ping(ctx); err != nil {
		t.Errorf("the store's readiness ping as the ACL user: %v", err)
	}

	// And nothing else.
	for what, err := range map[string]error{
		"a key outside oauthsync:*":         worker.Set(ctx, "other:key", "x", 0).Err(),
		"a script on a key outside":         worker.Eval(ctx, "return redis.call('GET', KEYS[1])", []string{"other:key"}).Err(),
		"an undeclared key from a script":   worker.Eval(ctx, "return redis.call('GET', 'other:key')", nil).Err(),
		"a dangerous command from a script": worker.Eval(ctx, "return redis.call('FLUSHALL')", nil).Err(),
		"KEYS":                              worker.Keys(ctx, "*").Err(),
		"FLUSHALL":                          worker.FlushAll(ctx).Err(),
		"CONFIG GET":                        worker.ConfigGet(ctx, "*").Err(),
		"SCRIPT FLUSH":                      worker.ScriptFlush(ctx).Err(),
		"PUBLISH":                           worker.Publish(ctx, "ch", "x").Err(),
	} {
		if err == nil {
			t.Errorf("the worker's user may run %s", what)
		}
	}

	// noeviction: once full, writes are refused (the worker sees an error
	// and retries) and nothing already stored disappears.
	if err := worker.Set(ctx, "oauthsync:keep", "x", 0).Err(); err != nil {
		t.Fatal(err)
	}
	used, err := admin.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`used_memory:(\d+)`).FindStringSubmatch(used)
	if m == nil {
		t.Fatalf("INFO memory: %s", used)
	}
	if err := admin.ConfigSet(ctx, "maxmemory", fmt.Sprint(mustAtoi(t, m[1])+512<<10)).Err(); err != nil {
		t.Fatal(err)
	}
	var oom error
	value := strings.Repeat("x", 16<<10)
	for i := 0; i < 1000 && oom == nil; i++ {
		oom = worker.Set(ctx, fmt.Sprintf("oauthsync:fill:%d", i), value, 0).Err()
	}
	if oom == nil || !strings.Contains(oom.Error(), "OOM") {
		t.Errorf("a full Redis answered %v, want an OOM refusal", oom)
	}
	if err := worker.Get(ctx, "oauthsync:keep").Err(); errors.Is(err, redis.Nil) {
		t.Error("a key was evicted")
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = admin.ShutdownNoSave(sctx).Err()
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
