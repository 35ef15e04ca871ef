package main

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/nats-io/jsm.go/natscontext"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/cli"
	"github.com/oauthsync/oauthsync/internal/config"
	"github.com/oauthsync/oauthsync/internal/providers"
	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/messages"
)

// maxPendingLimit bounds migrate --max-pending: the JetStream context allows
// this many async publishes in flight.
const maxPendingLimit = 8192

// globals are the flags every command shares, and what they lead to.
type globals struct {
	env
	server, creds, natsContext string
	configPath                 string
	prefix                     string
	output                     string

	cfg *config.File // loaded from configPath, nil without --config
}

func (g *globals) register(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVarP(&g.server, "server", "s", "", "NATS server URL(s), comma-separated (default $NATS_URL, the NATS context's, or nats://127.0.0.1:4222)")
	f.StringVar(&g.creds, "creds", "", "NATS credentials file (default $NATS_CREDS or the NATS context's)")
	f.StringVar(&g.natsContext, "context", "", "NATS CLI context to connect with (default: the selected context, when --server and $NATS_URL are unset)")
	f.StringVar(&g.configPath, "config", "", "syncworker YAML config: the connections' providers and credentials (validation by the adapters, --plan), the NATS URL, subject prefix and stream names")
	f.StringVar(&g.prefix, "subject-prefix", "", "subject prefix of the streams (default the config's, or sync)")
	f.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	_ = root.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = root.RegisterFlagCompletionFunc("context", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return natscontext.KnownContexts(), cobra.ShellCompDirectiveNoFileComp
	})
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return g.prepare() }
}

// prepare checks the global flags and loads the config.
func (g *globals) prepare() error {
	if g.output != "table" && g.output != "json" {
		return usageErr("--output must be table or json, not %q", g.output)
	}
	if g.configPath != "" {
		cfg, err := config.Load(g.configPath)
		if err != nil {
			return usageErr("%w", err)
		}
		g.cfg = cfg
	}
	if g.prefix == "" && g.cfg != nil {
		g.prefix = g.cfg.NATS.SubjectPrefix
	}
	if g.prefix != "" && !messages.ValidConnection(g.prefix) {
		return usageErr("--subject-prefix must be a single subject token of [a-z0-9_-]")
	}
	return nil
}

func (g *globals) json() bool { return g.output == "json" }

// tracer is syncctl's tracer.
func (g *globals) tracer() trace.Tracer {
	return g.tracerProvider.Tracer("github.com/oauthsync/oauthsync/cmd/syncctl")
}

func (g *globals) subjects() messages.Subjects { return messages.Subjects{Prefix: g.prefix} }

// streams names the three streams (docs/CONTRACT.md §2, or the config's names).
type streams struct{ commands, results, deadLetter string }

func (g *globals) streams() streams {
	s := streams{"SYNC_COMMANDS", "SYNC_RESULTS", "SYNC_DEADLETTER"}
	if g.cfg != nil {
		n := g.cfg.Streams.Names
		s.commands = cmp.Or(n.Commands, s.commands)
		s.results = cmp.Or(n.Results, s.results)
		s.deadLetter = cmp.Or(n.DeadLetter, s.deadLetter)
	}
	return s
}

func (g *globals) getenv(name string) string {
	if g.lookup == nil {
		return ""
	}
	v, _ := g.lookup(name)
	return v
}

// connect connects to NATS the way the NATS CLI does, with the worker's
// config in between: an explicit --context (with --server and --creds
// overriding it), else --server / $NATS_URL, else the --config file's
// nats.url, else the NATS CLI's selected context, else the local default.
func (g *globals) connect() (*nats.Conn, jetstream.JetStream, error) {
	server := cmp.Or(g.server, g.getenv("NATS_URL"))
	creds := cmp.Or(g.creds, g.getenv("NATS_CREDS"))
	opts := []nats.Option{nats.Name("syncctl"), nats.Timeout(5 * time.Second), nats.MaxReconnects(10)}
	if g.natsContext == "" && server == "" && g.cfg != nil && g.cfg.NATS.URL != "" {
		server = g.cfg.NATS.URL
		creds = cmp.Or(creds, g.cfg.NATS.Creds)
	}
	name := g.natsContext
	if name == "" && server == "" {
		name = natscontext.SelectedContext()
	}
	if name != "" {
		var ctxOpts []natscontext.Option
		if server != "" {
			ctxOpts = append(ctxOpts, natscontext.WithServerURL(server))
		}
		if creds != "" {
			ctxOpts = append(ctxOpts, natscontext.WithCreds(creds))
		}
		nctx, err := natscontext.New(name, true, ctxOpts...)
		if err != nil {
			return nil, nil, fmt.Errorf("nats context %q: %w", name, err)
		}
		if opts, err = nctx.NATSOptions(opts...); err != nil {
			return nil, nil, fmt.Errorf("nats context %q: %w", name, err)
		}
		server = nctx.ServerURL()
	} else if creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	server = cmp.Or(server, nats.DefaultURL)
	nc, err := nats.Connect(server, opts...)
	if err != nil {
		// The client's error may quote the URL too (a parse error).
		scrub := redact.New(redact.URLSecrets(server)...)
		return nil, nil, fmt.Errorf("connect to NATS at %s: %s", redact.URL(server), redact.URLsInText(scrub.String(err.Error())))
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxPendingLimit))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// adapterFor builds the adapter of a configured connection (for Validate
// and Plan), or says why it cannot.
func (g *globals) adapterFor(connection string) (adapters.Adapter, error) {
	if g.cfg == nil {
		return nil, fmt.Errorf("no --config: the connection's provider is unknown")
	}
	c, ok := g.cfg.Connections[connection]
	if !ok {
		return nil, fmt.Errorf("connection %q is not in %s (it has %v)", connection, g.configPath, g.cfg.ConnectionNames())
	}
	a, _, err := providers.Build(providers.Registry(), connection, c, providers.Options{})
	return a, err
}

// printJSON writes v as one compact JSON line (internal/cli's convention):
// a command's one object, or one record of a JSON Lines stream.
func (g *globals) printJSON(v any) error { return cli.WriteJSON(g.stdout, v) }

// ctxOf is cmd's context, never nil.
func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// exactArgs refuses another number of positional arguments as bad usage.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("%s takes %s (see '%s --help')", cmd.CommandPath(), what, cmd.CommandPath())
		}
		return nil
	}
}
