package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/cli"
	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/internal/digestkey"
	"github.com/oauthsync/oauthsync/internal/migrate"
	"github.com/oauthsync/oauthsync/internal/plan"
	"github.com/oauthsync/oauthsync/messages"
)

type migrateFlags struct {
	plan, skipInvalid, noWait bool
	batch, report, format     string
	mapping                   string
	rate                      float64
	timeout                   time.Duration
	maxPending                int
	progress                  string
	concurrency               int
	secretEnv, secretFile     string
}

func newMigrate(g *globals) *cobra.Command {
	var f migrateFlags
	cmd := &cobra.Command{
		Use:   "migrate FILE",
		Short: "Run a batch migration from an NDJSON or CSV file: validate, plan, publish, wait, report",
		Long: `migrate publishes one update command per line of FILE and waits for every result.

FILE is NDJSON (one command per line: a full command CloudEvent, or the short
form {"connection","resource","changes","providerFields","sequence","id"}) or
CSV (a header row; columns map to connection, resource, id, sequence,
canonical fields and providerFields.<name>, by their own names or --map).

Every line is validated first, with the worker's own decoder (and the
provider adapters' checks with --config). Bad lines are reported with their
numbers and nothing is published, unless --skip-invalid.

--plan reads the current state from each provider through the adapters
(read-only: GET requests only; needs --config for the credentials) and prints
per resource the field-by-field diff the migration would apply, with counts.

Otherwise every command is published with the batch id and Nats-Msg-Id, at
--rate per second (unset: as fast as acks come back), with progress; then
migrate waits for every result (--timeout), prints a summary and writes
--report (NDJSON or CSV by the file's extension), one row per line.

A migration is resumable: lines without an id get one derived from the batch,
the line number and the line's content, and a rerun with the same batch
skips every line that already has a result and publishes only the rest. The
batch defaults to one derived from the file's name and content, so rerunning
the same file resumes it.

Exit codes: 0 all applied/unchanged/superseded; 2 invalid lines (nothing
published); 3 something rejected or failed; 4 results missing at --timeout;
130 interrupted (rerun to resume).`,
		Example: `  syncctl migrate clients.ndjson --plan --config syncworker.yaml
  syncctl migrate clients.ndjson --batch migration-42 --rate 200 --report report.csv
  syncctl migrate clients.csv --map 'app_id=resource,conn=connection,callback=redirectUri'
  syncctl migrate clients.ndjson --skip-invalid --report report.ndjson --timeout 30m`,
		Args: exactArgs(1, "one FILE"),
		RunE: func(cmd *cobra.Command, args []string) error { return g.migrate(ctxOf(cmd), args[0], f) },
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.plan, "plan", false, "read the providers' current state and print the diff that would be applied; publish nothing (needs --config)")
	fl.StringVar(&f.batch, "batch", "", "batch id of the migration (default: derived from the file's name and content); rerun with the same id to resume")
	fl.Float64Var(&f.rate, "rate", 0, "publish at most this many commands per second (default: as fast as acks come back)")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Minute, "how long to wait for the results after the last publish")
	fl.BoolVar(&f.skipInvalid, "skip-invalid", false, "publish the valid lines even when some are invalid (they are reported)")
	fl.StringVar(&f.report, "report", "", "write one row per line to this file: NDJSON if it ends in .ndjson, CSV if .csv")
	fl.StringVar(&f.format, "format", "", "file format: ndjson or csv (default: by the file's extension; ndjson otherwise)")
	fl.StringVar(&f.mapping, "map", "", "CSV column mapping, column=target,... (targets: connection, resource, id, sequence, a canonical field, providerFields.<name>)")
	fl.BoolVar(&f.noWait, "no-wait", false, "publish and return without waiting for results (follow them with: syncctl results --batch ID)")
	fl.IntVar(&f.maxPending, "max-pending", 2048, "publishes awaiting their ack at most")
	fl.StringVar(&f.progress, "progress", "auto", "progress display: auto (a bar on a terminal, else a line every 5s), bar, lines or none")
	fl.IntVar(&f.concurrency, "plan-concurrency", 8, "provider reads in flight during --plan")
	fl.StringVar(&f.secretEnv, "secret-from-env", "", "set clientSecret of every line from this environment variable (a secret rotated across connections)")
	fl.StringVar(&f.secretFile, "secret-from-file", "", "set clientSecret of every line from this file")
	cmd.MarkFlagsMutuallyExclusive("secret-from-env", "secret-from-file")
	_ = cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"ndjson", "csv"}, cobra.ShellCompDirectiveNoFileComp
	})
	_ = cmd.RegisterFlagCompletionFunc("progress", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"auto", "bar", "lines", "none"}, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func (g *globals) migrate(ctx context.Context, path string, f migrateFlags) error {
	if f.report != "" {
		if _, err := migrate.ReportFormatOf(f.report); err != nil {
			return usageErr("--report: %v", err)
		}
	}
	if f.rate < 0 || f.maxPending <= 0 || f.maxPending > maxPendingLimit || f.timeout <= 0 {
		return usageErr("--rate must not be negative, --max-pending between 1 and %d, --timeout positive", maxPendingLimit)
	}
	switch f.progress {
	case "auto", "bar", "lines", "none":
	default:
		return usageErr("--progress must be auto, bar, lines or none")
	}
	if f.plan && g.cfg == nil {
		return usageErr("--plan reads from the providers: give the worker's config with --config FILE")
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return &exitErr{code: exitError, err: err}
	}
	format := strings.ToLower(f.format)
	if format == "" {
		format = "ndjson"
		if strings.EqualFold(filepath.Ext(path), ".csv") {
			format = "csv"
		}
	}
	batch := f.batch
	if batch == "" {
		batch = eventBatch(content, format)
	}
	if batch == "" {
		batch = derivedBatch(path, content)
	} else if !messages.ValidCommandID(batch) {
		return usageErr("--batch must be 1 to 128 characters of [A-Za-z0-9._:-]")
	}
	opts := commandfile.Options{Batch: batch, Decode: messages.DecodeOptions{Subjects: g.subjects()}, Check: g.checker()}
	secret, err := g.secret(publishFlags{secretEnv: f.secretEnv, secretFile: f.secretFile})
	if err != nil {
		return err
	}
	if secret != nil {
		opts.ClientSecret = messages.Secret(*secret)
	}
	var lines []commandfile.Line
	switch format {
	case "ndjson":
		lines, err = commandfile.ReadNDJSON(bytes.NewReader(content), opts)
	case "csv":
		m, merr := commandfile.ParseMapping(f.mapping)
		if merr != nil {
			return usageErr("--map: %v", merr)
		}
		lines, err = commandfile.ReadCSV(bytes.NewReader(content), m, opts)
	default:
		return usageErr("--format must be ndjson or csv")
	}
	if err != nil {
		return usageErr("%s: %v", path, err)
	}
	if len(lines) == 0 {
		return usageErr("%s holds no commands", path)
	}
	bad := commandfile.Invalid(lines)
	if len(bad) > 0 {
		groups := groupInvalid(bad)
		if !f.skipInvalid && !f.plan {
			// The report says which lines, even though nothing is published.
			if f.report != "" {
				if rerr := migrate.CreateReport(f.report, unpublishedOutcomes(lines)); rerr != nil {
					fmt.Fprintln(g.stderr, "syncctl:", rerr)
				}
			}
			if !g.json() {
				printInvalid(g.stderr, path, groups)
			}
			return &cli.Error{Exit: exitUsage, Code: "invalid_lines", Details: map[string]any{"file": path, "invalid": len(bad), "lines": len(lines), "groups": groups},
				Err: fmt.Errorf("%d of %d lines are invalid; nothing was published (fix them, or pass --skip-invalid to publish the rest)", len(bad), len(lines))}
		}
		if g.json() {
			_ = cli.WriteJSON(g.stderr, map[string]any{"warning": map[string]any{"code": "invalid_lines",
				"message": fmt.Sprintf("%d of %d lines are invalid and will be skipped", len(bad), len(lines)),
				"details": map[string]any{"file": path, "invalid": len(bad), "lines": len(lines), "groups": groups}}})
		} else {
			printInvalid(g.stderr, path, groups)
			fmt.Fprintf(g.stderr, "%d of %d lines are invalid and will be skipped\n", len(bad), len(lines))
		}
	}
	if f.plan {
		return g.plan(ctx, lines, f)
	}

	nc, js, err := g.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	for _, name := range []string{g.streams().commands, g.streams().results} {
		if _, err := js.Stream(ctx, name); err != nil {
			return fmt.Errorf("stream %s: %w (a syncworker creates the streams when it starts; check --server and --config)", name, err)
		}
	}
	if !g.json() {
		fmt.Fprintf(g.stderr, "batch %s: %d commands from %s\n", batch, len(lines)-len(bad), path)
	}
	display := newProgress(g, f.progress)
	sum, err := migrate.Run(ctx, migrate.Config{
		JetStream: js, Subjects: g.subjects(), ResultsStream: g.streams().results,
		Rate: f.rate, MaxPending: f.maxPending, Wait: !f.noWait, Timeout: f.timeout,
		Progress: display.update, ProgressEvery: display.every, Tracer: g.tracer(),
		Digest: (&digestkey.Digester{JetStream: js}).Digest,
	}, batch, lines)
	display.close()
	if sum != nil && f.report != "" {
		if rerr := migrate.CreateReport(f.report, sum.Outcomes); rerr != nil {
			fmt.Fprintln(g.stderr, "syncctl:", rerr)
		}
	}
	if err != nil {
		if sum != nil {
			_ = g.printSummary(sum, f)
		}
		return err
	}
	if err := g.printSummary(sum, f); err != nil {
		return err
	}
	switch {
	case sum.Interrupted:
		return &exitErr{code: exitInterrupted, err: fmt.Errorf("interrupted; rerun the same command to resume batch %s", batch)}
	case sum.Counts[string(messages.StatusRejected)]+sum.Counts[string(messages.StatusFailed)] > 0:
		return withCode(exitRejected)
	case f.noWait && sum.Counts[migrate.StatusUnpublished] == 0:
		if !g.json() {
			fmt.Fprintf(g.stderr, "published without waiting; follow the results with: syncctl results --batch %s --follow\n", batch)
		}
		return nil
	case sum.TimedOut || sum.Counts[migrate.StatusPending]+sum.Counts[migrate.StatusUnpublished] > 0:
		return &exitErr{code: exitTimeout, err: fmt.Errorf("results still missing after %s; rerun the same command to wait again", f.timeout)}
	}
	return nil
}

// invalidGroup is one reason lines were refused for, with how many lines
// and the first of them.
type invalidGroup struct {
	Message    string `json:"message"`
	Count      int    `json:"count"`
	FirstLines []int  `json:"firstLines"`
}

// maxLinesShown is how many line numbers a group of invalid lines lists.
const maxLinesShown = 10

// groupInvalid groups invalid lines by their reason, in order of first
// appearance: 500 copies of one mistake are one group, not 500 lines.
func groupInvalid(bad []commandfile.Line) []invalidGroup {
	var groups []invalidGroup
	index := map[string]int{}
	for _, l := range bad {
		msg := trimLine(l.Err)
		i, ok := index[msg]
		if !ok {
			i = len(groups)
			index[msg] = i
			groups = append(groups, invalidGroup{Message: msg})
		}
		g := &groups[i]
		g.Count++
		if len(g.FirstLines) < maxLinesShown {
			g.FirstLines = append(g.FirstLines, l.Number)
		}
	}
	return groups
}

// printInvalid prints each group on one line: the reason, how many lines,
// the first line numbers.
func printInvalid(w io.Writer, path string, groups []invalidGroup) {
	for _, g := range groups {
		nums := make([]string, len(g.FirstLines))
		for i, n := range g.FirstLines {
			nums[i] = fmt.Sprint(n)
		}
		where := "line " + nums[0]
		if g.Count > 1 {
			where = fmt.Sprintf("%d lines: %s", g.Count, strings.Join(nums, ", "))
			if g.Count > len(nums) {
				where += fmt.Sprintf(" and %d more", g.Count-len(nums))
			}
		}
		fmt.Fprintf(w, "%s: %s (%s)\n", path, g.Message, where)
	}
}

// unpublishedOutcomes are the report rows of a migration refused before
// publishing: invalid lines with their reason, the others unpublished.
func unpublishedOutcomes(lines []commandfile.Line) []migrate.Outcome {
	out := make([]migrate.Outcome, len(lines))
	for i, l := range lines {
		o := migrate.Outcome{Line: l.Number, Status: migrate.StatusUnpublished}
		if l.Err != nil {
			o.Status, o.Error = migrate.StatusInvalid, l.Err.Error()
		} else {
			o.CommandID, o.Connection, o.Resource = l.Command.ID, l.Command.Connection, l.Command.Resource
		}
		out[i] = o
	}
	return out
}

var batchUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// derivedBatch names a migration after its file: migrate-<name>-<12 hex
// digits of the content's SHA-256>, so the same file gives the same batch.
func derivedBatch(path string, content []byte) string {
	sum := sha256.Sum256(content)
	name := batchUnsafe.ReplaceAllString(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), "-")
	if len(name) > 64 {
		name = name[:64]
	}
	return "migrate-" + strings.Trim(name, "-.") + "-" + hex.EncodeToString(sum[:6])
}

// eventBatch is the batch of the file's first full CloudEvent line, if it
// names one: a file of events from elsewhere keeps its batch.
func eventBatch(content []byte, format string) string {
	if format != "ndjson" {
		return ""
	}
	for line := range bytes.Lines(content) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var head struct {
			SpecVersion string `json:"specversion"`
			Batch       string `json:"batch"`
		}
		if json.Unmarshal(line, &head) != nil || head.SpecVersion == "" || !messages.ValidCommandID(head.Batch) {
			return ""
		}
		return head.Batch
	}
	return ""
}

// summaryOutput is the JSON form of a summary (the lines are in --report).
type summaryOutput struct {
	Batch       string         `json:"batch"`
	Lines       int            `json:"lines"`
	Counts      map[string]int `json:"counts"`
	Previous    int            `json:"previous"`
	Published   int            `json:"published"`
	Duplicates  int            `json:"duplicates"`
	PublishSecs float64        `json:"publishSeconds"`
	PublishRate float64        `json:"publishPerSecond"`
	ElapsedSecs float64        `json:"elapsedSeconds"`
	Interrupted bool           `json:"interrupted"`
	TimedOut    bool           `json:"timedOut"`
	Report      string         `json:"report,omitempty"`
	// Superseded counts lines of which nothing was written (a command with
	// a higher order key had set every field); SkippedFieldLines lines
	// whose result skipped at least one field (superseded ones included).
	// Neither makes the exit code non-zero; both are shown prominently.
	Superseded        int `json:"superseded"`
	SkippedFieldLines int `json:"skippedFieldLines"`
}

func (g *globals) printSummary(s *migrate.Summary, f migrateFlags) error {
	out := summaryOutput{Batch: s.Batch, Lines: len(s.Outcomes), Counts: s.Counts, Previous: s.Previous,
		Published: s.Published, Duplicates: s.Duplicates, PublishSecs: s.PublishTime.Seconds(),
		ElapsedSecs: s.Elapsed.Seconds(), Interrupted: s.Interrupted, TimedOut: s.TimedOut, Report: f.report,
		Superseded: s.Counts[string(messages.StatusSuperseded)], SkippedFieldLines: s.SkippedFieldLines}
	if s.PublishTime > 0 {
		out.PublishRate = float64(s.Published) / s.PublishTime.Seconds()
	}
	if g.json() {
		return g.printJSON(out)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "batch\t%s\n", s.Batch)
	fmt.Fprintf(tw, "lines\t%d\n", len(s.Outcomes))
	if s.Previous > 0 {
		fmt.Fprintf(tw, "resumed\t%d lines already had a result\n", s.Previous)
	}
	dup := ""
	if s.Duplicates > 0 {
		dup = fmt.Sprintf(" (%d already in the stream from an earlier run)", s.Duplicates)
	}
	fmt.Fprintf(tw, "published\t%d in %s (%.0f/s)%s\n", s.Published, s.PublishTime.Round(time.Millisecond), out.PublishRate, dup)
	fmt.Fprintf(tw, "elapsed\t%s\n", s.Elapsed.Round(time.Millisecond))
	fmt.Fprintln(tw)
	fmt.Fprintf(tw, "STATUS\tLINES\n")
	for _, st := range []string{"applied", "unchanged", "superseded", "rejected", "failed",
		migrate.StatusInvalid, migrate.StatusPending, migrate.StatusUnpublished} {
		if n := s.Counts[st]; n > 0 || st == "applied" || st == "rejected" || st == "failed" {
			fmt.Fprintf(tw, "%s\t%d\n", st, n)
		}
	}
	if f.report != "" {
		fmt.Fprintf(tw, "\nreport\t%s\n", f.report)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Skips are never silent: said after the table, where the eye lands.
	if out.Superseded > 0 || out.SkippedFieldLines > 0 {
		fmt.Fprintln(g.stdout)
	}
	if out.Superseded > 0 {
		fmt.Fprintf(g.stdout, "NOTE: %d lines were superseded: nothing was written for them, a command with a higher order key had already set every field.\n", out.Superseded)
	}
	if partly := out.SkippedFieldLines - out.Superseded; partly > 0 {
		fmt.Fprintf(g.stdout, "NOTE: %d lines were applied only in part: some fields were skipped, a command with a higher order key had set them.\n", partly)
	}
	if out.SkippedFieldLines > 0 {
		where := "syncctl results --batch " + s.Batch
		if f.report != "" {
			where = "the report's skippedFields column (" + f.report + ") or " + where
		}
		fmt.Fprintf(g.stdout, "      Which fields, and the order key that won: see %s. (docs/CONTRACT.md §3, §4; exit code still 0.)\n", where)
	}
	return nil
}

// progressLine says where a run is: published, results by status, ETA.
func progressLine(p migrate.Progress) string {
	r := p.Results
	eta := "ETA -"
	if p.ETA > 0 {
		eta = "ETA " + p.ETA.Round(time.Second).String()
	}
	if p.Final {
		eta = "in " + p.Elapsed.Round(time.Millisecond).String()
	}
	earlier := ""
	if p.Previous > 0 {
		earlier = fmt.Sprintf(" (+%d done earlier)", p.Previous)
	}
	return fmt.Sprintf("published %d%s, applied %d, unchanged %d, superseded %d, rejected %d, failed %d, %s",
		p.Published, earlier, r[messages.StatusApplied], r[messages.StatusUnchanged], r[messages.StatusSuperseded],
		r[messages.StatusRejected], r[messages.StatusFailed], eta)
}

// plan prints what the migration would change.
func (g *globals) plan(ctx context.Context, lines []commandfile.Line, f migrateFlags) error {
	planners := map[string]plan.Planner{}
	planErrs := map[string]error{}
	for _, l := range lines {
		if l.Err != nil {
			continue
		}
		c := l.Command.Connection
		if _, ok := planners[c]; ok || planErrs[c] != nil {
			continue
		}
		a, err := g.adapterFor(c)
		if err != nil {
			planErrs[c] = err
			continue
		}
		p, ok := a.(adapters.Planner)
		if !ok {
			planErrs[c] = fmt.Errorf("the %s adapter cannot plan", a.Provider())
			continue
		}
		planners[c] = p
	}
	orderKeys, closeKeys := g.planOrderKeys(ctx)
	defer closeKeys()
	planned, counts, err := plan.Run(ctx, plan.Config{
		Concurrency: f.concurrency,
		Planner: func(c string) (plan.Planner, error) {
			if err := planErrs[c]; err != nil {
				return nil, err
			}
			return planners[c], nil
		},
		OrderKeys: orderKeys,
	}, lines)
	if err != nil {
		if ctx.Err() != nil {
			return withCode(exitInterrupted)
		}
		return err
	}
	if g.json() {
		if err := g.printPlanJSON(planned, counts); err != nil {
			return err
		}
	} else {
		printPlan(g.stdout, planned, counts)
	}
	if counts.Unsupported+counts.Errors > 0 {
		return withCode(exitRejected)
	}
	return nil
}

func printPlan(w io.Writer, lines []plan.Line, n plan.Counts) {
	for _, l := range lines {
		where := fmt.Sprintf("line %d", l.Number)
		if l.Connection != "" {
			where = fmt.Sprintf("%s/%s (line %d, %s)", l.Connection, l.Resource, l.Number, l.CommandID)
		}
		if l.Err != nil {
			kind := "error"
			if l.Unsupported {
				kind = "unsupported"
			}
			fmt.Fprintf(w, "! %s\n    %s: %s\n", where, kind, trimLine(l.Err))
			continue
		}
		if l.Superseded {
			fmt.Fprintf(w, "- %s\n    superseded: a higher order key already set every field\n", where)
		} else {
			fmt.Fprintf(w, "%s %s\n", lineMark(l.Fields), where)
		}
		for _, fp := range l.Fields {
			fmt.Fprintf(w, "    %s\n", fieldLine(fp))
		}
		for _, sk := range l.Skipped {
			fmt.Fprintf(w, "    %s\n", skippedLine(sk))
		}
	}
	fmt.Fprintf(w, "\nPlan: %d lines; %d would change, %d unchanged, %d superseded; fields: %d to change, %d unchanged, %d unknown (not readable, would be sent), %d skipped (a higher order key wins); %d unsupported, %d errors. Nothing was written.\n",
		n.Lines+n.Unsupported+n.Errors, n.LinesChanging, n.LinesUnchanged, n.LinesSuperseded, n.Changed, n.Unchanged, n.Unknown, n.Skipped, n.Unsupported, n.Errors)
}

func lineMark(fields []adapters.FieldPlan) string {
	for _, f := range fields {
		if f.State != adapters.FieldUnchanged {
			return "~"
		}
	}
	return "="
}

// fieldLine is one field of a plan: "~ redirectUri: "old" -> "new"".
func fieldLine(f adapters.FieldPlan) string {
	switch {
	case f.Secret:
		return fmt.Sprintf("%s %s: (secret, %s)", stateMark(f.State), f.Field, f.State)
	case f.State == adapters.FieldUnknown:
		return fmt.Sprintf("? %s: (cannot be read) -> %s", f.Field, f.Desired)
	case f.State == adapters.FieldUnchanged:
		return fmt.Sprintf("= %s: %s", f.Field, f.Desired)
	}
	return fmt.Sprintf("~ %s: %s -> %s", f.Field, f.Current, f.Desired)
}

func stateMark(s adapters.FieldState) string {
	switch s {
	case adapters.FieldChanged:
		return "~"
	case adapters.FieldUnchanged:
		return "="
	}
	return "?"
}

type planLineJSON struct {
	Line        int             `json:"line"`
	CommandID   string          `json:"commandId,omitempty"`
	Connection  string          `json:"connection,omitempty"`
	Resource    string          `json:"resource,omitempty"`
	Fields      []planFieldJSON `json:"fields,omitempty"`
	Error       string          `json:"error,omitempty"`
	Unsupported bool            `json:"unsupported,omitempty"`
	Superseded  bool            `json:"superseded,omitempty"`
	Skipped     []skippedJSON   `json:"skippedFields,omitempty"`
}

// skippedJSON is a skipped field of a plan line, with the order key that
// wins it and, when an earlier line of the file holds that key, its number.
type skippedJSON struct {
	Field          string `json:"field"`
	OrderKey       int64  `json:"orderKey"`
	StreamSequence uint64 `json:"streamSequence,omitempty"`
	Line           int    `json:"line,omitempty"`
}

type planFieldJSON struct {
	Field   string          `json:"field"`
	State   string          `json:"state"`
	Current json.RawMessage `json:"current,omitempty"`
	Desired json.RawMessage `json:"desired,omitempty"`
	Secret  bool            `json:"secret,omitempty"`
}

// printPlanJSON writes the plan as JSON Lines: one record per file line,
// then one {"summary":{counts}} line.
func (g *globals) printPlanJSON(lines []plan.Line, n plan.Counts) error {
	for _, l := range lines {
		pl := planLineJSON{Line: l.Number, CommandID: l.CommandID, Connection: l.Connection, Resource: l.Resource, Unsupported: l.Unsupported, Superseded: l.Superseded}
		for _, sk := range l.Skipped {
			js := skippedJSON{Field: sk.Field, OrderKey: sk.Key.Key, Line: sk.Line}
			if sk.Line == 0 {
				js.StreamSequence = sk.Key.Seq
			}
			pl.Skipped = append(pl.Skipped, js)
		}
		if l.Err != nil {
			pl.Error = l.Err.Error()
		}
		for _, f := range l.Fields {
			pl.Fields = append(pl.Fields, planFieldJSON{Field: f.Field, State: f.State.String(), Current: f.Current, Desired: f.Desired, Secret: f.Secret})
		}
		if err := g.printJSON(pl); err != nil {
			return err
		}
	}
	return g.printJSON(struct {
		Summary plan.Counts `json:"summary"`
	}{n})
}
