package worker

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// headerCarrier adapts NATS headers to OpenTelemetry propagation. NATS
// header names are case-sensitive on the wire, while publishers write
// "traceparent" or "Traceparent": Get matches either.
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string {
	if v, ok := c[key]; ok && len(v) > 0 {
		return v[0]
	}
	for k, v := range c {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (c headerCarrier) Set(key, value string) { c[key] = []string{value} }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// Span attribute keys of the worker's own spans.
const (
	attrCommandID  = attribute.Key("messaging.message.id")
	attrConnection = attribute.Key("oauthsync.connection")
	attrResource   = attribute.Key("oauthsync.resource")
	attrBatch      = attribute.Key("oauthsync.batch")
	attrProvider   = attribute.Key("oauthsync.provider")
	attrStatus     = attribute.Key("oauthsync.status")
	attrDeliveries = attribute.Key("messaging.nats.delivery_count")
	attrStreamSeq  = attribute.Key("messaging.nats.stream_sequence")
	attrAttempt    = attribute.Key("oauthsync.attempt")
)

// startProcessSpan starts the consumer span of one delivery, as a child of
// the trace context the command's headers carry.
func (w *Worker) startProcessSpan(msg jetstream.Msg, meta *jetstream.MsgMetadata, consumer string) (context.Context, trace.Span) {
	parent := w.cfg.Propagator.Extract(context.Background(), headerCarrier(msg.Headers()))
	return w.tracer.Start(parent, "process "+w.cfg.Streams.Commands,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.consumer.group.name", consumer),
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
