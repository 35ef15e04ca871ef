package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"

	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle keep-alive connections of the providers' clients.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

func TestAppliedOnceWithUntouchedFieldsCarriedOver(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())

	b.publish(command("cmd-apply-1", res1, nil, messages.Changes{RedirectURI: ptr("https://new.example.com/cb")}), true)
	ev := b.result("cmd-apply-1")

	r := ev.Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"redirectUri"}) || len(r.SkippedFields) != 0 {
		t.Fatalf("result = %s applied=%v skipped=%v, want applied [redirectUri] []", r.Status, r.AppliedFields, r.SkippedFields)
	}
	if ev.ID != messages.ResultEventID("cmd-apply-1") || r.Provider != "rocketchat" || r.Connection != connName || r.Resource != res1 || r.Attempts != 1 || r.Deliveries != 1 || r.Error != nil {
		t.Fatalf("result event = %+v", ev)
	}
	if r.CommandStreamSequence == 0 || r.FinishedAt.Before(r.StartedAt) {
		t.Fatalf("sequence/timing wrong: %+v", r)
	}
	posts := b.posts()
	want := map[string]any{"appId": res1, "name": "app-59", "active": true, "redirectUri": "https://new.example.com/cb"}
	if len(posts) != 1 || !equalJSON(posts[0], want) {
		t.Fatalf("provider received %v, want exactly one update %v", posts, want)
	}
	app, _ := b.sim.App(res1)
	if app.RedirectURI != "https://new.example.com/cb" || app.Name != "app-59" || !app.Active {
		t.Fatalf("provider state = %+v", app)
	}
	msgs := b.waitResults("cmd-apply-1", 1)
	if got := msgs[0].Header.Get(worker.HeaderStatus); got != "applied" {
		t.Fatalf("Sync-Status header = %q", got)
	}
	if got := msgs[0].Header.Get("Nats-Msg-Id"); got != messages.ResultEventID("cmd-apply-1") {
		t.Fatalf("Nats-Msg-Id = %q", got)
	}
}

func TestUnchangedWhenProviderAlreadyHoldsTheValues(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	b.publish(command("cmd-same", res1, nil, messages.Changes{RedirectURI: ptr("https://old.example.com/cb"), Active: ptr(true)}), true)
	if r := b.result("cmd-same").Data; r.Status != messages.StatusUnchanged {
		t.Fatalf("status = %s, want unchanged", r.Status)
	}
	if p := b.posts(); len(p) != 0 {
		t.Fatalf("provider got writes %v for an unchanged command", p)
	}
}

func TestDuplicatesAreAppliedOnceAndAnsweredWithTheStoredResult(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	cmd := command("cmd-dup", res1, nil, messages.Changes{Name: ptr("renamed")})
	b.publish(cmd, false)
	first := b.result("cmd-dup")
	// The same command again, without Nats-Msg-Id so JetStream does not drop it.
	b.publish(cmd, false)
	b.publish(cmd, false)
	waitConsumed(t, b, "syncworker_"+connName, 3)

	if n := len(b.posts()); n != 1 {
		t.Fatalf("provider got %d updates for one command id, want 1", n)
	}
	// Every duplicate republished the stored event: same id, same body, so
	// JetStream's window kept one result in the stream.
	if n := b.streamCount(b.streams.Results, b.subjects.Result(connName, res1)); n != 1 {
		t.Fatalf("results stream holds %d results for the command, want 1", n)
	}
	dedups := 0
	for _, s := range b.spans.GetSpans() {
		for _, e := range s.Events {
			if e.Name == "deduplicated" {
				dedups++
			}
		}
	}
	if dedups != 2 {
		t.Fatalf("%d deliveries were recognised as duplicates, want 2", dedups)
	}
	if first.Data.Status != messages.StatusApplied {
		t.Fatalf("first result %s", first.Data.Status)
	}
}

func TestSameIDWithAnotherPayloadIsAnIDConflict(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	first := command("cmd-conflict", res1, nil, messages.Changes{Name: ptr("first")})
	b.publish(first, true)
	firstDigest, err := first.PayloadDigest(testDigestKey)
	if err != nil {
		t.Fatal(err)
	}
	if r := b.result("cmd-conflict"); r.Data.Status != messages.StatusApplied || r.Data.PayloadDigest != firstDigest {
		t.Fatalf("first: %s, payloadDigest %q, want applied and %q", r.Data.Status, r.Data.PayloadDigest, firstDigest)
	}
	other := command("cmd-conflict", res1, nil, messages.Changes{Name: ptr("second")})
	b.publish(other, false)
	msgs := b.waitResults("cmd-conflict", 2)
	ev, err := messages.DecodeResultEvent(msgs[1].Data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Data.Status != messages.StatusRejected || ev.Data.Error == nil || ev.Data.Error.Code != messages.CodeIDConflict {
		t.Fatalf("second payload result = %+v", ev.Data)
	}
	otherDigest, err := other.PayloadDigest(testDigestKey)
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != messages.ConflictEventID("cmd-conflict", otherDigest) || ev.Data.PayloadDigest != otherDigest {
		t.Fatalf("conflict event id = %q, payloadDigest %q; want both from %q", ev.ID, ev.Data.PayloadDigest, otherDigest)
	}
	if app, _ := b.sim.App(res1); app.Name != "first" || len(b.posts()) != 1 {
		t.Fatalf("the conflicting payload reached the provider: name=%q posts=%d", app.Name, len(b.posts()))
	}
}

func TestInvalidInputIsAnsweredAndNeverBlocksTheStream(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	valid := func(id string) []byte {
		body, _ := command(id, res1, nil, messages.Changes{Name: ptr("n")}).Encode()
		return body
	}
	withKey := func(body []byte, path []string, key string, v any) []byte {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		cur := m
		for _, p := range path {
			cur = cur[p].(map[string]any)
		}
		cur[key] = v
		out, _ := json.Marshal(m)
		return out
	}
	unknownConn := command("bad-conn", res1, nil, messages.Changes{Name: ptr("n")})
	unknownConn.Connection = "nowhere"
	unknownBody, _ := unknownConn.Encode()

	cases := []struct {
		name, id, subject string
		body              []byte
		code              messages.ErrorCode // "" means: dead-lettered, no result
	}{
		{"malformed JSON", "", b.subjects.Command(connName, res1), []byte(`{"specversion":"1.0",`), ""},
		{"unknown field", "bad-unknown", b.subjects.Command(connName, res1), withKey(valid("bad-unknown"), []string{"data", "changes"}, "colour", "red"), messages.CodeInvalidCommand},
		{"wrong type", "bad-type", b.subjects.Command(connName, res1), withKey(valid("bad-type"), []string{"data", "changes"}, "active", "yes"), messages.CodeInvalidCommand},
		{"field the provider cannot hold", "bad-secret", b.subjects.Command(connName, res1), withKey(valid("bad-secret"), []string{"data", "changes"}, "clientSecret", "CANARY-command-secret"), messages.CodeUnsupportedField},
		{"unknown connection", "bad-conn", b.subjects.Command("nowhere", res1), unknownBody, messages.CodeUnknownConnection},
		{"subject and body disagree", "bad-subject", b.subjects.Command(connName, res2), valid("bad-subject"), messages.CodeInvalidCommand},
		{"oversize body", "", b.subjects.Command(connName, res1), append(valid("bad-big")[:0:0], []byte(`{"id":"bad-big","pad":"`+strings.Repeat("x", 70<<10)+`"}`)...), ""},
	}
	for _, c := range cases {
		b.publishRaw(c.subject, c.body, false, c.id)
	}
	b.publish(command("good-after-bad", res1, nil, messages.Changes{Name: ptr("after")}), true)

	if r := b.result("good-after-bad"); r.Data.Status != messages.StatusApplied {
		t.Fatalf("valid command behind bad ones: %s", r.Data.Status)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.code == "" {
				return
			}
			r := b.result(c.id).Data
			if r.Status != messages.StatusRejected || r.Error == nil || r.Error.Code != c.code || r.Error.Message == "" || r.Error.Retryable {
				t.Fatalf("result = %s %+v, want rejected %s", r.Status, r.Error, c.code)
			}
		})
	}
	if n := b.streamCount(b.streams.DeadLetter, b.subjects.DeadLetters()); n != 2 {
		t.Fatalf("dead letters = %d, want 2 (malformed JSON, oversize body)", n)
	}
	if p := b.posts(); len(p) != 1 || p[0]["name"] != "after" {
		t.Fatalf("provider got %v; only the valid command may reach it", p)
	}
	waitConsumed(t, b, "syncworker_"+connName, uint64(len(cases)))
}

func TestTransientFailuresAreRetriedAndPermanentOnesAreNot(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())

	b.sim.Fail(rocketchatsim.Fault{Status: 500})
	b.sim.Fail(rocketchatsim.Fault{Status: 503})
	b.publish(command("cmd-5xx", res1, nil, messages.Changes{Name: ptr("after-5xx")}), true)
	if r := b.result("cmd-5xx").Data; r.Status != messages.StatusApplied || r.Attempts != 3 {
		t.Fatalf("after two 5xx: %s attempts=%d, want applied after 3", r.Status, r.Attempts)
	}

	b.sim.Fail(rocketchatsim.Fault{RateLimitReset: 300 * time.Millisecond})
	start := time.Now()
	b.publish(command("cmd-429", res2, nil, messages.Changes{Name: ptr("after-429")}), true)
	r := b.result("cmd-429").Data
	if r.Status != messages.StatusApplied || r.Attempts != 2 {
		t.Fatalf("after a 429: %s attempts=%d", r.Status, r.Attempts)
	}
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Fatalf("the retry came after %s, before X-RateLimit-Reset", waited)
	}

	before := len(b.sim.Requests())
	b.publish(command("cmd-404", "000000000000000000000000", nil, messages.Changes{Name: ptr("x")}), true)
	r = b.result("cmd-404").Data
	if r.Status != messages.StatusRejected || r.Error.Code != messages.CodeProviderNotFound || r.Attempts != 1 {
		t.Fatalf("not found: %s %+v attempts=%d", r.Status, r.Error, r.Attempts)
	}
	if n := len(b.sim.Requests()) - before; n != 1 {
		t.Fatalf("a permanent failure made %d requests, want 1 (no retry)", n)
	}
}

func TestWrongCredentialsAreProviderUnauthorized(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.Connections[0].Adapter = b.adapter("wrong-token")
	b.start(cfg)
	b.publish(command("cmd-unauth", res1, nil, messages.Changes{Name: ptr("x")}), true)
	r := b.result("cmd-unauth").Data
	if r.Status != messages.StatusRejected || r.Error.Code != messages.CodeProviderUnauthorized || r.Attempts != 1 {
		t.Fatalf("wrong credentials: %s %+v", r.Status, r.Error)
	}
}

func TestExhaustedDeliveriesAreDeadLetteredWithAFailedResult(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.MaxDeliver = 2
	cfg.RetryBudget = 200 * time.Millisecond
	b.start(cfg)
	for range 50 {
		b.sim.Fail(rocketchatsim.Fault{Status: 503})
	}
	b.publish(command("cmd-dead", res1, nil, messages.Changes{Name: ptr("never")}), true)
	r := b.result("cmd-dead").Data
	if r.Status != messages.StatusFailed || r.Error.Code != messages.CodeProviderUnavailable || !r.Error.Retryable || r.Deliveries != 2 {
		t.Fatalf("result = %s %+v deliveries=%d", r.Status, r.Error, r.Deliveries)
	}
	c, err := b.js.OrderedConsumer(context.Background(), b.streams.DeadLetter, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("no dead letter: %v", err)
	}
	if m.Subject() != b.subjects.DeadLetter(connName, res1) || m.Headers().Get(worker.HeaderErrorCode) != "provider_unavailable" || m.Headers().Get(worker.HeaderDeliveries) != "2" {
		t.Fatalf("dead letter %s headers %v", m.Subject(), m.Headers())
	}
	orig, _ := command("cmd-dead", res1, nil, messages.Changes{Name: ptr("never")}).Encode()
	if string(m.Data()) != string(orig) {
		t.Fatalf("dead letter body is not the command verbatim:\n%s\n%s", m.Data(), orig)
	}
}

func TestOrderKeysDecidePerFieldWhateverTheDeliveryOrder(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	// The newer command (sequence 20) arrives first.
	b.publish(command("cmd-new", res1, ptr[int64](20), messages.Changes{Name: ptr("new-name"), RedirectURI: ptr("https://new.example.com/cb")}), true)
	if r := b.result("cmd-new").Data; r.Status != messages.StatusApplied {
		t.Fatalf("newer: %s", r.Status)
	}
	// An older command touching one stale and one fresh field.
	b.publish(command("cmd-old", res1, ptr[int64](10), messages.Changes{RedirectURI: ptr("https://stale.example.com/cb"), Active: ptr(false)}), true)
	r := b.result("cmd-old").Data
	if r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{"active"}) || !slices.Equal(r.SkippedFields, []string{"redirectUri"}) {
		t.Fatalf("older: %s applied=%v skipped=%v", r.Status, r.AppliedFields, r.SkippedFields)
	}
	// An older command whose every field is stale.
	b.publish(command("cmd-older", res1, ptr[int64](5), messages.Changes{Name: ptr("ancient")}), true)
	if r := b.result("cmd-older").Data; r.Status != messages.StatusSuperseded || !slices.Equal(r.SkippedFields, []string{"name"}) {
		t.Fatalf("oldest: %s skipped=%v", r.Status, r.SkippedFields)
	}
	app, _ := b.sim.App(res1)
	if app.Name != "new-name" || app.RedirectURI != "https://new.example.com/cb" || app.Active {
		t.Fatalf("provider state %+v", app)
	}
}

func TestTwoWorkersConvergeOnTheHighestOrderKeyPerField(t *testing.T) {
	b := newBundle(t)
	cfgA, cfgB := b.config(), b.config()
	cfgA.Instance, cfgB.Instance = "worker-a", "worker-b"
	b.start(cfgA)
	b.start(cfgB)

	const n = 40
	seqs := rand.Perm(n) // publish order is random; sequence decides
	names := map[int]string{}
	var ids []string
	for i, s := range seqs {
		id := fmt.Sprintf("cmd-race-%02d", i)
		ch := messages.Changes{Name: ptr(fmt.Sprintf("name-%02d", s))}
		names[s] = *ch.Name
		if s%2 == 0 {
			ch.RedirectURI = ptr(fmt.Sprintf("https://r%02d.example.com/cb", s))
		}
		b.publish(command(id, res2, ptr(int64(s)), ch), true)
		ids = append(ids, id)
	}
	sources := map[string]bool{}
	for _, id := range ids {
		sources[b.result(id).Source] = true
	}
	app, _ := b.sim.App(res2)
	if app.Name != names[n-1] || app.RedirectURI != fmt.Sprintf("https://r%02d.example.com/cb", n-2) {
		t.Fatalf("final state name=%q redirect=%q; want the highest sequence's values %q / r%02d", app.Name, app.RedirectURI, names[n-1], n-2)
	}
	if len(sources) != 2 {
		t.Logf("only %d worker(s) produced results; the order guarantee was still checked", len(sources))
	}
}

func TestResultContinuesTheCommandsTrace(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	b.publish(command("cmd-traced", res1, nil, messages.Changes{Name: ptr("traced")}), true, "traceparent", traceparent)
	msgs := b.waitResults("cmd-traced", 1)
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier{"Traceparent": {msgs[0].Header.Get("traceparent")}})
	sc := trace.SpanContextFromContext(ctx)
	if sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("result traceparent %q does not continue the command's trace", msgs[0].Header.Get("traceparent"))
	}
	// The process span ends after the ack, which follows the result: wait for it.
	var process, httpSpans int
	deadline := time.Now().Add(10 * time.Second)
	for process == 0 && time.Now().Before(deadline) {
		process, httpSpans = 0, 0
		for _, s := range b.spans.GetSpans() {
			if s.SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
				continue
			}
			switch {
			case strings.HasPrefix(s.Name, "process "):
				process++
				if s.Parent.SpanID().String() != "00f067aa0ba902b7" {
					t.Fatalf("process span parent = %s, want the publisher's span", s.Parent.SpanID())
				}
				if !hasAttr(s.Attributes, "messaging.message.id", "cmd-traced") || !hasAttr(s.Attributes, "oauthsync.resource", res1) {
					t.Fatalf("process span attributes %v", s.Attributes)
				}
			case s.SpanKind == trace.SpanKindClient && (strings.HasPrefix(s.Name, "HTTP GET") || strings.HasPrefix(s.Name, "HTTP POST") || s.Name == "GET" || s.Name == "POST"):
				httpSpans++
			}
		}
		if process == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if process != 1 || httpSpans != 2 {
		var names []string
		for _, s := range b.spans.GetSpans() {
			names = append(names, s.Name)
		}
		t.Fatalf("trace has %d process spans and %d provider HTTP spans, want 1 and 2; spans: %v", process, httpSpans, names)
	}
}

func hasAttr(attrs []attribute.KeyValue, key, value string) bool {
	for _, a := range attrs {
		if string(a.Key) == key && a.Value.AsString() == value {
			return true
		}
	}
	return false
}

func TestNoSecretLeavesTheWorker(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.MaxDeliver = 1
	cfg.RetryBudget = 100 * time.Millisecond
	b.start(cfg)
	const commandSecret = "CANARY-command-client-secret"
	b.publish(command("leak-1", res1, nil, messages.Changes{Name: ptr("leak")}), true)                                 // the read echoes the app secret
	b.publish(command("leak-2", res1, nil, messages.Changes{ClientSecret: ptr(messages.Secret(commandSecret))}), true) // refused
	b.publish(command("leak-3", res2, nil, messages.Changes{Name: ptr("leak3")}), true)                                // fails: dead letter
	for _, id := range []string{"leak-1", "leak-2"} {
		b.result(id)
	}
	for range 50 { // the provider fails for good, quoting the credential back
		b.sim.Fail(rocketchatsim.Fault{Status: 500, Error: "upstream rejected token " + canaryAuthToken})
	}
	b.publish(command("leak-4", res2, nil, messages.Changes{Name: ptr("leak4"), RedirectURI: ptr("https://x.example.com/cb")}), true)
	if r := b.result("leak-4").Data; r.Status != messages.StatusFailed {
		t.Fatalf("leak-4 ended %s, want failed (dead-lettered)", r.Status)
	}
	b.result("leak-3")
	var haystack strings.Builder
	haystack.WriteString(b.logs.String())
	for _, m := range b.allResults() {
		haystack.Write(m.Data)
		fmt.Fprint(&haystack, m.Header)
	}
	for _, s := range b.spans.GetSpans() {
		fmt.Fprint(&haystack, s.Name, s.Attributes, s.Events, s.Status)
	}
	dl, err := b.js.OrderedConsumer(context.Background(), b.streams.DeadLetter, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := dl.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("no dead letter to search: %v", err)
	}
	fmt.Fprint(&haystack, m.Headers())
	rm := b.collect()
	for _, v := range labelValues(rm) {
		fmt.Fprintln(&haystack, v)
	}
	for _, canary := range []string{canaryAuthToken, canaryAppSecret, commandSecret} {
		if strings.Contains(haystack.String(), canary) {
			t.Errorf("secret canary %q leaked into logs, results, spans or metrics", canary)
		}
	}
	wantNoIDsInLabels(t, rm, "leak-1", "leak-2", "leak-3", "leak-4", res1, res2)
	if count(rm, mCommands, labels{}) == 0 {
		t.Fatal("the metrics saw nothing: the test would prove nothing")
	}
	if !strings.Contains(b.logs.String(), "leak-1") {
		t.Fatal("the log capture saw nothing: the test would prove nothing")
	}
}

func TestShutdownDrainsAndLosesNothing(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	// Longer than the 30s result wait: a message lost in the stop (not
	// handed back) would only come back after it, and fail the test.
	cfg.AckWait = time.Minute
	stop := b.start(cfg)
	for range 24 { // a slow provider: every request of the first run takes 300ms
		b.sim.Fail(rocketchatsim.Fault{Delay: 300 * time.Millisecond})
	}
	var ids []string
	for i := range 12 {
		id := fmt.Sprintf("cmd-drain-%02d", i)
		res := []string{res1, res2}[i%2]
		b.publish(command(id, res, ptr(int64(i)), messages.Changes{Name: ptr(id)}), true)
		ids = append(ids, id)
	}
	b.waitResults(ids[0], 1) // work is under way
	stopAt := time.Now()
	stop() // must return within the drain timeout, handing back what it did not finish
	t.Logf("stop took %s", time.Since(stopAt))

	b.start(cfg)
	for _, id := range ids {
		if r := b.result(id).Data; r.Status != messages.StatusApplied && r.Status != messages.StatusSuperseded {
			t.Fatalf("%s ended %s", id, r.Status)
		}
	}
	for _, id := range ids {
		if n := len(b.waitResults(id, 1)); n != 1 {
			t.Fatalf("%s has %d results", id, n)
		}
	}
	perName := map[any]int{}
	for _, p := range b.posts() {
		perName[p["name"]]++
	}
	for name, n := range perName {
		if n > 1 {
			t.Fatalf("command %v was written %d times", name, n)
		}
	}
}

// waitConsumed waits until the consumer has acknowledged at least n messages.
func waitConsumed(t *testing.T, b *bundle, consumer string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := b.js.Consumer(context.Background(), b.streams.Commands, consumer)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Consumer >= n && info.NumAckPending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s acked %d of %d messages (pending acks %d)", consumer, info.AckFloor.Consumer, n, info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func equalJSON(a, b map[string]any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// With tracing off (a no-op tracer provider) no span is recorded, but the
// command's trace context still reaches its result.
func TestWithTracingOffTheResultStillContinuesTheCommandsTrace(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.TracerProvider = tracenoop.NewTracerProvider()
	b.start(cfg)
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	b.publish(command("cmd-untraced", res1, nil, messages.Changes{Name: ptr("untraced")}), true, "traceparent", traceparent)
	msgs := b.waitResults("cmd-untraced", 1)
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier{"Traceparent": {msgs[0].Header.Get("traceparent")}})
	if id := trace.SpanContextFromContext(ctx).TraceID().String(); id != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("result traceparent %q does not continue the command's trace", msgs[0].Header.Get("traceparent"))
	}
}
