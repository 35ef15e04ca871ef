// Command syncctl is oauthsync's tool for publishers and operators: publish
// one command, run a batch migration (validate, plan, publish with progress,
// wait, summarise, report, resume), read results, list and replay dead
// letters, and show the streams' and consumers' status.
//
// Output, errors and exit codes follow internal/cli's convention: -o json
// gives JSON Lines for record streams and one JSON object otherwise, errors
// as {"error":{...}} on stderr. Exit codes: 0 success; 1 an error prevented
// the work (NATS unreachable, unreadable file, streams missing); 2 bad usage
// or invalid input (unknown command or flag, bad arguments, invalid lines);
// 3 refused: a command rejected or failed, an id conflict, a dead letter
// that cannot be replayed; 4 results still missing when the timeout passed;
// 130 interrupted.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/term"

	"github.com/oauthsync/oauthsync/internal/cli"
	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/internal/telemetry"
)

// Exit codes: the one convention of internal/cli.
const (
	exitOK          = cli.ExitOK
	exitError       = cli.ExitError
	exitUsage       = cli.ExitUsage
	exitRejected    = cli.ExitRejected
	exitTimeout     = cli.ExitTimeout
	exitInterrupted = cli.ExitInterrupted
)

// exitErr carries an exit code with the error to print (nil prints nothing).
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitErr) Unwrap() error { return e.err }

// ExitCode and Quiet make exitErr a cli.ExitCoder and cli.Quieter.
func (e *exitErr) ExitCode() int { return e.code }
func (e *exitErr) Quiet() bool   { return e.err == nil }

// usageErr is an error in how syncctl was called or in its input.
func usageErr(format string, args ...any) error { return cli.Usagef(format, args...) }

// withCode exits with code, printing nothing more.
func withCode(code int) error { return cli.WithCode(code) }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second signal exits at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv}))
}

// env is what a run of syncctl talks to; tests give their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	// isTerminal reports whether stderr is a terminal (progress bars).
	isTerminal bool
	// termWidth is the terminal's width in columns, 0 when unknown. Unset,
	// it is read from stderr when stderr is a terminal.
	termWidth func() int
	// tracerProvider, when set, is used instead of the one OpenTelemetry's
	// standard environment asks for.
	tracerProvider trace.TracerProvider
}

// run executes syncctl with args and returns its exit code.
func run(ctx context.Context, args []string, e env) int {
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		e.isTerminal = true
		if e.termWidth == nil {
			e.termWidth = func() int {
				w, _, err := term.GetSize(int(f.Fd()))
				if err != nil {
					return 0
				}
				return w
			}
		}
	}
	if e.tracerProvider == nil {
		tp, shutdown, err := setupTracing(ctx, e)
		if err != nil {
			fmt.Fprintln(e.stderr, "syncctl: tracing:", err)
			return exitError
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := shutdown(sctx); err != nil {
				fmt.Fprintln(e.stderr, "syncctl: flushing spans:", err)
			}
		}()
		e.tracerProvider = tp
	}
	root := newRoot(e)
	root.SetIn(e.stdin)
	// Errors quote URLs (url.Parse, the NATS client): never their passwords.
	return cli.Execute(ctx, root, args, cli.Options{Stdout: e.stdout, Stderr: e.stderr, Scrub: urlScrubber(args, e),
		JSONErrors: func() bool {
			if raw := cli.RawFlag(args, "output", "o"); raw != "" {
				return raw == "json"
			}
			return root.PersistentFlags().Lookup("output").Value.String() == "json"
		}})
}

// urlScrubber returns a function that hides the user information of the
// URLs in text and every form of the passwords (or tokens) of the URLs in
// args and $NATS_URL.
func urlScrubber(args []string, e env) func(string) string {
	var secrets []string
	for _, a := range args {
		if strings.Contains(a, "://") {
			secrets = append(secrets, redact.URLSecrets(a)...)
		}
	}
	if e.lookup != nil {
		if v, ok := e.lookup("NATS_URL"); ok {
			secrets = append(secrets, redact.URLSecrets(v)...)
		}
	}
	s := redact.New(secrets...)
	return func(text string) string { return redact.URLsInText(s.String(text)) }
}

func newRoot(e env) *cobra.Command {
	g := &globals{env: e}
	root := &cobra.Command{
		Use:   "syncctl",
		Short: "Publish OAuth update commands, run batch migrations and operate oauthsync",
		Long: `syncctl publishes update commands to oauthsync's commands stream, runs batch
migrations from NDJSON or CSV files (validate, plan, publish with progress,
wait for every result, summary and report, resumable), reads result events,
lists and replays dead letters, and shows the status of streams and consumers.

It connects like the NATS CLI: --server, --creds, or a NATS CLI context
(--context, or the selected one) from ~/.config/nats/context; the
--config file's nats.url comes before the selected context.`,
		Example: `  syncctl publish --connection rc-prod --resource 65a7d77142a7e12453052d59 \
      --set redirectUri=https://app.example.com/cb --wait
  syncctl migrate clients.ndjson --plan --config syncworker.yaml
  syncctl migrate clients.ndjson --batch migration-42 --rate 200 --report report.csv
  syncctl results --batch migration-42 --status rejected
  syncctl dlq list
  syncctl status`,
	}
	g.register(root)
	root.AddCommand(newPublish(g), newMigrate(g), newResults(g), newDLQ(g), newStatus(g), newOrderKeys(g), newStore(g))
	return root
}

// setupTracing builds the tracer provider OpenTelemetry's standard
// environment asks for (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER,
// ...); with none, a no-op one.
func setupTracing(ctx context.Context, e env) (trace.TracerProvider, func(context.Context) error, error) {
	getenv := func(k string) string {
		if e.lookup == nil {
			return ""
		}
		v, _ := e.lookup(k)
		return v
	}
	if !telemetry.TracesConfigured(getenv) {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	res, err := telemetry.Resource(ctx, "syncctl")
	if err != nil {
		return nil, nil, err
	}
	return telemetry.SetupTracing(ctx, res, getenv)
}
