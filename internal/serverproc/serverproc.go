// Package serverproc runs the servers and programs the load and chaos tools
// start as child processes of their own: the module's embedded nats-server
// in a process (NATSServerMain), redis-server, workers; each can be killed
// and started again, and dies with its parent.
package serverproc

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSServerMain is the main of a "nats-server --port P --store DIR"
// subcommand: the module's embedded nats-server with JetStream in a process
// of its own, so that a tool can SIGKILL it and start it again on the same
// store, and measure its CPU apart from its own.
func NATSServerMain(args []string) error {
	fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
	port := fs.Int("port", 4222, "client port on 127.0.0.1")
	store := fs.String("store", "", "JetStream store directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *store == "" {
		return errors.New("--store is required")
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: *port, JetStream: true, StoreDir: *store, NoSigs: true})
	if err != nil {
		return err
	}
	s.ConfigureLogger()
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		return errors.New("nats-server not ready in 30s")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

// Proc is a child process a tool starts, kills and starts again.
type Proc struct {
	name string
	cmd  func() *exec.Cmd
	log  *os.File

	mu   sync.Mutex
	cur  *exec.Cmd
	done chan struct{}
}

// New returns the Proc cmd builds, its output appended to logPath; it is
// not started.
func New(name, logPath string, cmd func() *exec.Cmd) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &Proc{name: name, cmd: cmd, log: f}, nil
}

// Start starts the process (again).
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.cmd()
	c.Stdout, c.Stderr = p.log, p.log
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.Start(); err != nil {
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	p.cur, p.done = c, done
	return nil
}

// PID returns the running process's id, 0 when none runs.
func (p *Proc) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	select {
	case <-p.done:
		return 0
	default:
		return p.cur.Process.Pid
	}
}

// Stop sends sig to the running process (by its pid) and waits for it to
// exit, killing it after grace.
func (p *Proc) Stop(sig syscall.Signal, grace time.Duration) {
	p.mu.Lock()
	c, done := p.cur, p.done
	p.mu.Unlock()
	if c == nil {
		return
	}
	_ = c.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(grace):
		_ = c.Process.Kill()
		<-done
	}
}

// Close stops the process (SIGTERM, then SIGKILL after 5s) and closes its
// log.
func (p *Proc) Close() {
	p.Stop(syscall.SIGTERM, 5*time.Second)
	_ = p.log.Close()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitTCP waits until addr accepts connections.
func WaitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s never accepted a connection: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RedisPing waits until the redis-server at addr answers PING with PONG
// (not LOADING).
func RedisPing(ctx context.Context, addr string) error {
	var last error
	for {
		last = func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(time.Second))
			if _, err := io.WriteString(c, "PING\r\n"); err != nil {
				return err
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return err
			}
			if !strings.HasPrefix(line, "+PONG") {
				return errors.New(strings.TrimSpace(line))
			}
			return nil
		}()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis at %s: %w", addr, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// EmptyDir removes everything inside dir.
func EmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
