package adaptertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/messages"
)

// Features switch the cases that depend on what a provider can do.
type Features struct {
	// HasRead: Apply reads the object before writing it. An update the read
	// shows in place must then be Unchanged with Requests 1. It also says
	// what an adapters.Planner does: with a read, Plan makes that one GET
	// and compares each field; without, Plan makes no request and reports
	// every field FieldUnknown.
	HasRead bool
	// FullReplace: the provider's update replaces the whole object, so the
	// adapter reads first and carries untouched fields over. Requires
	// HasRead.
	FullReplace bool
	// RateLimitSignal names the wait signal the provider sends with a 429
	// ("X-RateLimit-Reset, epoch ms"). Empty means none: RetryAfter is then
	// not required to be positive.
	RateLimitSignal string
}

// FaultKind is a failure a Sim can be scripted to answer with.
type FaultKind int

// The faults every Sim supports. A fault is consumed by the next request
// (FaultRejectEchoing: the next write).
const (
	// FaultRateLimited answers 429 with the provider's wait signal (if it
	// has one) asking to wait Fault.Wait.
	FaultRateLimited FaultKind = iota + 1
	// FaultServerError answers 500 with the provider's error body.
	FaultServerError
	// FaultSlow answers normally after Fault.Wait, giving up (answering
	// nothing) as soon as the request's context is done.
	FaultSlow
	// FaultGarbage answers 200 with a body that is not JSON.
	FaultGarbage
	// FaultReset closes the connection without an answer.
	FaultReset
	// FaultRejectEchoing refuses the next write with a permanent 4xx
	// whose error text quotes every string in Fault.Echo, the way a
	// provider might echo a request's values back.
	FaultRejectEchoing
	// FaultConflict refuses the next write as a conflict, in the
	// provider's own terms (409 where the provider documents one). It must
	// be a permanent KindRejected carrying the provider's text.
	FaultConflict
)

// Fault scripts one failure.
type Fault struct {
	Kind FaultKind
	// Wait is the wait a FaultRateLimited signals and the delay of a
	// FaultSlow.
	Wait time.Duration
	// Echo is what a FaultRejectEchoing quotes.
	Echo []string
}

// Request is one request a Sim received.
type Request struct {
	Method string
	Path   string
	Body   []byte
}

// Sim is a provider simulator, as the suite drives it. Each Start returns a
// fresh one; it is stopped by the test's cleanup.
type Sim interface {
	// URL is the base URL to build the adapter with.
	URL() string
	// Seed stores a resource with id and the given native fields (the
	// keys and Go types Read returns); the Sim fills the rest (a client
	// secret among the Fixtures' canaries, for providers that echo one).
	Seed(t *testing.T, id string, fields map[string]any)
	// Read returns the stored resource's native fields, false if absent.
	Read(t *testing.T, id string) (map[string]any, bool)
	// Requests returns every request received, in order.
	Requests() []Request
	// Fail queues a fault.
	Fail(f Fault)
}

// UpdateCase is a supported update and what it must store. Every field it
// sets must differ from Fixtures.Initial: with a read, the Plan cases expect
// each to be FieldChanged before the Apply and FieldUnchanged after it.
type UpdateCase struct {
	Name string
	// Update is applied to Fixtures.Resource (its Resource is set by the
	// suite).
	Update adapters.Update
	// Want are native fields Read must show afterwards. Every field of
	// Fixtures.Initial not in Want must keep its initial value.
	Want map[string]any
}

// Fixtures are a provider's test values.
type Fixtures struct {
	// Resource is a valid id; every case seeds it with Initial.
	Resource string
	// MissingResource is a valid id that is never seeded.
	MissingResource string
	// InvalidResource breaks the provider's id pattern.
	InvalidResource string
	// Initial are the native fields Resource is seeded with.
	Initial map[string]any
	// Updates are supported updates; at least one. Updates[0] is also
	// used by the failure cases.
	Updates []UpdateCase
	// Unsupported sets one canonical field the provider has no place for;
	// zero when the provider supports every canonical field (the case is
	// then skipped).
	Unsupported messages.Changes
	// Secrets are canaries that must never appear in an error: the
	// adapter's credentials and any client secret the adapter gets to see
	// (one the Sim seeds and the provider's read returns, or one an update
	// carries). FaultRejectEchoing quotes all of them back.
	Secrets []string
}

// Harness plugs a provider into the suite.
type Harness struct {
	// Provider is the name Adapter.Provider must return.
	Provider string
	Features Features
	Fixtures Fixtures
	// Start starts a fresh simulator (stopped on t.Cleanup).
	Start func(t *testing.T) Sim
	// New builds the adapter on baseURL with client and credentials the
	// simulator accepts.
	New func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter
	// NewUnauthorized builds the adapter with credentials the simulator
	// refuses.
	NewUnauthorized func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter
	// CheckWrite, if set, is called at the end of every case for each
	// write (any request but GET) the simulator received, to validate it
	// against the provider's official spec.
	CheckWrite func(t *testing.T, r Request)
}

// ClientTimeout is the http.Client timeout the slow-answer case builds the
// adapter with.
const ClientTimeout = 250 * time.Millisecond

// oversize is the body the size-cap case answers with: far larger than any
// adapter's cap should be (httpx's default is 1 MiB) and than what socket
// buffers hold.
const oversize = 64 << 20

func (h *Harness) check(t *testing.T) {
	t.Helper()
	fx := h.Fixtures
	switch {
	case h.Provider == "" || h.Start == nil || h.New == nil || h.NewUnauthorized == nil:
		t.Fatal("adaptertest: Harness needs Provider, Start, New and NewUnauthorized")
	case fx.Resource == "" || fx.MissingResource == "" || fx.InvalidResource == "":
		t.Fatal("adaptertest: Fixtures need Resource, MissingResource and InvalidResource")
	case len(fx.Initial) == 0 || len(fx.Updates) == 0 || len(fx.Secrets) == 0:
		t.Fatal("adaptertest: Fixtures need Initial, Updates and Secrets")
	case h.Features.FullReplace && !h.Features.HasRead:
		t.Fatal("adaptertest: FullReplace requires HasRead")
	}
	if n := len(fx.Unsupported.Fields()); n > 1 {
		t.Fatalf("adaptertest: Fixtures.Unsupported sets %d fields, want at most 1", n)
	}
	for _, s := range fx.Secrets {
		if s == "" || strings.Contains(messages.Redacted, s) {
			t.Fatalf("adaptertest: secret canary %q is empty or part of %q", s, messages.Redacted)
		}
	}
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	h.check(t)
	fx := h.Fixtures
	t.Run("Provider", func(t *testing.T) {
		t.Parallel()
		b := h.setup(t, 0)
		if got := b.adapter.Provider(); got != h.Provider {
			t.Errorf("Provider() = %q, want %q", got, h.Provider)
		}
	})
	for _, uc := range fx.Updates {
		t.Run("UpdateLands/"+uc.Name, func(t *testing.T) {
			t.Parallel()
			h.testUpdateLands(t, uc)
		})
	}
	t.Run("SecondApply", func(t *testing.T) { t.Parallel(); h.testSecondApply(t) })
	t.Run("NotFound", func(t *testing.T) { t.Parallel(); h.testNotFound(t) })
	t.Run("Unauthorized", func(t *testing.T) { t.Parallel(); h.testUnauthorized(t) })
	t.Run("RateLimited", func(t *testing.T) { t.Parallel(); h.testRateLimited(t) })
	t.Run("ServerError", func(t *testing.T) {
		t.Parallel()
		e := h.testFault(t, Fault{Kind: FaultServerError}, adapters.KindUnavailable)
		if e.HTTPStatus < 500 || e.HTTPStatus > 599 {
			t.Errorf("HTTPStatus = %d, want 5xx", e.HTTPStatus)
		}
	})
	t.Run("Garbage", func(t *testing.T) {
		t.Parallel()
		h.testFault(t, Fault{Kind: FaultGarbage}, adapters.KindUnavailable)
	})
	t.Run("ConnectionReset", func(t *testing.T) {
		t.Parallel()
		h.testFault(t, Fault{Kind: FaultReset}, adapters.KindUnavailable)
	})
	t.Run("SlowBeyondTimeout", func(t *testing.T) {
		t.Parallel()
		h.testFault(t, Fault{Kind: FaultSlow, Wait: time.Minute}, adapters.KindTimeout)
	})
	t.Run("Cancel", func(t *testing.T) { t.Parallel(); h.testCancel(t) })
	t.Run("ResponseSizeCapped", func(t *testing.T) { t.Parallel(); h.testSizeCap(t) })
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		t.Run(fmt.Sprintf("RedirectNotFollowed/%d", status), func(t *testing.T) {
			t.Parallel()
			h.testRedirect(t, status)
		})
	}
	t.Run("Refuses/UnsupportedField", func(t *testing.T) {
		t.Parallel()
		f := fx.Unsupported.Fields()
		if len(f) == 0 {
			t.Skip("the provider has a place for every canonical field")
		}
		u := h.update(fx.Resource)
		u.Changes = fx.Unsupported
		h.testRefused(t, u, adapters.KindUnsupported, f[0])
	})
	t.Run("Refuses/UnknownProviderField", func(t *testing.T) {
		t.Parallel()
		u := h.update(fx.Resource)
		u.ProviderFields = map[string]json.RawMessage{"noSuchField": json.RawMessage(`1`)}
		h.testRefused(t, u, adapters.KindInvalid, messages.ProviderFieldPrefix+"noSuchField")
	})
	for _, id := range []string{fx.InvalidResource, "", "..", "../" + fx.Resource, fx.Resource + "?x=1", fx.Resource + "/x", fx.Resource + "#x"} {
		t.Run(fmt.Sprintf("Refuses/Resource%q", id), func(t *testing.T) {
			t.Parallel()
			h.testRefused(t, h.update(id), adapters.KindInvalid, "resource")
		})
	}
	t.Run("SecretsNeverInErrors", func(t *testing.T) { t.Parallel(); h.testSecretsEchoed(t) })
	t.Run("Conflict", func(t *testing.T) { t.Parallel(); h.testConflict(t) })
	t.Run("Plan", func(t *testing.T) { t.Parallel(); h.testPlan(t) })
}

// bundle is one case's simulator, client and adapter.
type bundle struct {
	sim     Sim
	client  *http.Client
	adapter adapters.Adapter
}

// setup starts a simulator seeded with the fixture resource and an adapter
// on a client of its own (a fresh transport: no connection is reused across
// cases, so a reset connection is never retried by the transport).
func (h *Harness) setup(t *testing.T, timeout time.Duration) *bundle {
	t.Helper()
	sim := h.Start(t)
	if h.CheckWrite != nil {
		t.Cleanup(func() {
			for _, r := range sim.Requests() {
				if r.Method != http.MethodGet {
					h.CheckWrite(t, r)
				}
			}
		})
	}
	sim.Seed(t, h.Fixtures.Resource, maps.Clone(h.Fixtures.Initial))
	client := newClient(t, timeout)
	return &bundle{sim: sim, client: client, adapter: h.New(t, sim.URL(), client)}
}

func newClient(t *testing.T, timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// update returns a copy of Updates[0] for resource.
func (h *Harness) update(resource string) adapters.Update {
	u := h.Fixtures.Updates[0].Update
	u.Resource = resource
	u.ProviderFields = maps.Clone(u.ProviderFields)
	return u
}

// wantError checks that err is an *adapters.Error of kind and carries no
// secret canary.
func (h *Harness) wantError(t *testing.T, err error, kind adapters.Kind) *adapters.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", kind)
	}
	h.noSecrets(t, err)
	ae, ok := adapters.AsError(err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *adapters.Error", err, err)
	}
	if ae.Kind != kind {
		t.Fatalf("error kind %s, want %s: %v", ae.Kind, kind, err)
	}
	if ae.Retryable() != kind.Retryable() {
		t.Errorf("Retryable() = %v for %s", ae.Retryable(), kind)
	}
	if ae.Message == "" {
		t.Errorf("error %v has no message", err)
	}
	return ae
}

// noSecrets fails if a secret canary appears in any text err shows.
func (h *Harness) noSecrets(t *testing.T, err error) {
	t.Helper()
	texts := []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	for e := err; e != nil; e = errors.Unwrap(e) {
		texts = append(texts, e.Error())
	}
	if ae, ok := adapters.AsError(err); ok {
		texts = append(texts, ae.Message, ae.Field)
	}
	for _, s := range h.Fixtures.Secrets {
		for _, text := range texts {
			if strings.Contains(text, s) {
				t.Errorf("error leaks secret canary %q: %s", s, text)
			}
		}
	}
}

// wantState checks that the resource holds Initial overlaid with want.
func (h *Harness) wantState(t *testing.T, sim Sim, want map[string]any) {
	t.Helper()
	got, ok := sim.Read(t, h.Fixtures.Resource)
	if !ok {
		t.Fatalf("resource %s is gone", h.Fixtures.Resource)
	}
	expect := maps.Clone(h.Fixtures.Initial)
	maps.Copy(expect, want)
	for _, k := range slices.Sorted(maps.Keys(expect)) {
		if !reflect.DeepEqual(got[k], expect[k]) {
			t.Errorf("field %q = %#v, want %#v", k, got[k], expect[k])
		}
	}
}

func (h *Harness) testUpdateLands(t *testing.T, uc UpdateCase) {
	b := h.setup(t, 0)
	u := uc.Update
	u.Resource = h.Fixtures.Resource
	if err := b.adapter.Validate(u); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	out, err := b.adapter.Apply(context.Background(), u)
	if err != nil {
		h.noSecrets(t, err)
		t.Fatalf("Apply: %v", err)
	}
	want := 1
	if h.Features.HasRead {
		want = 2
	}
	if out.Status != adapters.Applied || out.Requests != want {
		t.Errorf("Outcome = %+v, want Applied with %d requests", out, want)
	}
	reqs := b.sim.Requests()
	if len(reqs) != out.Requests {
		t.Errorf("simulator saw %d requests, Outcome says %d", len(reqs), out.Requests)
	}
	if h.Features.FullReplace && len(reqs) >= 2 && (reqs[0].Method != http.MethodGet || reqs[len(reqs)-1].Method == http.MethodGet) {
		t.Errorf("full replace: requests %s then %s, want a GET read then a write", reqs[0].Method, reqs[len(reqs)-1].Method)
	}
	h.wantState(t, b.sim, uc.Want)
}

func (h *Harness) testSecondApply(t *testing.T) {
	b := h.setup(t, 0)
	uc := h.Fixtures.Updates[0]
	u := h.update(h.Fixtures.Resource)
	if _, err := b.adapter.Apply(context.Background(), u); err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	before := len(b.sim.Requests())
	out, err := b.adapter.Apply(context.Background(), u)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	sent := len(b.sim.Requests()) - before
	if h.Features.HasRead {
		if out.Status != adapters.Unchanged || out.Requests != 1 || sent != 1 {
			t.Errorf("second Apply: Outcome %+v and %d requests, want Unchanged after the read alone", out, sent)
		}
	} else if out.Status != adapters.Applied || out.Requests != sent {
		t.Errorf("second Apply: Outcome %+v and %d requests, want Applied", out, sent)
	}
	h.wantState(t, b.sim, uc.Want)
}

func (h *Harness) testNotFound(t *testing.T) {
	b := h.setup(t, 0)
	u := h.update(h.Fixtures.MissingResource)
	if err := b.adapter.Validate(u); err != nil {
		t.Fatalf("Validate(MissingResource): %v", err)
	}
	_, err := b.adapter.Apply(context.Background(), u)
	h.wantError(t, err, adapters.KindNotFound)
	if _, ok := b.sim.Read(t, h.Fixtures.MissingResource); ok {
		t.Error("Apply created the missing resource")
	}
	h.wantState(t, b.sim, nil)
}

func (h *Harness) testUnauthorized(t *testing.T) {
	sim := h.Start(t)
	if h.CheckWrite != nil {
		t.Cleanup(func() {
			for _, r := range sim.Requests() {
				if r.Method != http.MethodGet {
					h.CheckWrite(t, r)
				}
			}
		})
	}
	sim.Seed(t, h.Fixtures.Resource, maps.Clone(h.Fixtures.Initial))
	a := h.NewUnauthorized(t, sim.URL(), newClient(t, 0))
	_, err := a.Apply(context.Background(), h.update(h.Fixtures.Resource))
	h.wantError(t, err, adapters.KindUnauthorized)
	h.wantState(t, sim, nil)
}

func (h *Harness) testRateLimited(t *testing.T) {
	const wait = 30 * time.Second
	e := h.testFault(t, Fault{Kind: FaultRateLimited, Wait: wait}, adapters.KindRateLimited)
	if e.HTTPStatus != http.StatusTooManyRequests {
		t.Errorf("HTTPStatus = %d, want 429", e.HTTPStatus)
	}
	if e.RetryAfter < 0 || e.RetryAfter > wait+2*time.Second {
		t.Errorf("RetryAfter = %v, want between 0 and %v", e.RetryAfter, wait)
	}
	if h.Features.RateLimitSignal != "" && e.RetryAfter <= 0 {
		t.Errorf("RetryAfter = %v: the provider signalled a wait (%s)", e.RetryAfter, h.Features.RateLimitSignal)
	}
}

// testFault applies Updates[0] against a simulator scripted with f and
// checks the error kind and that nothing was written.
func (h *Harness) testFault(t *testing.T, f Fault, kind adapters.Kind) *adapters.Error {
	t.Helper()
	var timeout time.Duration
	if f.Kind == FaultSlow {
		timeout = ClientTimeout
	}
	b := h.setup(t, timeout)
	b.sim.Fail(f)
	_, err := b.adapter.Apply(context.Background(), h.update(h.Fixtures.Resource))
	e := h.wantError(t, err, kind)
	h.wantState(t, b.sim, nil)
	return e
}

func (h *Harness) testCancel(t *testing.T) {
	t.Run("InFlight", func(t *testing.T) {
		b := h.setup(t, 0)
		b.sim.Fail(Fault{Kind: FaultSlow, Wait: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		// Cancel once the first request is on the wire; the simulator
		// holds it, so the cancellation lands mid-call.
		var once sync.Once
		b.client.Transport = traceTransport{base: b.client.Transport, wrote: func() { once.Do(cancel) }}
		a := h.New(t, b.sim.URL(), b.client)
		_, err := a.Apply(ctx, h.update(h.Fixtures.Resource))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v does not wrap context.Canceled", err)
		}
		h.noSecrets(t, err)
		if _, ok := adapters.AsError(err); !ok {
			t.Errorf("error %v (%T) is not an *adapters.Error", err, err)
		}
		h.wantState(t, b.sim, nil)
	})
	t.Run("Before", func(t *testing.T) {
		b := h.setup(t, 0)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.adapter.Apply(ctx, h.update(h.Fixtures.Resource))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v does not wrap context.Canceled", err)
		}
		if n := len(b.sim.Requests()); n != 0 {
			t.Errorf("a cancelled Apply sent %d requests", n)
		}
	})
}

// traceTransport reports when a request has been written.
type traceTransport struct {
	base  http.RoundTripper
	wrote func()
}

func (tt traceTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { tt.wrote() },
	})
	return tt.base.RoundTrip(r.WithContext(ctx))
}

func (h *Harness) testSizeCap(t *testing.T) {
	// full reports whether the handler managed to write the whole body:
	// it must not, because the adapter stops reading at its cap and drops
	// the connection (oversize is far beyond what socket buffers hold).
	full := make(chan bool, 1)
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"success":true,"padding":"`)
		chunk := strings.Repeat("x", 64<<10)
		for n := 0; n < oversize; n += len(chunk) {
			if _, err := io.WriteString(w, chunk); err != nil {
				full <- false
				return
			}
		}
		_, _ = io.WriteString(w, `"}`)
		full <- true
	}))
	t.Cleanup(big.Close)
	a := h.New(t, big.URL, newClient(t, 0))
	_, err := a.Apply(context.Background(), h.update(h.Fixtures.Resource))
	h.wantError(t, err, adapters.KindUnavailable)
	select {
	case whole := <-full:
		if whole {
			t.Errorf("the adapter read the whole %d-byte body instead of stopping at its cap", oversize)
		}
	case <-time.After(30 * time.Second):
		t.Error("the server is still writing the oversize body: the adapter did not drop the connection")
	}
}

func (h *Harness) testRedirect(t *testing.T, status int) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(target.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), status)
	}))
	t.Cleanup(redirector.Close)

	a := h.New(t, redirector.URL, newClient(t, 0))
	_, err := a.Apply(context.Background(), h.update(h.Fixtures.Resource))
	h.wantError(t, err, adapters.KindRejected)
	if n := hits.Load(); n != 0 {
		t.Errorf("the redirect target received %d requests", n)
	}
}

// testRefused checks that Validate refuses u with kind on field, and that
// Apply refuses it too without sending anything.
func (h *Harness) testRefused(t *testing.T, u adapters.Update, kind adapters.Kind, field string) {
	b := h.setup(t, 0)
	e := h.wantError(t, b.adapter.Validate(u), kind)
	if e.Field != field {
		t.Errorf("Validate: Field = %q, want %q", e.Field, field)
	}
	_, err := b.adapter.Apply(context.Background(), u)
	h.wantError(t, err, kind)
	if n := len(b.sim.Requests()); n != 0 {
		t.Errorf("Apply sent %d requests for a refused update", n)
	}
}

func (h *Harness) testConflict(t *testing.T) {
	b := h.setup(t, 0)
	b.sim.Fail(Fault{Kind: FaultConflict})
	_, err := b.adapter.Apply(context.Background(), h.update(h.Fixtures.Resource))
	e := h.wantError(t, err, adapters.KindRejected)
	if e.HTTPStatus < 400 || e.HTTPStatus > 499 || e.Message == "" {
		t.Errorf("conflict: HTTPStatus = %d, message %q; want a 4xx with the provider's text", e.HTTPStatus, e.Message)
	}
	h.wantState(t, b.sim, nil)
}

func (h *Harness) testSecretsEchoed(t *testing.T) {
	b := h.setup(t, 0)
	b.sim.Fail(Fault{Kind: FaultRejectEchoing, Echo: h.Fixtures.Secrets})
	_, err := b.adapter.Apply(context.Background(), h.update(h.Fixtures.Resource))
	e := h.wantError(t, err, adapters.KindRejected)
	if e.HTTPStatus < 400 || e.HTTPStatus > 499 {
		t.Errorf("HTTPStatus = %d, want 4xx", e.HTTPStatus)
	}
	h.wantState(t, b.sim, nil)
}
