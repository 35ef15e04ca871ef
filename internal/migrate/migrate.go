package migrate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/oauthsync/oauthsync/internal/commandfile"
	"github.com/oauthsync/oauthsync/internal/digestkey"
	"github.com/oauthsync/oauthsync/internal/redact"
	"github.com/oauthsync/oauthsync/internal/resultstream"
	"github.com/oauthsync/oauthsync/internal/telemetry"
	"github.com/oauthsync/oauthsync/messages"
)

// Statuses a line can end a run with, beside the five result statuses.
const (
	// StatusInvalid: the line was refused before publishing (--skip-invalid).
	StatusInvalid = "invalid"
	// StatusPending: published, but no result arrived within the timeout.
	StatusPending = "pending"
	// StatusUnpublished: the run stopped (interrupt, publish failure)
	// before this line was published; rerunning publishes it.
	StatusUnpublished = "unpublished"
)

// Config tunes a run.
type Config struct {
	// JetStream publishes the commands and reads the results. Required.
	JetStream jetstream.JetStream
	// Subjects names the subjects. Default prefix "sync".
	Subjects messages.Subjects
	// ResultsStream is the results stream's name. Default SYNC_RESULTS.
	ResultsStream string
	// Rate caps publishing at this many commands per second; 0 publishes
	// as fast as MaxPending outstanding acks allow.
	Rate float64
	// MaxPending bounds the publishes awaiting their ack. Default 2048.
	MaxPending int
	// Wait makes Run wait for every published command's result, at most
	// Timeout after the last publish.
	Wait bool
	// Timeout bounds the wait for results. Default 10m.
	Timeout time.Duration
	// PublishRetries is how many times a publish whose ack failed is
	// retried, with backoff, before the run gives up on it. Default 5.
	PublishRetries int
	// Progress, when set, is called with a snapshot every ProgressEvery
	// and once at the end. It runs on its own goroutine.
	Progress func(Progress)
	// ProgressEvery is the interval of Progress calls. Default 500ms.
	ProgressEvery time.Duration
	// Tracer traces the run: a span for the whole migration, and one
	// producer span per command published, each the root of the command's
	// own trace (which the worker continues) and linked to the migration's
	// span. Default: no tracing.
	Tracer trace.Tracer
	// Propagator writes trace context into the commands' headers. Default
	// W3C trace context and baggage.
	Propagator propagation.TextMapPropagator
	// Digest computes a command's payload digest as the workers do
	// (digestkey.Digester.Digest). A result whose payloadDigest differs
	// answers another payload under the line's id: the line is reported
	// rejected with id_conflict. Default: the digest of commands without
	// a secret only; a line whose digest cannot be computed is not checked.
	Digest func(ctx context.Context, c *messages.Command) (string, error)
}

func (c Config) withDefaults() Config {
	c.ResultsStream = cmp.Or(c.ResultsStream, resultstream.DefaultStream)
	c.MaxPending = cmp.Or(c.MaxPending, 2048)
	c.Timeout = cmp.Or(c.Timeout, 10*time.Minute)
	c.PublishRetries = cmp.Or(c.PublishRetries, 5)
	c.ProgressEvery = cmp.Or(c.ProgressEvery, 500*time.Millisecond)
	if c.Digest == nil {
		c.Digest = func(_ context.Context, c *messages.Command) (string, error) { return c.PayloadDigest(nil) }
	}
	if c.Tracer == nil {
		c.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if c.Propagator == nil {
		c.Propagator = telemetry.Propagator()
	}
	return c
}

// Progress is a snapshot of a run.
type Progress struct {
	// Total is the number of lines to publish or already finished.
	Total int
	// Previous is how many lines had a result before this run started.
	Previous int
	// Published counts this run's acknowledged publishes.
	Published int
	// Results counts lines with a result, by status (Previous included).
	Results map[messages.Status]int
	// Done is the number of lines with a result.
	Done int
	// Elapsed is the time since the run started.
	Elapsed time.Duration
	// ETA estimates the time left until every line has a result; 0 when
	// unknown.
	ETA time.Duration
	// Final is set on the last call.
	Final bool
}

// Outcome is what became of one line.
type Outcome struct {
	Line       int    `json:"line"`
	CommandID  string `json:"commandId,omitempty"`
	Connection string `json:"connection,omitempty"`
	Resource   string `json:"resource,omitempty"`
	// Status is a result status or StatusInvalid, StatusPending, StatusUnpublished.
	Status string `json:"status"`
	// ErrorCode and Error explain a rejected, failed or invalid line.
	ErrorCode string `json:"errorCode,omitempty"`
	Error     string `json:"error,omitempty"`
	// Previous: the result was there before this run (a resumed line).
	Previous bool `json:"previous,omitempty"`
	// SkippedFields are the fields its result did not write because a
	// command with a higher order key had set them, and SkippedOrderKeys
	// the key that won for each (docs/CONTRACT.md §4: never silent).
	SkippedFields    []string         `json:"skippedFields,omitempty"`
	SkippedOrderKeys map[string]int64 `json:"skippedOrderKeys,omitempty"`
}

// Summary is the outcome of a run.
type Summary struct {
	Batch    string
	Outcomes []Outcome // one per line, in file order
	// Counts by Outcome.Status.
	Counts map[string]int
	// SkippedFieldLines counts the lines whose result skipped at least one
	// field (a superseded line skipped them all; an applied or unchanged
	// one some).
	SkippedFieldLines int
	// Previous is how many lines had a result before this run.
	Previous int
	// Published counts this run's acknowledged publishes; Duplicates those
	// of them JetStream already held (from an earlier, interrupted run).
	Published, Duplicates int
	// PublishTime is the time from the first publish to the last ack.
	PublishTime time.Duration
	// Elapsed is the whole run's time.
	Elapsed time.Duration
	// Interrupted: ctx ended before the run finished.
	Interrupted bool
	// TimedOut: results were still missing when Timeout passed.
	TimedOut bool
}

// Failed reports whether any line was rejected, failed, left without a
// result or unpublished: what makes syncctl exit non-zero.
func (s *Summary) Failed() bool {
	return s.Counts[string(messages.StatusRejected)]+s.Counts[string(messages.StatusFailed)]+
		s.Counts[StatusPending]+s.Counts[StatusUnpublished] > 0
}

// run is one Run's state.
type run struct {
	cfg   Config
	lines []commandfile.Line
	start time.Time

	// byEventID maps the result event ids a line can be answered with
	// (its result, its id-conflict refusal) to the line's index.
	byEventID map[string]int
	// digests are the lines' payload digests ("" when unknown).
	digests []string

	mu        sync.Mutex
	outcomes  []Outcome
	hasResult []bool
	before    []bool // the line's result was stored before the run
	caught    bool   // the stored results have been read
	done      int
	counts    map[messages.Status]int
	previous  int
	waiting   int  // lines published without a result yet
	sent      bool // publishing has finished
	allDone   chan struct{}
	closeOnce sync.Once

	published  atomic.Int64
	duplicates atomic.Int64

	// runSpan is the migration's span, which every command's span links to.
	runSpan trace.SpanContext
}

// Run publishes the valid lines that have no result yet, and, with
// cfg.Wait, waits for their results. Invalid lines are reported as
// StatusInvalid and never published. When ctx ends, publishing stops, the
// publishes in flight are awaited (so the summary knows what was sent), and
// Run returns the summary so far with Interrupted set: rerunning the same
// lines resumes. The error is for what prevented the run (NATS unreachable),
// not for lines.
func Run(ctx context.Context, cfg Config, batch string, lines []commandfile.Line) (*Summary, error) {
	cfg = cfg.withDefaults()
	r := &run{
		cfg: cfg, lines: lines, start: time.Now(),
		byEventID: make(map[string]int, len(lines)),
		digests:   make([]string, len(lines)),
		outcomes:  make([]Outcome, len(lines)),
		hasResult: make([]bool, len(lines)),
		before:    make([]bool, len(lines)),
		counts:    map[messages.Status]int{},
		allDone:   make(chan struct{}),
	}
	conns := map[string]bool{}
	valid := 0
	for i, l := range lines {
		o := &r.outcomes[i]
		o.Line = l.Number
		if l.Err != nil {
			o.Status, o.Error = StatusInvalid, redact.New(redact.SecretsInJSON(l.Body)...).String(l.Err.Error())
			continue
		}
		c := l.Command
		o.CommandID, o.Connection, o.Resource, o.Status = c.ID, c.Connection, c.Resource, StatusUnpublished
		r.byEventID[messages.ResultEventID(c.ID)] = i
		if d, err := cfg.Digest(ctx, c); err == nil {
			r.digests[i] = d
			r.byEventID[messages.ConflictEventID(c.ID, d)] = i
		}
		conns[c.Connection] = true
		valid++
	}
	ctx, span := cfg.Tracer.Start(ctx, "migrate "+batch, trace.WithAttributes(
		attribute.String("oauthsync.batch", batch), attribute.Int("oauthsync.lines", len(lines))))
	defer span.End()
	r.runSpan = span.SpanContext()
	summary := func(interrupted, timedOut bool, publishTime time.Duration) *Summary {
		s := r.summary(batch, interrupted, timedOut, publishTime)
		span.SetAttributes(attribute.Int("oauthsync.published", s.Published), attribute.Int("oauthsync.previous", s.Previous),
			attribute.Bool("oauthsync.interrupted", s.Interrupted), attribute.Bool("oauthsync.timed_out", s.TimedOut))
		for st, n := range s.Counts {
			span.SetAttributes(attribute.Int("oauthsync.lines."+st, n))
		}
		return s
	}
	if valid == 0 {
		// Nothing to publish or wait for; Progress still gets its final call.
		if cfg.Progress != nil {
			p := r.progress()
			p.Final = true
			cfg.Progress(p)
		}
		return summary(false, false, 0), nil
	}

	// Read the results stream from the start: first to find the lines an
	// earlier run finished, then to collect this run's results. One reader
	// per connection, so the server filters by subject (NATS 2.9 has no
	// multi-subject filter) and other connections' results are not read.
	caughtUp := make(chan struct{})
	waitingFor := len(conns)
	readCtx, stopReading := context.WithCancel(context.WithoutCancel(ctx))
	reader := resultstream.Reader{JetStream: cfg.JetStream, Stream: cfg.ResultsStream, Subjects: cfg.Subjects}
	readErr := make(chan error, len(conns))
	var readerWG sync.WaitGroup
	for _, c := range slices.Sorted(maps.Keys(conns)) {
		q := resultstream.Query{Connection: c, Follow: true, CaughtUp: func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if waitingFor--; waitingFor == 0 {
				r.caught, r.previous = true, r.done
				close(caughtUp)
			}
		}}
		readerWG.Go(func() { readErr <- reader.Read(readCtx, q, r.onResult) })
	}
	// Run owns the readers: it stops them and waits for them before returning.
	defer func() {
		stopReading()
		readerWG.Wait()
	}()

	var progressWG sync.WaitGroup
	stopProgress := make(chan struct{})
	if cfg.Progress != nil {
		progressWG.Go(func() { r.reportProgress(stopProgress) })
	}
	finish := func(s *Summary) *Summary {
		close(stopProgress)
		progressWG.Wait()
		if cfg.Progress != nil {
			p := r.progress()
			p.Final = true
			cfg.Progress(p)
		}
		return s
	}

	select {
	case <-caughtUp:
	case err := <-readErr:
		return finish(summary(false, false, 0)), fmt.Errorf("reading results: %w", err)
	case <-ctx.Done():
		return finish(summary(true, false, 0)), nil
	}
	pubStart := time.Now()
	pubErr := r.publishAll(ctx)
	publishTime := time.Since(pubStart)
	if ctx.Err() != nil {
		return finish(summary(true, false, publishTime)), nil
	}
	if pubErr != nil {
		return finish(summary(false, false, publishTime)), pubErr
	}
	if !cfg.Wait {
		return finish(summary(false, false, publishTime)), nil
	}
	r.mu.Lock()
	r.sent = true
	if r.waiting == 0 {
		r.closeAllDone()
	}
	r.mu.Unlock()
	timer := time.NewTimer(cfg.Timeout)
	defer timer.Stop()
	select {
	case <-r.allDone:
		return finish(summary(false, false, publishTime)), nil
	case <-timer.C:
		return finish(summary(false, true, publishTime)), nil
	case <-ctx.Done():
		return finish(summary(true, false, publishTime)), nil
	case err := <-readErr:
		return finish(summary(false, false, publishTime)), fmt.Errorf("reading results: %w", err)
	}
}

// onResult records a result that answers one of the lines; a later result
// for a line (a replay's) replaces an earlier one.
func (r *run) onResult(it resultstream.Item) error {
	i, ok := r.lineOf(it.EventID)
	if !ok {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	status := it.Status
	if it.Event != nil {
		status = it.Event.Data.Status
	}
	if !status.Valid() {
		// A body that does not decode and carries no Sync-Status header:
		// nothing to record (it would count as status "").
		return nil
	}
	o := &r.outcomes[i]
	if it.Event != nil {
		o.ErrorCode, o.Error = "", ""
		if e := it.Event.Data.Error; e != nil {
			// The worker scrubs it; the report scrubs again with the
			// secrets of the line itself, whoever wrote the result.
			o.ErrorCode, o.Error = string(e.Code), redact.New(redact.SecretsInJSON(r.lines[i].Body)...).String(e.Message)
		}
		if got := it.Event.Data.PayloadDigest; digestkey.Mismatch(r.digests[i], got) {
			// The id's result answers another payload: this line's was
			// dropped as a duplicate, never applied.
			o.ErrorCode, o.Error = string(messages.CodeIDConflict), digestkey.ConflictMessage(o.CommandID, status, got)
			status = messages.StatusRejected
		}
		o.SkippedFields, o.SkippedOrderKeys = nil, nil
		if d := it.Event.Data; len(d.SkippedFields) > 0 {
			o.SkippedFields, o.SkippedOrderKeys = slices.Clone(d.SkippedFields), maps.Clone(d.SkippedOrderKeys)
		}
	}
	if r.hasResult[i] {
		r.counts[messages.Status(o.Status)]--
	} else {
		r.hasResult[i] = true
		r.before[i] = !r.caught
		r.done++
		if o.Status == StatusPending {
			r.waiting--
		}
	}
	o.Status = string(status)
	r.counts[status]++
	if r.sent && r.waiting == 0 {
		r.closeAllDone()
	}
	return nil
}

// lineOf finds the line a result event id answers: result-<id>,
// result-<id>-conflict-<hash>, or a replay's result-<id>-replay-<n>.
func (r *run) lineOf(eventID string) (int, bool) {
	if i, ok := r.byEventID[eventID]; ok {
		return i, true
	}
	if k := strings.LastIndex(eventID, "-replay-"); k > 0 {
		i, ok := r.byEventID[eventID[:k]]
		return i, ok
	}
	return 0, false
}

func (r *run) closeAllDone() { r.closeOnce.Do(func() { close(r.allDone) }) }

// pending is one publish awaiting its ack.
type pending struct {
	index int
	msg   *nats.Msg
	ack   jetstream.PubAckFuture
	span  trace.Span
}

// publishAll publishes every valid line without a result, at most
// MaxPending awaiting their acks, at most Rate per second. It stops
// publishing when ctx ends but waits for the acks of what it sent.
func (r *run) publishAll(ctx context.Context) error {
	window := make(chan pending, r.cfg.MaxPending)
	var limiter *rate.Limiter
	if r.cfg.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(r.cfg.Rate), max(1, int(r.cfg.Rate/50)))
	}
	// The acks are awaited in publish order by one goroutine; they arrive
	// in about that order, so waiting on the oldest is waiting on the next.
	// It is not bound to ctx: an interrupted run still learns what it sent.
	ackCtx, cancelAcks := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelAcks()
	var g errgroup.Group
	g.Go(func() error {
		var failed error
		for p := range window {
			if err := r.awaitAck(ackCtx, p); err != nil && failed == nil {
				failed = err
			}
		}
		return failed
	})
	var sendErr error
	for i, l := range r.lines {
		if l.Err != nil || r.finished(i) {
			continue
		}
		if limiter != nil {
			if err := limiter.Wait(ctx); err != nil {
				break
			}
		}
		if ctx.Err() != nil {
			break
		}
		msg := r.message(l)
		_, span := telemetry.StartPublish(ctx, r.cfg.Tracer, r.cfg.Propagator, msg, l.Command,
			trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: r.runSpan}))
		ack, err := r.cfg.JetStream.PublishMsgAsync(msg, jetstream.WithMsgID(l.Command.ID))
		if err != nil {
			span.SetStatus(codes.Error, "publish failed")
			span.End()
			sendErr = fmt.Errorf("publish line %d: %w", l.Number, err)
			break
		}
		window <- pending{index: i, msg: msg, ack: ack, span: span}
	}
	close(window)
	err := g.Wait()
	return errors.Join(sendErr, err)
}

func (r *run) finished(i int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hasResult[i]
}

// message is line l as a command on its bulk subject: a migration's
// commands go in the bulk lane, so that they never stand in front of the
// commands upstream services publish one at a time (docs/CONTRACT.md §2).
func (r *run) message(l commandfile.Line) *nats.Msg {
	msg := nats.NewMsg(r.cfg.Subjects.BulkCommand(l.Command.Connection, l.Command.Resource))
	msg.Header.Set("Content-Type", messages.ContentType)
	msg.Data = l.Body
	return msg
}

// awaitAck waits for p's ack; a failed publish is retried synchronously
// with backoff (the same Nats-Msg-Id, so JetStream keeps one copy).
func (r *run) awaitAck(ctx context.Context, p pending) error {
	var ack *jetstream.PubAck
	var err error
	select {
	case ack = <-p.ack.Ok():
	case err = <-p.ack.Err():
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil && ctx.Err() == nil {
		b := backoff.WithMaxRetries(backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond)), uint64(r.cfg.PublishRetries))
		err = backoff.Retry(func() error {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			a, perr := r.cfg.JetStream.PublishMsg(actx, p.msg, jetstream.WithMsgID(r.lines[p.index].Command.ID))
			ack = a
			return perr
		}, backoff.WithContext(b, ctx))
	}
	if err != nil {
		p.span.SetStatus(codes.Error, "publish failed")
		p.span.End()
		return fmt.Errorf("publish line %d: %w", r.lines[p.index].Number, err)
	}
	p.span.SetAttributes(attribute.Int64("messaging.nats.stream_sequence", int64(ack.Sequence)))
	p.span.End()
	r.published.Add(1)
	if ack.Duplicate {
		r.duplicates.Add(1)
	}
	r.mu.Lock()
	if !r.hasResult[p.index] {
		r.outcomes[p.index].Status = StatusPending
		r.waiting++
	}
	r.mu.Unlock()
	return nil
}

func (r *run) progress() Progress {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Published counts acknowledged publishes only: a progress display
	// never shows more published than JetStream confirmed.
	published := int(r.published.Load())
	p := Progress{Previous: r.previous, Published: published, Done: r.done,
		Elapsed: time.Since(r.start), Results: make(map[messages.Status]int, len(r.counts))}
	for _, l := range r.lines {
		if l.Err == nil {
			p.Total++
		}
	}
	for s, n := range r.counts {
		p.Results[s] = n
	}
	if fresh := r.done - r.previous; fresh > 0 && p.Total > r.done {
		perLine := p.Elapsed / time.Duration(fresh)
		p.ETA = perLine * time.Duration(p.Total-r.done)
	}
	return p
}

func (r *run) reportProgress(stop <-chan struct{}) {
	t := time.NewTicker(r.cfg.ProgressEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.cfg.Progress(r.progress())
		}
	}
}

func (r *run) summary(batch string, interrupted, timedOut bool, publishTime time.Duration) *Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &Summary{Batch: batch, Outcomes: append([]Outcome(nil), r.outcomes...), Counts: map[string]int{},
		Previous: r.previous, Published: int(r.published.Load()), Duplicates: int(r.duplicates.Load()),
		PublishTime: publishTime, Elapsed: time.Since(r.start), Interrupted: interrupted, TimedOut: timedOut}
	for i := range s.Outcomes {
		o := &s.Outcomes[i]
		o.Previous = r.before[i]
		s.Counts[o.Status]++
		if len(o.SkippedFields) > 0 {
			s.SkippedFieldLines++
		}
	}
	return s
}
