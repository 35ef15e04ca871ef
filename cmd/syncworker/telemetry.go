package main

import (
	"context"
	"errors"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/oauthsync/oauthsync/worker/providerhttp"
)

// tracesExporterConfigured reports whether OpenTelemetry's standard
// environment asks for a span exporter. Nothing configured, nothing sent.
func tracesExporterConfigured() bool {
	if v := os.Getenv("OTEL_TRACES_EXPORTER"); v != "" {
		return v != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// metricsExporterConfigured reports whether OpenTelemetry's standard
// environment asks for a metric exporter besides /metrics.
func metricsExporterConfigured() bool {
	if v := os.Getenv("OTEL_METRICS_EXPORTER"); v != "" {
		return v != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != ""
}

// newResource describes this process to telemetry backends: service.name
// syncworker unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say
// otherwise.
func newResource(ctx context.Context) (*resource.Resource, error) {
	return resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "syncworker")),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
		resource.WithTelemetrySDK(),
	)
}

// setupTracing builds the tracer provider from OpenTelemetry's standard
// environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER, OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_*).
//
// With no exporter configured it returns a no-op provider: spans that no one
// exports are not recorded at all, while the W3C context a command carries
// still flows into its result's headers (a non-recording span keeps its
// parent's trace and span ids).
func setupTracing(ctx context.Context, res *resource.Resource) (trace.TracerProvider, func(context.Context) error, error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if !tracesExporterConfigured() {
		tp := noop.NewTracerProvider()
		otel.SetTracerProvider(tp)
		return tp, func(context.Context) error { return nil }, nil
	}
	exp, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithBatcher(exp))
	otel.SetTracerProvider(tp)
	return tp, tp.Shutdown, nil
}

// setupMetrics builds the meter provider: always a Prometheus exporter,
// served by the returned handler at /metrics (the OpenTelemetry metrics of
// deploy/METRICS.md, plus the Go runtime's and the process's), and a
// second reader when OpenTelemetry's standard environment asks for one
// (OTEL_METRICS_EXPORTER, OTEL_EXPORTER_OTLP_*; autoexport.NewMetricReader).
// Its shutdown flushes and stops both.
func setupMetrics(ctx context.Context, res *resource.Resource) (metric.MeterProvider, http.Handler, func(context.Context) error, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// No otel_scope_* labels: the label sets are exactly deploy/METRICS.md's.
	prom, err := promexporter.New(promexporter.WithRegisterer(reg), promexporter.WithoutScopeInfo())
	if err != nil {
		return nil, nil, nil, err
	}
	opts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	if !tracesExporterConfigured() && os.Getenv("OTEL_METRICS_EXEMPLAR_FILTER") == "" {
		// Exemplars point at traces: without traces there is nothing to
		// point at, and looking for a sampled span costs on every
		// measurement.
		opts = append(opts, sdkmetric.WithExemplarFilter(exemplar.AlwaysOffFilter))
	}
	if metricsExporterConfigured() {
		r, err := autoexport.NewMetricReader(ctx)
		if err != nil {
			return nil, nil, nil, errors.Join(err, prom.Shutdown(ctx))
		}
		if !autoexport.IsNoneMetricReader(r) {
			opts = append(opts, sdkmetric.WithReader(r))
		}
	}
	mp := sdkmetric.NewMeterProvider(opts...)
	otel.SetMeterProvider(mp)
	return mp, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), mp.Shutdown, nil
}

// providerHTTPClient is the client a connection's adapter calls its
// provider with: rate-limited, counted and traced (worker/providerhttp).
func providerHTTPClient(connection, provider string, tp trace.TracerProvider, mp metric.MeterProvider, perSecond float64, burst int) *http.Client {
	return providerhttp.New(providerhttp.Config{Connection: connection, Provider: provider,
		TracerProvider: tp, MeterProvider: mp, PerSecond: perSecond, Burst: burst})
}
