// Command syncsim serves the simulators of the four providers oauthsync
// supports (Rocket.Chat, Reelevant, Hybrid Data Pipeline, jframework),
// seeded like `syncworker dev`, so that a worker run outside dev — in
// docker compose, or against your own NATS and Redis — has providers to
// talk to. It can also publish the sample batch once.
//
//	syncsim [flags]                  serve the simulators until SIGTERM/SIGINT
//	syncsim sample --nats-url URL    publish examples/dev-batch.ndjson, then exit
//
// Each simulator listens on loopback unless told otherwise
// (--rocketchat-addr, --reelevant-addr, --hybriddatapipeline-addr,
// --jframework-addr; an empty address turns one off). Their credentials are
// fixed development values (see simulators) and their state lives in
// memory: this is a development tool, never a provider.
//
// With OpenTelemetry's standard environment set (OTEL_EXPORTER_OTLP_ENDPOINT,
// ...), the simulators record a server span per request, joined to the
// worker's trace, and sample records a producer span per command whose
// context the command carries, so a trace runs from publisher to provider.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/oauthsync/oauthsync/examples"
	"github.com/oauthsync/oauthsync/messages"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "syncsim:", err)
		os.Exit(1)
	}
}

// env returns SYNCSIM_<name> when set, else def.
func env(name, def string) string {
	if v, ok := os.LookupEnv("SYNCSIM_" + name); ok {
		return v
	}
	return def
}

// envName is the environment name of a flag: upper case, "-" as "_".
func envName(flagName string) string {
	return strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func run(args []string, stdout, stderr io.Writer) error {
	sample := len(args) > 0 && args[0] == "sample"
	if sample {
		args = args[1:]
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	// First signal: graceful stop. Second: exit at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			logger.Info("signal received; stopping (send again to force)", "signal", s.String())
			cancel()
		case <-ctx.Done():
			return
		}
		select {
		case s := <-sigs:
			logger.Error("second signal; exiting now", "signal", s.String())
			os.Exit(1)
		case <-ctx.Done():
		}
	}()

	tp, shutdownTracing, err := setupTracing(ctx)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdownTracing(sctx); err != nil {
			logger.Warn("flushing traces failed", "error", err)
		}
	}()

	if sample {
		return runSample(ctx, args, stdout, stderr, logger, sampleOptions{tracerProvider: tp})
	}

	fs := flag.NewFlagSet("syncsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sims := simulators(0, 0) // for the flags' defaults; rebuilt below with the latency
	addrs := map[string]*string{}
	for _, s := range sims {
		name := s.provider + "-addr"
		addrs[s.provider] = fs.String(name, env(envName(name), s.defaultAddr),
			fmt.Sprintf("listen `address` of the %s simulator; empty turns it off (env SYNCSIM_%s)", s.title, envName(name)))
	}
	defLatency, err := time.ParseDuration(env("LATENCY", "0s"))
	if err != nil {
		return fmt.Errorf("SYNCSIM_LATENCY: %w", err)
	}
	latency := fs.Duration("latency", defLatency, "wait this long before every answer, to make traces readable (env SYNCSIM_LATENCY)")
	defLifetime, err := time.ParseDuration(env("TOKEN_LIFETIME", DefaultTokenLifetime.String()))
	if err != nil {
		return fmt.Errorf("SYNCSIM_TOKEN_LIFETIME: %w", err)
	}
	tokenLifetime := fs.Duration("token-lifetime", defLifetime,
		"lifetime of the access tokens and Auth-Keys the Reelevant token endpoint and the jframework login issue (env SYNCSIM_TOKEN_LIFETIME)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  syncsim [flags]                 serve the four provider simulators\n  syncsim sample --nats-url URL   publish the sample batch once\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	listen := map[string]string{}
	for p, a := range addrs {
		listen[p] = *a
	}
	wrap := func(s simulator) http.Handler { return s.handler }
	if exporterConfigured() {
		wrap = traced(tp)
	}
	return serveSimulators(ctx, simulators(*latency, *tokenLifetime), listen, wrap, logger, func(eps []endpoint) {
		fmt.Fprintln(stdout, "Provider simulators (development credentials, in-memory state):")
		for _, ep := range eps {
			fmt.Fprintf(stdout, "  %-21s %s  connection %s, auth %s\n", ep.sim.title, ep.url, ep.sim.connection, authKeys(ep.sim.auth))
		}
	})
}

// authKeys names a simulator's auth keys (not their values) for the banner.
func authKeys(auth map[string]string) string {
	return strings.Join(slices.Sorted(maps.Keys(auth)), "+")
}

func runSample(ctx context.Context, args []string, stdout, stderr io.Writer, logger *slog.Logger, o sampleOptions) error {
	fs := flag.NewFlagSet("syncsim sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	natsURL := fs.String("nats-url", env("NATS_URL", "nats://127.0.0.1:4222"), "NATS `url` (env SYNCSIM_NATS_URL)")
	prefix := fs.String("subject-prefix", env("SUBJECT_PREFIX", messages.DefaultSubjectPrefix), "subject `prefix` (env SYNCSIM_SUBJECT_PREFIX)")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for NATS and for the commands stream the worker creates")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see sample --help)", fs.Args())
	}
	o.natsURL, o.subjects, o.wait = *natsURL, messages.Subjects{Prefix: *prefix}, *wait
	return publishSample(ctx, o, examples.DevBatch, stdout, logger)
}
