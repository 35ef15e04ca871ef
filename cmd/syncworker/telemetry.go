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
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/internal/telemetry"
	"github.com/oauthsync/oauthsync/worker/providerhttp"
)

// metricsExporterConfigured reports whether OpenTelemetry's standard
// environment asks for a metric exporter besides /metrics.
func metricsExporterConfigured() bool {
	if v := os.Getenv("OTEL_METRICS_EXPORTER"); v != "" {
		return v != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") != ""
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
	if !telemetry.TracesConfigured(os.Getenv) && os.Getenv("OTEL_METRICS_EXEMPLAR_FILTER") == "" {
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
func providerHTTPClient(connection, provider string, tp trace.TracerProvider, mp metric.MeterProvider) *http.Client {
	return providerhttp.New(providerhttp.Config{Connection: connection, Provider: provider,
		TracerProvider: tp, MeterProvider: mp})
}
