package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/oauthsync/oauthsync/internal/serverproc"
)

// startOwnServers starts, for one invocation, a NATS server (the module's
// embedded nats-server with JetStream, in a child process: "syncload
// _nats-server") and a redis-server from PATH (no persistence), each on a
// free loopback port, and points o at them. Their CPU is then this run's
// alone, whoever else uses the machine's servers. stop ends both and
// removes their files.
func startOwnServers(o *options, log *os.File) (stop func(), err error) {
	dir, err := os.MkdirTemp("", "syncload-servers-*")
	if err != nil {
		return nil, err
	}
	var procs []*serverproc.Proc
	stop = func() {
		for _, p := range procs {
			p.Close()
		}
		_ = os.RemoveAll(dir)
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// start runs one server on a free port until it answers (ready).
	start := func(name string, cmd func(port string) *exec.Cmd, ready func(context.Context, string) error) (*serverproc.Proc, string, error) {
		port, err := serverproc.FreePort()
		if err != nil {
			return nil, "", err
		}
		p, err := serverproc.New(name, log.Name(), func() *exec.Cmd { return cmd(strconv.Itoa(port)) })
		if err != nil {
			return nil, "", err
		}
		procs = append(procs, p)
		if err := p.Start(); err != nil {
			return nil, "", err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		return p, addr, ready(ctx, addr)
	}

	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	store := filepath.Join(dir, "jetstream")
	nats, natsAddr, err := start("nats-server", func(port string) *exec.Cmd {
		return exec.Command(self, "_nats-server", "--port", port, "--store", store)
	}, serverproc.WaitTCP)
	if err != nil {
		return nil, err
	}

	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is needed on PATH: %w", err)
	}
	redisDir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(redisDir, 0o700); err != nil {
		return nil, err
	}
	rds, redisAddr, err := start("redis-server", func(port string) *exec.Cmd {
		return exec.Command(redisBin, "--port", port, "--bind", "127.0.0.1", "--dir", redisDir,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes")
	}, serverproc.RedisPing)
	if err != nil {
		return nil, err
	}
	o.natsURL, o.redisURL = "nats://"+natsAddr, "redis://"+redisAddr+"/0"
	fmt.Printf("own servers: NATS %s (embedded nats-server, pid %d), Redis %s (pid %d)\n", o.natsURL, nats.PID(), o.redisURL, rds.PID())
	return stop, nil
}
