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

	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	natsPort, err := serverproc.FreePort()
	if err != nil {
		return nil, err
	}
	store := filepath.Join(dir, "jetstream")
	nats, err := serverproc.New("nats-server", log.Name(), func() *exec.Cmd {
		return exec.Command(self, "_nats-server", "--port", strconv.Itoa(natsPort), "--store", store)
	})
	if err != nil {
		return nil, err
	}
	procs = append(procs, nats)
	if err := nats.Start(); err != nil {
		return nil, err
	}
	natsAddr := fmt.Sprintf("127.0.0.1:%d", natsPort)
	if err := serverproc.WaitTCP(ctx, natsAddr); err != nil {
		return nil, err
	}

	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is needed on PATH: %w", err)
	}
	redisPort, err := serverproc.FreePort()
	if err != nil {
		return nil, err
	}
	redisDir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(redisDir, 0o700); err != nil {
		return nil, err
	}
	rds, err := serverproc.New("redis-server", log.Name(), func() *exec.Cmd {
		return exec.Command(redisBin, "--port", strconv.Itoa(redisPort), "--bind", "127.0.0.1", "--dir", redisDir,
			"--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes")
	})
	if err != nil {
		return nil, err
	}
	procs = append(procs, rds)
	if err := rds.Start(); err != nil {
		return nil, err
	}
	redisAddr := fmt.Sprintf("127.0.0.1:%d", redisPort)
	if err := serverproc.RedisPing(ctx, redisAddr); err != nil {
		return nil, err
	}
	o.natsURL, o.redisURL = "nats://"+natsAddr, "redis://"+redisAddr+"/0"
	fmt.Printf("own servers: NATS %s (embedded nats-server, pid %d), Redis %s (pid %d)\n", o.natsURL, nats.PID(), o.redisURL, rds.PID())
	return stop, nil
}
