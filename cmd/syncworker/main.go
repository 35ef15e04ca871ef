// Command syncworker is oauthsync's daemon: it consumes update commands from
// NATS JetStream and applies them to provider APIs (docs/CONTRACT.md §7).
//
//	syncworker --config FILE     run the worker
//	syncworker dev               run everything embedded, with simulators and a sample batch
//	syncworker --version
//
// Its command line follows internal/cli's convention (usage errors exit 2,
// --version, errors printed once); every flag also reads SYNCWORKER_<NAME>.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/oauthsync/oauthsync/internal/cli"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/redact"
)

func main() {
	tuneGC(os.LookupEnv)
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.LookupEnv))
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

	// dev only
	natsPort    int      // embedded NATS port; 0 a random one
	simBasePort int      // simulators on base+1..base+4; 0 random ports
	faults      []string // provider-or-connection=spec
	// tokenLifetime of the Reelevant and jframework simulators'
	// credentials; 0 their default
	tokenLifetime time.Duration
	// natsURLFromEnv: SYNCWORKER_NATS_URL or _REDIS_URL was set (dev says
	// it does not use them).
	urlsFromEnv []string
}

// Default ports of `syncworker dev`.
const (
	devNATSPort    = 4333
	devSimBasePort = 4340
	devHTTPAddr    = "127.0.0.1:9090"
)

// run executes syncworker with args and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, lookup func(string) (string, bool)) int {
	root, o, devO := newRoot(stdout, stderr, lookup)
	return cli.Execute(ctx, root, args, cli.Options{Stdout: stdout, Stderr: stderr, Scrub: redact.URLsInText,
		JSONErrors: func() bool {
			// The flags may not have been parsed (the error is in them):
			// then what the arguments say.
			if raw := cli.RawFlag(args, "log-format", ""); raw != "" {
				return logFormat(raw, stderr) == "json"
			}
			return logFormat(o.logFormat, stderr) == "json" && logFormat(devO.logFormat, stderr) == "json"
		}})
}

// newRoot builds the command line: the worker (root) and dev, each with
// its own options.
func newRoot(stdout, stderr io.Writer, lookup func(string) (string, bool)) (root *cobra.Command, o, devO *options) {
	o, devO = &options{}, &options{}
	root = &cobra.Command{
		Use:   "syncworker --config FILE",
		Short: "Consume OAuth update commands from NATS JetStream and apply them to provider APIs",
		Long: `syncworker consumes update commands from NATS JetStream, deduplicates them,
applies each to its provider's management API and publishes a result event
(docs/CONTRACT.md). It is configured by one YAML file (--config); flags
override parts of it, and every flag also reads SYNCWORKER_<NAME> (e.g.
SYNCWORKER_CONFIG, SYNCWORKER_HTTP_ADDR).

To try everything on one machine, run 'syncworker dev'.`,
		Example: `  syncworker --config /etc/oauthsync/config.yaml
  SYNCWORKER_CONFIG=config.yaml SYNCWORKER_LOG_LEVEL=debug syncworker
  syncworker dev`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.config == "" {
				return cli.Usagef("--config FILE is required (or SYNCWORKER_CONFIG; or run 'syncworker dev')\nsee 'syncworker --help'")
			}
			cfg, err := config.Load(o.config)
			if err != nil {
				return cli.Usagef("%w", err)
			}
			// From here on, every log line and the error returned are
			// scrubbed of the URLs' passwords and the connections'
			// credentials: NATS, Redis and url.Parse errors quote the URLs
			// they were given.
			scrub := secretScrubber(o, cfg)
			return withLogger(cmd, o, stderr, func(ctx context.Context, logger *slog.Logger) error {
				if err := serve(ctx, o, cfg, slog.New(redact.Handler(logger.Handler(), scrub)), nil); err != nil {
					return errors.New(redact.URLsInText(scrub.String(err.Error())))
				}
				return nil
			})
		},
	}
	fl := root.Flags()
	fl.StringVar(&o.config, "config", "", "YAML config `file` (env SYNCWORKER_CONFIG)")
	fl.StringVar(&o.httpAddr, "http-addr", ":9090", "address of /healthz, /readyz and /metrics (env SYNCWORKER_HTTP_ADDR)")
	fl.StringVar(&o.dataDir, "data-dir", "", "data `dir` of the embedded NATS server when nats.url is empty (env SYNCWORKER_DATA_DIR; default a temporary dir, removed on exit)")
	fl.StringVar(&o.natsURL, "nats-url", "", "NATS `url`, overrides nats.url (env SYNCWORKER_NATS_URL)")
	fl.StringVar(&o.redisURL, "redis-url", "", "Redis `url`, overrides redis.url (env SYNCWORKER_REDIS_URL)")
	fl.BoolVar(&o.noProvision, "no-provision", false, "do not create or update streams and consumers (env SYNCWORKER_NO_PROVISION=true)")
	commonFlags(fl, o)
	root.PreRunE = func(cmd *cobra.Command, _ []string) error { return fromEnv(cmd, o, lookup) }
	dev := newDev(devO, stdout, stderr)
	dev.PreRunE = func(cmd *cobra.Command, _ []string) error { return fromEnv(cmd, devO, lookup) }
	root.AddCommand(dev)
	return root, o, devO
}

// commonFlags are the flags of both the worker and dev.
func commonFlags(fl *pflag.FlagSet, o *options) {
	fl.StringVar(&o.instance, "instance", "", "instance `name` in result sources (env SYNCWORKER_INSTANCE; default hostname-random)")
	fl.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error (env SYNCWORKER_LOG_LEVEL)")
	fl.StringVar(&o.logFormat, "log-format", "auto", "json, text, or auto: text on a terminal (env SYNCWORKER_LOG_FORMAT); errors on exit follow it")
	fl.BoolVar(&o.pprof, "pprof", false, "serve net/http/pprof under /debug/pprof/ on --http-addr (env SYNCWORKER_PPROF=true)")
}

// fromEnv sets every flag not given on the command line from
// SYNCWORKER_<NAME> when that is set. In dev, the NATS and Redis URLs of
// the environment are not used, and said so.
func fromEnv(cmd *cobra.Command, o *options, lookup func(string) (string, bool)) error {
	if lookup == nil {
		return nil
	}
	var errs []error
	dev := cmd.Name() == "dev"
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		name := "SYNCWORKER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := lookup(name)
		if !ok || f.Changed {
			return
		}
		if f.Value.Type() == "bool" && v != "true" {
			v = "false"
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, cli.Usagef("%s=%q: %v", name, v, err))
		}
	})
	if dev {
		for _, name := range []string{"SYNCWORKER_NATS_URL", "SYNCWORKER_REDIS_URL"} {
			if _, ok := lookup(name); ok {
				o.urlsFromEnv = append(o.urlsFromEnv, name)
			}
		}
	}
	return errors.Join(errs...)
}

// withLogger builds the logger, handles signals (first: graceful stop;
// second: exit at once) and runs fn.
func withLogger(cmd *cobra.Command, o *options, stderr io.Writer, fn func(context.Context, *slog.Logger) error) error {
	logger, err := newLogger(o, stderr)
	if err != nil {
		return cli.Usagef("%w", err)
	}
	ctx, cancel := context.WithCancel(cmd.Context())
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
		select {
		case s := <-sigs:
			logger.Error("second signal; exiting now", "signal", s.String())
			os.Exit(cli.ExitInterrupted)
		case <-ctx.Done():
		}
	}()
	return fn(ctx, logger)
}

// logFormat resolves --log-format: auto is text on a terminal, else json.
func logFormat(format string, stderr io.Writer) string {
	if format != "auto" && format != "" {
		return format
	}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return "text"
	}
	return "json"
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
	switch logFormat(o.logFormat, stderr) {
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, hopts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(stderr, hopts)), nil
	}
	return nil, fmt.Errorf("--log-format must be json, text or auto, not %q", o.logFormat)
}
