package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// OwnRedis is a redis-server process of the test's own, on a free loopback
// port with its data directory in a temporary directory: a Redis the test
// may stop, empty and restart, which the machine's shared one never is.
type OwnRedis struct {
	t    testing.TB
	Dir  string // data directory (dump.rdb)
	Port int
	cmd  *exec.Cmd
	done chan struct{}
}

// StartOwnRedis starts redis-server (from PATH) with RDB snapshots only on
// SAVE/SHUTDOWN SAVE and no AOF, and stops it at cleanup. It fails the test
// when redis-server cannot be started.
func StartOwnRedis(t testing.TB) *OwnRedis {
	t.Helper()
	r := &OwnRedis{t: t, Dir: t.TempDir()}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testenv: free port: %v", err)
	}
	r.Port = l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	r.Start()
	t.Cleanup(func() { r.Stop(false) })
	return r
}

// Addr is the server's host:port.
func (r *OwnRedis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Client returns a new client of the server, closed at cleanup.
func (r *OwnRedis) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), DialTimeout: time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Start starts the server (again), loading Dir/dump.rdb if present, and
// waits until it answers PING.
func (r *OwnRedis) Start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(r.Port), "--dir", r.Dir,
		"--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(r.Dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("testenv: start redis-server: %v", err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(r.cmd, r.done)
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-r.done:
			log, _ := os.ReadFile(filepath.Join(r.Dir, "redis.log"))
			r.t.Fatalf("testenv: redis-server exited at start: %s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("testenv: redis-server on %s does not answer: %v", r.Addr(), err)
		}
	}
}

// Stop shuts the server down (SHUTDOWN SAVE when save, else NOSAVE) and
// waits for the process to exit; a no-op when it is not running.
func (r *OwnRedis) Stop(save bool) {
	r.t.Helper()
	if r.cmd == nil {
		return
	}
	mode := "NOSAVE"
	if save {
		mode = "SAVE"
	}
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	_ = c.Do(context.Background(), "SHUTDOWN", mode).Err() // the connection drops: no reply
	_ = c.Close()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// Snapshot saves the dataset (SAVE) and returns a copy of dump.rdb.
func (r *OwnRedis) Snapshot() []byte {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer c.Close()
	if err := c.Save(context.Background()).Err(); err != nil {
		r.t.Fatalf("testenv: SAVE: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(r.Dir, "dump.rdb"))
	if err != nil {
		r.t.Fatalf("testenv: read dump.rdb: %v", err)
	}
	return b
}

// RestartEmpty stops the server without saving, removes its data and starts it again.
func (r *OwnRedis) RestartEmpty() { r.RestartFrom(nil) }

// RestartFrom stops the server without saving and starts it again from
// snapshot (a copy Snapshot returned; nil: empty).
func (r *OwnRedis) RestartFrom(snapshot []byte) {
	r.t.Helper()
	r.Stop(false)
	path := filepath.Join(r.Dir, "dump.rdb")
	_ = os.Remove(path)
	if snapshot != nil {
		if err := os.WriteFile(path, snapshot, 0o600); err != nil {
			r.t.Fatalf("testenv: write dump.rdb: %v", err)
		}
	}
	r.Start()
}

// RestartKeepingData stops the server with SHUTDOWN SAVE and starts it
// again from what it saved.
func (r *OwnRedis) RestartKeepingData() {
	r.t.Helper()
	r.Stop(true)
	r.Start()
}

func (r *OwnRedis) String() string { return fmt.Sprintf("redis-server %s (%s)", r.Addr(), r.Dir) }
