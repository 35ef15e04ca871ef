package worker

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker/flow"
)

const meterName = "github.com/oauthsync/oauthsync/worker"

// The worker's OpenTelemetry instruments. The Prometheus exporter turns
// each name into the one deploy/METRICS.md documents ('.' → '_', "_total"
// after a counter, "_seconds" after a histogram in seconds):
// oauthsync.commands → oauthsync_commands_total, and so on. The provider
// request counter (oauthsync.provider.requests) lives in the providers'
// HTTP client, worker/providerhttp.
const (
	metricCommands     = "oauthsync.commands"
	metricEndToEnd     = "oauthsync.command.end_to_end.duration"
	metricProcessing   = "oauthsync.command.processing.duration"
	metricRetries      = "oauthsync.provider.retries"
	metricRedeliveries = "oauthsync.redeliveries"
	metricDuplicates   = "oauthsync.duplicates"
	metricIDConflicts  = "oauthsync.id_conflicts"
	metricDeadLetters  = "oauthsync.dead_letters"
	metricPanics       = "oauthsync.panics"
	metricInFlight     = "oauthsync.commands.in_flight"
	metricPending      = "oauthsync.consumer.pending"
	metricAckPending   = "oauthsync.consumer.ack_pending"
	metricStore        = "oauthsync.dedup_store.duration"
	metricFlowWaits    = "oauthsync.flow.waits"
	metricMerged       = "oauthsync.commands.merged"
	metricCircuit      = "oauthsync.circuit.state"
	metricCircuitTrans = "oauthsync.circuit.transitions"
)

// unroutedLabel is the connection label of the catch-all consumer.
const unroutedLabel = "_unrouted"

// Bucket boundaries in seconds. A command's end-to-end time includes its
// wait in the stream, so it reaches minutes under a backlog; processing is
// bounded by the retry budget and the redelivery delays; a store round trip
// is a millisecond or so.
var (
	commandBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600}
	storeBuckets   = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
)

// Store operations, the operation label of oauthsync.dedup_store.duration.
type storeOp int

const (
	opBegin storeOp = iota
	opComplete
	opRenew
	opRelease
	opSight
	numStoreOps
)

var storeOpNames = [numStoreOps]string{"begin", "complete", "renew", "release", "sight"}

// instruments are the worker's metric instruments.
type instruments struct {
	commands     metric.Int64Counter
	endToEnd     metric.Float64Histogram
	processing   metric.Float64Histogram
	retries      metric.Int64Counter
	redeliveries metric.Int64Counter
	duplicates   metric.Int64Counter
	idConflicts  metric.Int64Counter
	deadLetters  metric.Int64Counter
	panics       metric.Int64Counter
	inFlight     metric.Int64UpDownCounter
	pending      metric.Int64ObservableGauge
	ackPending   metric.Int64ObservableGauge
	store        metric.Float64Histogram
	// Flow control (flowcontrol.go).
	flowWaits      metric.Int64Counter
	mergedCommands metric.Int64Counter
	circuitState   metric.Int64ObservableGauge
	circuitChanges metric.Int64Counter

	// storeOps are the attribute sets of the store operations.
	storeOps [numStoreOps]metric.MeasurementOption
}

func newInstruments(m metric.Meter) (*instruments, error) {
	var errs []error
	check := func(err error) { errs = append(errs, err) }
	in := &instruments{}
	var err error
	in.commands, err = m.Int64Counter(metricCommands, metric.WithUnit("{command}"),
		metric.WithDescription("Commands finished, by connection, provider and terminal status (a duplicate answered with its stored result is not counted again)."))
	check(err)
	in.endToEnd, err = m.Float64Histogram(metricEndToEnd, metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(commandBuckets...),
		metric.WithDescription("Command publish time (JetStream timestamp) to its result published."))
	check(err)
	in.processing, err = m.Float64Histogram(metricProcessing, metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(commandBuckets...),
		metric.WithDescription("The finishing delivery, from received to result published."))
	check(err)
	in.retries, err = m.Int64Counter(metricRetries, metric.WithUnit("{retry}"),
		metric.WithDescription("In-process retries after a transient provider failure."))
	check(err)
	in.redeliveries, err = m.Int64Counter(metricRedeliveries, metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries with a delivery count above 1."))
	check(err)
	in.duplicates, err = m.Int64Counter(metricDuplicates, metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries answered with a stored result (the command had finished)."))
	check(err)
	in.idConflicts, err = m.Int64Counter(metricIDConflicts, metric.WithUnit("{delivery}"),
		metric.WithDescription("Deliveries refused as id_conflict (a known id with another payload)."))
	check(err)
	in.deadLetters, err = m.Int64Counter(metricDeadLetters, metric.WithUnit("{command}"),
		metric.WithDescription("Commands dead-lettered, by error code."))
	check(err)
	in.panics, err = m.Int64Counter(metricPanics, metric.WithUnit("{command}"),
		metric.WithDescription("Commands whose handling panicked (recovered: dead-lettered with internal_error)."))
	check(err)
	in.inFlight, err = m.Int64UpDownCounter(metricInFlight, metric.WithUnit("{command}"),
		metric.WithDescription("Commands being worked on now."))
	check(err)
	in.pending, err = m.Int64ObservableGauge(metricPending, metric.WithUnit("{message}"),
		metric.WithDescription("Messages not yet delivered to the connection's consumer (read from JetStream)."))
	check(err)
	in.ackPending, err = m.Int64ObservableGauge(metricAckPending, metric.WithUnit("{message}"),
		metric.WithDescription("Messages delivered to the connection's consumer, not yet acknowledged (read from JetStream)."))
	check(err)
	in.store, err = m.Float64Histogram(metricStore, metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(storeBuckets...),
		metric.WithDescription("Dedup store round trips, by operation."))
	check(err)
	in.flowWaits, err = m.Int64Counter(metricFlowWaits, metric.WithUnit("{wait}"),
		metric.WithDescription("Times a connection's pulls or commands waited for flow control, by reason: rate_limit, provider_wait (a 429 or 209's reset, fleet-wide), circuit_open, turn (behind another command of its resource in this worker)."))
	check(err)
	in.mergedCommands, err = m.Int64Counter(metricMerged, metric.WithUnit("{command}"),
		metric.WithDescription("Commands that rode in another command's write of their resource (a merged write: one provider call for several commands), by connection."))
	check(err)
	in.circuitState, err = m.Int64ObservableGauge(metricCircuit, metric.WithUnit("{state}"),
		metric.WithDescription("A connection's circuit as this worker sees the fleet's: 0 closed, 1 half-open (one probe command may go), 2 open."))
	check(err)
	in.circuitChanges, err = m.Int64Counter(metricCircuitTrans, metric.WithUnit("{transition}"),
		metric.WithDescription("Circuit transitions this worker made, by the state entered (open, closed)."))
	check(err)
	for op, name := range storeOpNames {
		in.storeOps[op] = metric.WithAttributeSet(attribute.NewSet(attribute.String("operation", name)))
	}
	return in, errors.Join(errs...)
}

// connMetrics are the precomputed attribute sets of one consumer: building
// a set sorts and hashes its attributes, so none is built per command.
type connMetrics struct {
	// label is the connection label: the connection's name, or _unrouted;
	// provider the provider label ("" for _unrouted).
	label, provider string
	conn            metric.MeasurementOption // connection
	// consumer labels the consumer gauges: connection and lane.
	consumer     metric.MeasurementOption
	connProvider metric.MeasurementOption // connection, provider
	byStatus     map[messages.Status]metric.MeasurementOption
	byCode       map[messages.ErrorCode]metric.MeasurementOption
	// byWait and byCircuit: flow waits by reason, circuit transitions by
	// the state entered.
	byWait, byCircuit map[string]metric.MeasurementOption
}

var (
	allStatuses = []messages.Status{messages.StatusApplied, messages.StatusUnchanged, messages.StatusSuperseded,
		messages.StatusRejected, messages.StatusFailed}
	allCodes = []messages.ErrorCode{messages.CodeInvalidCommand, messages.CodeUnknownConnection, messages.CodeUnsupportedField,
		messages.CodeIDConflict, messages.CodeProviderRejected, messages.CodeProviderUnauthorized, messages.CodeProviderNotFound,
		messages.CodeProviderUnavailable, messages.CodeRateLimited, messages.CodeTimeout, messages.CodeInternalError}
)

// inLane is m for the consumer of another lane of the connection: the
// same series but for the consumer gauges.
func (m *connMetrics) inLane(lane string) *connMetrics {
	c := *m
	c.consumer = metric.WithAttributeSet(attribute.NewSet(attribute.String("connection", m.label), attribute.String("lane", lane)))
	return &c
}

func newConnMetrics(label, provider string) *connMetrics {
	conn := attribute.String("connection", label)
	prov := attribute.String("provider", provider)
	m := &connMetrics{
		label:        label,
		provider:     provider,
		conn:         metric.WithAttributeSet(attribute.NewSet(conn)),
		consumer:     metric.WithAttributeSet(attribute.NewSet(conn, attribute.String("lane", laneInteractive))),
		connProvider: metric.WithAttributeSet(attribute.NewSet(conn, prov)),
		byStatus:     make(map[messages.Status]metric.MeasurementOption, len(allStatuses)),
		byCode:       make(map[messages.ErrorCode]metric.MeasurementOption, len(allCodes)),
	}
	for _, s := range allStatuses {
		m.byStatus[s] = metric.WithAttributeSet(attribute.NewSet(conn, prov, attribute.String("status", string(s))))
	}
	for _, c := range allCodes {
		m.byCode[c] = metric.WithAttributeSet(attribute.NewSet(conn, attribute.String("code", string(c))))
	}
	m.byWait = map[string]metric.MeasurementOption{}
	for _, r := range []string{waitRateLimit, waitProvider, waitCircuit, waitTurn} {
		m.byWait[r] = metric.WithAttributeSet(attribute.NewSet(conn, attribute.String("reason", r)))
	}
	m.byCircuit = map[string]metric.MeasurementOption{}
	for _, st := range []string{flow.Open, flow.Closed} {
		m.byCircuit[st] = metric.WithAttributeSet(attribute.NewSet(conn, attribute.String("state", st)))
	}
	return m
}

// flowWait returns the attribute set of a flow wait's reason.
func (m *connMetrics) flowWait(reason string) metric.MeasurementOption { return m.byWait[reason] }

// circuit returns the attribute set of a circuit transition into state.
func (m *connMetrics) circuit(state string) metric.MeasurementOption { return m.byCircuit[state] }

// circuitGauge is the oauthsync.circuit.state value of a circuit state.
func circuitGauge(state string) int64 {
	switch state {
	case flow.HalfOpen:
		return 1
	case flow.Open:
		return 2
	}
	return 0
}

// observeCircuits reports each connection's circuit state.
func (w *Worker) observeCircuits(ctx context.Context, o metric.Observer) error {
	for _, c := range w.cfg.Connections {
		st, _ := w.gates[c.Name].Status(ctx)
		o.ObserveInt64(w.inst.circuitState, circuitGauge(st.Circuit), w.consumerMetrics[consumerName(c.Name)].conn)
	}
	return nil
}

// status returns the attribute set of a terminal status. The statuses are
// a closed set; anything else would be a bug, labelled "unknown" rather than
// let an unbounded value in.
func (m *connMetrics) status(s messages.Status) metric.MeasurementOption {
	if o, ok := m.byStatus[s]; ok {
		return o
	}
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("connection", m.label),
		attribute.String("provider", m.provider), attribute.String("status", "unknown")))
}

// code returns the attribute set of a dead letter's error code (a closed
// set, as for status).
func (m *connMetrics) code(c messages.ErrorCode) metric.MeasurementOption {
	if o, ok := m.byCode[c]; ok {
		return o
	}
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("connection", m.label), attribute.String("code", "unknown")))
}

// finished records a command's terminal result, published: its count, its
// end-to-end time (from the JetStream timestamp of the command's first
// publication) and this delivery's processing time.
func (w *Worker) finished(ctx context.Context, j *job, status messages.Status) {
	attrs := j.metrics.status(status)
	w.inst.commands.Add(ctx, 1, attrs)
	now := w.cfg.now()
	w.inst.endToEnd.Record(ctx, max(now.Sub(j.meta.Timestamp).Seconds(), 0), attrs)
	w.inst.processing.Record(ctx, max(now.Sub(j.started).Seconds(), 0), attrs)
}
