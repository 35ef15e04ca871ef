package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/messages"
)

type resultsFlags struct {
	connection, resource, batch string
	statuses                    []string
	since                       time.Duration
	follow                      bool
	limit                       int
}

func newResults(g *globals) *cobra.Command {
	var f resultsFlags
	cmd := &cobra.Command{
		Use:   "results",
		Short: "List or follow result events, filtered by connection, resource, batch and status",
		Long: `results reads result events from the results stream, oldest first: every
stored result that matches, or with --follow also those that arrive, until
interrupted. Table output has one row per result; JSON output one result
event per line (NDJSON), as stored.`,
		Example: `  syncctl results --batch migration-42 --status rejected,failed
  syncctl results --connection rc-prod --since 1h
  syncctl results --resource 65a7d77142a7e12453052d59 --follow
  syncctl results --batch migration-42 -o json | jq .data.error`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return g.results(ctxOf(cmd), f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.connection, "connection", "", "only this connection")
	fl.StringVar(&f.resource, "resource", "", "only this resource")
	fl.StringVar(&f.batch, "batch", "", "only this batch")
	fl.StringSliceVar(&f.statuses, "status", nil, "only these statuses (applied, unchanged, superseded, rejected, failed; repeatable or comma-separated)")
	fl.DurationVar(&f.since, "since", 0, "only results stored in the last DURATION (e.g. 15m, 24h)")
	fl.BoolVarP(&f.follow, "follow", "f", false, "keep printing results as they arrive")
	fl.IntVar(&f.limit, "limit", 0, "stop after this many results (0: no limit)")
	_ = cmd.RegisterFlagCompletionFunc("status", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"applied", "unchanged", "superseded", "rejected", "failed"}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("connection", g.completeConnections)
	return cmd
}

func (g *globals) results(ctx context.Context, f resultsFlags) error {
	for _, s := range f.statuses {
		if !messages.Status(s).Valid() {
			return usageErr("--status %q: want applied, unchanged, superseded, rejected or failed", s)
		}
	}
	if f.connection != "" && !messages.ValidConnection(f.connection) {
		return usageErr("--connection must match [a-z0-9_-]{1,64}")
	}
	if f.resource != "" && !messages.ValidResource(f.resource) {
		return usageErr("--resource must match [A-Za-z0-9_-]{1,128}")
	}
	if f.since < 0 || f.limit < 0 {
		return usageErr("--since and --limit must not be negative")
	}
	nc, js, err := g.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	q := resultstream.Query{Connection: f.connection, Resource: f.resource, Follow: f.follow}
	if f.since > 0 {
		q.Since = time.Now().Add(-f.since)
	}
	reader := resultstream.Reader{JetStream: js, Stream: g.streams().results, Subjects: g.subjects()}
	tbl := newTable(g.stdout, "TIME", "STATUS", "CONNECTION", "RESOURCE", "COMMAND", "BATCH", "SKIPPED (WINNING KEY)", "ERROR")
	// Stored results are aligned as one table; followed ones are printed
	// as they come.
	caughtUp := false
	q.CaughtUp = func() {
		caughtUp = true
		if !g.json() {
			_ = tbl.flush()
		}
	}
	n := 0
	err = reader.Read(ctx, q, func(it resultstream.Item) error {
		if len(f.statuses) > 0 && !slices.Contains(f.statuses, string(it.Status)) {
			return nil
		}
		if it.Event == nil {
			fmt.Fprintf(g.stderr, "syncctl: result at sequence %d does not decode: %v\n", it.Seq, it.Err)
			return nil
		}
		r := it.Event.Data
		if f.batch != "" && r.Batch != f.batch {
			return nil
		}
		if g.json() {
			b, err := json.Marshal(it.Event)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s\n", b)
		} else {
			errText := ""
			if r.Error != nil {
				errText = string(r.Error.Code) + ": " + oneLine(r.Error.Message)
			}
			tbl.row(it.Time.UTC().Format(time.DateTime), string(r.Status), r.Connection, r.Resource, r.CommandID, r.Batch,
				skippedText(r), errText)
			if caughtUp {
				if err := tbl.flush(); err != nil {
					return err
				}
			}
		}
		n++
		if f.limit > 0 && n >= f.limit {
			return resultstream.ErrStop
		}
		return nil
	})
	if !g.json() {
		if ferr := tbl.flush(); ferr != nil && err == nil {
			err = ferr
		}
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil && !f.follow {
		return withCode(exitInterrupted)
	}
	return nil
}

// oneLine keeps a message on one table row.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
