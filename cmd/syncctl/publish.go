package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/internal/digestkey"
	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/internal/telemetry"
	"github.com/oauthsync/oauthsync/messages"
)

type publishFlags struct {
	connection, resource  string
	set, setJSON, pfield  []string
	secretEnv, secretFile string
	sequence              int64
	sequenceSet           bool
	batch, id, source     string
	file                  string
	wait                  bool
	timeout               time.Duration
}

func newPublish(g *globals) *cobra.Command {
	var f publishFlags
	cmd := &cobra.Command{
		Use:   "publish",
		Short: "Publish one update command (from flags or a JSON file), optionally waiting for its result",
		Long: `publish builds one update command, validates it with the worker's own decoder
(and, with --config, the provider adapter's checks), and publishes it to
<prefix>.commands.<connection>.<resource> with Nats-Msg-Id set to its id.

Changes come from --set name=value (canonical fields: name, description,
clientId, redirectUri, scopes, authorizeUrl, tokenUrl, active), --set-json
name=JSON, and --provider-field name=value (JSON if it parses, else a
string). The client secret comes only from --secret-from-env NAME or
--secret-from-file PATH, never from the command line, so it stays out of
shell history; it is never printed.

With --wait, publish waits for the command's result and prints it; the exit
code is 3 when the command was rejected or failed, 4 on timeout.`,
		Example: `  syncctl publish --connection rc-prod --resource 65a7d77142a7e12453052d59 \
      --set redirectUri=https://app.example.com/cb --set active=true --wait
  RC_SECRET=... syncctl publish --connection hdp --resource 93 --secret-from-env RC_SECRET
  syncctl publish --connection reelevant-prod --resource 65a7d77142a7e12453052d60 \
      --set-json 'scopes=["read","write"]' --provider-field mode=client_credentials
  syncctl publish -f command.json --wait -o json`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.sequenceSet = cmd.Flags().Changed("sequence")
			return g.publish(ctxOf(cmd), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.connection, "connection", "", "connection name (as configured in the worker)")
	fl.StringVar(&f.resource, "resource", "", "the remote object's id")
	fl.StringArrayVar(&f.set, "set", nil, "canonical field to change, name=value (repeatable); active takes true/false, scopes a comma- or space-separated list")
	fl.StringArrayVar(&f.setJSON, "set-json", nil, "canonical field to change, name=JSON value (repeatable)")
	fl.StringArrayVar(&f.pfield, "provider-field", nil, "provider-native field, name=value: JSON if it parses, else a string (repeatable)")
	fl.StringVar(&f.secretEnv, "secret-from-env", "", "set clientSecret from this environment variable")
	fl.StringVar(&f.secretFile, "secret-from-file", "", "set clientSecret from this file (one trailing newline is dropped)")
	fl.Int64Var(&f.sequence, "sequence", 0, "data.sequence, the per-resource order key, a Unix time in ms (default: the time the stream stores the command)")
	fl.StringVar(&f.batch, "batch", "", "batch id to carry into the result")
	fl.StringVar(&f.id, "id", "", "command id, the idempotency key (default: a new random id)")
	fl.StringVar(&f.source, "source", commandfile.DefaultSource, "CloudEvents source")
	fl.StringVarP(&f.file, "file", "f", "", "read the command from a JSON file (a full CloudEvent or the short form; - for stdin) instead of flags")
	fl.BoolVar(&f.wait, "wait", false, "wait for the command's result and print it")
	fl.DurationVar(&f.timeout, "timeout", time.Minute, "how long --wait waits")
	cmd.MarkFlagsMutuallyExclusive("secret-from-env", "secret-from-file")
	for _, name := range []string{"connection", "resource", "set", "set-json", "provider-field", "sequence", "id"} {
		cmd.MarkFlagsMutuallyExclusive("file", name)
	}
	_ = cmd.RegisterFlagCompletionFunc("connection", g.completeConnections)
	return cmd
}

// completeConnections completes connection names from --config.
func (g *globals) completeConnections(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	if err := g.prepare(); err != nil || g.cfg == nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return g.cfg.ConnectionNames(), cobra.ShellCompDirectiveNoFileComp
}

func (g *globals) publish(ctx context.Context, f publishFlags) error {
	line, err := g.buildCommand(f)
	if err != nil {
		return err
	}
	cmd := line.Command
	nc, js, err := g.connect()
	if err != nil {
		return err
	}
	defer nc.Close()

	// Follow the resource's results from the start before publishing, so a
	// result that arrives at once (or a duplicate's original result, which
	// JetStream would not store twice) is not missed.
	type waited struct {
		item resultstream.Item
		err  error
	}
	got := make(chan waited, 1)
	// The reader is stopped (stopWaiting), then waited for, on every return.
	var readerWG sync.WaitGroup
	defer readerWG.Wait()
	// The reader's consumer is set up (and caught up) before publishing,
	// and --timeout counts from then; a reader stopped while it is being
	// set up could leave its consumer behind.
	waitCtx, stopWaiting := context.WithCancel(ctx)
	defer stopWaiting()
	// The digest of what is published, to tell this payload's result from
	// another payload's under the same id (docs/payload-digest.md). With a
	// secret it needs the fleet's key; when that cannot be read yet, it is
	// tried again once a result is there.
	digester := &digestkey.Digester{JetStream: js}
	digest, _ := digester.Digest(ctx, cmd)
	var early *waited
	if f.wait {
		ready := make(chan struct{})
		want := map[string]bool{messages.ResultEventID(cmd.ID): true}
		if digest != "" {
			want[messages.ConflictEventID(cmd.ID, digest)] = true
		}
		reader := resultstream.Reader{JetStream: js, Stream: g.streams().results, Subjects: g.subjects()}
		readerWG.Go(func() {
			var found *resultstream.Item
			err := reader.Read(waitCtx, resultstream.Query{Connection: cmd.Connection, Resource: cmd.Resource, Follow: true,
				CaughtUp: func() { close(ready) }},
				func(it resultstream.Item) error {
					if want[it.EventID] || strings.HasPrefix(it.EventID, messages.ResultEventID(cmd.ID)+"-replay-") {
						found = &it
						return resultstream.ErrStop
					}
					return nil
				})
			if found != nil {
				got <- waited{item: *found}
				return
			}
			got <- waited{err: err}
		})
		select {
		case <-ready:
		case w := <-got: // the result was there already, or reading failed
			if w.err != nil && ctx.Err() == nil {
				return w.err
			}
			early = &w
		case <-ctx.Done():
			return withCode(exitInterrupted)
		}
	}

	msg := nats.NewMsg(g.subjects().Command(cmd.Connection, cmd.Resource))
	msg.Header.Set("Content-Type", messages.ContentType)
	msg.Data = line.Body
	sctx, span := telemetry.StartPublish(ctx, g.tracer(), telemetry.Propagator(), msg, cmd)
	pctx, cancel := context.WithTimeout(sctx, 10*time.Second)
	ack, err := js.PublishMsg(pctx, msg, jetstream.WithMsgID(cmd.ID))
	cancel()
	if err != nil {
		span.SetStatus(codes.Error, "publish failed")
		span.End()
		return fmt.Errorf("publish %s: %w", msg.Subject, err)
	}
	span.SetAttributes(attribute.Int64("messaging.nats.stream_sequence", int64(ack.Sequence)))
	span.End()
	out := publishOutput{CommandID: cmd.ID, Subject: msg.Subject, Stream: ack.Stream, Sequence: ack.Sequence, Duplicate: ack.Duplicate}
	if !f.wait {
		return g.printPublished(out)
	}
	if !g.json() {
		if err := g.printPublished(out); err != nil {
			return err
		}
	}
	var w waited
	if early != nil {
		w = *early
	} else {
		timer := time.NewTimer(f.timeout)
		defer timer.Stop()
		select {
		case w = <-got:
		case <-timer.C:
		case <-ctx.Done():
		}
	}
	switch {
	case w.item.EventID != "":
		if w.item.Event != nil {
			out.Result = &w.item.Event.Data
			if digest == "" {
				digest, _ = digester.Digest(ctx, cmd)
			}
			if digestkey.Mismatch(digest, out.Result.PayloadDigest) {
				out.Result = idConflict(*out.Result)
			}
		} else {
			out.Result = &messages.Result{CommandID: cmd.ID, Status: w.item.Status}
		}
	case ctx.Err() != nil:
		return withCode(exitInterrupted)
	case w.err != nil:
		return w.err
	}
	if out.Result == nil {
		if g.json() {
			_ = g.printJSON(out)
		}
		return &exitErr{code: exitTimeout, err: fmt.Errorf("no result for %s within %s; follow it with: syncctl results --resource %s --follow", cmd.ID, f.timeout, cmd.Resource)}
	}
	if g.json() {
		if err := g.printJSON(out); err != nil {
			return err
		}
	} else {
		printResult(g.stdout, *out.Result)
	}
	if s := out.Result.Status; s == messages.StatusRejected || s == messages.StatusFailed {
		return withCode(exitRejected)
	}
	return nil
}

// idConflict is what publish reports when the result of its command's id
// answers another payload: JetStream dropped this publish as a duplicate
// of the id (or the worker kept the first payload), so nothing of it was
// applied.
func idConflict(other messages.Result) *messages.Result {
	r := other
	r.Status = messages.StatusRejected
	r.AppliedFields, r.SkippedFields, r.SkippedOrderKeys = nil, nil, nil
	r.Error = &messages.ResultError{Code: messages.CodeIDConflict,
		Message: digestkey.ConflictMessage(other.CommandID, other.Status, other.PayloadDigest)}
	return &r
}

type publishOutput struct {
	CommandID string           `json:"commandId"`
	Subject   string           `json:"subject"`
	Stream    string           `json:"stream"`
	Sequence  uint64           `json:"sequence"`
	Duplicate bool             `json:"duplicate"`
	Result    *messages.Result `json:"result,omitempty"`
}

func (g *globals) printPublished(o publishOutput) error {
	if g.json() {
		return g.printJSON(o)
	}
	dup := ""
	if o.Duplicate {
		dup = " (duplicate: JetStream already holds this id; the worker answers it once)"
	}
	_, err := fmt.Fprintf(g.stdout, "published %s to %s (stream %s, sequence %d)%s\n", o.CommandID, o.Subject, o.Stream, o.Sequence, dup)
	return err
}

// printResult prints a result in a few lines.
func printResult(w io.Writer, r messages.Result) {
	fmt.Fprintf(w, "result    %s\n", r.Status)
	if len(r.AppliedFields) > 0 {
		fmt.Fprintf(w, "applied   %s\n", strings.Join(r.AppliedFields, ", "))
	}
	if len(r.SkippedFields) > 0 {
		fmt.Fprintf(w, "skipped   %s\n", skippedText(r))
		fmt.Fprintf(w, "          (not written: a command with a higher order key already set them; docs/CONTRACT.md §3)\n")
	}
	if r.Attempts > 0 || r.Deliveries > 0 {
		fmt.Fprintf(w, "attempts  %d (deliveries %d)\n", r.Attempts, r.Deliveries)
	}
	if r.Error != nil {
		fmt.Fprintf(w, "error     %s: %s\n", r.Error.Code, r.Error.Message)
	}
}

// skippedText lists a result's skipped fields, each with the order key
// that won: "name (key 1732269600000 won), scopes (key 7 won)".
func skippedText(r messages.Result) string {
	parts := make([]string, 0, len(r.SkippedFields))
	for _, f := range r.SkippedFields {
		if k, ok := r.SkippedOrderKeys[f]; ok {
			parts = append(parts, fmt.Sprintf("%s (key %d won)", f, k))
		} else {
			parts = append(parts, f)
		}
	}
	return strings.Join(parts, ", ")
}

// buildCommand builds and validates the command publish was asked for,
// and returns it with the body to publish.
func (g *globals) buildCommand(f publishFlags) (commandfile.Line, error) {
	opts := commandfile.Options{Batch: f.batch, Source: f.source, Decode: messages.DecodeOptions{Subjects: g.subjects()},
		Check: g.checker(), NewID: newID}
	if f.batch != "" && !messages.ValidCommandID(f.batch) {
		return commandfile.Line{}, usageErr("--batch must be 1 to 128 characters of [A-Za-z0-9._:-]")
	}
	if f.file != "" {
		text, err := g.readInput(f.file)
		if err != nil {
			return commandfile.Line{}, err
		}
		// One line, as a migration file would hold it: a full event or
		// the short form.
		var compact bytes.Buffer
		if err := json.Compact(&compact, text); err != nil {
			return commandfile.Line{}, usageErr("%s: not a JSON document", f.file)
		}
		line := commandfile.Parse(1, compact.Bytes(), opts)
		if line.Err != nil {
			return line, usageErr("%s: %s", f.file, trimLine(line.Err))
		}
		return line, nil
	}

	if f.connection == "" || f.resource == "" {
		return commandfile.Line{}, usageErr("--connection and --resource are required (or --file)")
	}
	changes := map[string]json.RawMessage{}
	for _, kv := range f.set {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return commandfile.Line{}, usageErr("--set %q: want name=value", name)
		}
		if name == messages.FieldClientSecret {
			return commandfile.Line{}, usageErr("--set clientSecret: pass the secret with --secret-from-env NAME or --secret-from-file PATH, so it stays out of shell history")
		}
		v, err := setValue(name, value)
		if err != nil {
			return commandfile.Line{}, usageErr("--set %s: %v", name, err)
		}
		changes[name] = v
	}
	for _, kv := range f.setJSON {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || !json.Valid([]byte(value)) {
			return commandfile.Line{}, usageErr("--set-json %q: want name=<JSON value>", name)
		}
		if name == messages.FieldClientSecret {
			return commandfile.Line{}, usageErr("--set-json clientSecret: pass the secret with --secret-from-env NAME or --secret-from-file PATH, so it stays out of shell history")
		}
		changes[name] = json.RawMessage(value)
	}
	secret, err := g.secret(f)
	if err != nil {
		return commandfile.Line{}, err
	}
	if secret != nil {
		b, _ := json.Marshal(*secret)
		changes[messages.FieldClientSecret] = b
	}
	pf := map[string]json.RawMessage{}
	for _, kv := range f.pfield {
		name, value, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return commandfile.Line{}, usageErr("--provider-field %q: want name=value", kv)
		}
		if json.Valid([]byte(value)) {
			pf[name] = json.RawMessage(value)
		} else {
			b, _ := json.Marshal(value)
			pf[name] = b
		}
	}
	if len(changes) == 0 && len(pf) == 0 {
		return commandfile.Line{}, usageErr("nothing to change: give --set, --set-json, --provider-field or a secret")
	}
	sf := commandfile.ShortForm{ID: f.id, Connection: f.connection, Resource: f.resource}
	if f.sequenceSet {
		sf.Sequence = &f.sequence
	}
	if len(changes) > 0 {
		b, err := json.Marshal(changes)
		if err != nil {
			return commandfile.Line{}, usageErr("changes: %v", err)
		}
		sf.Changes = b
	}
	if len(pf) > 0 {
		sf.ProviderFields = pf
	}
	line := opts.FromShortForm(0, nil, sf)
	if line.Err != nil {
		return line, usageErr("%s", trimLine(line.Err))
	}
	return line, nil
}

// secret reads the client secret from where the flags say.
func (g *globals) secret(f publishFlags) (*string, error) {
	switch {
	case f.secretEnv != "":
		v, ok := "", false
		if g.lookup != nil {
			v, ok = g.lookup(f.secretEnv)
		}
		if !ok || v == "" {
			return nil, usageErr("--secret-from-env: environment variable %s is not set or empty", f.secretEnv)
		}
		return &v, nil
	case f.secretFile != "":
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return nil, usageErr("--secret-from-file: %v", err)
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if v == "" {
			return nil, usageErr("--secret-from-file: %s is empty", f.secretFile)
		}
		return &v, nil
	}
	return nil, nil
}

// setValue types a --set value by its canonical field.
func setValue(name, value string) (json.RawMessage, error) {
	var v any = value
	switch name {
	case messages.FieldActive:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return nil, errors.New("must be true or false")
		}
		v = b
	case messages.FieldScopes:
		v = strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' })
	case messages.FieldName, messages.FieldDescription, messages.FieldClientID, messages.FieldRedirectURI,
		messages.FieldAuthorizeURL, messages.FieldTokenURL:
	default:
		return nil, fmt.Errorf("not a canonical field (name, description, clientId, redirectUri, scopes, authorizeUrl, tokenUrl, active); provider-native fields go in --provider-field")
	}
	return json.Marshal(v)
}

// checker returns the adapter validation of commands when --config names
// the connections, else nil. Adapters are built once per connection.
func (g *globals) checker() func(*messages.Command) error {
	if g.cfg == nil {
		return nil
	}
	var mu sync.Mutex
	built := map[string]adapters.Adapter{}
	failed := map[string]error{}
	return func(c *messages.Command) error {
		mu.Lock()
		a, ok := built[c.Connection]
		err := failed[c.Connection]
		if !ok && err == nil {
			a, err = g.adapterFor(c.Connection)
			if err != nil {
				failed[c.Connection] = err
			} else {
				built[c.Connection] = a
			}
		}
		mu.Unlock()
		if err != nil {
			return err
		}
		return a.Validate(adapters.Update{Resource: c.Resource, Changes: c.Data.Changes, ProviderFields: c.Data.ProviderFields})
	}
}

func (g *globals) readInput(path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(g.stdin, commandfile.MaxLineBytes))
		if err != nil {
			return nil, fmt.Errorf("stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// newID is a fresh command id: syncctl-<UTC time>-<random>.
func newID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "syncctl-" + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b[:])
}

// trimLine drops the "line N: " prefix of a single command's error.
func trimLine(err error) string {
	var le *commandfile.LineError
	if errors.As(err, &le) {
		if le.Field == "" {
			return le.Reason
		}
		return le.Field + ": " + le.Reason
	}
	return err.Error()
}
