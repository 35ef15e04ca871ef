package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/internal/telemetry"
)

// traced runs syncctl with an in-memory span exporter.
func (s *stack) traced(t *testing.T, exp *tracetest.InMemoryExporter, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr lockedBuffer
	e := envFor(&stdout, &stderr, env)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	e.tracerProvider = tp
	code := run(context.Background(), append([]string{"--server", s.natsURL}, args...), e)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// traceOf is the trace id in a message's traceparent header.
func traceOf(t *testing.T, h map[string][]string) trace.TraceID {
	t.Helper()
	ctx := telemetry.Propagator().Extract(context.Background(), telemetry.HeaderCarrier(h))
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		t.Fatalf("no valid traceparent in %v", h)
	}
	return sc.TraceID()
}

func TestPublishedCommandsCarryTheirSpanToTheWorker(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "hdp-client", ClientSecret: "hdp-old-secret-8812",
		AuthorizeURI: "https://login.salesforce.com/services/oauth2/authorize", TokenURI: "https://login.salesforce.com/services/oauth2/token", Scope: "api"})
	const secret = "traced-Secret-0b7e41aa"
	exp := tracetest.NewInMemoryExporter()
	r := s.traced(t, exp, map[string]string{"S": secret}, "publish", "--connection", "hdp", "--resource", "93",
		"--secret-from-env", "S", "--id", "traced-1", "--wait")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Name != "send sync.commands.hdp.93" || spans[0].SpanKind != trace.SpanKindProducer {
		t.Fatalf("spans = %+v", spans)
	}
	assertNoSecret(t, spans, secret)
	want := spans[0].SpanContext.TraceID()
	ctx := context.Background()
	cmdMsg, err := mustStream(t, s.js, "SYNC_COMMANDS").GetLastMsgForSubject(ctx, "sync.commands.hdp.93")
	if err != nil {
		t.Fatal(err)
	}
	if got := traceOf(t, cmdMsg.Header); got != want {
		t.Errorf("command traceparent trace %s, span %s", got, want)
	}
	resMsg, err := mustStream(t, s.js, "SYNC_RESULTS").GetLastMsgForSubject(ctx, "sync.results.hdp.93")
	if err != nil {
		t.Fatal(err)
	}
	if got := traceOf(t, resMsg.Header); got != want {
		t.Errorf("the worker's result is in trace %s, the publish in %s", got, want)
	}
}

func TestMigrationSpansLinkEveryCommand(t *testing.T) {
	s := startStack(t, stackOptions{})
	s.seedRC(5)
	path := writeMigration(t, 5, nil)
	exp := tracetest.NewInMemoryExporter()
	if r := s.traced(t, exp, nil, "migrate", path, "--batch", "traced", "--progress", "none"); r.code != exitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	var run sdktrace.ReadOnlySpan
	var sends []tracetest.SpanStub
	for _, sp := range exp.GetSpans() {
		switch {
		case sp.Name == "migrate traced":
			run = sp.Snapshot()
		case strings.HasPrefix(sp.Name, "send sync.commands.rc."):
			sends = append(sends, sp)
		}
	}
	if run == nil || len(sends) != 5 {
		t.Fatalf("spans: migrate %v, %d sends", run != nil, len(sends))
	}
	traces := map[trace.TraceID]bool{}
	for _, sp := range sends {
		traces[sp.SpanContext.TraceID()] = true
		if len(sp.Links) != 1 || sp.Links[0].SpanContext.SpanID() != run.SpanContext().SpanID() {
			t.Errorf("%s links %v, want the migration span", sp.Name, sp.Links)
		}
	}
	if len(traces) != 5 || traces[run.SpanContext().TraceID()] {
		t.Errorf("each command needs its own trace, apart from the migration's: %d traces", len(traces))
	}
	attrs := map[string]string{}
	for _, a := range run.Attributes() {
		attrs[string(a.Key)] = a.Value.String()
	}
	if attrs["oauthsync.lines.applied"] != "5" || attrs["oauthsync.published"] != "5" {
		t.Errorf("migration span attributes %v", attrs)
	}
}

func mustStream(t *testing.T, js jetstream.JetStream, name string) jetstream.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func assertNoSecret(t *testing.T, spans tracetest.SpanStubs, secret string) {
	t.Helper()
	for _, sp := range spans {
		text := fmt.Sprintf("%v %v %v %v", sp.Name, sp.Attributes, sp.Events, sp.Status)
		if strings.Contains(text, secret) {
			t.Errorf("span %s holds the secret", sp.Name)
		}
	}
}
