// Command syncworker is oauthsync's daemon: it consumes update commands from
// NATS JetStream and applies them to provider APIs (docs/CONTRACT.md §7).
//
//	syncworker --config FILE     run the worker
//	syncworker dev               run everything embedded, with simulators and a sample batch
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/redact"
	"golang.org/x/term"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "syncworker:", err)
		os.Exit(1)
	}
}

// options are the command-line flags; each also reads SYNCWORKER_<NAME>.
type options struct {
	config      string
	httpAddr    string
	dataDir     string
	natsURL     string
	redisURL    string
	instance    string
	logLevel    string
	logFormat   string
	noProvision bool
	pprof       bool
}

func parseFlags(name string, args []string, stderr io.Writer) (*options, *flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{}
	env := func(k, def string) string {
		if v, ok := os.LookupEnv("SYNCWORKER_" + k); ok {
			return v
		}
		return def
	}
	fs.StringVar(&o.config, "config", env("CONFIG", ""), "YAML config `file` (env SYNCWORKER_CONFIG)")
	fs.StringVar(&o.httpAddr, "http-addr", env("HTTP_ADDR", ":9090"), "address of /healthz, /readyz and /metrics (env SYNCWORKER_HTTP_ADDR)")
	fs.StringVar(&o.dataDir, "data-dir", env("DATA_DIR", ""), "data `dir` of the embedded NATS server when nats.url is empty (env SYNCWORKER_DATA_DIR; default a temporary dir)")
	fs.StringVar(&o.natsURL, "nats-url", env("NATS_URL", ""), "NATS `url`, overrides nats.url (env SYNCWORKER_NATS_URL)")
	fs.StringVar(&o.redisURL, "redis-url", env("REDIS_URL", ""), "Redis `url`, overrides redis.url (env SYNCWORKER_REDIS_URL)")
	fs.StringVar(&o.instance, "instance", env("INSTANCE", ""), "instance `name` in result sources (env SYNCWORKER_INSTANCE; default hostname-random)")
	fs.StringVar(&o.logLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (env SYNCWORKER_LOG_LEVEL)")
	fs.StringVar(&o.logFormat, "log-format", env("LOG_FORMAT", "auto"), "json, text, or auto: text on a terminal (env SYNCWORKER_LOG_FORMAT)")
	fs.BoolVar(&o.noProvision, "no-provision", env("NO_PROVISION", "") == "true", "do not create or update streams and consumers (env SYNCWORKER_NO_PROVISION=true)")
	fs.BoolVar(&o.pprof, "pprof", env("PPROF", "") == "true", "serve net/http/pprof under /debug/pprof/ on --http-addr (env SYNCWORKER_PPROF=true)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage:\n  syncworker --config FILE [flags]   run the worker\n  syncworker dev [flags]             embedded NATS, dedup and provider simulators, with a sample batch\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	return o, fs, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	dev := len(args) > 0 && args[0] == "dev"
	if dev {
		args = args[1:]
	}
	o, fs, err := parseFlags("syncworker", args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	logger, err := newLogger(o, stderr)
	if err != nil {
		return err
	}

	// First signal: graceful stop. Second: exit at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			logger.Info("signal received; stopping gracefully (send again to force)", "signal", s.String())
			cancel()
		case <-ctx.Done():
			return
		}
		if s, ok := <-sigs; ok {
			logger.Error("second signal; exiting now", "signal", s.String())
			os.Exit(1)
		}
	}()

	if dev {
		return runDev(ctx, o, stdout, logger)
	}
	if o.config == "" {
		fs.Usage()
		return errors.New("--config FILE is required (or run `syncworker dev`)")
	}
	cfg, err := config.Load(o.config)
	if err != nil {
		return err
	}
	// From here on, every log line and the error run returns are scrubbed of
	// the URLs' passwords and the connections' credentials: NATS, Redis and
	// url.Parse errors quote the URLs they were given.
	scrub := secretScrubber(o, cfg)
	if err := serve(ctx, o, cfg, slog.New(redact.Handler(logger.Handler(), scrub)), nil); err != nil {
		return errors.New(redact.URLsInText(scrub.String(err.Error())))
	}
	return nil
}

// secretScrubber redacts the user information (password or token) of every
// NATS and Redis URL syncworker may print, and every connection credential.
func secretScrubber(o *options, cfg *config.File) *redact.Scrubber {
	var secrets []string
	for _, u := range []string{o.natsURL, o.redisURL, cfg.NATS.URL, cfg.Redis.URL} {
		secrets = append(secrets, redact.URLSecrets(u)...)
	}
	for _, name := range cfg.ConnectionNames() {
		_, creds := cfg.Connections[name].Adapter(name)
		secrets = append(secrets, creds...)
	}
	return redact.New(secrets...)
}

func newLogger(o *options, stderr io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	format := o.logFormat
	if format == "auto" {
		format = "json"
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, hopts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(stderr, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format must be json, text or auto, not %q", o.logFormat)
}
