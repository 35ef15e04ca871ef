package main

import (
	"context"
	"net/http"
	"os"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// propagator carries W3C trace context and baggage: installed as the global
// propagator, and used by sample to fill a command's headers.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// exporterConfigured reports whether OpenTelemetry's standard environment
// asks for a span exporter (the same rule as syncworker's).
func exporterConfigured() bool {
	if v := os.Getenv("OTEL_TRACES_EXPORTER"); v != "" {
		return v != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// setupTracing builds a tracer provider from OpenTelemetry's standard
// environment, or a no-op one when no exporter is configured. The W3C
// propagator is installed either way.
func setupTracing(ctx context.Context) (trace.TracerProvider, func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagator)
	if !exporterConfigured() {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "syncsim")),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
	)
	if err != nil {
		return nil, nil, err
	}
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
	return tp, tp.Shutdown, nil
}

// traced wraps a simulator in a server span per request, joined to the
// caller's trace (the worker's provider call) through traceparent. Headers
// and bodies are not recorded.
func traced(tp trace.TracerProvider) func(simulator) http.Handler {
	return func(s simulator) http.Handler {
		return otelhttp.NewHandler(s.handler, s.provider,
			otelhttp.WithTracerProvider(tp),
			otelhttp.WithPropagators(propagator),
			otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }))
	}
}
