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
	"golang.org/x/time/rate"
)

// exporterConfigured reports whether OpenTelemetry's standard environment
// asks for a span exporter. Nothing configured, nothing sent.
func exporterConfigured() bool {
	if v := os.Getenv("OTEL_TRACES_EXPORTER"); v != "" {
		return v != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// setupTracing builds the tracer provider from OpenTelemetry's standard
// environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_*).
//
// With no exporter configured it returns a no-op provider: spans that no one
// exports are not recorded at all, while the W3C context a command carries
// still flows into its result's headers (a non-recording span keeps its
// parent's trace and span ids).
func setupTracing(ctx context.Context) (trace.TracerProvider, func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !exporterConfigured() {
		tp := noop.NewTracerProvider()
		otel.SetTracerProvider(tp)
		return tp, func(context.Context) error { return nil }, nil
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "syncworker")),
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
	otel.SetTracerProvider(tp)
	return tp, tp.Shutdown, nil
}

// providerHTTPClient is the client a connection's adapter calls its
// provider with: rate-limited per connection and traced (one client span
// per request; headers, and so credentials, are not recorded).
func providerHTTPClient(tp trace.TracerProvider, perSecond float64, burst int) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	var rt http.RoundTripper = otelhttp.NewTransport(base, otelhttp.WithTracerProvider(tp))
	if perSecond > 0 {
		rt = &rateLimited{next: rt, limiter: rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))}
	}
	return &http.Client{Transport: rt}
}

// rateLimited waits for its limiter before each request, bounded by the
// request's context.
type rateLimited struct {
	next    http.RoundTripper
	limiter *rate.Limiter
}

func (r *rateLimited) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := r.limiter.Wait(req.Context()); err != nil {
		return nil, err
	}
	return r.next.RoundTrip(req)
}
