// Command syncload measures syncworker end to end: for each provider it
// runs that provider's simulator answering at once, starts a syncworker
// process against real NATS JetStream and Redis, publishes N commands over R
// resources, waits for every result, and reports throughput,
// publish-to-result latency, provider HTTP requests per command, the
// worker's CPU seconds per 1,000 commands and its peak RSS.
//
//	go build -o bin/syncworker ./cmd/syncworker
//	go run ./cmd/syncload -worker-bin bin/syncworker -commands 100000 -resources 1000 -provider all
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "syncload:", err)
		os.Exit(1)
	}
}

type options struct {
	workerBin   string
	provider    string
	commands    int
	resources   int
	natsURL     string
	redisURL    string
	maxInFlight int
	timeout     time.Duration
	keep        bool
	profile     string
	noUnrouted  bool
	rate        float64
}

func run() error {
	var o options
	var names []string
	for _, p := range loadProviders {
		names = append(names, p.name)
	}
	flag.StringVar(&o.workerBin, "worker-bin", "bin/syncworker", "syncworker binary to measure")
	flag.StringVar(&o.provider, "provider", "rocketchat", "provider to load: "+strings.Join(names, ", ")+", or all")
	flag.IntVar(&o.commands, "commands", 100000, "commands to publish per provider")
	flag.IntVar(&o.resources, "resources", 1000, "distinct resources the commands spread over")
	flag.StringVar(&o.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS JetStream server")
	flag.StringVar(&o.redisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis server")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 64, "the connection's maxInFlight")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up a provider's run after this long")
	flag.BoolVar(&o.keep, "keep", false, "keep the streams and Redis keys afterwards")
	flag.BoolVar(&o.noUnrouted, "no-unrouted", false, "run the worker without the catch-all consumer for unknown connections")
	flag.Float64Var(&o.rate, "rate", 0, "publish at most this many commands per second (0: as fast as possible); below the worker's capacity, latency is the pipeline's own, not queueing")
	flag.StringVar(&o.profile, "cpu-profile", "", "write the worker's CPU profile during the run to this file")
	flag.Parse()
	if o.commands < 1 || o.resources < 1 {
		return errors.New("-commands and -resources must be positive")
	}
	var selected []loadProvider
	for _, p := range loadProviders {
		if o.provider == "all" || o.provider == p.name {
			selected = append(selected, p)
		}
	}
	if len(selected) == 0 {
		return fmt.Errorf("-provider %q: want one of %s, or all", o.provider, strings.Join(names, ", "))
	}
	var reports []string
	for _, p := range selected {
		report, err := runOne(o, p)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		reports = append(reports, report)
	}
	if len(reports) > 1 {
		fmt.Printf("\nper provider (%d commands over %d resources each):\n", o.commands, o.resources)
		for _, r := range reports {
			fmt.Println("  " + r)
		}
	}
	return nil
}

// runOne measures one provider: its simulator, a fresh worker process and
// its own streams and key prefix.
func runOne(o options, p loadProvider) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()

	runID := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	prefix := "load" + runID
	upper := "LOAD" + strings.ToUpper(runID)
	streams := [3]string{upper + "_COMMANDS", upper + "_RESULTS", upper + "_DEADLETTER"}

	// The provider: its simulator answering at once, counting requests.
	sim, ids, auth := p.start(o.resources)
	counter := &counting{next: sim}
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	simSrv := &http.Server{Handler: counter, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = simSrv.Serve(simLn) }()
	defer simSrv.Close()

	healthAddr, err := freeAddr()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "syncload-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf(`nats: {url: %q, subjectPrefix: %q}
redis: {url: %q, keyPrefix: %q}
streams: {names: {commands: %q, results: %q, deadLetter: %q}}
worker: {rejectUnknownConnections: %t}
connections:
  load:
    provider: %s
    baseURL: http://%s
    auth: %s
    maxInFlight: %d
`, o.natsURL, prefix, o.redisURL, prefix, streams[0], streams[1], streams[2], !o.noUnrouted, p.name, simLn.Addr(), auth, o.maxInFlight)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return "", err
	}

	nc, err := nats.Connect(o.natsURL)
	if err != nil {
		return "", fmt.Errorf("NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return "", err
	}
	if !o.keep {
		defer cleanup(js, o.redisURL, prefix, streams[:])
	}

	logPath := filepath.Join(os.TempDir(), "syncload-worker-"+runID+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", err
	}
	defer logFile.Close()
	args := []string{"--config", cfgPath, "--http-addr", healthAddr, "--log-level", "warn", "--log-format", "json"}
	if o.profile != "" {
		args = append(args, "--pprof")
	}
	worker := exec.Command(o.workerBin, args...)
	worker.Stdout, worker.Stderr = logFile, logFile
	if err := worker.Start(); err != nil {
		return "", fmt.Errorf("start %s (build it: go build -o bin/syncworker ./cmd/syncworker): %w", o.workerBin, err)
	}
	stopWorker := func() { _ = worker.Process.Signal(syscall.SIGTERM) }
	defer stopWorker()
	if err := waitReady(ctx, healthAddr); err != nil {
		return "", fmt.Errorf("worker not ready (log: %s): %w", logPath, err)
	}

	// Results: record each command's publish-to-result latency.
	sent := make([]atomic.Int64, o.commands)
	latency := make([]time.Duration, o.commands)
	statuses := map[messages.Status]int{}
	var mu sync.Mutex
	got := 0
	done := make(chan struct{})
	var lastResult time.Time
	sub, err := nc.Subscribe(prefix+".results.>", func(m *nats.Msg) {
		now := time.Now()
		var ev struct {
			Data struct {
				CommandID string          `json:"commandId"`
				Status    messages.Status `json:"status"`
			} `json:"data"`
		}
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		i, err := strconv.Atoi(strings.TrimPrefix(ev.Data.CommandID, "load-"))
		if err != nil || i < 0 || i >= o.commands {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if latency[i] != 0 {
			return
		}
		latency[i] = now.Sub(time.Unix(0, sent[i].Load()))
		statuses[ev.Data.Status]++
		got++
		lastResult = now
		if got == o.commands {
			close(done)
		}
	})
	if err != nil {
		return "", err
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)

	profileDone := make(chan error, 1)
	if o.profile != "" {
		go func() { profileDone <- fetchProfile(healthAddr, o.profile) }()
	}
	fmt.Printf("%s: publishing %d commands over %d resources (worker maxInFlight %d)...\n", p.name, o.commands, o.resources, o.maxInFlight)
	var limiter *rate.Limiter
	if o.rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(o.rate), max(1, int(o.rate/100)))
	}
	start := time.Now()
	for i := range o.commands {
		if limiter != nil {
			if err := limiter.Wait(ctx); err != nil {
				return "", err
			}
		}
		seq := int64(i)
		data := p.changes(i)
		data.Sequence = &seq
		cmd := messages.NewCommand("load-"+strconv.Itoa(i), "/syncload", "load", ids[i%len(ids)], data)
		body, err := cmd.Encode()
		if err != nil {
			return "", err
		}
		msg := nats.NewMsg(prefix + ".commands.load." + cmd.Resource)
		msg.Header.Set("Content-Type", messages.ContentType)
		msg.Data = body
		sent[i].Store(time.Now().UnixNano())
		if _, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(cmd.ID)); err != nil {
			return "", fmt.Errorf("publish: %w", err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return "", errors.New("publishing timed out")
	}
	published := time.Since(start)
	fmt.Printf("published in %s (%.0f commands/s); waiting for results...\n", published.Round(time.Millisecond), float64(o.commands)/published.Seconds())

	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
wait:
	for {
		select {
		case <-done:
			break wait
		case <-progress.C:
			mu.Lock()
			fmt.Printf("  %d/%d results\n", got, o.commands)
			mu.Unlock()
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			return "", fmt.Errorf("timed out with %d of %d results (worker log: %s)", got, o.commands, logPath)
		}
	}
	elapsed := lastResult.Sub(start)
	if o.profile != "" {
		if err := <-profileDone; err != nil {
			fmt.Printf("cpu profile: %v\n", err)
		}
	}

	stopWorker()
	if err := worker.Wait(); err != nil {
		fmt.Printf("worker exited: %v (log: %s)\n", err, logPath)
	}
	ru, _ := worker.ProcessState.SysUsage().(*syscall.Rusage)
	slices.Sort(latency)
	pct := func(q float64) time.Duration { return latency[min(len(latency)-1, int(q*float64(len(latency))))] }

	pace := "as fast as possible"
	if o.rate > 0 {
		pace = fmt.Sprintf("at %.0f/s", o.rate)
	}
	throughput := float64(o.commands) / elapsed.Seconds()
	perCommand := float64(counter.n.Load()) / float64(o.commands)
	fmt.Printf("\nsyncworker end to end, %s: %d commands over %d resources published %s, simulator answering at once\n", p.name, o.commands, o.resources, pace)
	fmt.Printf("  throughput            %.0f commands/s (first publish to last result: %s)\n", throughput, elapsed.Round(time.Millisecond))
	fmt.Printf("  latency publish→result p50 %s  p99 %s  max %s\n", pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), latency[len(latency)-1].Round(time.Millisecond))
	fmt.Printf("  provider HTTP requests %.2f per command\n", perCommand)
	cpuPer1k := 0.0
	if ru != nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		cpuPer1k = cpu.Seconds() * 1000 / float64(o.commands)
		fmt.Printf("  worker CPU            %.3f s per 1,000 commands (%.1f s total)\n", cpuPer1k, cpu.Seconds())
		fmt.Printf("  worker peak RSS       %.1f MiB\n", float64(ru.Maxrss)/1024)
	}
	fmt.Printf("  statuses              %v\n", statuses)
	return fmt.Sprintf("%-20s %6.0f commands/s  %.2f HTTP requests/command  %.3f CPU-s/1k  statuses %v", p.name, throughput, perCommand, cpuPer1k, statuses), nil
}

// fetchProfile records the worker's CPU for 10 seconds.
func fetchProfile(addr, path string) error {
	resp, err := http.Get("http://" + addr + "/debug/pprof/profile?seconds=10")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

func ptr[T any](v T) *T { return &v }

// loadProvider is one provider's simulator, seeded for a run, and the
// commands the run sends it.
type loadProvider struct {
	name string
	// start seeds n resources in a fresh simulator and returns it, its
	// resource ids and the connection's auth block (YAML flow mapping).
	start func(n int) (http.Handler, []string, string)
	// changes is what command i sets.
	changes func(i int) messages.Data
}

var loadProviders = []loadProvider{
	{
		name: rocketchat.Provider,
		start: func(n int) (http.Handler, []string, string) {
			sim := rocketchatsim.New(rocketchatsim.Options{UserID: "loadUser000000001", AuthToken: "load-token", RateLimit: 1 << 30, NoRecord: true})
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("%024x", i+1)
				sim.Seed(rocketchatsim.App{ID: ids[i], Name: "app", Active: true, RedirectURI: "https://x.example.com/cb", ClientID: "c", ClientSecret: "s"})
			}
			return sim, ids, "{userId: loadUser000000001, authToken: load-token}"
		},
		changes: func(i int) messages.Data {
			return messages.Data{Changes: messages.Changes{Name: ptr("n" + strconv.Itoa(i))}}
		},
	},
	{
		name: reelevant.Provider,
		start: func(n int) (http.Handler, []string, string) {
			sim := reelevantsim.New(reelevantsim.Options{Token: "load-token", NoRecord: true})
			ids := make([]string, n)
			for i := range ids {
				ids[i] = sim.Seed(fmt.Sprintf("%024x", i+1), map[string]any{"clientId": "c"})
			}
			return sim, ids, "{bearerToken: load-token}"
		},
		changes: func(i int) messages.Data {
			return messages.Data{Changes: messages.Changes{ClientID: ptr("c" + strconv.Itoa(i))}}
		},
	},
	{
		name: hybriddatapipeline.Provider,
		start: func(n int) (http.Handler, []string, string) {
			sim := hdpsim.New(hdpsim.Options{Username: "load", Password: "load-password", NoRecord: true})
			ids := make([]string, n)
			for i := range ids {
				sim.Seed(hdpsim.App{ID: int64(i + 1), Name: "app", DataStore: 54, TenantID: 1, ClientID: "c", ClientSecret: "s",
					AuthorizeURI: "https://idp.example.com/a", TokenURI: "https://idp.example.com/t", Scope: "api"})
				ids[i] = strconv.Itoa(i + 1)
			}
			return sim, ids, "{username: load, password: load-password}"
		},
		changes: func(i int) messages.Data {
			return messages.Data{Changes: messages.Changes{Name: ptr("n_" + strconv.Itoa(i))}}
		},
	},
	{
		name: jframework.Provider,
		start: func(n int) (http.Handler, []string, string) {
			sim := jframeworksim.New(jframeworksim.Options{BrandURL: "load.example.com", AuthKey: "load-key", RateLimit: 1 << 30, NoRecord: true})
			ids := make([]string, n)
			for i := range ids {
				ids[i] = "auth-" + strconv.Itoa(i+1)
				sim.Seed(jframeworksim.Integration{ID: ids[i], Code: "c", Name: "app", ProjectID: "p", ClientID: "c",
					ClientSecret: "s", RedirectURI: "https://x.example.com/cb", Scope: "openid"})
			}
			return sim, ids, "{brandURL: load.example.com, authKey: load-key}"
		},
		changes: func(i int) messages.Data {
			return messages.Data{Changes: messages.Changes{Name: ptr("n" + strconv.Itoa(i))}}
		},
	},
}

// counting counts the requests a handler serves.
type counting struct {
	next http.Handler
	n    atomic.Int64
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	c.next.ServeHTTP(w, r)
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(ctx context.Context, addr string) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func cleanup(js jetstream.JetStream, redisURL, prefix string, streams []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range streams {
		_ = js.DeleteStream(ctx, s)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return
	}
	rc := redis.NewClient(opt)
	defer rc.Close()
	iter := rc.Scan(ctx, 0, prefix+":*", 10000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			rc.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rc.Unlink(ctx, keys...)
	}
}
