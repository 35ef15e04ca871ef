package telemetry

import (
	"testing"

	"github.com/nats-io/nats.go"
)

func TestTracesConfigured(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console"}, true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, false},
		{map[string]string{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://127.0.0.1:4318"}, false},
	} {
		if got := TracesConfigured(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("TracesConfigured(%v) = %v, want %v", c.env, got, c.want)
		}
	}
}

func TestHeaderCarrierMatchesAnyCase(t *testing.T) {
	h := nats.Header{"traceparent": {"a"}, "Baggage": {"b"}}
	c := HeaderCarrier(h)
	if c.Get("traceparent") != "a" || c.Get("Traceparent") != "a" || c.Get("baggage") != "b" || c.Get("tracestate") != "" {
		t.Errorf("Get: %q %q %q", c.Get("traceparent"), c.Get("Traceparent"), c.Get("baggage"))
	}
	c.Set("tracestate", "x")
	if h.Get("tracestate") != "x" || len(c.Keys()) != 3 {
		t.Errorf("Set/Keys: %v", h)
	}
}
