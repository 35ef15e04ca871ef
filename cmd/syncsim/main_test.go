package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/examples"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
)

// childEnv makes the test binary run syncsim itself (see TestMain), so a
// test can send it real signals.
const childEnv = "SYNCSIM_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := run(nil, os.Stdout, os.Stderr); err != nil {
			os.Stderr.WriteString("syncsim: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// probe builds one request a simulator answers 200 to with its credentials
// and 401 to without.
type probe func(baseURL string, auth map[string]string, withAuth bool) *http.Request

var probes = map[string]probe{
	"rocketchat": func(base string, auth map[string]string, withAuth bool) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, base+rocketchatsim.PathGet+"?_id=65a7d77142a7e12453052d59", nil)
		if withAuth {
			r.Header.Set("X-User-Id", auth["userId"])
			r.Header.Set("X-Auth-Token", auth["authToken"])
		}
		return r
	},
	"reelevant": func(base string, auth map[string]string, withAuth bool) *http.Request {
		r, _ := http.NewRequest(http.MethodPatch, base+reelevantsim.PathPrefix+"65a7d77142a7e12453052d60",
			strings.NewReader(`{"scopes":["read"]}`))
		r.Header.Set("Content-Type", "application/json")
		if withAuth {
			r.Header.Set("Authorization", "Bearer "+auth["bearerToken"])
		}
		return r
	},
	"hybriddatapipeline": func(base string, auth map[string]string, withAuth bool) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, base+hdpsim.PathPrefix+"/93", nil)
		if withAuth {
			r.SetBasicAuth(auth["username"], auth["password"])
		}
		return r
	},
	"jframework": func(base string, auth map[string]string, withAuth bool) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, base+jframeworksim.PathPrefix+"auth-dev-1", nil)
		if withAuth {
			r.Header.Set("Brand-URL", auth["brandURL"])
			r.Header.Set("Auth-Key", auth["authKey"])
		}
		return r
	},
}

// checkAuth asks each endpoint once without and once with credentials.
func checkAuth(t *testing.T, eps []endpoint) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, ep := range eps {
		p, ok := probes[ep.sim.provider]
		if !ok {
			t.Errorf("no probe for the %s simulator", ep.sim.provider)
			continue
		}
		for _, withAuth := range []bool{false, true} {
			resp, err := client.Do(p(ep.url, ep.sim.auth, withAuth))
			if err != nil {
				t.Fatalf("%s: %v", ep.sim.provider, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			want := http.StatusUnauthorized
			if withAuth {
				want = http.StatusOK
			}
			if resp.StatusCode != want {
				t.Errorf("%s (credentials: %v): status %d, want %d", ep.sim.provider, withAuth, resp.StatusCode, want)
			}
		}
	}
}

func TestSimulatorsAnswer(t *testing.T) {
	sims := simulators(0, 0)
	if len(sims) != 4 || len(probes) != 4 {
		t.Fatalf("%d simulators, %d probes; want the four providers", len(sims), len(probes))
	}
	addrs := map[string]string{}
	for _, s := range sims {
		addrs[s.provider] = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(t.Context())
	ready := make(chan []endpoint, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveSimulators(ctx, sims, addrs, func(s simulator) http.Handler { return s.handler }, testLogger(t),
			func(eps []endpoint) { ready <- eps })
	}()
	var eps []endpoint
	select {
	case eps = <-ready:
	case err := <-done:
		t.Fatalf("serveSimulators returned before serving: %v", err)
	}
	if len(eps) != 4 {
		t.Fatalf("%d endpoints, want 4", len(eps))
	}
	checkAuth(t, eps)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serveSimulators after cancel: %v", err)
	}
}

func TestOffAndBusyAddresses(t *testing.T) {
	sims := simulators(0, 0)
	err := serveSimulators(t.Context(), sims, map[string]string{}, func(s simulator) http.Handler { return s.handler }, testLogger(t), nil)
	if err == nil || !strings.Contains(err.Error(), "every simulator is off") {
		t.Errorf("no addresses: err = %v", err)
	}
	err = serveSimulators(t.Context(), sims, map[string]string{"rocketchat": "127.0.0.1:0", "jframework": "256.0.0.1:1"},
		func(s simulator) http.Handler { return s.handler }, testLogger(t), nil)
	if err == nil || !strings.Contains(err.Error(), "--jframework-addr") {
		t.Errorf("bad address: err = %v, want one naming --jframework-addr", err)
	}
}

// TestSeedsCoverDevBatch keeps the seeds and examples/dev-batch.ndjson in
// step: every object the batch updates is seeded, except the one the batch
// uses to show provider_not_found.
func TestSeedsCoverDevBatch(t *testing.T) {
	const ghost = "000000000000000000000000"
	byConn := map[string]simulator{}
	for _, s := range simulators(0, 0) {
		byConn[s.connection] = s
	}
	lines, err := parseBatch(examples.DevBatch)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		s, ok := byConn[l.Connection]
		if !ok {
			t.Errorf("%s: connection %s has no simulator", l.ID, l.Connection)
			continue
		}
		if got, want := s.has(l.Resource), l.Resource != ghost; got != want {
			t.Errorf("%s: %s resource %s seeded = %v, want %v", l.ID, s.provider, l.Resource, got, want)
		}
	}
}

func TestSIGTERMStopsGracefully(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1",
		"SYNCSIM_ROCKETCHAT_ADDR=127.0.0.1:0", "SYNCSIM_REELEVANT_ADDR=127.0.0.1:0",
		"SYNCSIM_HYBRIDDATAPIPELINE_ADDR=127.0.0.1:0", "SYNCSIM_JFRAMEWORK_ADDR=127.0.0.1:0",
		"OTEL_TRACES_EXPORTER=none")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// The banner: one line per simulator with its URL.
	line := regexp.MustCompile(`^\s+(.+?)\s+(http://127\.0\.0\.1:\d+)\s+connection (\S+),`)
	byConn := map[string]simulator{}
	for _, s := range simulators(0, 0) {
		byConn[s.connection] = s
	}
	var eps []endpoint
	sc := bufio.NewScanner(stdout)
	for len(eps) < 4 && sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			eps = append(eps, endpoint{sim: byConn[m[3]], url: m[2]})
		}
	}
	if len(eps) != 4 {
		t.Fatalf("banner had %d simulators, want 4; stderr:\n%s", len(eps), stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	checkAuth(t, eps)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("syncsim after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("syncsim did not exit after SIGTERM; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "simulators stopped") {
		t.Errorf("stderr does not say the simulators stopped:\n%s", stderr.String())
	}
}

func TestSample(t *testing.T) {
	url := testenv.EmbeddedNATS(t)
	js, err := jetstream.New(testenv.Connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	// The stream appears only once the sample has found it missing, as it
	// does when the worker starts after the publisher.
	var once sync.Once
	var waited bool
	createStream := func() {
		once.Do(func() {
			waited = true
			if _, err := js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "SYNC_COMMANDS",
				Subjects: []string{"sync.commands.>"}, Duplicates: 2 * time.Minute}); err != nil {
				t.Errorf("create stream: %v", err)
			}
		})
	}
	var out strings.Builder
	err = publishSample(t.Context(), sampleOptions{natsURL: url, subjects: messages.Subjects{}, wait: 30 * time.Second,
		retryEvery: 10 * time.Millisecond, tracerProvider: tp, onWait: createStream}, examples.DevBatch, &out, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if !waited {
		t.Error("the sample never waited for the stream")
	}
	lines, err := parseBatch(examples.DevBatch)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "published 12 sample commands (11 distinct ids)") || len(lines) != 12 {
		t.Errorf("output %q for %d lines", out.String(), len(lines))
	}

	spans := exp.GetSpans()
	traceIDs := map[string]bool{}
	for _, s := range spans {
		if s.SpanKind != trace.SpanKindProducer {
			t.Errorf("span %q kind %v, want producer", s.Name, s.SpanKind)
		}
		traceIDs[s.SpanContext.TraceID().String()] = true
	}
	if len(spans) != len(lines) {
		t.Errorf("%d spans, want %d", len(spans), len(lines))
	}
	stream, err := js.Stream(t.Context(), "SYNC_COMMANDS")
	if err != nil {
		t.Fatal(err)
	}
	withID := 0
	for i, l := range lines {
		m, err := stream.GetMsg(t.Context(), uint64(i+1))
		if err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
		if want := "sync.commands." + l.Connection + "." + l.Resource; m.Subject != want {
			t.Errorf("message %d on %s, want %s", i+1, m.Subject, want)
		}
		if m.Header.Get("Content-Type") != messages.ContentType {
			t.Errorf("message %d: Content-Type %q", i+1, m.Header.Get("Content-Type"))
		}
		if id := m.Header.Get("Nats-Msg-Id"); id != "" {
			withID++
			if id != l.ID {
				t.Errorf("message %d: Nats-Msg-Id %q, want %q", i+1, id, l.ID)
			}
		}
		tp := strings.Split(m.Header.Get("traceparent"), "-")
		if len(tp) != 4 || !traceIDs[tp[1]] {
			t.Errorf("message %d: traceparent %q is not one of the producer spans", i+1, m.Header.Get("traceparent"))
		}
	}
	if withID != 11 {
		t.Errorf("%d messages with Nats-Msg-Id, want 11 (the repeated id goes without)", withID)
	}
}

func TestSampleGivesUpWithoutStream(t *testing.T) {
	url := testenv.EmbeddedNATS(t)
	err := publishSample(t.Context(), sampleOptions{natsURL: url, wait: 300 * time.Millisecond, retryEvery: 20 * time.Millisecond,
		tracerProvider: sdktrace.NewTracerProvider()}, examples.DevBatch, io.Discard, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "no stream took sync.commands.rc-dev.") {
		t.Errorf("err = %v, want one saying no stream took the commands", err)
	}
}
