package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/oauthsync/oauthsync/internal/telemetry"
	"github.com/oauthsync/oauthsync/worker/dedup"
)

// headerCarrier adapts NATS headers to OpenTelemetry propagation.
type headerCarrier = telemetry.HeaderCarrier

// Span attribute keys of the worker's own spans. The messaging ones follow
// the OpenTelemetry messaging semantic conventions; NATS has no entry there,
// so its own are under messaging.nats.*.
const (
	attrCommandID  = semconv.MessagingMessageIDKey
	attrConnection = attribute.Key("oauthsync.connection")
	attrResource   = attribute.Key("oauthsync.resource")
	attrBatch      = attribute.Key("oauthsync.batch")
	attrProvider   = attribute.Key("oauthsync.provider")
	attrStatus     = attribute.Key("oauthsync.status")
	attrDeliveries = attribute.Key("messaging.nats.delivery_count")
	attrStreamSeq  = attribute.Key("messaging.nats.stream_sequence")
	attrStream     = attribute.Key("messaging.nats.stream")
	attrAttempt    = attribute.Key("oauthsync.attempt")
	// attrRetryWait is set on a provider attempt span that failed
	// transiently: the wait chosen before the next attempt, in ms.
	attrRetryWait = attribute.Key("oauthsync.retry.wait_ms")
	// attrNakDelay is set on the handed_back event: the redelivery delay.
	attrNakDelay = attribute.Key("oauthsync.redelivery.delay_ms")
	// attrFlowWait is set on the flow_wait event: how long flow control
	// asked the command to wait, as first told.
	attrFlowWait  = attribute.Key("oauthsync.flow.wait_ms")
	attrErrorCode = attribute.Key("oauthsync.error.code")
	// attrReplay is the replay token of a replayed dead letter.
	attrReplay = attribute.Key("oauthsync.replay")
)

// messagingNATS is messaging.system for NATS (not a well-known value of the
// conventions, which allow others).
var messagingNATS = semconv.MessagingSystemKey.String("nats")

// startProcessSpan starts the consumer span of one delivery, as a child of
// the trace context the command's headers carry. Its name is
// "process <destination template>": the consumer's filter subject, since a
// command's own subject holds its resource id (unbounded cardinality); the
// subject itself is messaging.destination.name.
func (w *Worker) startProcessSpan(msg jetstream.Msg, meta *jetstream.MsgMetadata, l *consumeLoop) (context.Context, trace.Span) {
	parent := w.cfg.Propagator.Extract(context.Background(), headerCarrier(msg.Headers()))
	if w.untraced {
		return w.tracer.Start(parent, l.spanName)
	}
	return w.tracer.Start(parent, l.spanName,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			messagingNATS,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(msg.Subject()),
			semconv.MessagingDestinationTemplate(l.filter),
			semconv.MessagingConsumerGroupName(l.consumer),
			semconv.MessagingMessageBodySize(len(msg.Data())),
			attrStream.String(meta.Stream),
			attrDeliveries.Int64(int64(meta.NumDelivered)),
			attrStreamSeq.Int64(int64(meta.Sequence.Stream)),
		))
}

// childSpan starts an internal span for a call that crosses to the dedup
// store or JetStream.
func (w *Worker) childSpan(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return w.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// endSpan records err (if any) and ends span. msg is a scrubbed description.
func endSpan(span trace.Span, err error, msg string) {
	if err != nil {
		span.SetStatus(codes.Error, msg)
	}
	span.End()
}

// deliveryTraceTTL is how long the trace context of a delivery that handed
// its command back is kept for the next delivery to link to.
const deliveryTraceTTL = time.Hour

// traceContext is the W3C trace context format of the delivery links,
// whatever Config.Propagator is.
var traceContext propagation.TraceContext

// noteHandBack records, for a command being handed back, the trace context
// of this delivery's span, so that the next delivery links to it (see
// linkPreviousDelivery). Only hand-backs pay for it, and only when the span
// is recorded: the hot path never touches the record.
func (w *Worker) noteHandBack(ctx context.Context, j *job) {
	if j.id == "" || !j.span.IsRecording() {
		return
	}
	carrier := propagation.MapCarrier{}
	traceContext.Inject(trace.ContextWithSpan(context.Background(), j.span), carrier)
	tp := carrier.Get("traceparent")
	if tp == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.StoreTimeout)
	defer cancel()
	if err := w.cfg.Store.PutDeliveryTrace(ctx, dedup.DeliveryTraceRequest{CommandID: j.id, Traceparent: tp, TTL: deliveryTraceTTL}); err != nil {
		w.cfg.Logger.Debug("recording the delivery's trace for the next one failed", w.logAttrs(j, slog.String("error", err.Error()))...)
	}
}

// linkPreviousDelivery links a redelivered command's span to the span of
// the delivery that last handed it back, when one was recorded. A delivery
// lost without a hand-back (a crash, an expired ack wait) leaves no record
// and so no link.
func (w *Worker) linkPreviousDelivery(ctx context.Context, j *job) {
	if j.meta.NumDelivered < 2 || j.id == "" || !j.span.IsRecording() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.StoreTimeout)
	defer cancel()
	tp, err := w.cfg.Store.DeliveryTrace(ctx, j.id)
	if err != nil {
		w.cfg.Logger.Debug("reading the previous delivery's trace failed", w.logAttrs(j, slog.String("error", err.Error()))...)
		return
	}
	if tp == "" {
		return
	}
	sc := trace.SpanContextFromContext(traceContext.Extract(context.Background(), propagation.MapCarrier{"traceparent": tp}))
	if sc.IsValid() {
		j.span.AddLink(trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.String("oauthsync.link", "previous_delivery")}})
	}
}

// isNoopTracing reports whether tp is OpenTelemetry's no-op provider.
func isNoopTracing(tp trace.TracerProvider) bool {
	_, ok := tp.(noop.TracerProvider)
	return ok
}
