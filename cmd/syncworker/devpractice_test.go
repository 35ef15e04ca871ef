package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/deadletter"
	"github.com/oauthsync/oauthsync/internal/providers"
	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/internal/simfault"
	"github.com/oauthsync/oauthsync/messages"
)

// freePort returns a loopback port free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// devRun is `syncworker dev ARGS` running in process; lines gets its
// stdout line by line.
type devRun struct {
	cancel context.CancelFunc
	done   chan int
	lines  chan string
}

func startDev(t *testing.T, args ...string) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	d := &devRun{cancel: cancel, done: make(chan int, 1), lines: make(chan string, 1024)}
	var stderr strings.Builder
	var mu sync.Mutex
	go func() {
		code := run(ctx, append([]string{"dev", "--http-addr", "127.0.0.1:0", "--log-format", "text"}, args...), pw,
			writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return stderr.Write(p) }), func(string) (string, bool) { return "", false })
		pw.Close()
		d.done <- code
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
		close(d.lines)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-d.done; code != 0 {
			mu.Lock()
			defer mu.Unlock()
			t.Errorf("dev exited %d:\n%s", code, stderr.String())
		}
	})
	return d
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// until reads dev's output until a line starting with prefix, and returns
// the rest of that line and every line read.
func (d *devRun) until(t *testing.T, prefix string) (string, []string) {
	t.Helper()
	var seen []string
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case line, ok := <-d.lines:
			if !ok {
				t.Fatalf("dev ended before printing %q:\n%s", prefix, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
				return rest, seen
			}
		case <-timeout:
			t.Fatalf("no %q from dev after 2 minutes:\n%s", prefix, strings.Join(seen, "\n"))
		}
	}
}

// TestDevWritesItsConfigAndMakesProvidersFail runs `syncworker dev` on a
// pinned NATS port with the Hybrid Data Pipeline simulator failing every
// request, then practises as a migration engineer would, with what dev
// printed: the config it wrote plans against the simulators, the failed
// command is a dead letter, and once the fault is switched off over the
// simulator's control endpoint its replay is applied.
func TestDevWritesItsConfigAndMakesProvidersFail(t *testing.T) {
	natsPort := freePort(t)
	dataDir := filepath.Join(t.TempDir(), "dev-data")
	d := startDev(t, "--nats-port", strconv.Itoa(natsPort), "--sim-base-port", "0", "--data-dir", dataDir,
		"--fault", "hybriddatapipeline=503:100%")
	configPath, out := d.until(t, "Config: ")
	text := strings.Join(out, "\n")

	// The printed lines name the pinned port and the written config.
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	for _, want := range []string{"export NATS_URL=" + natsURL, "go run ./cmd/syncctl --config " + configPath + " migrate examples/migration.ndjson --plan",
		"dlq replay --all", simfault.ControlPath, "faults: 503:100%"} {
		if !strings.Contains(text, want) {
			t.Errorf("dev's output lacks %q:\n%s", want, text)
		}
	}
	if configPath != filepath.Join(dataDir, devConfigName) {
		t.Errorf("config at %s, want in --data-dir %s", configPath, dataDir)
	}
	// The sample's Hybrid Data Pipeline command failed.
	if !strings.Contains(text, "dev-0010") || !strings.Contains(rowOf(out, "dev-0010"), "failed") {
		t.Errorf("dev-0010 (hdp) did not fail:\n%s", text)
	}

	// The config loads, names the pinned NATS, and plans against the
	// simulators through the adapters, as syncctl --plan does.
	cfg, err := config.Load(configPath)
	if err != nil {
		t.Fatalf("the written config: %v", err)
	}
	if cfg.NATS.URL != natsURL {
		t.Errorf("nats.url = %q, want %q", cfg.NATS.URL, natsURL)
	}
	c, ok := cfg.Connections["rc-dev"]
	if !ok {
		t.Fatalf("no rc-dev in %v", cfg.ConnectionNames())
	}
	ac, _ := c.Adapter("rc-dev")
	a, err := providers.Registry().New(c.Provider, ac)
	if err != nil {
		t.Fatal(err)
	}
	uri := "https://planned.example.com/cb"
	p, err := a.(adapters.Planner).Plan(context.Background(), adapters.Update{Resource: "65a7d77142a7e12453052d5a", Changes: messages.Changes{RedirectURI: &uri}})
	if err != nil || len(p.Fields) != 1 || p.Fields[0].State != adapters.FieldChanged {
		t.Fatalf("plan against the dev simulator: %+v, %v", p, err)
	}

	// The failed command is a dead letter, found with the written NATS URL.
	nc, err := nats.Connect(cfg.NATS.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	store := deadletter.Store{JetStream: js}
	letters, err := store.List(context.Background(), deadletter.Filter{Connection: "hdp-dev"})
	if err != nil || len(letters) != 1 || letters[0].ErrorCode != string(messages.CodeProviderUnavailable) {
		t.Fatalf("dead letters of hdp-dev: %+v, %v", letters, err)
	}

	// Switch the fault off as dev's hint says, replay, and see it applied.
	hdpURL := cfg.Connections["hdp-dev"].BaseURL
	req, _ := http.NewRequest(http.MethodPut, hdpURL+simfault.ControlPath+"?spec=off", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, err := store.Replay(context.Background(), letters[0]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var status messages.Status
	err = resultstream.Reader{JetStream: js}.Read(ctx, resultstream.Query{Connection: "hdp-dev", Follow: true}, func(it resultstream.Item) error {
		if strings.Contains(it.EventID, "-replay-") {
			status = it.Status
			return resultstream.ErrStop
		}
		return nil
	})
	if err != nil || status != messages.StatusApplied {
		t.Fatalf("the replay's result: %q, %v", status, err)
	}
	// Readers leave no consumer behind on the results stream.
	info, err := js.Stream(context.Background(), "SYNC_RESULTS")
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Consumers; n > 1 { // dev's own sample follower
		t.Errorf("%d consumers on SYNC_RESULTS after the readers returned", n)
	}

	d.cancel()
	if code := <-d.done; code != 0 {
		t.Errorf("dev exited %d", code)
	}
	d.done <- 0
	// --data-dir is kept.
	if _, err := os.Stat(configPath); err != nil {
		t.Errorf("--data-dir's config gone after exit: %v", err)
	}
}

func rowOf(lines []string, id string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, id+" ") {
			return l
		}
	}
	return ""
}

// TestDevRefusesWhatItCannotHonour: --nats-url and --redis-url are refused
// with a reason, a taken NATS port is named, a bad fault is a usage error.
func TestDevRefusesWhatItCannotHonour(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"dev", "--nats-url", "nats://127.0.0.1:4222"}, 2, "--nats-port"},
		{[]string{"dev", "--redis-url", "redis://127.0.0.1:6379"}, 2, "embedded NATS"},
		{[]string{"dev", "--fault", "rocketchat=200:5%"}, 2, "rocketchat"},
		{[]string{"dev", "--fault", "nosuch=503"}, 2, "PROVIDER=SPEC"},
		{[]string{"dev", "--nats-port", "-5"}, 2, "--nats-port"},
		{[]string{"dev", "--token-lifetime", "-1s"}, 2, "--token-lifetime"},
		{[]string{"dev", "--nats-port", taken, "--sim-base-port", "0", "--http-addr", "127.0.0.1:0"}, 1, "port " + taken + " on 127.0.0.1 is taken"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(context.Background(), append(c.args, "--log-format", "text"), &stdout, &stderr, func(string) (string, bool) { return "", false })
			if code != c.code || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), c.code, c.want)
			}
		})
	}
}
