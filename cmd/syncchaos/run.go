package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/oauthsync/oauthsync/internal/serverproc"
)

const (
	chaosToken     = "rl-7Qx9Lm2Vb8Kd4Tz" // random-looking: a word-like secret makes the scrubber redact ordinary words
	streamCommands = "SYNC_COMMANDS"
	// unroutedConnection is a connection no worker serves.
	unroutedConnection = "chaos-nowhere"
	streamResults      = "SYNC_RESULTS"
	streamDead         = "SYNC_DEADLETTER"
)

// options are the run's settings (flags in main.go).
type options struct {
	workerBin     string
	providers     []string
	workers       int
	commands      int
	resources     int
	rate          float64
	seqJitter     time.Duration
	seqFraction   float64
	dupFraction   float64
	reuseFraction float64
	// unroutedFraction: the share of commands also published for a
	// connection no worker serves (unroutedConnection).
	unroutedFraction float64
	faultRate        float64
	lostRate         float64
	killMin          time.Duration
	killMax          time.Duration
	minKills         int
	natsRestarts     int
	redisRestarts    int
	redisEmpty       bool
	emptyWatch       time.Duration
	dupWindow        time.Duration
	ackWait          time.Duration
	leaseTTL         time.Duration
	maxInFlight      int
	circuitOpenFor   time.Duration
	rateLimit        float64
	oneField         float64
	settle           time.Duration
	maxRSSMiB        int
	buildFlags       []string // for `go build` of the worker when workerBin is empty
	seed             uint64
	dir              string
	keep             bool
	allViolations    string
}

// runner is one chaos run: its processes, provider and data.
type runner struct {
	o   options
	out io.Writer
	dir string
	rng *rand.Rand // the load's; used by run's goroutine only
	// killRng picks the kills' times and victims (under mu).
	killRng *rand.Rand

	nats      *serverproc.Proc
	natsPort  int
	redis     *serverproc.Proc
	redisPort int
	redisDir  string
	workers   []*serverproc.Proc
	httpAddrs []string
	providers []*chaosProvider
	history   *history
	resources map[*chaosProvider][]string

	mu     sync.Mutex
	events Events
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.out, "syncchaos: %s %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// run performs the chaos run and returns the checker's report.
func run(ctx context.Context, o options, out io.Writer) (*Report, error) {
	if o.workers < 1 || o.commands < 1 || o.resources < 1 {
		return nil, errors.New("-workers, -commands and -resources must be positive")
	}
	if o.killMax < o.killMin || o.killMin <= 0 {
		return nil, errors.New("-kill-min must be positive and at most -kill-max")
	}
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	r := &runner{o: o, out: out, rng: rand.New(rand.NewPCG(o.seed, 1)), killRng: rand.New(rand.NewPCG(o.seed, 3))}
	for _, name := range o.providers {
		p, err := newChaosProvider(name)
		if err != nil {
			return nil, err
		}
		r.providers = append(r.providers, p)
	}
	if len(r.providers) == 0 {
		return nil, errors.New("-providers: none")
	}
	r.events.PeakRSS = make([]int64, o.workers)
	dir := o.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "syncchaos-")
		if err != nil {
			return nil, err
		}
		dir = d
		if !o.keep {
			defer os.RemoveAll(dir)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	r.dir = dir
	r.logf("seed %d, files in %s", o.seed, dir)
	defer r.stopAll()
	return r.run(ctx)
}

func (r *runner) stopAll() {
	for _, w := range r.workers {
		w.Close()
	}
	if r.nats != nil {
		r.nats.Close()
	}
	if r.redis != nil {
		r.redis.Close()
	}
}

func (r *runner) run(ctx context.Context) (*Report, error) {
	o := r.o
	if err := r.startServers(ctx); err != nil {
		return nil, err
	}

	// The providers: each simulator behind the fault wrapper, all
	// recording into one history.
	r.history = newHistory(o.seed)
	r.resources = map[*chaosProvider][]string{}
	seed := map[string]map[string]string{}
	addrs := map[*chaosProvider]string{}
	perProvider := max(1, o.resources/len(r.providers))
	for _, p := range r.providers {
		r.resources[p] = p.ids(perProvider)
		for _, id := range r.resources[p] {
			seed[id] = p.seed(id)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		srv := &http.Server{Handler: &faultyProvider{h: r.history, p: p, faultRate: o.faultRate, lostRate: o.lostRate}, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer srv.Close()
		addrs[p] = ln.Addr().String()
	}

	if err := r.startWorkers(ctx, addrs); err != nil {
		return nil, err
	}

	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", r.natsPort), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}

	// Memory and kills run until phase 1 settles.
	chaosCtx, stopChaos := context.WithCancel(ctx)
	var chaos sync.WaitGroup
	chaos.Go(func() { r.sampleRSS(chaosCtx) })
	killCtx, stopKills := context.WithCancel(chaosCtx)
	defer stopKills()
	var kills sync.WaitGroup
	kills.Go(func() { r.killLoop(killCtx) })
	defer kills.Wait()
	defer func() { stopChaos(); chaos.Wait() }()

	// The commands: originals, late duplicates, reused ids.
	runTag := strconv.FormatUint(o.seed%1_000_000_007, 36)
	marker := "cnry" + randomAlnum(r.rng, 8)
	originals := make([]*payload, o.commands)
	provOf := map[*payload]*chaosProvider{}
	for i := range originals {
		prov := r.providers[r.rng.IntN(len(r.providers))]
		res := r.resources[prov][r.rng.IntN(len(r.resources[prov]))]
		seqd := false
		switch res[len(res)-1] {
		case classSequenced:
			seqd = true
		case classMixed:
			seqd = r.rng.Float64() < o.seqFraction
		}
		originals[i] = newPayload(r.rng, prov, runTag, marker, i, "", res, seqd)
		if r.rng.Float64() < o.oneField {
			originals[i].keepOneField(r.rng, prov)
		}
		provOf[originals[i]] = prov
	}
	var dups, reuses []*payload
	for i, p := range originals {
		x := r.rng.Float64()
		switch {
		case x < o.dupFraction:
			dups = append(dups, p)
		case x < o.dupFraction+o.reuseFraction:
			reuses = append(reuses, newPayload(r.rng, provOf[p], runTag, marker, i, ".r", p.cmd.Resource, p.sequenced))
		}
	}
	// Commands for a connection no worker serves: the catch-all scan
	// answers them (after the grace) through kills and restarts.
	var unrouted []*payload
	for i := range max(1, int(float64(o.commands)*o.unroutedFraction)) {
		p := originals[r.rng.IntN(len(originals))]
		u := newPayload(r.rng, provOf[p], runTag, marker, i, ".u", p.cmd.Resource, false)
		u.cmd.ID = fmt.Sprintf("chaos-%s-u%d", runTag, i)
		u.connection = unroutedConnection
		unrouted = append(unrouted, u)
	}
	var lim *rate.Limiter
	if o.rate > 0 {
		lim = rate.NewLimiter(rate.Limit(o.rate), max(1, int(o.rate/20)))
	}
	pub := &publisher{js: js, limiter: lim, jitter: o.seqJitter, rng: rand.New(rand.NewPCG(o.seed, 2))}

	// Phase 1: publish, with NATS and Redis restarted at set points.
	var restarts sync.WaitGroup
	triggers := map[int]func(){}
	for j := range o.natsRestarts {
		at := o.commands * (3 + 4*j/max(1, o.natsRestarts)) / 10
		triggers[max(1, at)] = func() { restarts.Go(func() { r.restartNATS(ctx) }) }
	}
	for j := range o.redisRestarts {
		at := o.commands*(6+3*j/max(1, o.redisRestarts))/10 + 1
		prev := triggers[at]
		triggers[at] = func() {
			if prev != nil {
				prev()
			}
			restarts.Go(func() { r.restartRedis(ctx, false) })
		}
	}
	var trigMu sync.Mutex
	start := time.Now()
	r.logf("phase 1: publishing %d commands over %d resources (%d late duplicates, %d reused ids) to %d workers", o.commands, o.resources, len(dups), len(reuses), o.workers)
	err = pub.publishAll(ctx, originals, func(n int) {
		trigMu.Lock()
		f := triggers[n]
		delete(triggers, n)
		trigMu.Unlock()
		if f != nil {
			f()
		}
		if n%max(1, o.commands/10) == 0 {
			r.logf("published %d/%d", n, o.commands)
		}
	})
	if err != nil {
		return nil, err
	}
	if err := pub.publishAll(ctx, unrouted, nil); err != nil {
		return nil, err
	}
	lastPublish := time.Now()
	r.logf("published %d commands and %d for an unserved connection in %s; late duplicates and reused ids after the %s duplicate window",
		o.commands, len(unrouted), time.Since(start).Round(time.Millisecond), o.dupWindow)
	if err := sleepCtx(ctx, time.Until(lastPublish.Add(o.dupWindow+time.Second))); err != nil {
		return nil, err
	}
	late := append(append([]*payload{}, dups...), reuses...)
	r.rng.Shuffle(len(late), func(i, j int) { late[i], late[j] = late[j], late[i] })
	if err := pub.publishAll(ctx, late, nil); err != nil {
		return nil, err
	}
	lastPublish = time.Now()
	restarts.Wait()

	// Settle: every original has a result, and the planned kills happened.
	rr := &resultReader{js: js, scan: NewSecretScanner(marker), rename: map[string]map[string]string{}}
	for _, p := range r.providers {
		rr.rename[p.connection] = p.fieldNames
	}
	want := map[string]bool{}
	for _, p := range append(slices.Clone(originals), unrouted...) {
		want[p.cmd.ID] = true
	}
	deadline := time.Now().Add(o.settle)
	for {
		if err := rr.poll(ctx); err != nil {
			r.logf("reading results: %v", err)
		}
		got := rr.countTerminal(want)
		r.mu.Lock()
		kills := r.events.Kills
		r.mu.Unlock()
		if got == len(want) && kills >= o.minKills {
			r.logf("phase 1 settled: %d/%d results, %d kills, %s", got, len(want), kills, time.Since(start).Round(time.Second))
			break
		}
		if time.Now().After(deadline) {
			r.logf("phase 1 did not settle in %s: %d/%d results, %d kills", o.settle, got, len(want), kills)
			r.logWarnings()
			break
		}
		r.logf("waiting: %d/%d results, %d kills, %d provider writes", got, len(want), kills, r.history.writeCount())
		if err := sleepCtx(ctx, 3*time.Second); err != nil {
			return nil, err
		}
	}
	stopKills()
	kills.Wait() // no kill or restart under way from here
	// Every worker up again before the final state is taken.
	for i, w := range r.workers {
		if w.PID() == 0 {
			_ = w.Start()
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := waitReady(wctx, r.httpAddrs[i]); err != nil {
			r.logf("worker %d: %v", i, err)
		}
		cancel()
	}
	if err := rr.poll(ctx); err != nil {
		r.logf("reading results: %v", err)
	}
	final := r.history.state(r.providers, r.resources)
	finalSerial := r.history.writeCount()

	// Phase 2: Redis comes back empty; duplicates and reused ids of
	// finished commands must not be applied, and the workers must say why.
	if o.redisEmpty {
		if err := sleepCtx(ctx, time.Until(lastPublish.Add(o.dupWindow+time.Second))); err != nil {
			return nil, err
		}
		if err := rr.poll(ctx); err != nil {
			r.logf("reading results: %v", err)
		}
		r.mu.Lock()
		r.events.EmptySerial = r.history.writeCount() + 1
		r.events.EmptyResultSeq = max(rr.next, 1)
		r.mu.Unlock()
		if err := r.restartRedis(ctx, true); err != nil {
			return nil, err
		}
		n := min(200, max(1, o.commands/5))
		var again []*payload
		for _, p := range originals {
			if len(again) == n {
				break
			}
			if p.sequenced {
				again = append(again, p)
			}
		}
		for i, p := range originals[:min(len(originals), n/4+1)] {
			again = append(again, newPayload(r.rng, provOf[p], runTag, marker, i, ".r2", p.cmd.Resource, p.sequenced))
			reuses = append(reuses, again[len(again)-1])
		}
		r.logf("phase 2: Redis came back empty; publishing %d duplicates and reused ids of finished commands, watching /readyz for %s", len(again), o.emptyWatch)
		if err := pub.publishAll(ctx, again, nil); err != nil {
			return nil, err
		}
		if err := sleepCtx(ctx, o.emptyWatch); err != nil {
			return nil, err
		}
		for i, addr := range r.httpAddrs {
			ok, text := readyz(addr)
			// Failing closed is answering not ready and saying why: an
			// unreachable worker or an empty reason does not count.
			_, reason, _ := strings.Cut(text, ": ")
			closed := !ok && !strings.HasPrefix(text, "unreachable") && strings.TrimSpace(reason) != ""
			r.mu.Lock()
			r.events.Readyz = append(r.events.Readyz, text)
			r.events.FailClosed = append(r.events.FailClosed, closed)
			r.mu.Unlock()
			r.logf("worker %d /readyz after Redis came back empty: %s", i, text)
		}
		if err := rr.poll(ctx); err != nil {
			r.logf("reading results: %v", err)
		}
	}
	stopChaos()
	chaos.Wait()
	for _, w := range r.workers {
		w.Stop(syscall.SIGTERM, 15*time.Second)
	}

	// The raw data.
	readStart := time.Now()
	in := &Input{Seed: seed, Final: final, FinalSerial: finalSerial, Classify: func(res string) string { return classNames[res[len(res)-1]] }}
	scan := NewSecretScanner(marker)
	var scanned int64
	leak := func(source string, data []byte) {
		scanned += int64(len(data))
		if form := scan.Find(data); form != "" {
			in.Leaks = append(in.Leaks, Leak{Source: source, Form: form})
		}
	}
	if err := rr.poll(ctx); err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	in.Results = rr.results
	in.Leaks = append(in.Leaks, rr.leaks...)
	scanned += rr.bytes
	// A copy is its payload's by its client secret (unique per payload),
	// or, for a payload without one (-one-field), by its body.
	bySecret, byBody := map[string]*Command{}, map[string]*Command{}
	for _, p := range append(slices.Clone(originals), reuses...) {
		if secret, ok := p.cmd.Fields["clientSecret"]; ok {
			bySecret[secret] = &p.cmd
		} else if p.body != nil {
			byBody[string(p.body)] = &p.cmd
		}
	}
	err = readStream(ctx, js, streamCommands, 1, func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		var body struct {
			Data struct {
				Changes struct {
					ClientSecret string `json:"clientSecret"`
				} `json:"changes"`
			} `json:"data"`
		}
		_ = json.Unmarshal(m.Data(), &body)
		c := bySecret[body.Data.Changes.ClientSecret]
		if body.Data.Changes.ClientSecret == "" {
			c = byBody[string(m.Data())]
		}
		if c == nil {
			return
		}
		in.Copies = append(in.Copies, StoredCopy{ID: c.ID, Reuse: c.Reuse, Seq: meta.Sequence.Stream, Stored: meta.Timestamp})
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", streamCommands, err)
	}
	r.logf("read %d results and %d command copies in %s", len(in.Results), len(in.Copies), time.Since(readStart).Round(time.Millisecond))
	for _, p := range append(slices.Clone(originals), reuses...) {
		in.Commands = append(in.Commands, p.cmd)
	}
	for _, p := range unrouted {
		in.Unrouted = append(in.Unrouted, p.cmd.ID)
	}
	deadLetters := 0
	err = readStream(ctx, js, streamDead, 1, func(m jetstream.Msg) {
		deadLetters++
		var h strings.Builder
		for k, vs := range m.Headers() {
			for _, v := range vs {
				h.WriteString(k + ": " + v + "\n")
			}
		}
		meta, _ := m.Metadata()
		seq := uint64(0)
		if meta != nil {
			seq = meta.Sequence.Stream
		}
		leak(fmt.Sprintf("dead letter %d's headers", seq), []byte(h.String()))
	})
	if err != nil {
		r.logf("reading %s: %v", streamDead, err)
	}
	logs, _ := filepath.Glob(filepath.Join(r.dir, "worker-*.log"))
	for _, path := range logs {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		leak("log "+filepath.Base(path), b)
	}

	writes, faults, lost, requests := r.history.snapshot()
	in.Writes = writes
	r.mu.Lock()
	r.events.Faults, r.events.LostAnswers, r.events.Requests = faults, lost, requests
	r.events.ScannedBytes = scanned
	in.Events = r.events
	r.mu.Unlock()
	in.Plan = Plan{Kills: o.minKills, NATSRestarts: o.natsRestarts, RedisRestarts: o.redisRestarts, RedisEmptied: o.redisEmpty,
		FaultRate: o.faultRate, LostRate: o.lostRate, MaxRSSKiB: int64(o.maxRSSMiB) * 1024}
	in.Marker = marker
	checkStart := time.Now()
	rep := Check(in)
	// The checker must catch violations planted into this run's own data.
	caught, missed, notes := checkPlanted(in)
	for _, kind := range missed {
		rep.add(VImplausible, "the checker missed a %s planted into this run's data", kind)
	}
	for _, n := range notes {
		r.logf("planting: %s", n)
	}
	rep.count("planted violations caught", caught)
	r.logf("checked, and planted %d violations, in %s", len(plantKinds), time.Since(checkStart).Round(time.Millisecond))
	rep.count("dead letters", deadLetters)
	rep.count("publish retries", pub.retries)
	for i, kib := range in.Events.PeakRSS {
		r.logf("worker %d peak RSS %.1f MiB", i, float64(kib)/1024)
	}
	return rep, nil
}

func (r *runner) startServers(ctx context.Context) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if r.natsPort, err = serverproc.FreePort(); err != nil {
		return err
	}
	store := filepath.Join(r.dir, "jetstream")
	r.nats, err = serverproc.New("nats-server", filepath.Join(r.dir, "nats.log"), func() *exec.Cmd {
		return exec.Command(self, "nats-server", "--port", strconv.Itoa(r.natsPort), "--store", store)
	})
	if err != nil {
		return err
	}
	if err := r.nats.Start(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := serverproc.WaitTCP(wctx, fmt.Sprintf("127.0.0.1:%d", r.natsPort)); err != nil {
		return err
	}

	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server is needed on PATH: %w", err)
	}
	if r.redisPort, err = serverproc.FreePort(); err != nil {
		return err
	}
	r.redisDir = filepath.Join(r.dir, "redis")
	if err := os.MkdirAll(r.redisDir, 0o700); err != nil {
		return err
	}
	r.redis, err = serverproc.New("redis-server", filepath.Join(r.dir, "redis.log"), func() *exec.Cmd {
		return exec.Command(redisBin, "--port", strconv.Itoa(r.redisPort), "--bind", "127.0.0.1", "--dir", r.redisDir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--protected-mode", "yes")
	})
	if err != nil {
		return err
	}
	if err := r.redis.Start(); err != nil {
		return err
	}
	return serverproc.RedisPing(wctx, fmt.Sprintf("127.0.0.1:%d", r.redisPort))
}

func (r *runner) startWorkers(ctx context.Context, addrs map[*chaosProvider]string) error {
	o := r.o
	bin := o.workerBin
	if bin == "" {
		bin = filepath.Join(r.dir, "syncworker")
		r.logf("building the worker: go build -o %s ./cmd/syncworker", bin)
		args := append(append([]string{"build"}, o.buildFlags...), "-o", bin, "github.com/oauthsync/oauthsync/cmd/syncworker")
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Stdout, cmd.Stderr = r.out, r.out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build the worker (or pass -worker-bin): %w", err)
		}
	}
	for i := range o.workers {
		// Each worker its own config: the same but for its credentials,
		// which tell the provider history which worker wrote (takeSlot).
		cfg := fmt.Sprintf(`nats: {url: "nats://127.0.0.1:%d"}
redis: {url: "redis://127.0.0.1:%d/0"}
streams: {duplicateWindow: %s}
worker: {ackWait: %s, leaseTTL: %s, unknownConnectionGrace: 2s}
connections:
`, r.natsPort, r.redisPort, o.dupWindow, o.ackWait, o.leaseTTL)
		for _, p := range r.providers {
			cfg += fmt.Sprintf("  %s:\n    provider: %s\n    baseURL: http://%s\n    auth: %s\n    maxInFlight: %d\n",
				p.connection, p.name, addrs[p], p.auth(i), o.maxInFlight)
			if o.circuitOpenFor > 0 {
				cfg += fmt.Sprintf("    circuit: {openFor: %s}\n", o.circuitOpenFor)
			}
			if o.rateLimit > 0 {
				cfg += fmt.Sprintf("    rateLimit: {perSecond: %g, burst: 4}\n", o.rateLimit)
			}
		}
		cfgPath := filepath.Join(r.dir, fmt.Sprintf("worker-%d.yaml", i))
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return err
		}
		port, err := serverproc.FreePort()
		if err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		w, err := serverproc.New(fmt.Sprintf("worker %d", i), filepath.Join(r.dir, fmt.Sprintf("worker-%d.log", i)), func() *exec.Cmd {
			return exec.Command(bin, "--config", cfgPath, "--http-addr", addr, "--instance", fmt.Sprintf("chaos-%d", i),
				"--log-format", "json", "--log-level", "info")
		})
		if err != nil {
			return err
		}
		if err := w.Start(); err != nil {
			return err
		}
		r.workers = append(r.workers, w)
		r.httpAddrs = append(r.httpAddrs, addr)
	}
	for i, addr := range r.httpAddrs {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := waitReady(wctx, addr)
		cancel()
		if err != nil {
			return fmt.Errorf("worker %d (log %s): %w", i, filepath.Join(r.dir, fmt.Sprintf("worker-%d.log", i)), err)
		}
	}
	return nil
}

// logWarnings writes what the workers warned of so far, grouped: the
// reason a run did not settle (an open circuit, a store guard, a lost
// connection) is there.
func (r *runner) logWarnings() {
	var paths []string
	for i := range r.workers {
		paths = append(paths, filepath.Join(r.dir, fmt.Sprintf("worker-%d.log", i)))
	}
	ss, err := summarizeWarnings(paths)
	if err != nil {
		r.logf("reading the worker logs: %v", err)
		return
	}
	r.logf("the workers' warnings and errors so far:\n%s", formatWarnings(ss))
}

// killLoop SIGKILLs a random worker every killMin..killMax and starts it
// again at once.
func (r *runner) killLoop(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	next := time.Now().Add(r.killWait())
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r.restartExited()
		if time.Now().Before(next) {
			continue
		}
		next = time.Now().Add(r.killWait())
		r.mu.Lock()
		i := r.killRng.IntN(len(r.workers))
		r.mu.Unlock()
		w := r.workers[i]
		pid := w.PID()
		if pid == 0 {
			continue
		}
		w.Stop(syscall.SIGKILL, 5*time.Second)
		r.mu.Lock()
		r.events.Kills++
		r.events.KillLog = append(r.events.KillLog, Kill{Worker: i, Time: time.Now()})
		r.mu.Unlock()
		r.logf("SIGKILL worker %d (pid %d)", i, pid)
		if err := w.Start(); err != nil {
			r.logf("restart worker %d: %v", i, err)
		}
	}
}

// killWait is the time to the next kill: kill-min..kill-max.
func (r *runner) killWait() time.Duration {
	wait := r.o.killMin
	if span := r.o.killMax - r.o.killMin; span > 0 {
		r.mu.Lock()
		wait += time.Duration(r.killRng.Int64N(int64(span)))
		r.mu.Unlock()
	}
	return wait
}

// restartExited starts again, as a supervisor would, a worker that exited
// on its own (one started while NATS was down exits: it cannot provision),
// so that the run keeps its workers.
func (r *runner) restartExited() {
	for i, w := range r.workers {
		if w.PID() != 0 {
			continue
		}
		r.logf("worker %d exited on its own (see worker-%d.log); starting it again", i, i)
		if err := w.Start(); err != nil {
			r.logf("restart worker %d: %v", i, err)
		}
	}
}

func (r *runner) restartNATS(ctx context.Context) {
	pid := r.nats.PID()
	r.nats.Stop(syscall.SIGKILL, 5*time.Second)
	r.logf("SIGKILL nats-server (pid %d); its JetStream store is kept", pid)
	_ = sleepCtx(ctx, 2*time.Second)
	if err := r.nats.Start(); err != nil {
		r.logf("restart nats-server: %v", err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := serverproc.WaitTCP(wctx, fmt.Sprintf("127.0.0.1:%d", r.natsPort)); err != nil {
		r.logf("nats-server: %v", err)
		return
	}
	r.mu.Lock()
	r.events.NATSRestarts++
	r.mu.Unlock()
	r.logf("nats-server back")
}

// restartRedis SIGKILLs redis-server and starts it again: with its AOF
// (appendfsync always: nothing acknowledged is lost), or empty.
func (r *runner) restartRedis(ctx context.Context, empty bool) error {
	pid := r.redis.PID()
	r.redis.Stop(syscall.SIGKILL, 5*time.Second)
	if empty {
		if err := serverproc.EmptyDir(r.redisDir); err != nil {
			return err
		}
		r.logf("SIGKILL redis-server (pid %d); its data deleted", pid)
	} else {
		r.logf("SIGKILL redis-server (pid %d); its AOF is kept", pid)
	}
	_ = sleepCtx(ctx, time.Second)
	if err := r.redis.Start(); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := serverproc.RedisPing(wctx, fmt.Sprintf("127.0.0.1:%d", r.redisPort)); err != nil {
		r.logf("%v", err)
		return err
	}
	r.mu.Lock()
	if empty {
		r.events.RedisEmptied++
	} else {
		r.events.RedisRestarts++
	}
	r.mu.Unlock()
	r.logf("redis-server back")
	return nil
}

// sampleRSS reads each worker's RSS every half second.
func (r *runner) sampleRSS(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		for i, w := range r.workers {
			if pid := w.PID(); pid != 0 {
				if kib, ok := rssKiB(pid); ok {
					r.mu.Lock()
					r.events.PeakRSS[i] = max(r.events.PeakRSS[i], kib)
					r.events.RSSSamples++
					r.mu.Unlock()
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func randomAlnum(rng *rand.Rand, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// resultReader reads the results stream incrementally.
type resultReader struct {
	js   jetstream.JetStream
	next uint64
	scan *SecretScanner
	// rename maps a connection's canonical field names to its
	// provider's, for skippedFields.
	rename  map[string]map[string]string
	results []ResultMsg
	leaks   []Leak
	bytes   int64 // scanned for secrets
}

func (rr *resultReader) poll(ctx context.Context) error {
	from := max(rr.next, 1)
	return readStream(ctx, rr.js, streamResults, from, func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		rr.next = meta.Sequence.Stream + 1
		var ev struct {
			ID   string `json:"id"`
			Data struct {
				CommandID     string   `json:"commandId"`
				Connection    string   `json:"connection"`
				Status        string   `json:"status"`
				AppliedFields []string `json:"appliedFields"`
				SkippedFields []string `json:"skippedFields"`
				Error         *struct {
					Code string `json:"code"`
				} `json:"error"`
			} `json:"data"`
		}
		_ = json.Unmarshal(m.Data(), &ev)
		res := ResultMsg{Seq: meta.Sequence.Stream, Time: meta.Timestamp, EventID: ev.ID, CommandID: ev.Data.CommandID, Status: ev.Data.Status,
			Applied: ev.Data.AppliedFields, Skipped: ev.Data.SkippedFields}
		for i, f := range res.Skipped {
			if pf, ok := rr.rename[ev.Data.Connection][f]; ok {
				res.Skipped[i] = pf
			}
		}
		if ev.Data.Error != nil {
			res.ErrorCode = ev.Data.Error.Code
		}
		rr.results = append(rr.results, res)
		var b strings.Builder
		for k, vs := range m.Headers() {
			for _, v := range vs {
				b.WriteString(k + ": " + v + "\n")
			}
		}
		b.Write(m.Data())
		rr.bytes += int64(b.Len())
		if form := rr.scan.Find([]byte(b.String())); form != "" {
			rr.leaks = append(rr.leaks, Leak{Source: "result " + res.EventID, Form: form})
		}
	})
}

func (rr *resultReader) countTerminal(want map[string]bool) int {
	seen := map[string]bool{}
	for _, m := range rr.results {
		if want[m.CommandID] && !strings.Contains(m.EventID, "-conflict-") {
			seen[m.CommandID] = true
		}
	}
	return len(seen)
}

// readStream reads a stream from sequence from to its last message with an
// ordered consumer, calling fn for each message.
func readStream(ctx context.Context, js jetstream.JetStream, name string, from uint64, fn func(jetstream.Msg)) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil
		}
		return err
	}
	last := s.CachedInfo().State.LastSeq
	if last < from || s.CachedInfo().State.Msgs == 0 {
		return nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from})
	if err != nil {
		return err
	}
	// A continuous pull (Fetch waits out its max wait whenever a batch
	// comes back short, which made reading 100,000 commands take minutes).
	it, err := c.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextMaxWait(5 * time.Second))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				// Nothing left up to last (messages removed): done.
				if info, ierr := c.Info(ctx); ierr == nil && info.NumPending == 0 {
					return nil
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
			return err
		}
		fn(m)
		if meta, err := m.Metadata(); err == nil && meta.Sequence.Stream >= last {
			return nil
		}
	}
}
