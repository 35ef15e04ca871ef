package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
)

// The OpenTelemetry names of the metrics of deploy/METRICS.md (the
// Prometheus exporter adds _total and _seconds).
const (
	mCommands     = "oauthsync.commands"
	mEndToEnd     = "oauthsync.command.end_to_end.duration"
	mProcessing   = "oauthsync.command.processing.duration"
	mRequests     = "oauthsync.provider.requests"
	mRetries      = "oauthsync.provider.retries"
	mRedeliveries = "oauthsync.redeliveries"
	mDuplicates   = "oauthsync.duplicates"
	mIDConflicts  = "oauthsync.id_conflicts"
	mDeadLetters  = "oauthsync.dead_letters"
	mInFlight     = "oauthsync.commands.in_flight"
	mPending      = "oauthsync.consumer.pending"
	mAckPending   = "oauthsync.consumer.ack_pending"
	mStore        = "oauthsync.dedup_store.duration"
)

// collect reads every metric of the bundle now.
func (b *bundle) collect() metricdata.ResourceMetrics {
	b.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := b.metrics.Collect(context.Background(), &rm); err != nil {
		b.t.Fatalf("collect metrics: %v", err)
	}
	return rm
}

func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// labels is a label filter: a data point matches when it has each of them.
type labels map[string]string

func (l labels) match(set attribute.Set) bool {
	for k, v := range l {
		if got, ok := set.Value(attribute.Key(k)); !ok || got.AsString() != v {
			return false
		}
	}
	return true
}

// value sums the matching points of an int64 counter, up-down counter or
// gauge, and reports whether any matched.
func value(rm metricdata.ResourceMetrics, name string, l labels) (int64, bool) {
	m, ok := findMetric(rm, name)
	if !ok {
		return 0, false
	}
	var points []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		points = d.DataPoints
	case metricdata.Gauge[int64]:
		points = d.DataPoints
	}
	var sum int64
	found := false
	for _, p := range points {
		if l.match(p.Attributes) {
			sum += p.Value
			found = true
		}
	}
	return sum, found
}

// count is value that must be there (0 when no point matched).
func count(rm metricdata.ResourceMetrics, name string, l labels) int64 {
	v, _ := value(rm, name, l)
	return v
}

// histCount sums the counts of the matching points of a float64 histogram.
func histCount(rm metricdata.ResourceMetrics, name string, l labels) uint64 {
	m, ok := findMetric(rm, name)
	if !ok {
		return 0
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		return 0
	}
	var n uint64
	for _, p := range h.DataPoints {
		if l.match(p.Attributes) {
			n += p.Count
		}
	}
	return n
}

// labelValues returns every metric name and label value of rm, to search.
func labelValues(rm metricdata.ResourceMetrics) []string {
	var out []string
	add := func(set attribute.Set) {
		for _, kv := range set.ToSlice() {
			out = append(out, string(kv.Key)+"="+kv.Value.String())
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, m.Name)
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes)
				}
			default:
				out = append(out, fmt.Sprintf("unexpected data %T", d))
			}
		}
	}
	return out
}

// waitIdle waits until n process spans have ended (each delivery's span ends
// after its acknowledgement) and returns the spans.
func (b *bundle) waitIdle(n int) tracetest.SpanStubs {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		spans := b.spans.GetSpans()
		if len(processSpans(spans)) >= n {
			return spans
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%d process spans ended after 20s, want %d", len(processSpans(spans)), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func processSpans(spans tracetest.SpanStubs) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.SpanKind == trace.SpanKindConsumer && strings.HasPrefix(s.Name, "process ") {
			out = append(out, s)
		}
	}
	return out
}

// processSpansOf returns the process spans of a command id, in delivery order.
func processSpansOf(spans tracetest.SpanStubs, id string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range processSpans(spans) {
		if attrOf(s.Attributes, "messaging.message.id") == id {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	return out
}

// children returns the spans whose parent is span, by name prefix.
func children(spans tracetest.SpanStubs, parent tracetest.SpanStub, prefix string) tracetest.SpanStubs {
	var out tracetest.SpanStubs
	for _, s := range spans {
		if s.Parent.SpanID() == parent.SpanContext.SpanID() && strings.HasPrefix(s.Name, prefix) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b tracetest.SpanStub) int { return a.StartTime.Compare(b.StartTime) })
	return out
}

func attrOf(attrs []attribute.KeyValue, key string) string {
	for _, a := range attrs {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

func hasEvent(s tracetest.SpanStub, name string) bool {
	return slices.ContainsFunc(s.Events, func(e sdktrace.Event) bool { return e.Name == name })
}

// wantNoIDsInLabels fails if a command or resource id is a metric label
// value, or (for ids long enough not to occur by chance) part of one.
func wantNoIDsInLabels(t *testing.T, rm metricdata.ResourceMetrics, ids ...string) {
	t.Helper()
	for _, kv := range labelValues(rm) {
		_, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue // a metric name
		}
		for _, id := range ids {
			if v == id || (len(id) >= 8 && strings.Contains(v, id)) {
				t.Errorf("metric label %q carries the id %q", kv, id)
			}
		}
	}
}

// wantIdle checks that nothing is in flight any more.
func wantIdle(t *testing.T, rm metricdata.ResourceMetrics) {
	t.Helper()
	if v, ok := value(rm, mInFlight, labels{"connection": connName}); !ok || v != 0 {
		t.Errorf("in flight = %d (reported: %v), want 0", v, ok)
	}
}

var rc = labels{"connection": connName, "provider": "rocketchat"}

func with(l labels, k, v string) labels {
	out := labels{k: v}
	for a, b := range l {
		out[a] = b
	}
	return out
}

func TestTelemetryOfAnAppliedCommand(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	b.publish(command("tel-applied", res1, nil, messages.Changes{Name: ptr("applied")}), true, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if r := b.result("tel-applied").Data; r.Status != messages.StatusApplied {
		t.Fatalf("status %s", r.Status)
	}
	spans := b.waitIdle(1)
	rm := b.collect()

	if n := count(rm, mCommands, with(rc, "status", "applied")); n != 1 {
		t.Errorf("commands{applied} = %d, want 1", n)
	}
	if n := histCount(rm, mEndToEnd, with(rc, "status", "applied")); n != 1 {
		t.Errorf("end-to-end observations = %d, want 1", n)
	}
	if n := histCount(rm, mProcessing, with(rc, "status", "applied")); n != 1 {
		t.Errorf("processing observations = %d, want 1", n)
	}
	if n := count(rm, mRequests, with(rc, "status_class", "2xx")); n != 2 {
		t.Errorf("provider requests{2xx} = %d, want 2 (read, write)", n)
	}
	if n := histCount(rm, mStore, labels{"operation": "begin"}); n != 1 {
		t.Errorf("store begin observations = %d, want 1", n)
	}
	if n := histCount(rm, mStore, labels{"operation": "complete"}); n != 1 {
		t.Errorf("store complete observations = %d, want 1", n)
	}
	for _, name := range []string{mRetries, mRedeliveries, mDuplicates, mIDConflicts, mDeadLetters} {
		if v, _ := value(rm, name, labels{}); v != 0 {
			t.Errorf("%s = %d, want 0", name, v)
		}
	}
	wantIdle(t, rm)
	wantNoIDsInLabels(t, rm, "tel-applied", res1)

	// The trace: the consumer span continues the publisher's trace, with
	// the messaging conventions' attributes, and holds the dedup calls, one
	// provider attempt (holding its two HTTP requests) and the publish.
	ps := processSpansOf(spans, "tel-applied")
	if len(ps) != 1 {
		t.Fatalf("%d process spans, want 1", len(ps))
	}
	p := ps[0]
	if p.Name != "process "+b.subjects.ConnectionCommands(connName) || p.Parent.SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("process span %q parent %s", p.Name, p.Parent.SpanID())
	}
	want := map[string]string{
		"messaging.system":               "nats",
		"messaging.operation.type":       "process",
		"messaging.operation.name":       "process",
		"messaging.destination.name":     b.subjects.Command(connName, res1),
		"messaging.destination.template": b.subjects.ConnectionCommands(connName),
		"messaging.consumer.group.name":  "syncworker_" + connName,
		"messaging.message.id":           "tel-applied",
		"messaging.nats.delivery_count":  "1",
		"messaging.nats.stream":          b.streams.Commands,
		"oauthsync.connection":           connName,
		"oauthsync.resource":             res1,
		"oauthsync.provider":             "rocketchat",
		"oauthsync.status":               "applied",
	}
	for k, v := range want {
		if got := attrOf(p.Attributes, k); got != v {
			t.Errorf("process span %s = %q, want %q", k, got, v)
		}
	}
	attempts := children(spans, p, "apply ")
	if len(attempts) != 1 || attrOf(attempts[0].Attributes, "oauthsync.attempt") != "1" || attrOf(attempts[0].Attributes, "oauthsync.retry.wait_ms") != "" {
		t.Fatalf("attempt spans %v", names(attempts))
	}
	if http := children(spans, attempts[0], ""); len(http) != 2 || attrOf(http[0].Attributes, "http.request.method") != "GET" || attrOf(http[1].Attributes, "http.request.method") != "POST" {
		t.Errorf("HTTP spans of the attempt: %v", names(http))
	}
	for _, prefix := range []string{"dedup begin", "dedup complete", "publish "} {
		if len(children(spans, p, prefix)) != 1 {
			t.Errorf("no %q span under the process span", prefix)
		}
	}

	// One outcome line, with everything an operator searches by.
	lines := outcomeLines(t, b.logs.String(), "tel-applied")
	if len(lines) != 1 {
		t.Fatalf("%d outcome lines, want 1", len(lines))
	}
	for _, k := range []string{"commandId", "connection", "resource", "status", "attempts", "duration", "traceId", "spanId"} {
		if _, ok := lines[0][k]; !ok {
			t.Errorf("outcome line lacks %s: %v", k, lines[0])
		}
	}
	if lines[0]["traceId"] != "4bf92f3577b34da6a3ce929d0e0e4736" || lines[0]["spanId"] != p.SpanContext.SpanID().String() {
		t.Errorf("outcome line trace %v / span %v, want the process span's", lines[0]["traceId"], lines[0]["spanId"])
	}
}

// outcomeLines returns the parsed "command finished" log lines of a
// command id ("" for unreadable commands).
func outcomeLines(t *testing.T, logs, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "command finished" && m["commandId"] == id {
			out = append(out, m)
		}
	}
	return out
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func TestTelemetryOfRejectedCommands(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	// Refused before any call, and refused by the provider (not found).
	b.publish(command("tel-unsupported", res1, nil, messages.Changes{ClientSecret: ptr(messages.Secret("CANARY-x"))}), true)
	b.publish(command("tel-404", "000000000000000000000000", nil, messages.Changes{Name: ptr("x")}), true)
	for _, id := range []string{"tel-unsupported", "tel-404"} {
		if r := b.result(id).Data; r.Status != messages.StatusRejected {
			t.Fatalf("%s: %s", id, r.Status)
		}
	}
	b.waitIdle(2)
	rm := b.collect()
	if n := count(rm, mCommands, with(rc, "status", "rejected")); n != 2 {
		t.Errorf("commands{rejected} = %d, want 2", n)
	}
	if n := count(rm, mRequests, with(rc, "status_class", "4xx")); n != 1 {
		t.Errorf("provider requests{4xx} = %d, want 1 (the read that found nothing)", n)
	}
	if n := count(rm, mRequests, with(rc, "status_class", "2xx")); n != 0 {
		t.Errorf("provider requests{2xx} = %d, want 0", n)
	}
	if v, _ := value(rm, mRetries, labels{}); v != 0 {
		t.Errorf("a permanent failure was retried %d times", v)
	}
	wantIdle(t, rm)
	wantNoIDsInLabels(t, rm, "tel-unsupported", "tel-404", res1, "000000000000000000000000")
}

func TestTelemetryOfARetriedCommand(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	b.sim.Fail(rocketchatsim.Fault{Status: 500})
	b.publish(command("tel-retried", res1, nil, messages.Changes{Name: ptr("retried")}), true)
	if r := b.result("tel-retried").Data; r.Status != messages.StatusApplied || r.Attempts != 2 {
		t.Fatalf("%s after %d attempts, want applied after 2", r.Status, r.Attempts)
	}
	spans := b.waitIdle(1)
	rm := b.collect()
	if n := count(rm, mRetries, rc); n != 1 {
		t.Errorf("retries = %d, want 1", n)
	}
	if n := count(rm, mCommands, with(rc, "status", "applied")); n != 1 {
		t.Errorf("commands{applied} = %d, want 1", n)
	}
	if n5, n2 := count(rm, mRequests, with(rc, "status_class", "5xx")), count(rm, mRequests, with(rc, "status_class", "2xx")); n5 != 1 || n2 != 2 {
		t.Errorf("provider requests 5xx=%d 2xx=%d, want 1 and 2", n5, n2)
	}
	wantIdle(t, rm)

	ps := processSpansOf(spans, "tel-retried")
	if len(ps) != 1 {
		t.Fatalf("%d process spans, want 1", len(ps))
	}
	attempts := children(spans, ps[0], "apply rocketchat")
	if len(attempts) != 2 {
		t.Fatalf("attempt spans %v, want 2", names(attempts))
	}
	first, second := attempts[0], attempts[1]
	if attrOf(first.Attributes, "oauthsync.attempt") != "1" || attrOf(second.Attributes, "oauthsync.attempt") != "2" {
		t.Errorf("attempt numbers %q, %q", attrOf(first.Attributes, "oauthsync.attempt"), attrOf(second.Attributes, "oauthsync.attempt"))
	}
	if first.Status.Code != codes.Error || attrOf(first.Attributes, "error.type") != "provider_unavailable" {
		t.Errorf("failed attempt: status %v error.type %q", first.Status, attrOf(first.Attributes, "error.type"))
	}
	// The wait chosen before the second attempt is on the first, and the
	// second started no earlier than it.
	var wait time.Duration
	if _, err := fmt.Sscan(attrOf(first.Attributes, "oauthsync.retry.wait_ms"), &wait); err != nil {
		t.Fatalf("first attempt has no oauthsync.retry.wait_ms: %v", first.Attributes)
	}
	wait *= time.Millisecond
	if gap := second.StartTime.Sub(first.StartTime); gap < wait {
		t.Errorf("second attempt %s after the first, before the chosen wait %s", gap, wait)
	}
	if second.Status.Code == codes.Error || attrOf(second.Attributes, "oauthsync.retry.wait_ms") != "" {
		t.Errorf("successful attempt: status %v, wait %q", second.Status, attrOf(second.Attributes, "oauthsync.retry.wait_ms"))
	}
}

func TestTelemetryOfDuplicatesAndIDConflicts(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	cmd := command("tel-dup", res1, nil, messages.Changes{Name: ptr("dup")})
	b.publish(cmd, false)
	b.result("tel-dup")
	b.publish(cmd, false) // twice more, without Nats-Msg-Id
	b.publish(cmd, false)
	b.publish(command("tel-dup", res1, nil, messages.Changes{Name: ptr("another payload")}), false)
	spans := b.waitIdle(4)
	rm := b.collect()
	if n := count(rm, mDuplicates, labels{"connection": connName}); n != 2 {
		t.Errorf("duplicates = %d, want 2", n)
	}
	if n := count(rm, mIDConflicts, labels{"connection": connName}); n != 1 {
		t.Errorf("id conflicts = %d, want 1", n)
	}
	// The command was applied once; the conflicting payload got its own
	// rejected result; duplicates are not counted as commands again.
	if a, r := count(rm, mCommands, with(rc, "status", "applied")), count(rm, mCommands, with(rc, "status", "rejected")); a != 1 || r != 1 {
		t.Errorf("commands applied=%d rejected=%d, want 1 and 1", a, r)
	}
	if n := count(rm, mRequests, with(rc, "status_class", "2xx")); n != 2 {
		t.Errorf("provider requests = %d, want 2 (one read, one write)", n)
	}
	wantIdle(t, rm)
	wantNoIDsInLabels(t, rm, "tel-dup", res1)

	var events []string
	for _, s := range processSpansOf(spans, "tel-dup") {
		for _, e := range s.Events {
			if e.Name != "turn_wait" { // copies of one resource's command take turns, when they meet
				events = append(events, e.Name)
			}
		}
	}
	slices.Sort(events)
	if !slices.Equal(events, []string{"deduplicated", "deduplicated", "id_conflict"}) {
		t.Errorf("span events %v, want two deduplicated and one id_conflict", events)
	}
}

func TestTelemetryOfDeadLetters(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.MaxDeliver = 2
	cfg.RetryBudget = 200 * time.Millisecond
	b.start(cfg)
	for range 50 {
		b.sim.Fail(rocketchatsim.Fault{Status: 503})
	}
	b.publish(command("tel-dead", res1, nil, messages.Changes{Name: ptr("never")}), true)
	if r := b.result("tel-dead").Data; r.Status != messages.StatusFailed || r.Deliveries != 2 {
		t.Fatalf("%s after %d deliveries", r.Status, r.Deliveries)
	}
	b.publishRaw(b.subjects.Command(connName, res2), []byte(`{"specversion":`), false, "")
	spans := b.waitIdle(3)
	rm := b.collect()
	if n := count(rm, mDeadLetters, labels{"connection": connName, "code": "provider_unavailable"}); n != 1 {
		t.Errorf("dead letters{provider_unavailable} = %d, want 1", n)
	}
	if n := count(rm, mDeadLetters, labels{"connection": connName, "code": "invalid_command"}); n != 1 {
		t.Errorf("dead letters{invalid_command} = %d, want 1 (the unreadable one)", n)
	}
	if n := count(rm, mCommands, with(rc, "status", "failed")); n != 1 {
		t.Errorf("commands{failed} = %d, want 1", n)
	}
	if n := count(rm, mRedeliveries, labels{"connection": connName}); n != 1 {
		t.Errorf("redeliveries = %d, want 1", n)
	}
	if n := count(rm, mRetries, rc); n < 1 {
		t.Errorf("retries = %d, want some", n)
	}
	if n := histCount(rm, mStore, labels{"operation": "release"}); n < 1 {
		t.Errorf("store release observations = %d, want at least 1 (the hand-back)", n)
	}
	wantIdle(t, rm)
	wantNoIDsInLabels(t, rm, "tel-dead", res1, res2)

	// Delivery 1 handed the command back; delivery 2 links to it, and
	// dead-lettered it.
	ps := processSpansOf(spans, "tel-dead")
	if len(ps) != 2 {
		t.Fatalf("%d process spans, want 2", len(ps))
	}
	if !hasEvent(ps[0], "handed_back") || hasEvent(ps[0], "dead_lettered") {
		t.Errorf("first delivery's events %v", ps[0].Events)
	}
	if !hasEvent(ps[1], "dead_lettered") || attrOf(ps[1].Attributes, "messaging.nats.delivery_count") != "2" {
		t.Errorf("second delivery's events %v", ps[1].Events)
	}
	if len(ps[1].Links) != 1 || ps[1].Links[0].SpanContext.SpanID() != ps[0].SpanContext.SpanID() ||
		ps[1].Links[0].SpanContext.TraceID() != ps[0].SpanContext.TraceID() {
		t.Errorf("second delivery's links %+v, want one to the first delivery's span %s", ps[1].Links, ps[0].SpanContext.SpanID())
	}
	if len(ps[0].Links) != 0 {
		t.Errorf("first delivery has links %+v", ps[0].Links)
	}

	// The unreadable message has its outcome line too, with its trace.
	lines := outcomeLines(t, b.logs.String(), "")
	if len(lines) != 1 || lines[0]["status"] != "dead_lettered" || lines[0]["traceId"] == nil || lines[0]["duration"] == nil {
		t.Errorf("outcome lines of the unreadable command: %v", lines)
	}
	if lines := outcomeLines(t, b.logs.String(), "tel-dead"); len(lines) != 1 || lines[0]["status"] != "failed" {
		t.Errorf("outcome lines of tel-dead: %v", lines)
	}
}

func TestConsumerGauges(t *testing.T) {
	b := newBundle(t)
	cfg := b.config()
	cfg.JetStreamInfoTTL = 20 * time.Millisecond
	b.start(cfg)
	b.publish(command("tel-gauge", res1, nil, messages.Changes{Name: ptr("g")}), true)
	b.result("tel-gauge")
	b.waitIdle(1)
	// Both consumers are reported, and drain to zero once the command is
	// acknowledged (the server may lag the ack by a moment).
	deadline := time.Now().Add(10 * time.Second)
	for {
		rm := b.collect()
		var pending, ackPending int64
		okAll := true
		for _, conn := range []string{connName, "_unrouted"} {
			p, ok1 := value(rm, mPending, labels{"connection": conn})
			a, ok2 := value(rm, mAckPending, labels{"connection": conn})
			okAll = okAll && ok1 && ok2
			pending, ackPending = pending+p, ackPending+a
		}
		if okAll && pending == 0 && ackPending == 0 {
			wantNoIDsInLabels(t, rm, "tel-gauge", res1)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer gauges reported=%v pending=%d ack pending=%d, want both consumers at 0", okAll, pending, ackPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTelemetryOfASupersededCommand(t *testing.T) {
	b := newBundle(t)
	b.start(b.config())
	b.publish(command("tel-new", res1, ptr[int64](20), messages.Changes{Name: ptr("new")}), true)
	b.result("tel-new")
	b.publish(command("tel-old", res1, ptr[int64](10), messages.Changes{Name: ptr("old")}), true)
	if r := b.result("tel-old").Data; r.Status != messages.StatusSuperseded {
		t.Fatalf("older command: %s", r.Status)
	}
	spans := b.waitIdle(2)
	rm := b.collect()
	if a, s := count(rm, mCommands, with(rc, "status", "applied")), count(rm, mCommands, with(rc, "status", "superseded")); a != 1 || s != 1 {
		t.Errorf("commands applied=%d superseded=%d, want 1 and 1", a, s)
	}
	if n := count(rm, mRequests, labels{"connection": connName}); n != 2 {
		t.Errorf("provider requests = %d, want 2 (the superseded command sends none)", n)
	}
	wantIdle(t, rm)
	ps := processSpansOf(spans, "tel-old")
	if len(ps) != 1 || !hasEvent(ps[0], "superseded") || len(children(spans, ps[0], "apply ")) != 0 {
		t.Fatalf("superseded command's span: %+v", ps)
	}
}
