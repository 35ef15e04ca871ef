package telemetry

import (
	"context"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/messages"
)

// HeaderCarrier adapts NATS headers to OpenTelemetry propagation. NATS
// header names are case-sensitive on the wire, while publishers write
// "traceparent" or "Traceparent": Get matches either.
type HeaderCarrier nats.Header

// Get returns the first value of key, matched exactly or else ignoring case.
func (c HeaderCarrier) Get(key string) string {
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

// Set replaces key's values with value.
func (c HeaderCarrier) Set(key, value string) { c[key] = []string{value} }

// Keys returns the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// StartPublish starts the producer span of publishing cmd on msg's subject
// (OpenTelemetry messaging conventions; ids and routing only, never a
// field's value) and writes its trace context into msg's headers, so the
// worker's processing span continues the trace. End the span when the
// publish is acknowledged.
func StartPublish(ctx context.Context, tracer trace.Tracer, prop propagation.TextMapPropagator, msg *nats.Msg, cmd *messages.Command, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	opts = append(opts, trace.WithSpanKind(trace.SpanKindProducer))
	ctx, span := tracer.Start(ctx, "send "+msg.Subject, opts...)
	if span.IsRecording() { // the attributes cost a migration ~10% when nothing records them
		span.SetAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", msg.Subject),
			attribute.String("messaging.message.id", cmd.ID),
			attribute.String("oauthsync.connection", cmd.Connection),
			attribute.String("oauthsync.resource", cmd.Resource),
		)
		if cmd.Batch != "" {
			span.SetAttributes(attribute.String("oauthsync.batch", cmd.Batch))
		}
	}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	prop.Inject(ctx, HeaderCarrier(msg.Header))
	return ctx, span
}
