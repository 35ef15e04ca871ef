package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/examples"
	"github.com/oauthsync/oauthsync/internal/cli"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/simfault"
	"github.com/oauthsync/oauthsync/messages"
)

// devProvider is one provider simulator of `syncworker dev` with the
// connection that points at it. Its credentials are not secrets, but the
// worker handles them as if they were.
type devProvider struct {
	connection, provider, title string
	sim                         http.Handler
	// auth returns the connection's auth keys once the simulator listens
	// on baseURL (Reelevant's token endpoint is an absolute URL).
	auth func(baseURL string) map[string]string
}

// The dev simulators' credentials: fixed development values, not secrets.
// Reelevant and jframework hand out short-lived credentials (an access
// token from a refresh token, an Auth-Key from a login), so that dev
// exercises their renewal.
const (
	devReelevantClientID     = "dev-reelevant-api-client"
	devReelevantRefreshToken = "dev-reelevant-refresh-token"
	devJFBrandURL            = "dev.brand.example.com"
	devJFUsername            = "dev-jf-operator"
	devJFPassword            = "dev-jf-password"
)

// Dev's delivery budget and flow-control periods: short, so that a
// provider made to fail shows its circuit and its dead letters at once.
const (
	devMaxDeliver     = 3
	devMaxParked      = 8 * time.Second
	devCircuitOpenFor = 5 * time.Second
)

// devTokenLifetime is the default of --token-lifetime: short enough that
// a newcomer sees credentials renewed within minutes.
const devTokenLifetime = time.Minute

// devProviders returns the four providers' simulators, seeded with the
// objects the sample batch updates. tokenLifetime is the lifetime of the
// credentials the Reelevant and jframework simulators issue (0: their
// defaults).
func devProviders(tokenLifetime time.Duration) []devProvider {
	rc := rocketchatsim.New(rocketchatsim.Options{UserID: "devUser0000000001", AuthToken: "dev-rocketchat-token", RateLimit: 1000})
	for i, id := range []string{"65a7d77142a7e12453052d59", "65a7d77142a7e12453052d5a", "65a7d77142a7e12453052d5b"} {
		rc.Seed(rocketchatsim.App{ID: id, Name: fmt.Sprintf("sample-app-%d", i+1), Active: true,
			RedirectURI: "https://old.example.com/cb", ClientID: fmt.Sprintf("devClient%08d", i+1),
			ClientSecret: fmt.Sprintf("dev-client-secret-%d", i+1)})
	}
	// No rotation of the refresh token: syncctl --config uses the same one
	// as the worker, and a rotated one would be revoked under it.
	rl := reelevantsim.New(reelevantsim.Options{ClientID: devReelevantClientID, RefreshToken: devReelevantRefreshToken,
		TokenLifetime: tokenLifetime})
	rl.Seed("65a7d77142a7e12453052d60", map[string]any{"mode": "refresh_token", "clientId": "dev-reelevant-client",
		"tokenUrl": "https://login.old.example.com/token", "scopes": []string{"read"}})
	hdp := hdpsim.New(hdpsim.Options{Username: "dev-hdp-user", Password: "dev-hdp-password"})
	hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "dev-hdp-client",
		ClientSecret: "dev-hdp-client-secret", AuthorizeURI: "https://login.salesforce.com/services/oauth2/authorize",
		TokenURI: "https://login.salesforce.com/services/oauth2/token", Scope: "api"})
	jf := jframeworksim.New(jframeworksim.Options{BrandURL: devJFBrandURL, Username: devJFUsername, Password: devJFPassword,
		KeyLifetime: tokenLifetime})
	jf.Seed(jframeworksim.Integration{ID: "auth-dev-1", Code: "google", Name: "Google sign-in", ProjectID: "dev-project",
		ClientID: "dev-jf-client", ClientSecret: "dev-jf-client-secret", RedirectURI: "https://jf.old.example.com/cb", Scope: "openid email"})
	fixed := func(auth map[string]string) func(string) map[string]string {
		return func(string) map[string]string { return auth }
	}
	return []devProvider{
		{"rc-dev", rocketchat.Provider, "Rocket.Chat", rc, fixed(map[string]string{"userId": "devUser0000000001", "authToken": "dev-rocketchat-token"})},
		{"reelevant-dev", reelevant.Provider, "Reelevant", rl, func(baseURL string) map[string]string {
			return map[string]string{reelevant.AuthTokenURL: baseURL + reelevantsim.TokenPath,
				reelevant.AuthClientID: devReelevantClientID, reelevant.AuthRefreshToken: devReelevantRefreshToken}
		}},
		{"hdp-dev", hybriddatapipeline.Provider, "Hybrid Data Pipeline", hdp, fixed(map[string]string{"username": "dev-hdp-user", "password": "dev-hdp-password"})},
		{"jf-dev", jframework.Provider, "jframework", jf, fixed(map[string]string{jframework.AuthBrandURL: devJFBrandURL,
			jframework.AuthUsername: devJFUsername, jframework.AuthPassword: devJFPassword})},
	}
}

// newDev is `syncworker dev`.
func newDev(o *options, stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on this machine: embedded NATS, dedup, provider simulators, a worker and a sample batch",
		Long: `dev runs the whole product on one machine, to try it and to practise with
syncctl: an embedded NATS server with JetStream (127.0.0.1:--nats-port),
the dedup store in JetStream key-value buckets, simulators of the four
providers (127.0.0.1, ports --sim-base-port+1..+4), a worker, and a sample
batch it publishes and reports.

It writes the config it runs (simulator URLs and credentials, the NATS URL)
to syncworker-dev.yaml in its data dir and prints the syncctl lines that use
it: plan and run a migration, list and replay dead letters. The data dir is
a temporary one, removed on exit, unless --data-dir is given.

The Reelevant and jframework connections obtain short-lived credentials
(an access token from Reelevant's token endpoint with a refresh token, an
Auth-Key from a jframework login) that expire after --token-lifetime, so
that their renewal shows in the logs and in
oauthsync_provider_token_requests_total on /metrics.

--fault PROVIDER=SPEC makes a simulator fail at random, to practise retries,
dead letters and replays (PROVIDER is rocketchat, reelevant,
hybriddatapipeline, jframework, or a connection name: rc-dev, ...):

  503:30%      30% of requests answered 503 (any status 400-599)
  429:10%      10% answered 429 Too Many Requests (Retry-After: 1)
  slow:2s      every answer 2s late (slow:2s:50%: half of them)

Rules combine with commas. While dev runs, a simulator's faults are shown and
replaced at /_sim/faults on its URL (curl -X PUT 'URL/_sim/faults?spec=off').`,
		Example: `  syncworker dev
  syncworker dev --fault rocketchat=503:30% --fault reelevant=429:10%,slow:1s
  syncworker dev --nats-port 4444 --data-dir ./dev-data --http-addr 127.0.0.1:9191`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("nats-url") || cmd.Flags().Changed("redis-url") {
				return cli.Usagef("dev runs its own embedded NATS (and keeps dedup state in it): --nats-url and --redis-url are not used; " +
					"pick its port with --nats-port, or run 'syncworker --config FILE' against your own servers")
			}
			if o.natsPort < 0 || o.natsPort > 65535 || o.simBasePort < 0 || o.simBasePort > 65535-4 {
				return cli.Usagef("--nats-port must be 0 to 65535 and --sim-base-port 0 to 65531 (0: random ports)")
			}
			if o.tokenLifetime < 0 {
				return cli.Usagef("--token-lifetime must be 0 (the simulators' default, 1h) or more, e.g. 60s")
			}
			faults, err := parseFaults(o.faults)
			if err != nil {
				return err
			}
			return withLogger(cmd, o, stderr, func(ctx context.Context, logger *slog.Logger) error {
				for _, name := range o.urlsFromEnv {
					logger.Warn("dev runs its own embedded NATS and dedup store: "+name+" is not used", "variable", name)
				}
				return runDev(ctx, o, faults, stdout, logger)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.httpAddr, "http-addr", devHTTPAddr, "address of /healthz, /readyz and /metrics (env SYNCWORKER_HTTP_ADDR)")
	fl.StringVar(&o.dataDir, "data-dir", "", "keep the embedded NATS data and the written config in this `dir` (env SYNCWORKER_DATA_DIR; default a temporary dir, removed on exit)")
	fl.IntVar(&o.natsPort, "nats-port", devNATSPort, "port of the embedded NATS server on 127.0.0.1 (0: a random one)")
	fl.IntVar(&o.simBasePort, "sim-base-port", devSimBasePort, "the simulators listen on 127.0.0.1 ports base+1 (Rocket.Chat), +2 (Reelevant), +3 (Hybrid Data Pipeline), +4 (jframework); 0: random ports")
	fl.DurationVar(&o.tokenLifetime, "token-lifetime", devTokenLifetime, "lifetime of the access tokens and Auth-Keys the Reelevant and jframework simulators issue (0: their default, 1h)")
	fl.StringArrayVar(&o.faults, "fault", nil, "make a simulator fail: PROVIDER=SPEC, e.g. rocketchat=503:30% (repeatable; see above)")
	fl.StringVar(&o.natsURL, "nats-url", "", "not used by dev: it runs its own NATS (see --nats-port)")
	fl.StringVar(&o.redisURL, "redis-url", "", "not used by dev: dedup state is kept in the embedded NATS")
	_ = fl.MarkHidden("nats-url")
	_ = fl.MarkHidden("redis-url")
	commonFlags(fl, o)
	return cmd
}

// parseFaults reads --fault PROVIDER=SPEC values into rules by provider or
// connection name.
func parseFaults(specs []string) (map[string][]simfault.Rule, error) {
	known := map[string]bool{}
	for _, p := range devProviders(0) {
		known[p.provider], known[p.connection] = true, true
	}
	out := map[string][]simfault.Rule{}
	for _, s := range specs {
		name, spec, ok := strings.Cut(s, "=")
		if !ok || !known[name] {
			return nil, cli.Usagef("--fault %q: want PROVIDER=SPEC, PROVIDER one of rocketchat, reelevant, hybriddatapipeline, jframework (or rc-dev, reelevant-dev, hdp-dev, jf-dev)", s)
		}
		rules, err := simfault.Parse(spec)
		if err != nil {
			return nil, cli.Usagef("--fault %s: %v", name, err)
		}
		out[name] = append(out[name], rules...)
	}
	return out, nil
}

// devConfigName is the file dev writes its config to, in its data dir.
const devConfigName = "syncworker-dev.yaml"

// devSim is one running simulator of dev.
type devSim struct {
	devProvider
	url    string
	faults *simfault.Faults
}

// runDev runs the whole product on one machine: embedded NATS, the KV dedup
// store, the four provider simulators, a worker, and a sample batch.
func runDev(ctx context.Context, o *options, faults map[string][]simfault.Rule, stdout io.Writer, logger *slog.Logger) error {
	if o.dataDir == "" {
		dir, err := os.MkdirTemp("", "syncworker-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.dataDir = dir
	} else if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return fmt.Errorf("--data-dir: %w", err)
	}
	cfg := &config.File{Connections: map[string]config.Connection{}}
	// Short delivery budgets and flow-control periods, so that a provider
	// failing on purpose (--fault) opens its circuit and dead-letters its
	// commands in seconds, not minutes.
	cfg.Worker.AckWait, cfg.Worker.MaxDeliver = config.Duration(4*time.Second), devMaxDeliver
	cfg.Worker.MaxParked = config.Duration(devMaxParked)
	var sims []devSim
	for i, p := range devProviders(o.tokenLifetime) {
		port := 0
		if o.simBasePort > 0 {
			port = o.simBasePort + 1 + i
		}
		f := &simfault.Faults{}
		f.Set(append(faults[p.provider], faults[p.connection]...))
		url, stop, err := serveLoopback(f.Wrap(p.sim), port, logger)
		if err != nil {
			return fmt.Errorf("%s simulator: %w (choose other ports with --sim-base-port, or 0 for random ones)", p.title, err)
		}
		defer stop()
		// One command at a time, so the sample reads the same on every
		// run: with more in flight, which of two commands on one resource
		// runs first (and so which one is reported superseded) varies.
		c := config.Connection{Provider: p.provider, BaseURL: url, Auth: p.auth(url), MaxInFlight: 1}
		c.Circuit.OpenFor = config.Duration(devCircuitOpenFor)
		cfg.Connections[p.connection] = c
		sims = append(sims, devSim{devProvider: p, url: url, faults: f})
	}
	o.natsURL, o.redisURL = "", "" // dev is embedded, whatever the environment says
	if o.natsPort == 0 {
		o.natsPort = -1 // random
	}
	return serve(ctx, o, cfg, logger, func(ctx context.Context, r *running) error {
		path := filepath.Join(o.dataDir, devConfigName)
		if err := writeDevConfig(path, r.natsURL, cfg); err != nil {
			return err
		}
		return devSample(ctx, r, sims, path, stdout)
	})
}

// writeDevConfig writes the config dev runs, with the NATS URL it listens
// on, so that syncctl --config can use it (plan against the simulators).
func writeDevConfig(path, natsURL string, cfg *config.File) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by 'syncworker dev': the config it runs, for syncctl --config %s\n", path)
	fmt.Fprintf(&b, "# The simulators' credentials are fixed development values, not secrets.\n")
	fmt.Fprintf(&b, "nats:\n  url: %q\nworker:\n  ackWait: %s\n  maxDeliver: %d\n  maxParked: %s\nconnections:\n", natsURL,
		time.Duration(cfg.Worker.AckWait), cfg.Worker.MaxDeliver, time.Duration(cfg.Worker.MaxParked))
	for _, name := range cfg.ConnectionNames() {
		c := cfg.Connections[name]
		fmt.Fprintf(&b, "  %s:\n    provider: %s\n    baseURL: %q\n    maxInFlight: %d\n    circuit: {openFor: %s}\n    auth:\n",
			name, c.Provider, c.BaseURL, c.MaxInFlight, time.Duration(c.Circuit.OpenFor))
		for _, k := range slices.Sorted(maps.Keys(c.Auth)) {
			fmt.Fprintf(&b, "      %s: %q\n", k, c.Auth[k])
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write the dev config: %w", err)
	}
	return nil
}

// devSample publishes examples/dev-batch.ndjson, prints the results as a
// table, then tells the user how to publish more, and waits.
func devSample(ctx context.Context, r *running, sims []devSim, configPath string, out io.Writer) error {
	results, err := r.js.OrderedConsumer(ctx, "SYNC_RESULTS", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{r.subjects.Results()}, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("follow results: %w", err)
	}
	ids, err := publishBatch(ctx, r, examples.DevBatch, out)
	if err != nil {
		return err
	}
	got := map[string]messages.Result{}
	it, err := results.Messages()
	if err != nil {
		return fmt.Errorf("follow results: %w", err)
	}
	defer it.Stop()
	deadline := time.Now().Add(60 * time.Second)
	for len(got) < len(ids) && time.Now().Before(deadline) && ctx.Err() == nil {
		m, err := it.Next(jetstream.NextMaxWait(time.Second))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			return fmt.Errorf("follow results: %w", err)
		}
		_ = m.Ack()
		ev, err := messages.DecodeResultEvent(m.Data())
		if err != nil {
			return fmt.Errorf("a result event did not decode: %w", err)
		}
		got[ev.Data.CommandID] = ev.Data
	}
	if ctx.Err() != nil {
		return nil
	}
	printResults(out, ids, got)
	printHints(out, r, sims, configPath)
	<-ctx.Done()
	return nil
}

// printHints tells the user how to practise against dev, with lines that
// work as printed.
func printHints(out io.Writer, r *running, sims []devSim, configPath string) {
	ctl := "go run ./cmd/syncctl --config " + configPath
	fmt.Fprintf(out, `
The worker keeps running. In another terminal, practise with syncctl:

  export NATS_URL=%s
  %s publish --connection rc-dev \
    --resource 65a7d77142a7e12453052d59 --set redirectUri=https://new.example.com/cb --wait
  %s migrate examples/migration.ndjson --plan
  %s migrate examples/migration.ndjson --report report.csv
  %s results --follow
  %s dlq list
  %s dlq replay --all
  %s status

Take a provider down, then publish or migrate: after 10 failed attempts its
circuit opens (status shows it) and its commands wait; one command probes it
every %s; a command that waited %s hands its delivery back, and after %d
deliveries it is a dead letter. Bring the provider back and replay them:

  curl -X PUT '%s%s?spec=503:100%%25'
  curl -X PUT '%s%s?spec=off'

Provider simulators (faults: --fault PROVIDER=SPEC, or PUT SIMULATOR%s?spec=...):
`, r.natsURL, ctl, ctl, ctl, ctl, ctl, ctl, ctl, devCircuitOpenFor, devMaxParked, devMaxDeliver, sims[0].url, simfault.ControlPath, sims[0].url, simfault.ControlPath, simfault.ControlPath)
	for _, s := range sims {
		fmt.Fprintf(out, "  %-21s %s (connection %s, faults: %s)\n", s.title, s.url, s.connection, simfault.Format(s.faults.Rules()))
	}
	fmt.Fprintf(out, "Config: %s\nHealth: /healthz and /readyz, metrics: /metrics on http://%s. Stop with Ctrl-C.\n", configPath, r.httpAddr)
}

// publishBatch publishes every line of an NDJSON batch on its subject and
// returns the distinct command ids in order. A repeated id is published
// without Nats-Msg-Id, to show that the worker's own dedup catches it.
func publishBatch(ctx context.Context, r *running, batch []byte, out io.Writer) ([]string, error) {
	var ids []string
	published := 0
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(batch))
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var head struct{ ID, Connection, Resource string }
		if err := json.Unmarshal(line, &head); err != nil {
			return nil, fmt.Errorf("sample batch line %d: %w", n, err)
		}
		msg := nats.NewMsg(r.subjects.Command(head.Connection, head.Resource))
		msg.Header.Set("Content-Type", messages.ContentType)
		msg.Data = append([]byte(nil), line...)
		var opts []jetstream.PublishOpt
		if !seen[head.ID] {
			opts = append(opts, jetstream.WithMsgID(head.ID))
			ids = append(ids, head.ID)
			seen[head.ID] = true
		}
		if _, err := r.js.PublishMsg(ctx, msg, opts...); err != nil {
			return nil, fmt.Errorf("publish sample line %d: %w", n, err)
		}
		published++
	}
	fmt.Fprintf(out, "Published %d sample commands (%d distinct ids) to %s; waiting for their results...\n\n", published, len(ids), r.natsURL)
	return ids, sc.Err()
}

func printResults(out io.Writer, ids []string, got map[string]messages.Result) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMAND\tCONNECTION\tRESOURCE\tSTATUS\tAPPLIED\tSKIPPED\tATTEMPTS\tERROR")
	for _, id := range ids {
		r, ok := got[id]
		if !ok {
			fmt.Fprintf(tw, "%s\t\t\t(no result yet)\t\t\t\t\n", id)
			continue
		}
		errText := ""
		if r.Error != nil {
			errText = string(r.Error.Code) + ": " + r.Error.Message
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", id, r.Connection, r.Resource, r.Status,
			strings.Join(r.AppliedFields, ","), strings.Join(r.SkippedFields, ","), r.Attempts, errText)
	}
	_ = tw.Flush()
}

// serveLoopback serves h on port of 127.0.0.1 (0: a free one).
func serveLoopback(h http.Handler, port int, logger *slog.Logger) (string, func(), error) {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("simulator failed", "error", err)
		}
	}()
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
