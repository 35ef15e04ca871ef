package providerhttp_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/oauthsync/oauthsync/worker/providerhttp"
)

const canary = "CANARY-provider-credential"

// TestCountsByStatusClassAndRecordsNoHeader sends one request of each
// outcome and reads the counter and the spans.
func TestCountsByStatusClassAndRecordsNoHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = fmt.Fprint(w, `{"secret":"`+canary+`"}`)
		case "/moved":
			http.Redirect(w, r, "https://elsewhere.example.com/", http.StatusFound)
		case "/missing":
			http.NotFound(w, r)
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/reset":
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			_ = conn.Close()
		}
	}))
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	client := providerhttp.New(providerhttp.Config{Connection: "conn-a", Provider: "prov", TracerProvider: tp, MeterProvider: mp})
	defer client.CloseIdleConnections()

	for _, path := range []string{"/ok", "/ok", "/moved", "/missing", "/down", "/reset"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path+"?_id=abc", strings.NewReader(`{"clientSecret":"`+canary+`"}`))
		req.Header.Set("Authorization", "Bearer "+canary)
		req.Header.Set("X-Auth-Token", canary)
		resp, err := client.Do(req)
		if path == "/reset" {
			if err == nil {
				t.Fatal("a reset connection gave no error")
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		_ = resp.Body.Close()
		if path == "/moved" && resp.StatusCode != http.StatusFound {
			t.Fatalf("a redirect was followed: %d", resp.StatusCode)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != providerhttp.RequestsMetric {
				t.Errorf("unexpected metric %s (otelhttp's own metrics must be off)", m.Name)
				continue
			}
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				conn, _ := p.Attributes.Value("connection")
				prov, _ := p.Attributes.Value("provider")
				if conn.AsString() != "conn-a" || prov.AsString() != "prov" || p.Attributes.Len() != 3 {
					t.Errorf("labels %v", p.Attributes.ToSlice())
				}
				class, _ := p.Attributes.Value("status_class")
				got[class.AsString()] += p.Value
			}
		}
	}
	want := map[string]int64{"2xx": 2, "3xx": 1, "4xx": 1, "5xx": 1, "error": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests by class %v, want %v", got, want)
	}

	ended := spans.GetSpans()
	if len(ended) != 6 {
		t.Fatalf("%d spans, want one per request", len(ended))
	}
	for _, s := range ended {
		text := fmt.Sprint(s.Name, s.Attributes, s.Events, s.Status)
		if strings.Contains(text, canary) {
			t.Errorf("span %s records a credential or a body: %s", s.Name, text)
		}
		for _, a := range s.Attributes {
			if strings.HasPrefix(string(a.Key), "http.request.header") || strings.HasPrefix(string(a.Key), "http.response.header") {
				t.Errorf("span %s records header %s", s.Name, a.Key)
			}
		}
		if !hasKey(s.Attributes, "url.full") || !hasKey(s.Attributes, "http.request.method") {
			t.Errorf("span %s lacks the HTTP conventions' attributes: %v", s.Name, s.Attributes)
		}
	}
}

func hasKey(attrs []attribute.KeyValue, key string) bool {
	for _, a := range attrs {
		if string(a.Key) == key {
			return true
		}
	}
	return false
}

func TestTracingOffStillPropagatesTheTraceContext(t *testing.T) {
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator()) })
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("traceparent")
	}))
	defer srv.Close()
	client := providerhttp.New(providerhttp.Config{Connection: "conn-a", Provider: "prov",
		TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: sdkmetric.NewMeterProvider()})
	defer client.CloseIdleConnections()

	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled, Remote: true})
	for _, c := range []struct {
		ctx  context.Context
		want string
	}{
		{trace.ContextWithRemoteSpanContext(context.Background(), parent), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{context.Background(), ""},
	} {
		req, _ := http.NewRequestWithContext(c.ctx, http.MethodGet, srv.URL, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if tp := <-got; tp != c.want {
			t.Errorf("provider got traceparent %q; want %q", tp, c.want)
		}
		if h := req.Header.Get("traceparent"); h != "" {
			t.Errorf("the caller's request was modified: traceparent %q", h)
		}
	}
}
