package providerhttp

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/oauthsync/oauthsync/adapters"
)

// ScopeName is the instrumentation scope of the request counter.
const ScopeName = "github.com/oauthsync/oauthsync/worker/providerhttp"

// RequestsMetric is the name of the request counter (Prometheus:
// oauthsync_provider_requests_total).
const RequestsMetric = "oauthsync.provider.requests"

// TokenRequestsMetric is the counter of credential requests (token
// requests, logins: those the adapter marked with adapters.WithTokenRequest;
// Prometheus: oauthsync_provider_token_requests_total). They are not
// counted in RequestsMetric.
const TokenRequestsMetric = "oauthsync.provider.token_requests"

// Status classes of the request counter.
const (
	Class2xx   = "2xx"
	Class3xx   = "3xx"
	Class4xx   = "4xx"
	Class5xx   = "5xx"
	ClassError = "error"
)

// Config configures one connection's client. Zero values take the
// documented defaults.
type Config struct {
	// Connection and Provider label the request counter. Both bounded:
	// configured names, never anything a command carries.
	Connection, Provider string
	// TracerProvider traces each request. Default otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider counts the requests. Default otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Transport is the base transport. Default: a clone of
	// http.DefaultTransport with MaxIdleConnsPerHost 64.
	Transport http.RoundTripper
}

// New returns the client of one connection: counted and
// traced, as the package documentation describes. It never follows a
// redirect (docs/CONTRACT.md §5: only the connection's base URL is called); a 3xx
// is returned, and counted, as it is.
func New(cfg Config) *http.Client {
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = otel.GetTracerProvider()
	}
	if cfg.MeterProvider == nil {
		cfg.MeterProvider = otel.GetMeterProvider()
	}
	base := cfg.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		base = t
	}
	var rt http.RoundTripper
	if _, off := cfg.TracerProvider.(tracenoop.TracerProvider); off {
		rt = propagating{next: base}
	} else {
		rt = otelhttp.NewTransport(base,
			otelhttp.WithTracerProvider(cfg.TracerProvider),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()))
	}
	rt = newCounting(rt, cfg.MeterProvider, cfg.Connection, cfg.Provider)
	return &http.Client{Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// counting counts each request by its status class.
type counting struct {
	next    http.RoundTripper
	counter metric.Int64Counter
	tokens  metric.Int64Counter
	// byClass holds the precomputed measurement options: 2xx..5xx at
	// index 2..5, error at 0.
	byClass [6]metric.AddOption
}

func newCounting(next http.RoundTripper, mp metric.MeterProvider, connection, provider string) *counting {
	counter, err := mp.Meter(ScopeName).Int64Counter(RequestsMetric,
		metric.WithUnit("{request}"),
		metric.WithDescription("Provider HTTP requests by connection, provider and status class (2xx, 3xx, 4xx, 5xx, error: no response)."))
	if err != nil {
		otel.Handle(err) // the SDK still returns a usable instrument
	}
	tokens, err := mp.Meter(ScopeName).Int64Counter(TokenRequestsMetric,
		metric.WithUnit("{request}"),
		metric.WithDescription("Provider credential requests (access tokens, logins) by connection, provider and status class."))
	if err != nil {
		otel.Handle(err)
	}
	c := &counting{next: next, counter: counter, tokens: tokens}
	classes := [6]string{ClassError, ClassError, Class2xx, Class3xx, Class4xx, Class5xx}
	for i, class := range classes {
		c.byClass[i] = metric.WithAttributeSet(attribute.NewSet(
			attribute.String("connection", connection),
			attribute.String("provider", provider),
			attribute.String("status_class", class)))
	}
	return c
}

// StatusClass is the status_class label of a request's outcome: the
// response's class, or "error" when there is no response (or a status
// outside 200-599).
func StatusClass(resp *http.Response, err error) string {
	return [6]string{ClassError, ClassError, Class2xx, Class3xx, Class4xx, Class5xx}[classIndex(resp, err)]
}

func classIndex(resp *http.Response, err error) int {
	if err != nil || resp == nil {
		return 0
	}
	if i := resp.StatusCode / 100; i >= 2 && i <= 5 {
		return i
	}
	return 0
}

func (c *counting) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	counter := c.counter
	if adapters.IsTokenRequest(req.Context()) {
		counter = c.tokens
	}
	counter.Add(req.Context(), 1, c.byClass[classIndex(resp, err)])
	return resp, err
}

// propagating is the transport when tracing is off (a no-op tracer
// provider): it makes no span, but the trace context the request's context
// carries (the command's, from its traceparent) still reaches the provider,
// injected by the global propagator as otelhttp would. otelhttp is left out
// because, spans or not, it computes its semantic-convention attributes on
// every request (about 6% of the worker's CPU under load).
type propagating struct{ next http.RoundTripper }

func (p propagating) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	prop := otel.GetTextMapPropagator()
	carrier := propagation.MapCarrier{}
	prop.Inject(ctx, carrier)
	if len(carrier) == 0 {
		return p.next.RoundTrip(req)
	}
	r := req.Clone(ctx) // a RoundTripper must not modify its request
	for k, v := range carrier {
		r.Header.Set(k, v)
	}
	return p.next.RoundTrip(r)
}
