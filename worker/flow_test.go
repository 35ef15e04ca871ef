package worker_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/internal/testenv"
	"github.com/oauthsync/oauthsync/messages"
	"github.com/oauthsync/oauthsync/worker"
	"github.com/oauthsync/oauthsync/worker/dedup/kvdedup"
	"github.com/oauthsync/oauthsync/worker/flow"
	"github.com/oauthsync/oauthsync/worker/flow/memflow"
	"github.com/oauthsync/oauthsync/worker/flow/redisflow"
)

var coalesceCommands = flag.Int("flow.coalesce", 3000, "how many commands TestCommandsWaitingForOneResourceCoalesce publishes over its 3 resources")

var flowOutage = flag.Duration("flow.outage", 2*time.Minute, "how long the provider is down in TestAProviderOutageOpensTheCircuitAndLosesNothing")

// providerTap stands in front of the simulator: it records every request
// the provider receives, answers 503 while down, and enforces a rate limit
// of its own (a sliding second, answered 429 with Rocket.Chat's
// X-RateLimit-Reset in epoch ms) when perWindow > 0.
type providerTap struct {
	next      http.Handler
	perWindow int

	down      atomic.Bool
	mu        sync.Mutex
	times     []time.Time
	limited   int
	whileDown int
	// writes counts the requests that are not reads (GET).
	writes int
	// refuse, when set, makes the provider refuse for good (400) every
	// write whose body contains it; refused counts them.
	refuse  string
	refused int
	// loseAnswer, when set, makes the first write whose body contains it
	// land with its answer lost (a 502).
	loseAnswer string
	lost       atomic.Bool
}

func (p *providerTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	p.mu.Lock()
	p.times = append(p.times, now)
	if r.Method != http.MethodGet {
		p.writes++
	}
	if p.down.Load() {
		p.whileDown++
		p.mu.Unlock()
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	if p.perWindow > 0 {
		in, oldest := 0, now
		for i := len(p.times) - 1; i >= 0 && now.Sub(p.times[i]) < time.Second; i-- {
			in, oldest = in+1, p.times[i]
		}
		if in > p.perWindow {
			p.limited++
			p.mu.Unlock()
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(oldest.Add(time.Second).UnixMilli(), 10))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"success":false,"error":"Error, too many requests. Please slow down. You must wait 1 seconds before trying this endpoint again. [error-too-many-requests]"}`))
			return
		}
	}
	p.mu.Unlock()
	if p.refuse != "" && r.Method != http.MethodGet {
		body, _ := io.ReadAll(r.Body)
		if bytes.Contains(body, []byte(p.refuse)) {
			p.mu.Lock()
			p.refused++
			p.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"success":false,"error":"this redirect URI is not allowed [error-invalid-redirect-uri]"}`))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if p.loseAnswer != "" && r.Method != http.MethodGet {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if bytes.Contains(body, []byte(p.loseAnswer)) && p.lost.CompareAndSwap(false, true) {
			p.next.ServeHTTP(httptest.NewRecorder(), r)         // applied...
			http.Error(w, "bad gateway", http.StatusBadGateway) // ...and the answer lost
			return
		}
	}
	p.next.ServeHTTP(w, r)
}

// busiestSecond is the most requests the provider received in any one
// second (a sliding window starting at each request).
func (p *providerTap) busiestSecond() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	most := 0
	for i, t := range p.times {
		n := 0
		for _, u := range p.times[i:] {
			if u.Sub(t) >= time.Second {
				break
			}
			n++
		}
		most = max(most, n)
	}
	return most
}

func (p *providerTap) counts() (total, limited, whileDown int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.times), p.limited, p.whileDown
}

// flowBundle is a bundle whose provider is behind a tap, with n resources
// seeded.
func flowBundle(t *testing.T, perWindow, resources int) (*bundle, *providerTap, []string) {
	b := newBundle(t)
	tap := &providerTap{next: b.sim, perWindow: perWindow}
	srv := httptest.NewServer(tap)
	t.Cleanup(srv.Close)
	b.simURL = srv.URL
	ids := make([]string, resources)
	for i := range ids {
		ids[i] = fmt.Sprintf("65a7d77142a7e1245%07x", i)
		b.sim.Seed(rocketchatsim.App{ID: ids[i], Name: "app", Active: true, RedirectURI: "https://old.example.com/cb",
			ClientID: "client" + ids[i][18:], ClientSecret: canaryAppSecret})
	}
	return b, tap, ids
}

// fleetOf starts n workers of cfg's connections, sharing their flow state
// in Redis, each built by edit.
func (b *bundle) fleetOf(n int, edit func(*worker.Config)) {
	flows := redisflow.New(testenv.Redis(b.t), b.storePrefix)
	for i := range n {
		cfg := b.config()
		cfg.Instance = fmt.Sprintf("fleet-%d", i)
		cfg.Flow = flows
		edit(&cfg)
		b.start(cfg)
	}
}

func TestThreeWorkersKeepOneFleetWideRateLimit(t *testing.T) {
	const perSecond, burst = 20, 5
	b, tap, ids := flowBundle(t, perSecond+burst, 20)
	b.fleetOf(3, func(cfg *worker.Config) {
		cfg.Connections[0].RateLimit = flow.Limit{PerSecond: perSecond, Burst: burst}
		cfg.Connections[0].MaxInFlight = 8
	})
	const commands = 150 // a read and a write each: 300 requests, 15s at 20/s
	for i := range commands {
		b.publish(command(fmt.Sprintf("rl-%d", i), ids[i%len(ids)], nil, messages.Changes{Name: ptr(fmt.Sprintf("n%d", i))}), true)
	}
	for i := range commands {
		if r := b.result(fmt.Sprintf("rl-%d", i)).Data; r.Status == messages.StatusFailed || r.Status == messages.StatusRejected {
			t.Fatalf("rl-%d: %s %+v", i, r.Status, r.Error)
		}
	}
	total, limited, _ := tap.counts()
	busiest := tap.busiestSecond()
	t.Logf("%d requests, %d answered 429, busiest second %d (limit %d/s, burst %d)", total, limited, busiest, perSecond, burst)
	if busiest > perSecond+burst {
		t.Errorf("the provider received %d requests in one second; the fleet's limit is %d/s with a burst of %d", busiest, perSecond, burst)
	}
	if limited > 2 {
		t.Errorf("%d requests were answered 429; want almost none", limited)
	}
}

func TestAProviderOutageOpensTheCircuitAndLosesNothing(t *testing.T) {
	b, tap, ids := flowBundle(t, 0, 30)
	openFor := 5 * time.Second
	b.fleetOf(3, func(cfg *worker.Config) {
		cfg.Connections[0].Circuit = flow.CircuitConfig{Failures: 5, OpenFor: openFor}
		// Without the circuit, a command would spend this budget in a
		// few seconds of outage and be dead-lettered.
		cfg.MaxDeliver = 3
		cfg.RetryBudget = time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var published atomic.Int64
	publishing := make(chan struct{})
	go func() { // a steady load, before, during and after the outage
		defer close(publishing)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			b.publish(command(fmt.Sprintf("out-%d", i), ids[i%len(ids)], nil, messages.Changes{Name: ptr(fmt.Sprintf("n%d", i))}), true)
			published.Add(1)
		}
	}()
	time.Sleep(2 * time.Second)
	tap.down.Store(true)
	t.Logf("provider down for %v", *flowOutage)
	time.Sleep(*flowOutage)
	tap.down.Store(false)
	recovered := time.Now()
	time.Sleep(2 * time.Second)
	cancel()
	<-publishing

	n := int(published.Load())
	for i := range n {
		id := fmt.Sprintf("out-%d", i)
		if r := b.result(id).Data; r.Status != messages.StatusApplied && r.Status != messages.StatusUnchanged && r.Status != messages.StatusSuperseded {
			t.Fatalf("%s: %s %+v", id, r.Status, r.Error)
		}
	}
	settled := time.Since(recovered)
	_, _, whileDown := tap.counts()
	t.Logf("%d commands; %d requests during the %v outage; all settled %v after recovery", n, whileDown, *flowOutage, settled.Round(time.Millisecond))
	if dl := b.streamCount(b.streams.DeadLetter, ">"); dl != 0 {
		t.Fatalf("%d dead letters; want none", dl)
	}
	if settled > time.Minute {
		t.Errorf("everything settled %v after the provider came back; want within a minute", settled)
	}
	// Three workers: each may fail its commands in flight until its
	// breaker trips (5 in a row) or it sees the fleet's circuit, then one
	// probe every openFor for the fleet.
	if most := 3*4*3 + 2*int(*flowOutage/openFor) + 10; whileDown > most {
		t.Errorf("%d requests reached the provider while it was down; want few (at most %d)", whileDown, most)
	}
}

// TestAnOpenCircuitPausesTheConsumerWhereTheServerCan runs on NATS 2.15
// (embedded), which has consumer pause (2.11+): the open circuit pauses the
// connection's consumer for the whole fleet until its probe time; once the
// provider is back, the command is applied and the consumer runs again. The machine's NATS 2.9 has no consumer
// pause; TestAProviderOutageOpensTheCircuitAndLosesNothing runs there,
// where the workers stop pulling on their own.
func TestAnOpenCircuitPausesTheConsumerWhereTheServerCan(t *testing.T) {
	b := newBundleOn(t, testenv.Connect(t, testenv.EmbeddedNATS(t)))
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		b.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b.simURL = srv.URL
	cfg := b.config()
	cfg.Connections[0].Circuit = flow.CircuitConfig{Failures: 3, OpenFor: 3 * time.Second}
	b.start(cfg)
	b.publish(command("pause-1", res1, nil, messages.Changes{Name: ptr("paused")}), true)

	cons, err := b.js.Consumer(context.Background(), b.streams.Commands, "syncworker_"+connName)
	if err != nil {
		t.Fatal(err)
	}
	paused := func() (bool, time.Duration) {
		info, err := cons.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.Paused, info.PauseRemaining
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if p, left := paused(); p {
			t.Logf("consumer paused, %v left", left)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the consumer was never paused while the circuit was open; logs:\n%s", b.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	down.Store(false)
	if r := b.result("pause-1").Data; r.Status != messages.StatusApplied {
		t.Fatalf("after recovery: %s %+v", r.Status, r.Error)
	}
	deadline = time.Now().Add(10 * time.Second)
	for p, _ := paused(); p; p, _ = paused() {
		if time.Now().After(deadline) {
			t.Fatal("the consumer stayed paused after the probe succeeded")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAProvidersWaitSignalHoldsTheWholeFleet(t *testing.T) {
	b, tap, ids := flowBundle(t, 0, 10)
	const reset = 2 * time.Second
	var limitedAt atomic.Int64
	tap.next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == rocketchatsim.PathUpdate && limitedAt.CompareAndSwap(0, time.Now().UnixNano()) {
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(reset).UnixMilli(), 10))
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"success":false,"error":"Error, too many requests. Please slow down. [error-too-many-requests]"}`))
			return
		}
		b.sim.ServeHTTP(w, r)
	})
	b.fleetOf(3, func(*worker.Config) {})
	const n = 150 // a steady load of 50 a second, before, during and after the wait
	for i := range n {
		b.publish(command(fmt.Sprintf("wait-%d", i), ids[i%len(ids)], nil, messages.Changes{Name: ptr(fmt.Sprintf("n%d", i))}), true)
		time.Sleep(20 * time.Millisecond)
	}
	for i := range n {
		if r := b.result(fmt.Sprintf("wait-%d", i)).Data; r.Status != messages.StatusApplied && r.Status != messages.StatusSuperseded {
			t.Fatalf("wait-%d: %s %+v", i, r.Status, r.Error)
		}
	}
	at := time.Unix(0, limitedAt.Load())
	tap.mu.Lock()
	defer tap.mu.Unlock()
	during := 0
	for _, ts := range tap.times {
		// Workers see the fleet's wait within the gate's refresh (500ms);
		// after that nothing may reach the provider until the reset.
		if ts.After(at.Add(600*time.Millisecond)) && ts.Before(at.Add(reset-50*time.Millisecond)) {
			during++
		}
	}
	t.Logf("%d requests in all; %d during the wait", len(tap.times), during)
	if during > 0 {
		t.Fatalf("%d requests reached the provider during the %v it asked the fleet to wait", during, reset)
	}
}

// writeCount is how many requests were not reads.
func (p *providerTap) writeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.writes
}

// publishBulkAndWait publishes cmds (ids bulk-<n>) on the bulk subjects
// and waits, at most timeout, for a result of each; it returns how long
// that took.
func (b *bundle) publishBulkAndWait(cmds []*messages.Command, timeout time.Duration) time.Duration {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	b.publishBulk(ctx, cmds)
	for b.resultCount("bulk-") < len(cmds) {
		select {
		case <-ctx.Done():
			b.t.Fatalf("%d of %d results after %v", b.resultCount("bulk-"), len(cmds), time.Since(start))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return time.Since(start)
}

// TestCommandsWaitingForOneResourceCoalesce: a migration of 3,000
// commands over 3 resources under a limit of 5 requests a second (a read
// and a write per Rocket.Chat command). The commands of a resource that
// wait together cost one write, the highest order key's: the others are
// superseded with no provider call and no permit.
func TestCommandsWaitingForOneResourceCoalesce(t *testing.T) {
	const resources = 3
	commands := *coalesceCommands
	b, tap, ids := flowBundle(t, 0, resources)
	b.fleetOf(3, func(cfg *worker.Config) {
		cfg.Connections[0].MaxInFlight = 64
		cfg.Connections[0].RateLimit = flow.Limit{PerSecond: 5, Burst: 2}
	})
	took := b.publishBulkAndWait(renames(commands, ids), 10*time.Minute)

	statuses := map[messages.Status]int{}
	for i := range commands {
		r := b.result(fmt.Sprintf("bulk-%d", i)).Data
		statuses[r.Status]++
		switch r.Status {
		case messages.StatusApplied:
			if !slices.Equal(r.AppliedFields, []string{"name"}) {
				t.Errorf("bulk-%d applied %v; want [name]", i, r.AppliedFields)
			}
		case messages.StatusSuperseded:
			if !slices.Equal(r.SkippedFields, []string{"name"}) || r.SkippedOrderKeys["name"] == 0 {
				t.Errorf("bulk-%d superseded with skipped %v %v; want name and the key that won", i, r.SkippedFields, r.SkippedOrderKeys)
			}
		default:
			t.Errorf("bulk-%d: %s %+v", i, r.Status, r.Error)
		}
	}
	for k, id := range ids {
		last := commands - resources + k // the resource's highest order key
		if app, _ := b.sim.App(id); app.Name != fmt.Sprintf("m%d", last) {
			t.Errorf("resource %s ends with name %q; want the highest order key's, m%d", id, app.Name, last)
		}
	}
	total, limited, _ := tap.counts()
	writes := tap.writeCount()
	t.Logf("%d commands over %d resources at 5 requests/s in %v: %d writes, %d requests (%d answered 429), statuses %v",
		commands, resources, took.Round(time.Second), writes, total, limited, statuses)
	if writes > commands/10 {
		t.Errorf("%d writes for %d commands over %d resources; want far fewer writes than commands (at most a tenth)", writes, commands, resources)
	}
	if statuses[messages.StatusApplied] != writes {
		t.Errorf("%d applied results for %d writes; each write is one command's", statuses[messages.StatusApplied], writes)
	}
}

// TestCommandsOnOtherFieldsShareOneWrite: commands for one resource that
// set different fields (a name, a redirect URI, the active flag) wait
// behind a rate limit together. The command whose turn comes carries the
// waiting ones that set none of its fields in its own write (a merged
// write): more commands are applied than writes are made, each applied
// result names its own field only, and every field ends with the value
// of the highest order key that set it.
func TestCommandsOnOtherFieldsShareOneWrite(t *testing.T) {
	b, tap, ids := flowBundle(t, 0, 2)
	b.fleetOf(3, func(cfg *worker.Config) {
		cfg.Connections[0].MaxInFlight = 64
		cfg.Connections[0].RateLimit = flow.Limit{PerSecond: 4, Burst: 2}
	})
	commandsShareWrites(t, b, tap, ids, 240)
}

// TestCommandsOnOtherFieldsShareOneWriteOnTheEmbeddedStore: the same on
// what `syncworker dev` runs, the dedup store in JetStream KV and the
// rate limit in process.
func TestCommandsOnOtherFieldsShareOneWriteOnTheEmbeddedStore(t *testing.T) {
	b, tap, ids := flowBundle(t, 0, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bucket := "merge_" + strings.TrimPrefix(b.storePrefix, "oauthsync-test-")
	store, err := kvdedup.New(ctx, b.js, kvdedup.Config{Bucket: bucket, ResultTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, name := range []string{bucket + "_cmd", bucket + "_state"} {
			_ = b.js.DeleteKeyValue(context.Background(), name)
		}
	})
	cfg := b.config()
	cfg.Store, cfg.Flow = store, memflow.New()
	cfg.Connections[0].MaxInFlight = 64
	cfg.Connections[0].RateLimit = flow.Limit{PerSecond: 4, Burst: 2}
	b.start(cfg)
	commandsShareWrites(t, b, tap, ids, 120)
}

// commandsShareWrites publishes commands bulk commands over the resources
// ids, each setting one of three fields, and checks their results, the
// provider's final state and that the writes were shared.
func commandsShareWrites(t *testing.T, b *bundle, tap *providerTap, ids []string, commands int) {
	t.Helper()
	resources := len(ids)
	fieldOf := func(i int) string {
		return []string{messages.FieldName, messages.FieldRedirectURI, messages.FieldActive}[(i/resources)%3]
	}
	cmds := make([]*messages.Command, commands)
	for i := range cmds {
		var c messages.Changes
		switch fieldOf(i) {
		case messages.FieldName:
			c.Name = ptr(fmt.Sprintf("n%d", i))
		case messages.FieldRedirectURI:
			c.RedirectURI = ptr(fmt.Sprintf("https://r%d.example.com/cb", i))
		default:
			active := i%4 < 2
			c.Active = &active
		}
		cmds[i] = command(fmt.Sprintf("bulk-%d", i), ids[i%resources], nil, c)
	}
	took := b.publishBulkAndWait(cmds, 5*time.Minute)

	statuses := map[messages.Status]int{}
	for i := range commands {
		r := b.result(fmt.Sprintf("bulk-%d", i)).Data
		statuses[r.Status]++
		own := []string{fieldOf(i)}
		switch r.Status {
		case messages.StatusApplied:
			if !slices.Equal(r.AppliedFields, own) || len(r.SkippedFields) != 0 {
				t.Errorf("bulk-%d applied %v, skipped %v; want its own field %v applied", i, r.AppliedFields, r.SkippedFields, own)
			}
		case messages.StatusSuperseded:
			if !slices.Equal(r.SkippedFields, own) || r.SkippedOrderKeys[own[0]] == 0 {
				t.Errorf("bulk-%d superseded with skipped %v %v; want %v and the key that won", i, r.SkippedFields, r.SkippedOrderKeys, own)
			}
		case messages.StatusUnchanged: // its value was in place already: no write
			if len(r.AppliedFields) != 0 || len(r.SkippedFields) != 0 {
				t.Errorf("bulk-%d unchanged with applied %v, skipped %v; want neither", i, r.AppliedFields, r.SkippedFields)
			}
		default:
			t.Errorf("bulk-%d: %s %+v", i, r.Status, r.Error)
		}
	}
	// The last command of each resource and field: its value is the one in place.
	for k, id := range ids {
		app, _ := b.sim.App(id)
		last := map[string]int{}
		for i := k; i < commands; i += resources {
			last[fieldOf(i)] = i
		}
		name, uri, active := fmt.Sprintf("n%d", last[messages.FieldName]),
			fmt.Sprintf("https://r%d.example.com/cb", last[messages.FieldRedirectURI]), last[messages.FieldActive]%4 < 2
		if app.Name != name || app.RedirectURI != uri || app.Active != active {
			t.Errorf("resource %s ends with %q %q %v; want the highest order keys' %q %q %v", id, app.Name, app.RedirectURI, app.Active, name, uri, active)
		}
	}
	writes := tap.writeCount()
	total, limited, _ := tap.counts()
	t.Logf("%d commands on 3 fields of %d resources at 4 requests/s in %v: %d writes, %d requests (%d answered 429), statuses %v",
		commands, resources, took.Round(time.Second), writes, total, limited, statuses)
	if statuses[messages.StatusApplied] < 2*writes {
		t.Errorf("%d applied results for %d writes; want the commands on other fields to share writes (at least two per write)", statuses[messages.StatusApplied], writes)
	}
	if writes > commands/10 {
		t.Errorf("%d writes for %d commands; want at most a tenth", writes, commands)
	}
}

// threeCommandsWaitTogether starts one worker at 2 requests a second
// against a provider behind a tap set up by setUp, and publishes two
// commands on other apps, which take the burst, then three that wait for
// permits together on ids[0]: bulk-0 sets the name "renamed", bulk-1 the
// redirect URI uri, bulk-2 the active flag to false.
func threeCommandsWaitTogether(t *testing.T, setUp func(*providerTap), uri string) (*bundle, *providerTap, []string) {
	t.Helper()
	b, tap, ids := flowBundle(t, 0, 3)
	setUp(tap)
	b.fleetOf(1, func(cfg *worker.Config) {
		cfg.Connections[0].MaxInFlight = 16
		cfg.Connections[0].RateLimit = flow.Limit{PerSecond: 2, Burst: 2}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inactive := false
	b.publishBulk(ctx, []*messages.Command{
		command("warm-0", ids[1], nil, messages.Changes{Name: ptr("w0")}),
		command("warm-1", ids[2], nil, messages.Changes{Name: ptr("w1")}),
		command("bulk-0", ids[0], nil, messages.Changes{Name: ptr("renamed")}),
		command("bulk-1", ids[0], nil, messages.Changes{RedirectURI: ptr(uri)}),
		command("bulk-2", ids[0], nil, messages.Changes{Active: &inactive}),
	})
	return b, tap, ids
}

// TestALostAnswerToAMergedWriteIsEveryRidersApplied: the merged write of
// three commands on three fields lands, but its answer is lost. The retry
// reads every value in place; they are the riders' own write as much as
// the holder's, so each result is applied with its own field, never
// unchanged (docs/CONTRACT.md §5.1), and nothing is written again.
func TestALostAnswerToAMergedWriteIsEveryRidersApplied(t *testing.T) {
	b, tap, _ := threeCommandsWaitTogether(t, func(tap *providerTap) { tap.loseAnswer = "lose-me" }, "https://lose-me.example.com/cb")
	for id, field := range map[string]string{"bulk-0": messages.FieldName, "bulk-1": messages.FieldRedirectURI, "bulk-2": messages.FieldActive} {
		if r := b.result(id).Data; r.Status != messages.StatusApplied || !slices.Equal(r.AppliedFields, []string{field}) {
			t.Errorf("%s: %s applied %v (%+v); want applied [%s]", id, r.Status, r.AppliedFields, r.Error, field)
		}
	}
	if !tap.lost.Load() {
		t.Fatal("no answer was lost: the test did not run its case")
	}
	b.result("warm-0")
	b.result("warm-1")
	// Two warm-up writes and one merged write: the retry found the values in place.
	if n := tap.writeCount(); n != 3 {
		t.Errorf("the provider got %d writes; want 3: the warm-ups' and one merged write of the three commands", n)
	}
}

// TestAMergedWriteTheProviderRefusesIsRetriedCommandByCommand: three
// commands on three fields of one app wait behind a rate limit; the one
// whose turn comes carries the two others. The provider refuses one of
// them for good (a redirect URI it does not allow): the refusal of the
// merged write is laid at no one's door; each command is tried in its own
// write, the refused one is rejected, the two others applied.
func TestAMergedWriteTheProviderRefusesIsRetriedCommandByCommand(t *testing.T) {
	b, tap, ids := threeCommandsWaitTogether(t, func(tap *providerTap) { tap.refuse = "refuse-me" }, "https://refuse-me.example.com/cb")
	want := map[string]struct {
		status  messages.Status
		applied []string
	}{
		"bulk-0": {messages.StatusApplied, []string{messages.FieldName}},
		"bulk-1": {messages.StatusRejected, nil},
		"bulk-2": {messages.StatusApplied, []string{messages.FieldActive}},
	}
	for id, w := range want {
		r := b.result(id).Data
		if r.Status != w.status || !slices.Equal(r.AppliedFields, w.applied) {
			t.Errorf("%s: %s applied %v (%+v); want %s applied %v", id, r.Status, r.AppliedFields, r.Error, w.status, w.applied)
		}
		if w.status == messages.StatusRejected && (r.Error == nil || r.Error.Code != messages.CodeProviderRejected) {
			t.Errorf("%s: error %+v; want provider_rejected", id, r.Error)
		}
	}
	app, _ := b.sim.App(ids[0])
	if app.Name != "renamed" || app.Active || app.RedirectURI != "https://old.example.com/cb" {
		t.Errorf("app ends %q active=%v %q; want the applied commands' name and flag, the redirect URI left alone", app.Name, app.Active, app.RedirectURI)
	}
	tap.mu.Lock()
	refused := tap.refused
	tap.mu.Unlock()
	if refused < 2 {
		t.Errorf("the provider refused %d writes; want the merged write refused, then the refused command's own", refused)
	}
}
