// Command syncctl is oauthsync's tool for publishers and operators: publish
// one command, run a batch migration (validate, plan, publish with progress,
// wait, summarise, report, resume), read results, list and replay dead
// letters, and show the streams' and consumers' status.
//
// Exit codes: 0 success; 1 an error prevented the work (NATS unreachable,
// unreadable file); 2 bad usage or invalid input (bad flags, invalid lines);
// 3 a command was rejected or failed; 4 results were still missing when the
// timeout passed; 130 interrupted.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/term"

	"github.com/oauthsync/oauthsync/internal/telemetry"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitRejected    = 3
	exitTimeout     = 4
	exitInterrupted = 130
)

// exitErr carries an exit code with the error to print ("" prints nothing).
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

// usageErr is an error in how syncctl was called or in its input.
func usageErr(format string, args ...any) error {
	return &exitErr{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// withCode exits with code, printing nothing more.
func withCode(code int) error { return &exitErr{code: code} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second signal exits at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, lookup: os.LookupEnv,
		isTerminal: term.IsTerminal(int(os.Stderr.Fd()))}))
}

// env is what a run of syncctl talks to; tests give their own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         func(string) (string, bool)
	// isTerminal reports whether stderr is a terminal (progress bars).
	isTerminal bool
	// tracerProvider, when set, is used instead of the one OpenTelemetry's
	// standard environment asks for.
	tracerProvider trace.TracerProvider
}

// run executes syncctl with args and returns its exit code.
func run(ctx context.Context, args []string, e env) int {
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
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ee *exitErr
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(e.stderr, "syncctl:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(e.stderr, "syncctl:", err)
	if ctx.Err() != nil {
		return exitInterrupted
	}
	if isFlagError(err) {
		return exitUsage
	}
	return exitError
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
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitErr{code: exitUsage, err: fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	g.register(root)
	root.AddCommand(newPublish(g), newMigrate(g), newResults(g), newDLQ(g), newStatus(g))
	root.AddCommand(newStore(g))
	return root
}

// isFlagError reports whether cobra refused the arguments themselves.
func isFlagError(err error) bool {
	var ee *exitErr
	return errors.As(err, &ee) && ee.code == exitUsage
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
