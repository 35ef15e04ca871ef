// Command syncload measures syncworker end to end beside a minimal pipeline
// of its own, in the same run, on the same commands and servers.
//
// For each provider it starts that provider's simulator as a child process
// (optionally answering after -provider-latency), then for each pipeline of
// -pipelines (minimal, syncworker): gives the simulator fresh resources,
// creates fresh streams (the config the worker's provisioning would create)
// under a fresh subject and key prefix, publishes N commands over R
// resources, starts the pipeline as a process and counts the results on the
// results subject. It reports, per pipeline, the throughput from the first
// result to the last, the CPU per command over that window of the pipeline
// process, the NATS server (its process, found by its listening port), Redis
// (INFO cpu) and the simulator child, the pipeline's peak RSS, the provider
// HTTP requests per command and the result statuses; then the
// syncworker/minimal ratios.
//
// The minimal pipeline (minimal.go) is syncload itself re-executed as
// "syncload _minimal": the product's I/O per command with no product code.
// The simulator child is "syncload _sim".
//
//	go build -o bin/syncworker ./cmd/syncworker && go build -o bin/syncload ./cmd/syncload
//	bin/syncload -worker-bin bin/syncworker -provider reelevant -commands 50000 -resources 1000
//	bin/syncload -worker-bin bin/syncworker -provider reelevant -commands 5000 -provider-latency 50ms
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
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/oauthsync/oauthsync/internal/serverproc"
	"github.com/oauthsync/oauthsync/messages"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "_sim":
		err = runSimChild(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "_minimal":
		err = runMinimalChild(os.Args[2:])
	case len(os.Args) > 1 && os.Args[1] == "_nats-server":
		err = serverproc.NATSServerMain(os.Args[2:])
	default:
		err = run()
	}
	if err != nil {
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
	pipelines   []string
	latency     time.Duration
	ownServers  bool
	// rounds is how many times the pipelines run, alternating (see
	// formatReport).
	rounds int
}

// env is what every run of one invocation shares.
type env struct {
	natsPID int
	rc      *redis.Client
	log     io.Writer // the children's stderr
	logPath string
}

func run() error {
	var o options
	var names []string
	for _, p := range loadProviders {
		names = append(names, p.name)
	}
	pipelines := pipelineMin + "," + pipelineSyncw
	flag.StringVar(&o.workerBin, "worker-bin", "bin/syncworker", "syncworker binary to measure")
	flag.StringVar(&o.provider, "provider", "rocketchat", "provider(s) to load, comma-separated: "+strings.Join(names, ", ")+", or all")
	flag.IntVar(&o.commands, "commands", 100000, "commands to publish per provider and pipeline")
	flag.IntVar(&o.resources, "resources", 1000, "distinct resources the commands spread over")
	flag.StringVar(&o.natsURL, "nats-url", "nats://127.0.0.1:4222", "NATS JetStream server (on this machine: its CPU is measured)")
	flag.StringVar(&o.redisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis server")
	flag.IntVar(&o.maxInFlight, "max-in-flight", 64, "the connection's maxInFlight (the minimal pipeline's too)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up a pipeline's run after this long")
	flag.BoolVar(&o.keep, "keep", false, "keep the streams and Redis keys afterwards")
	flag.BoolVar(&o.noUnrouted, "no-unrouted", false, "run the worker without the catch-all consumer for unknown connections")
	flag.Float64Var(&o.rate, "rate", 0, "publish at most this many commands per second while the pipeline runs (0: publish them all before it starts); below the pipeline's capacity, latency is the pipeline's own, not queueing")
	flag.StringVar(&o.profile, "cpu-profile", "", "write the worker's CPU profile during the run to this file (with -rounds, the last round's)")
	flag.StringVar(&pipelines, "pipelines", pipelines, "pipelines to run, in order, comma-separated: minimal, syncworker")
	flag.DurationVar(&o.latency, "provider-latency", 0, "the simulator waits this long before every answer (0: at once)")
	flag.IntVar(&o.rounds, "rounds", 1, "run the pipelines this many times, alternating (minimal, syncworker, minimal, ...), and report each round's ratio and the medians: this machine's speed drifts between runs, a ratio of one round is noisier")
	flag.BoolVar(&o.ownServers, "own-servers", false, "start a NATS server (the module's embedded one, in a process of its own) and a redis-server (from PATH) for this invocation, instead of -nats-url and -redis-url: their CPU is then this run's alone")
	flag.Parse()
	if o.commands < 2 || o.resources < 1 || o.maxInFlight < 1 || o.rounds < 1 {
		return errors.New("-commands must be at least 2, -resources, -max-in-flight and -rounds positive")
	}
	for _, pl := range strings.Split(pipelines, ",") {
		pl = strings.TrimSpace(pl)
		if pl != pipelineMin && pl != pipelineSyncw {
			return fmt.Errorf("-pipelines: %q is neither %s nor %s", pl, pipelineMin, pipelineSyncw)
		}
		o.pipelines = append(o.pipelines, pl)
	}
	var selected []loadProvider
	for _, name := range strings.Split(o.provider, ",") {
		name = strings.TrimSpace(name)
		if name == "all" {
			selected = append(selected, loadProviders...)
			continue
		}
		p, ok := providerByName(name)
		if !ok {
			return fmt.Errorf("-provider %q: want %s, or all", name, strings.Join(names, ", "))
		}
		selected = append(selected, p)
	}
	if slices.Contains(o.pipelines, pipelineSyncw) {
		if _, err := os.Stat(o.workerBin); err != nil {
			return fmt.Errorf("-worker-bin (build it: go build -o bin/syncworker ./cmd/syncworker): %w", err)
		}
	}

	var e env
	var err error
	logFile, err := os.CreateTemp("", "syncload-*.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	e.log, e.logPath = logFile, logFile.Name()
	if o.ownServers {
		stopServers, err := startOwnServers(&o, logFile)
		if err != nil {
			return fmt.Errorf("-own-servers: %w (their log: %s)", err, e.logPath)
		}
		defer stopServers()
	}
	if e.natsPID, err = natsPID(o.natsURL); err != nil {
		return err
	}
	opt, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return fmt.Errorf("-redis-url: %w", err)
	}
	e.rc = redis.NewClient(opt)
	defer e.rc.Close()
	if _, err := redisCPU(context.Background(), e.rc); err != nil {
		return err
	}
	latency := "answering at once"
	if o.latency > 0 {
		latency = "answering after " + o.latency.String()
	}
	// SIGINT or SIGTERM ends the run in progress the way a timeout does,
	// so that its streams and keys are still deleted.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var reports []string
	for _, p := range selected {
		rows, err := runProvider(ctx, o, e, p)
		if err != nil {
			return fmt.Errorf("%s: %w (children's log: %s)", p.name, err, e.logPath)
		}
		title := fmt.Sprintf("%s: %d commands over %d resources, maxInFlight %d, simulator %s (CPU and rates over the first to the last result)",
			p.name, o.commands, o.resources, o.maxInFlight, latency)
		report := formatReport(title, rows)
		fmt.Print(report)
		reports = append(reports, report)
	}
	if len(reports) > 1 {
		fmt.Printf("\n== all providers\n%s", strings.Join(reports, ""))
	}
	return nil
}

// runProvider runs each pipeline against one simulator child, o.rounds
// times in turn.
func runProvider(ctx context.Context, o options, e env, p loadProvider) ([]pipelineResult, error) {
	sim, err := startSim(e.log, p.name, o.latency)
	if err != nil {
		return nil, err
	}
	defer sim.stop()
	var rows []pipelineResult
	for round := 1; round <= o.rounds; round++ {
		for _, pl := range o.pipelines {
			r, err := runPipeline(ctx, o, e, p, sim, pl)
			if err != nil {
				return nil, fmt.Errorf("%s (round %d of %d): %w", pl, round, o.rounds, err)
			}
			r.round = round
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// The worker's defaults (worker.Config.withDefaults, worker/limits.go) for
// the config syncload writes: the streams and the consumer are created with
// them, so that the worker's CreateOrUpdateStream changes nothing.
const (
	workerFetchBatch   = 64
	workerMaxDeliver   = 5 + 5 // MaxDeliver + backstopMargin
	workerAckWait      = 30 * time.Second
	deadLetterReserve  = 4 << 10
	commandHeaderRoom  = 16 << 10
	workerStreamMaxAge = 7 * 24 * time.Hour
	workerDupWindow    = 2 * time.Minute
	workerMaxBytes     = 1 << 30
)

// streamConfigs are the three streams as worker/provision.go creates them
// for subject prefix prefix and names (commands, results, dead letters).
func streamConfigs(prefix string, names [3]string) []jetstream.StreamConfig {
	maxMsg := int32(messages.DefaultMaxCommandBytes + commandHeaderRoom)
	subjects := [3]string{prefix + ".commands.>", prefix + ".results.>", prefix + ".deadletter.>"}
	descs := [3]string{"oauthsync update commands", "oauthsync result events, one per command id", "oauthsync commands that failed for good"}
	var out []jetstream.StreamConfig
	for i := range names {
		sc := jetstream.StreamConfig{Name: names[i], Subjects: []string{subjects[i]}, Description: descs[i],
			Storage: jetstream.FileStorage, Replicas: 1, MaxAge: workerStreamMaxAge, Duplicates: workerDupWindow,
			Retention: jetstream.LimitsPolicy, MaxBytes: workerMaxBytes, MaxMsgSize: maxMsg + deadLetterReserve,
			Discard: jetstream.DiscardOld}
		if i == 0 {
			sc.MaxMsgSize, sc.Discard = maxMsg, jetstream.DiscardNew
		}
		out = append(out, sc)
	}
	return out
}

// sameStream reports whether the stream config the server holds is the
// one syncload created (the fields the worker's provisioning sets).
func sameStream(a, b jetstream.StreamConfig) bool {
	return a.Name == b.Name && slices.Equal(a.Subjects, b.Subjects) && a.Description == b.Description &&
		a.Storage == b.Storage && a.Replicas == b.Replicas && a.MaxAge == b.MaxAge && a.Duplicates == b.Duplicates &&
		a.Retention == b.Retention && a.MaxBytes == b.MaxBytes && a.MaxMsgSize == b.MaxMsgSize && a.Discard == b.Discard
}

// results counts the result events of one run.
type results struct {
	mu       sync.Mutex
	n        int
	got      []bool
	sent     []int64 // publish time (UnixNano) per command
	latency  []time.Duration
	statuses map[string]int
	first    cpuSnapshot
	last     cpuSnapshot
	snapErr  error
	done     chan struct{}
}

func runPipeline(parent context.Context, o options, e env, p loadProvider, sim *simProc, pipeline string) (pipelineResult, error) {
	res := pipelineResult{pipeline: pipeline, commands: o.commands, measured: o.commands - 1}
	ctx, cancel := context.WithTimeout(parent, o.timeout)
	defer cancel()

	ids, err := sim.reset(o.resources)
	if err != nil {
		return res, fmt.Errorf("simulator: %w", err)
	}
	runID := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	prefix := "load" + runID
	upper := "LOAD" + strings.ToUpper(runID)
	streams := [3]string{upper + "_COMMANDS", upper + "_RESULTS", upper + "_DEADLETTER"}

	nc, err := nats.Connect(o.natsURL, nats.Name("syncload"))
	if err != nil {
		return res, fmt.Errorf("NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return res, err
	}
	if !o.keep {
		defer cleanup(js, e.rc, prefix, streams[:])
	}
	configs := streamConfigs(prefix, streams)
	for _, sc := range configs {
		if _, err := js.CreateStream(ctx, sc); err != nil {
			return res, fmt.Errorf("create stream %s: %w", sc.Name, err)
		}
	}
	const connection = "load"
	consumer := "minimal_" + connection
	if pipeline == pipelineMin {
		// The worker's consumerConfig for a connection's consumer.
		if _, err := js.CreateConsumer(ctx, streams[0], jetstream.ConsumerConfig{
			Durable: consumer, Description: "syncload minimal pipeline", FilterSubject: prefix + ".commands." + connection + ".*",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: workerAckWait, MaxDeliver: workerMaxDeliver,
			MaxAckPending: max(1000, 4*o.maxInFlight*workerFetchBatch), DeliverPolicy: jetstream.DeliverAllPolicy,
			ReplayPolicy: jetstream.ReplayInstantPolicy,
		}); err != nil {
			return res, fmt.Errorf("create consumer: %w", err)
		}
	}

	// Results: the first and the last take a CPU snapshot.
	meter := &cpuMeter{natsPID: e.natsPID, simPID: sim.cmd.Process.Pid, rc: e.rc}
	rs := &results{got: make([]bool, o.commands), sent: make([]int64, o.commands), statuses: map[string]int{}, done: make(chan struct{})}
	sub, err := nc.Subscribe(prefix+".results.>", func(m *nats.Msg) {
		now := time.Now()
		var ev struct {
			Data struct {
				CommandID string `json:"commandId"`
				Status    string `json:"status"`
			} `json:"data"`
		}
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		i, err := strconv.Atoi(strings.TrimPrefix(ev.Data.CommandID, "load-"))
		if err != nil || i < 0 || i >= o.commands {
			return
		}
		rs.mu.Lock()
		if rs.got[i] {
			rs.mu.Unlock()
			return
		}
		rs.got[i] = true
		rs.n++
		n := rs.n
		if o.rate > 0 {
			rs.latency = append(rs.latency, now.Sub(time.Unix(0, rs.sent[i])))
		}
		rs.statuses[ev.Data.Status]++
		rs.mu.Unlock()
		// Only this goroutine (the subscription's) writes first and last.
		switch n {
		case 1:
			rs.first, err = meter.snapshot(context.Background())
			rs.snapErr = errors.Join(rs.snapErr, err)
		case o.commands:
			rs.last, err = meter.snapshot(context.Background())
			rs.snapErr = errors.Join(rs.snapErr, err)
			close(rs.done)
		}
	})
	if err != nil {
		return res, err
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)

	publish := func() error {
		var limiter *rate.Limiter
		if o.rate > 0 {
			limiter = rate.NewLimiter(rate.Limit(o.rate), max(1, int(o.rate/100)))
		}
		start := time.Now()
		for i := range o.commands {
			if limiter != nil {
				if err := limiter.Wait(ctx); err != nil {
					return err
				}
			}
			seq := int64(i)
			data := p.changes(i)
			data.Sequence = &seq
			cmd := messages.NewCommand("load-"+strconv.Itoa(i), "/syncload", connection, ids[i%len(ids)], data)
			body, err := cmd.Encode()
			if err != nil {
				return err
			}
			msg := nats.NewMsg(prefix + ".commands." + connection + "." + cmd.Resource)
			msg.Header.Set("Content-Type", messages.ContentType)
			msg.Data = body
			rs.mu.Lock()
			rs.sent[i] = time.Now().UnixNano()
			rs.mu.Unlock()
			if _, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(cmd.ID)); err != nil {
				return fmt.Errorf("publish: %w", err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			return errors.New("publishing timed out")
		}
		d := time.Since(start)
		fmt.Printf("  published %d commands in %s (%.0f/s)\n", o.commands, d.Round(time.Millisecond), float64(o.commands)/d.Seconds())
		return nil
	}

	fmt.Printf("%s, %s: %d commands over %d resources (maxInFlight %d)\n", p.name, pipeline, o.commands, o.resources, o.maxInFlight)
	if o.rate == 0 {
		if err := publish(); err != nil {
			return res, err
		}
	}

	// The pipeline process.
	dir, err := os.MkdirTemp("", "syncload-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	var proc *exec.Cmd
	var profileDone chan error
	switch pipeline {
	case pipelineMin:
		cfg, _ := json.Marshal(minimalConfig{NATSURL: o.natsURL, RedisURL: o.redisURL, KeyPrefix: prefix, SubjectPrefix: prefix,
			Stream: streams[0], Consumer: consumer, Connection: connection, Provider: p.name, BaseURL: "http://" + sim.addr,
			Creds: p.creds, MaxInFlight: o.maxInFlight, FetchBatch: workerFetchBatch})
		path := filepath.Join(dir, "minimal.json")
		if err := os.WriteFile(path, cfg, 0o600); err != nil {
			return res, err
		}
		if proc, _, err = startChild(e.log, "ready", "_minimal", "-config", path); err != nil {
			return res, err
		}
		meter.pipelinePID.Store(int64(proc.Process.Pid))
	case pipelineSyncw:
		healthAddr, err := freeAddr()
		if err != nil {
			return res, err
		}
		cfgPath := filepath.Join(dir, "config.yaml")
		cfg := fmt.Sprintf(`nats: {url: %q, subjectPrefix: %q}
redis: {url: %q, keyPrefix: %q}
streams: {names: {commands: %q, results: %q, deadLetter: %q}}
worker: {rejectUnknownConnections: %t}
connections:
  %s:
    provider: %s
    baseURL: http://%s
    auth: %s
    maxInFlight: %d
`, o.natsURL, prefix, o.redisURL, prefix, streams[0], streams[1], streams[2], !o.noUnrouted, connection, p.name, sim.addr, p.auth, o.maxInFlight)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return res, err
		}
		logPath := filepath.Join(os.TempDir(), "syncload-worker-"+runID+".log")
		logFile, err := os.Create(logPath)
		if err != nil {
			return res, err
		}
		defer logFile.Close()
		args := []string{"--config", cfgPath, "--http-addr", healthAddr, "--log-level", "warn", "--log-format", "json"}
		if o.profile != "" {
			args = append(args, "--pprof")
		}
		proc = exec.Command(o.workerBin, args...)
		proc.Stdout, proc.Stderr = logFile, logFile
		proc.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := proc.Start(); err != nil {
			return res, fmt.Errorf("start %s: %w", o.workerBin, err)
		}
		meter.pipelinePID.Store(int64(proc.Process.Pid)) // it may answer commands before it says it is ready
		if err := waitReady(ctx, healthAddr); err != nil {
			_ = proc.Process.Kill()
			_ = proc.Wait()
			return res, fmt.Errorf("worker not ready (log: %s): %w", logPath, err)
		}
		if o.profile != "" {
			profileDone = make(chan error, 1)
			go func() { profileDone <- fetchProfile(healthAddr, o.profile) }()
		}
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = proc.Process.Signal(syscall.SIGTERM)
			_ = proc.Wait()
		}
	}
	defer stop()

	if o.rate > 0 {
		if err := publish(); err != nil {
			return res, err
		}
	}

	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
wait:
	for {
		select {
		case <-rs.done:
			break wait
		case <-progress.C:
			rs.mu.Lock()
			fmt.Printf("  %d/%d results\n", rs.n, o.commands)
			rs.mu.Unlock()
		case <-ctx.Done():
			rs.mu.Lock()
			defer rs.mu.Unlock()
			return res, fmt.Errorf("stopped (%v) with %d of %d results", context.Cause(ctx), rs.n, o.commands)
		}
	}
	if rs.snapErr != nil {
		return res, fmt.Errorf("CPU snapshot: %w", rs.snapErr)
	}
	res.cpu = rs.last.sub(rs.first)
	res.window = rs.last.at.Sub(rs.first.at)
	res.statuses = rs.statuses
	if o.rate > 0 {
		slices.Sort(rs.latency)
		pct := func(q float64) time.Duration {
			return rs.latency[min(len(rs.latency)-1, int(q*float64(len(rs.latency))))]
		}
		res.p50, res.p99 = pct(0.50), pct(0.99)
	}
	if profileDone != nil {
		if err := <-profileDone; err != nil {
			fmt.Printf("  cpu profile: %v\n", err)
		}
	}
	if res.requests, err = sim.requests(); err != nil {
		return res, fmt.Errorf("simulator stats: %w", err)
	}
	if pipeline == pipelineSyncw {
		// The worker provisioned the streams at start: the same config?
		for _, sc := range configs {
			if s, err := js.Stream(ctx, sc.Name); err == nil && !sameStream(s.CachedInfo().Config, sc) {
				fmt.Printf("  warning: the worker changed stream %s's config: the pre-created one differs from its provisioning\n", sc.Name)
			}
		}
	}
	stop()
	if ru, ok := proc.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.peakRSS = ru.Maxrss * 1024
	}
	return res, nil
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

func cleanup(js jetstream.JetStream, rc *redis.Client, prefix string, streams []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range streams {
		_ = js.DeleteStream(ctx, s)
	}
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
