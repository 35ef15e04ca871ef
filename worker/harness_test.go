package worker_test

import (
	"context"
	"encoding/json"
	"github.com/oauthsync/oauthsync/worker/flow"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
	"github.com/oauthsync/oauthsync/worker/dedup"
	"github.com/oauthsync/oauthsync/worker/dedup/redisdedup"
	"github.com/oauthsync/oauthsync/worker/providerhttp"
)

// Canary credentials: they must never show up in logs, results or spans.
const (
	canaryUserID    = "canaryUser0000001"
	canaryAuthToken = "CANARY-auth-token-9f8e7d"
	canaryAppSecret = "CANARY-app-secret-echoed-by-provider"
	connName        = "rc-test"
)

// Resource ids (Mongo ObjectId shape).
const (
	res1 = "65a7d77142a7e12453052d59"
	res2 = "65a7d77142a7e12453052d5a"
)

// bundle is one isolated test world: its own subjects and streams on the
// machine's NATS, its own key prefix in the real Redis, a Rocket.Chat
// simulator, and a result collector.
type bundle struct {
	t        *testing.T
	nc       *nats.Conn
	js       jetstream.JetStream
	subjects messages.Subjects
	streams  worker.StreamsConfig
	store    dedup.Store
	// storePrefix is the prefix of the store's Redis keys.
	storePrefix string
	sim         *rocketchatsim.Server
	simURL      string
	logs        *syncBuffer
	spans       *tracetest.InMemoryExporter
	tp          *sdktrace.TracerProvider
	metrics     *sdkmetric.ManualReader
	mp          *sdkmetric.MeterProvider

	// extra are connections besides connName (other providers).
	extra []worker.Connection

	mu      sync.Mutex
	results map[string][]*nats.Msg
	arrived chan struct{}
}

func newBundle(t *testing.T) *bundle {
	t.Helper()
	return newBundleOn(t, testenv.NATS(t))
}

// newBundleOn is newBundle on the NATS server nc is connected to.
func newBundleOn(t *testing.T, nc *nats.Conn) *bundle {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	u := testenv.Unique()
	b := &bundle{
		t: t, nc: nc, js: js,
		subjects: messages.Subjects{Prefix: "t" + u},
		streams: worker.StreamsConfig{Commands: "T" + u + "_COMMANDS", Results: "T" + u + "_RESULTS",
			DeadLetter: "T" + u + "_DEADLETTER", Storage: jetstream.MemoryStorage},
		logs:    &syncBuffer{},
		spans:   tracetest.NewInMemoryExporter(),
		results: map[string][]*nats.Msg{},
		arrived: make(chan struct{}, 1),
	}
	b.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(b.spans))
	b.metrics = sdkmetric.NewManualReader()
	b.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(b.metrics))
	t.Cleanup(func() { _ = b.mp.Shutdown(context.Background()) })
	rc := testenv.Redis(t)
	prefix := "oauthsync-test-" + u
	b.storePrefix = prefix
	b.store = redisdedup.New(rc, redisdedup.Config{Prefix: prefix})
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rc.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rc.Del(ctx, iter.Val())
		}
		for _, s := range []string{b.streams.Commands, b.streams.Results, b.streams.DeadLetter} {
			_ = js.DeleteStream(ctx, s)
		}
	})

	// Rocket.Chat's default limit (10 calls a minute) would throttle every
	// test; the rate-limit path is exercised with scripted 429s instead.
	b.sim = rocketchatsim.New(rocketchatsim.Options{UserID: canaryUserID, AuthToken: canaryAuthToken, RateLimit: 1 << 30})
	srv := httptest.NewServer(b.sim)
	t.Cleanup(srv.Close)
	b.simURL = srv.URL
	for _, id := range []string{res1, res2} {
		b.sim.Seed(rocketchatsim.App{ID: id, Name: "app-" + id[len(id)-2:], Active: true,
			RedirectURI: "https://old.example.com/cb", ClientID: "client" + id[len(id)-6:], ClientSecret: canaryAppSecret})
	}

	sub, err := nc.Subscribe(b.subjects.Results(), func(m *nats.Msg) {
		var ev struct {
			Data struct {
				CommandID string `json:"commandId"`
			} `json:"data"`
		}
		_ = json.Unmarshal(m.Data, &ev)
		b.mu.Lock()
		b.results[ev.Data.CommandID] = append(b.results[ev.Data.CommandID], m)
		b.mu.Unlock()
		select {
		case b.arrived <- struct{}{}:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return b
}

// adapter builds a Rocket.Chat adapter on the simulator, traced by the bundle.
func (b *bundle) adapter(authToken string) adapters.Adapter {
	b.t.Helper()
	a, err := rocketchat.New(adapters.Connection{Name: connName, BaseURL: b.simURL,
		Auth:       map[string]messages.Secret{"userId": canaryUserID, "authToken": messages.Secret(authToken)},
		HTTPClient: b.providerClient(connName, rocketchat.Provider)})
	if err != nil {
		b.t.Fatal(err)
	}
	return a
}

// config is a worker configuration with short test timings. Its
// connections have no circuit, so that a provider that keeps failing spends
// the delivery budget and dead-letters, as the tests of retries, dead
// letters and replays need; the flow-control tests set their own.
func (b *bundle) config() worker.Config {
	conns := append([]worker.Connection{{Name: connName, Adapter: b.adapter(canaryAuthToken), MaxInFlight: 4, Secrets: []string{canaryAuthToken}}}, b.extra...)
	for i := range conns {
		if conns[i].Circuit == (flow.CircuitConfig{}) {
			conns[i].Circuit.Failures = -1
		}
	}
	return worker.Config{
		JetStream:      b.js,
		Store:          b.store,
		Connections:    conns,
		Subjects:       b.subjects,
		Streams:        b.streams,
		Logger:         slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TracerProvider: b.tp,
		MeterProvider:  b.mp,
		AckWait:        10 * time.Second,
		RetryBudget:    3 * time.Second,
		InitialBackoff: 10 * time.Millisecond,
		MaxBackoff:     100 * time.Millisecond,
		MaxNakDelay:    500 * time.Millisecond,
		LeaseTTL:       3 * time.Second,
		LeaseWait:      200 * time.Millisecond,
		DrainTimeout:   5 * time.Second,
		DigestKey:      testDigestKey,
		// Short, so that a command for a connection nobody serves is
		// answered within a test.
		UnknownConnectionGrace: 500 * time.Millisecond,
	}
}

// testDigestKey is the payload digest key the test workers share.
var testDigestKey = []byte("worker-test-digest-key-32-bytes!")

// start runs a worker with cfg until the test ends (or stop is called).
func (b *bundle) start(cfg worker.Config) (stop func()) {
	b.t.Helper()
	w, err := worker.New(cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !w.Ready() {
		select {
		case err := <-done:
			b.t.Fatalf("worker stopped before it was ready: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.t.Fatal("worker not ready after 10s")
		}
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					b.t.Errorf("worker.Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				b.t.Error("worker did not stop within 30s")
			}
		})
	}
	b.t.Cleanup(stop)
	return stop
}

// command builds a command for connName.
func command(id, resource string, seq *int64, changes messages.Changes) *messages.Command {
	return messages.NewCommand(id, "/test", connName, resource, messages.Data{Sequence: seq, Changes: changes})
}

// providerClient is a connection's provider client, as syncworker builds
// it: its requests are spans and counted metrics of the bundle.
func (b *bundle) providerClient(connection, provider string) *http.Client {
	return providerhttp.New(providerhttp.Config{Connection: connection, Provider: provider, TracerProvider: b.tp, MeterProvider: b.mp})
}

// publish publishes cmd on its subject; msgID sets Nats-Msg-Id.
func (b *bundle) publish(cmd *messages.Command, msgID bool, headers ...string) {
	b.t.Helper()
	body, err := cmd.Encode()
	if err != nil {
		b.t.Fatal(err)
	}
	b.publishRaw(b.subjects.Command(cmd.Connection, cmd.Resource), body, msgID, cmd.ID, headers...)
}

func (b *bundle) publishRaw(subject string, body []byte, msgID bool, id string, headers ...string) {
	b.t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data = body
	msg.Header.Set("Content-Type", messages.ContentType)
	for i := 0; i+1 < len(headers); i += 2 {
		msg.Header.Set(headers[i], headers[i+1])
	}
	var opts []jetstream.PublishOpt
	if msgID {
		opts = append(opts, jetstream.WithMsgID(id))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.js.PublishMsg(ctx, msg, opts...); err != nil {
		b.t.Fatal(err)
	}
}

// result waits for the first result event of a command id.
func (b *bundle) result(id string) *messages.ResultEvent {
	b.t.Helper()
	msgs := b.waitResults(id, 1)
	ev, err := messages.DecodeResultEvent(msgs[0].Data)
	if err != nil {
		b.t.Fatalf("result of %s does not decode: %v", id, err)
	}
	return ev
}

// waitResults waits until n result messages for id have arrived.
func (b *bundle) waitResults(id string, n int) []*nats.Msg {
	b.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		b.mu.Lock()
		got := append([]*nats.Msg(nil), b.results[id]...)
		b.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-b.arrived:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			b.t.Fatalf("no result for command %s after 30s (have %d, want %d); logs:\n%s", id, len(got), n, b.logs.String())
		}
	}
}

// allResults returns every result message received, for every id.
func (b *bundle) allResults() []*nats.Msg {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*nats.Msg
	for _, ms := range b.results {
		out = append(out, ms...)
	}
	return out
}

// streamCount returns the number of messages in a stream with subject filter.
func (b *bundle) streamCount(stream, subject string) uint64 {
	b.t.Helper()
	s, err := b.js.Stream(context.Background(), stream)
	if err != nil {
		b.t.Fatal(err)
	}
	info, err := s.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		b.t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

// posts returns the bodies of the update requests the simulator received.
func (b *bundle) posts() []map[string]any {
	var out []map[string]any
	for _, r := range b.sim.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/oauth-apps.update") {
			var m map[string]any
			if err := json.Unmarshal(r.Body, &m); err != nil {
				b.t.Fatalf("simulator recorded a non-JSON update body: %v", err)
			}
			out = append(out, m)
		}
	}
	return out
}

// syncBuffer is a buffer safe for concurrent writers.
type syncBuffer = testenv.SyncBuffer

func ptr[T any](v T) *T { return &v }
