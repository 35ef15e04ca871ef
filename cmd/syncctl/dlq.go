package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/time/rate"

	"github.com/oauthsync/oauthsync/internal/cli"
	"github.com/oauthsync/oauthsync/internal/deadletter"
	"github.com/oauthsync/oauthsync/messages"
)

type dlqFilterFlags struct {
	connection, resource, errorCode, batch string
}

func (f *dlqFilterFlags) register(cmd *cobra.Command, g *globals) {
	fl := cmd.Flags()
	fl.StringVar(&f.connection, "connection", "", "only dead letters of this connection")
	fl.StringVar(&f.resource, "resource", "", "only dead letters of this resource")
	fl.StringVar(&f.errorCode, "error-code", "", "only dead letters with this error code (e.g. provider_unavailable, rate_limited, timeout)")
	fl.StringVar(&f.batch, "batch", "", "only dead letters of this batch")
	_ = cmd.RegisterFlagCompletionFunc("connection", g.completeConnections)
}

func (f dlqFilterFlags) filter() (deadletter.Filter, error) {
	if f.connection != "" && !messages.ValidConnection(f.connection) {
		return deadletter.Filter{}, usageErr("--connection must match [a-z0-9_-]{1,64}")
	}
	if f.resource != "" && !messages.ValidResource(f.resource) {
		return deadletter.Filter{}, usageErr("--resource must match [A-Za-z0-9_-]{1,128}")
	}
	if f.errorCode != "" && !messages.ErrorCode(f.errorCode).Valid() {
		return deadletter.Filter{}, usageErr("--error-code %q is not one of the result error codes", f.errorCode)
	}
	return deadletter.Filter{Connection: f.connection, Resource: f.resource, ErrorCode: f.errorCode, Batch: f.batch}, nil
}

func (f dlqFilterFlags) empty() bool {
	return f.connection == "" && f.resource == "" && f.errorCode == "" && f.batch == ""
}

func newDLQ(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, show and replay dead letters",
		Long: `Dead letters are commands the worker gave up on after transient failures
outlasted the delivery budget (or that it could not read at all). Each keeps
the command verbatim and says why in its Sync-* headers.

A replay publishes the command unchanged (same id) back to its command
subject with a Sync-Replay header; the worker re-attempts it, and any later
copy of it is a duplicate: replaying a dead letter twice applies it once.`,
		Example: `  syncctl dlq list --connection rc-prod
  syncctl dlq show 42
  syncctl dlq replay 42 43 --dry-run
  syncctl dlq replay --error-code provider_unavailable --rate 5
  syncctl dlq replay --all`,
	}
	cmd.AddCommand(newDLQList(g), newDLQShow(g), newDLQReplay(g))
	return cmd
}

func (g *globals) deadLetters() (deadletter.Store, func(), error) {
	nc, js, err := g.connect()
	if err != nil {
		return deadletter.Store{}, nil, err
	}
	return deadletter.Store{JetStream: js, Stream: g.streams().deadLetter, Subjects: g.subjects()}, nc.Close, nil
}

func newDLQList(g *globals) *cobra.Command {
	var f dlqFilterFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List dead letters with their error and attempts",
		Example: `  syncctl dlq list
  syncctl dlq list --error-code rate_limited -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			filter, err := f.filter()
			if err != nil {
				return err
			}
			store, closeConn, err := g.deadLetters()
			if err != nil {
				return err
			}
			defer closeConn()
			letters, err := store.List(ctxOf(cmd), filter)
			if err != nil {
				return err
			}
			for i := range letters {
				letters[i] = letters[i].Redact()
			}
			if g.json() {
				// A record stream: one dead letter per line (JSON Lines).
				for _, l := range letters {
					if err := g.printJSON(l); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME\tCONNECTION\tRESOURCE\tCOMMAND\tCODE\tATTEMPTS\tDELIVERIES\tERROR")
			for _, l := range letters {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", l.Seq, l.Time.UTC().Format(time.DateTime),
					l.Connection, l.Resource, l.CommandID, l.ErrorCode, l.Attempts, l.Deliveries, oneLine(l.Error))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "%d dead letters\n", len(letters))
			return nil
		},
	}
	f.register(cmd, g)
	return cmd
}

func newDLQShow(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "show SEQ",
		Short: "Show one dead letter: why it failed, its headers and the command (secrets redacted)",
		Example: `  syncctl dlq show 42
  syncctl dlq show 42 -o json`,
		Args: exactArgs(1, "one SEQ"),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || seq == 0 {
				return usageErr("SEQ must be a dead letter's stream sequence (a positive integer), see 'syncctl dlq list'")
			}
			store, closeConn, err := g.deadLetters()
			if err != nil {
				return err
			}
			defer closeConn()
			l, err := store.Get(ctxOf(cmd), seq)
			if err != nil {
				return err
			}
			l = l.Redact()
			body := l.Body
			if g.json() {
				out := struct {
					deadletter.Letter
					Headers map[string][]string `json:"headers"`
					Command any                 `json:"command"`
				}{Letter: l, Headers: l.Header}
				out.Command = string(body) // a description: the body is not JSON
				if len(body) > 0 && body[0] == '{' {
					out.Command = rawJSON(body)
				}
				return g.printJSON(out)
			}
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "sequence\t%d\n", l.Seq)
			fmt.Fprintf(tw, "time\t%s\n", l.Time.UTC().Format(time.RFC3339))
			fmt.Fprintf(tw, "subject\t%s\n", l.Subject)
			fmt.Fprintf(tw, "command\t%s\n", l.CommandID)
			if l.Batch != "" {
				fmt.Fprintf(tw, "batch\t%s\n", l.Batch)
			}
			fmt.Fprintf(tw, "error\t%s: %s\n", l.ErrorCode, oneLine(l.Error))
			fmt.Fprintf(tw, "attempts\t%d (deliveries %d)\n", l.Attempts, l.Deliveries)
			if l.CommandStreamSeq > 0 {
				fmt.Fprintf(tw, "original\t%s sequence %d\n", l.CommandSubject, l.CommandStreamSeq)
			}
			keys := make([]string, 0, len(l.Header))
			for k := range l.Header {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(tw, "header\t%s: %s\n", k, l.Header.Get(k))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "\n%s\n", body)
			return nil
		},
	}
}

type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) { return r, nil }

type replayFlags struct {
	dlqFilterFlags
	all, dryRun, del bool
	rate             float64
}

func newDLQReplay(g *globals) *cobra.Command {
	var f replayFlags
	cmd := &cobra.Command{
		Use:   "replay [SEQ...]",
		Short: "Replay dead letters (by sequence, by filter, or --all) back to the commands stream",
		Long: `replay republishes the selected dead letters' commands, unchanged and with their
ids, to their command subjects, at most --rate per second. The worker
re-attempts each once; a command already applied by an earlier replay is a
duplicate and is not applied again. --dry-run lists what would be replayed.
--delete removes each dead letter once its replay is stored.`,
		Example: `  syncctl dlq replay 42
  syncctl dlq replay --connection rc-prod --error-code provider_unavailable --dry-run
  syncctl dlq replay --all --rate 20 --delete`,
		RunE: func(cmd *cobra.Command, args []string) error { return g.replay(ctxOf(cmd), args, f) },
	}
	f.register(cmd, g)
	fl := cmd.Flags()
	fl.BoolVar(&f.all, "all", false, "replay every dead letter (that matches the filters)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "list what would be replayed; publish nothing")
	fl.BoolVar(&f.del, "delete", false, "delete each dead letter after its replay is stored")
	fl.Float64Var(&f.rate, "rate", 10, "replays per second at most")
	return cmd
}

type replayOutput struct {
	Seq        uint64 `json:"seq"`
	CommandID  string `json:"commandId,omitempty"`
	Connection string `json:"connection"`
	Resource   string `json:"resource"`
	Action     string `json:"action"` // would_replay, replayed, duplicate, skipped
	Reason     string `json:"reason,omitempty"`
}

func (g *globals) replay(ctx context.Context, args []string, f replayFlags) error {
	filter, err := f.filter()
	if err != nil {
		return err
	}
	for _, a := range args {
		seq, err := strconv.ParseUint(a, 10, 64)
		if err != nil || seq == 0 {
			return usageErr("%q is not a dead letter's sequence (a positive integer)", a)
		}
		filter.Seqs = append(filter.Seqs, seq)
	}
	if len(filter.Seqs) == 0 && !f.all && f.dlqFilterFlags.empty() {
		return usageErr("say what to replay: sequences, filters (--connection, --resource, --error-code, --batch), or --all")
	}
	if f.rate <= 0 {
		return usageErr("--rate must be positive")
	}
	store, closeConn, err := g.deadLetters()
	if err != nil {
		return err
	}
	defer closeConn()
	letters, err := store.List(ctx, filter)
	if err != nil {
		return err
	}
	// A command dead-lettered again after a failed replay has several dead
	// letters; only its newest can be re-attempted (the worker answers an
	// older one with the stored failed result), so replay that one.
	newest := map[string]uint64{}
	for _, l := range letters {
		if l.CommandID != "" && l.Seq > newest[l.CommandID] {
			newest[l.CommandID] = l.Seq
		}
	}
	limiter := rate.NewLimiter(rate.Limit(f.rate), 1)
	var outs []replayOutput
	var failures []error
	var unreplayable []string
	counts := map[string]int{}
	for _, l := range letters {
		if len(filter.Seqs) > 0 && !filter.Match(l) {
			continue
		}
		o := replayOutput{Seq: l.Seq, CommandID: l.CommandID, Connection: l.Connection, Resource: l.Resource}
		if _, err := store.ReplayMessage(l); err != nil {
			o.Action, o.Reason = "skipped", err.Error()
			unreplayable = append(unreplayable, err.Error())
		} else if n := newest[l.CommandID]; n != l.Seq {
			o.Action, o.Reason = "skipped", fmt.Sprintf("dead letter %d is a newer one of this command and is replayed instead", n)
		} else if f.dryRun {
			o.Action = "would_replay"
		} else {
			if err := limiter.Wait(ctx); err != nil {
				break
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			dup, err := store.Replay(pctx, l)
			cancel()
			switch {
			case err != nil:
				o.Action, o.Reason = "failed", err.Error()
				failures = append(failures, err)
			case dup:
				o.Action = "duplicate"
			default:
				o.Action = "replayed"
			}
			if err == nil && f.del {
				if derr := store.Delete(ctx, l.Seq); derr != nil {
					o.Reason = derr.Error()
					failures = append(failures, derr)
				}
			}
		}
		counts[o.Action]++
		outs = append(outs, o)
		if g.json() {
			// A record stream: one line per dead letter (JSON Lines).
			if err := g.printJSON(o); err != nil {
				return err
			}
		} else {
			line := fmt.Sprintf("%-12s %d  %s/%s  %s", o.Action, o.Seq, o.Connection, o.Resource, o.CommandID)
			if o.Reason != "" {
				line += "  (" + o.Reason + ")"
			}
			fmt.Fprintln(g.stdout, line)
		}
	}
	if !g.json() {
		fmt.Fprintf(g.stderr, "%d dead letters: %d replayed, %d already replayed (duplicate), %d would be replayed, %d skipped, %d failed\n",
			len(outs), counts["replayed"], counts["duplicate"], counts["would_replay"], counts["skipped"], counts["failed"])
	}
	if ctx.Err() != nil {
		return withCode(exitInterrupted)
	}
	if len(failures) > 0 {
		return &exitErr{code: exitError, err: errors.Join(failures...)}
	}
	// Asked-for dead letters that are not there, or cannot be replayed,
	// are refusals: exit 3, never a silent 0.
	for _, seq := range filter.Seqs {
		if !slices.ContainsFunc(letters, func(l deadletter.Letter) bool { return l.Seq == seq }) {
			unreplayable = append(unreplayable, fmt.Sprintf("dead letter %d: not in %s (see 'syncctl dlq list')", seq, g.streams().deadLetter))
		}
	}
	if len(unreplayable) > 0 {
		return &cli.Error{Exit: exitRejected, Code: "not_replayable", Err: fmt.Errorf("%d dead letters cannot be replayed:\n  %s",
			len(unreplayable), strings.Join(unreplayable, "\n  "))}
	}
	return nil
}
