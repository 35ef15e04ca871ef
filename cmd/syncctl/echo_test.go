package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/internal/deadletter"
	"github.com/oauthsync/oauthsync/worker"
)

// echoCanary is the client secret the commands carry; the providers echo it
// (and their credentials) back in many encodings.
const echoCanary = "Echo-Canary-ClientSecret-8Tz5qW"

// TestEchoedSecretsNeverLeave runs the worker on real NATS and Redis against
// providers that answer 4xx and 5xx quoting the request's secrets
// (hdpsim/rocketchatsim Fault.EchoSecrets: verbatim, URL-escaped, base64
// alone and in Basic auth, hex, upper- and lower-cased, cut). None of those
// forms of the client secret, the HDP password or the Rocket.Chat token may
// appear in result events, dead-letter headers, worker logs, spans, metric
// labels, or what syncctl prints (publish --wait, dlq list/show, results,
// migrate and its report). The dead letter's body is the command verbatim
// (docs/CONTRACT.md §2) and is not searched; dlq show redacts it.
func TestEchoedSecretsNeverLeave(t *testing.T) {
	logs := &lockedBuffer{}
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	s := startStack(t, stackOptions{Worker: worker.Config{
		MaxDeliver: 1, AckWait: 5 * time.Second, RetryBudget: 200 * time.Millisecond,
		InitialBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxNakDelay: 50 * time.Millisecond,
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TracerProvider: tp, MeterProvider: mp,
	}})
	s.hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "hdp-client", ClientSecret: "hdp-old-secret-8812",
		AuthorizeURI: "https://login.example.com/authorize", TokenURI: "https://login.example.com/token", Scope: "api"})
	s.seedRC(1)
	ctx := context.Background()
	env := map[string]string{"CANARY": echoCanary}
	var out strings.Builder // everything syncctl printed
	ctl := func(want int, args ...string) result {
		t.Helper()
		r := s.syncctl(t, ctx, env, args...)
		out.WriteString(r.stdout + r.stderr)
		if r.code != want {
			t.Fatalf("syncctl %v: exit %d, want %d\n%s%s", args, r.code, want, r.stdout, r.stderr)
		}
		return r
	}

	// Rejected for good (4xx): the echo reaches error.message.
	s.hdp.Fail(hdpsim.Fault{Method: "PUT", Status: 400, EchoSecrets: true})
	r := ctl(exitRejected, "publish", "--connection", "hdp", "--resource", "93", "--set", "name=echo_1",
		"--secret-from-env", "CANARY", "--id", "echo-1", "--wait")
	if !strings.Contains(r.stdout, "[REDACTED]") {
		t.Fatalf("the provider's echo did not reach the result (the test would prove nothing):\n%s", r.stdout)
	}
	s.rc.Fail(rocketchatsim.Fault{Status: 400, EchoSecrets: true})
	ctl(exitRejected, "publish", "--connection", "rc", "--resource", rcID(0), "--set", "name=echo3", "--id", "echo-3", "--wait")

	// Failed (5xx past the budget): retry log lines, dead letters, failed results.
	for range 40 {
		s.hdp.Fail(hdpsim.Fault{Method: "PUT", Status: 500, EchoSecrets: true})
		s.rc.Fail(rocketchatsim.Fault{Status: 503, EchoSecrets: true})
	}
	ctl(exitRejected, "publish", "--connection", "hdp", "--resource", "93", "--set", "name=echo_2",
		"--secret-from-env", "CANARY", "--id", "echo-2", "--wait")
	ctl(exitRejected, "publish", "--connection", "rc", "--resource", rcID(0), "--set", "name=echo4", "--id", "echo-4", "--wait")
	s.hdp.Reset()
	s.rc.Reset()

	// A migration whose line is rejected with the echo: summary and report.
	s.hdp.Seed(hdpsim.App{ID: 93, Name: "Salesforce", DataStore: 54, TenantID: 1, ClientID: "hdp-client", ClientSecret: "hdp-old-secret-8812"})
	s.hdp.Fail(hdpsim.Fault{Method: "PUT", Status: 400, EchoSecrets: true})
	file := filepath.Join(t.TempDir(), "echo.ndjson")
	if err := os.WriteFile(file, []byte(`{"connection":"hdp","resource":"93","changes":{"name":"echo_5"}}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(t.TempDir(), "report.ndjson")
	ctl(exitRejected, "migrate", file, "--secret-from-env", "CANARY", "--progress", "none", "--report", report)
	rep, err := os.ReadFile(report)
	if err != nil || !strings.Contains(string(rep), "provider_rejected") {
		t.Fatalf("report: %v\n%s", err, rep)
	}
	out.Write(rep)

	// What an operator looks at.
	r = ctl(exitOK, "dlq", "list", "-o", "json")
	letters, err := decodeJSONLines[deadletter.Letter](r.stdout)
	if err != nil || len(letters) != 2 {
		t.Fatalf("dlq list: %v, %d letters, want 2 (echo-2, echo-4)\n%s", err, len(letters), r.stdout)
	}
	ctl(exitOK, "dlq", "list")
	for _, l := range letters {
		ctl(exitOK, "dlq", "show", fmt.Sprint(l.Seq))
		ctl(exitOK, "dlq", "show", fmt.Sprint(l.Seq), "-o", "json")
	}
	ctl(exitOK, "results", "-o", "json")
	ctl(exitOK, "results")

	var hay strings.Builder
	hay.WriteString(out.String())
	hay.WriteString(logs.String())
	for _, st := range []string{"SYNC_RESULTS", "SYNC_DEADLETTER"} {
		c, err := s.js.OrderedConsumer(ctx, st, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			m, err := c.Next(jetstream.FetchMaxWait(500 * time.Millisecond))
			if err != nil {
				break
			}
			fmt.Fprint(&hay, m.Headers())
			if st == "SYNC_RESULTS" { // a dead letter's body is the command, verbatim
				hay.Write(m.Data())
			}
		}
	}
	for _, sp := range spans.GetSpans() {
		fmt.Fprint(&hay, sp.Name, sp.Attributes, sp.Events, sp.Status, sp.Links)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			fmt.Fprintf(&hay, "%s %+v\n", m.Name, m.Data)
		}
	}
	if !strings.Contains(logs.String(), "retrying") || len(spans.GetSpans()) == 0 || len(rm.ScopeMetrics) == 0 {
		t.Fatal("no retry log line, span or metric was recorded: the test would prove nothing")
	}
	low := strings.ToLower(hay.String())
	for _, secret := range []string{echoCanary, hdpPass, rcToken} {
		for _, form := range echoForms(secret) {
			if strings.Contains(low, strings.ToLower(form)) {
				i := strings.Index(low, strings.ToLower(form))
				t.Errorf("form %q of secret %q leaked: …%s…", form, secret, hay.String()[max(0, i-80):min(len(low), i+len(form)+40)])
			}
		}
	}
}

// echoForms are the encodings of secret that simkit.EchoText sends back,
// computed here independently of the scrubber.
func echoForms(secret string) []string {
	js, _ := json.Marshal(secret)
	cut := len(secret) * 2 / 3
	b := []byte(secret)
	return []string{secret, url.QueryEscape(secret), url.PathEscape(secret), string(js[1 : len(js)-1]),
		base64.StdEncoding.EncodeToString(b), base64.URLEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b),
		base64.StdEncoding.EncodeToString([]byte("svc-user:" + secret)),
		base64.StdEncoding.EncodeToString([]byte(hdpUser + ":" + secret)),
		hex.EncodeToString(b), secret[:cut], secret[len(secret)-cut:]}
}
