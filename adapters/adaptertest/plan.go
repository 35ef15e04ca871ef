package adaptertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/messages"
)

// testPlan runs the adapters.Planner cases, when the adapter is a Planner.
// With Features.HasRead, Plan reads (one GET) and compares; without it,
// Plan makes no request and reports every field FieldUnknown.
func (h *Harness) testPlan(t *testing.T) {
	if _, ok := h.setup(t, 0).adapter.(adapters.Planner); !ok {
		t.Skip("the adapter does not implement adapters.Planner")
	}
	fx := h.Fixtures
	for _, uc := range fx.Updates {
		t.Run("Diff/"+uc.Name, func(t *testing.T) { t.Parallel(); h.testPlanDiff(t, uc) })
	}
	t.Run("NotFound", func(t *testing.T) { t.Parallel(); h.testPlanNotFound(t) })
	t.Run("Unauthorized", func(t *testing.T) {
		t.Parallel()
		h.needRead(t)
		b := h.setup(t, 0)
		b.adapter = h.NewUnauthorized(t, b.sim.URL(), b.client)
		_, _, err := h.plan(t, context.Background(), b, h.update(fx.Resource))
		h.wantError(t, err, adapters.KindUnauthorized)
	})
	t.Run("RateLimited", func(t *testing.T) {
		t.Parallel()
		const wait = 30 * time.Second
		e := h.testPlanFault(t, Fault{Kind: FaultRateLimited, Wait: wait}, adapters.KindRateLimited)
		if e.HTTPStatus != http.StatusTooManyRequests {
			t.Errorf("HTTPStatus = %d, want 429", e.HTTPStatus)
		}
		if h.Features.RateLimitSignal != "" && (e.RetryAfter <= 0 || e.RetryAfter > wait+2*time.Second) {
			t.Errorf("RetryAfter = %v, want the signalled wait (%s) of %v", e.RetryAfter, h.Features.RateLimitSignal, wait)
		}
	})
	t.Run("ServerError", func(t *testing.T) {
		t.Parallel()
		h.testPlanFault(t, Fault{Kind: FaultServerError}, adapters.KindUnavailable)
	})
	t.Run("Cancel", func(t *testing.T) {
		t.Parallel()
		h.needRead(t)
		b := h.setup(t, 0)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, sent, err := h.plan(t, ctx, b, h.update(fx.Resource))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v does not wrap context.Canceled", err)
		}
		h.noSecrets(t, err)
		if len(sent) != 0 {
			t.Errorf("a cancelled Plan sent %d requests", len(sent))
		}
	})
	t.Run("Concurrent", func(t *testing.T) { t.Parallel(); h.testPlanConcurrent(t) })
	t.Run("Refuses/UnsupportedField", func(t *testing.T) {
		t.Parallel()
		f := fx.Unsupported.Fields()
		if len(f) == 0 {
			t.Skip("the provider has a place for every canonical field")
		}
		u := h.update(fx.Resource)
		u.Changes = fx.Unsupported
		h.testPlanRefused(t, u, adapters.KindUnsupported, f[0])
	})
	t.Run("Refuses/UnknownProviderField", func(t *testing.T) {
		t.Parallel()
		u := h.update(fx.Resource)
		u.ProviderFields = map[string]json.RawMessage{"noSuchField": json.RawMessage(`1`)}
		h.testPlanRefused(t, u, adapters.KindInvalid, messages.ProviderFieldPrefix+"noSuchField")
	})
	t.Run("Refuses/InvalidResource", func(t *testing.T) {
		t.Parallel()
		h.testPlanRefused(t, h.update(fx.InvalidResource), adapters.KindInvalid, "resource")
	})
}

// needRead skips a case that needs Plan to make a request.
func (h *Harness) needRead(t *testing.T) {
	t.Helper()
	if !h.Features.HasRead {
		t.Skip("the provider has no read: Plan sends no request that could fail")
	}
}

// plan runs Plan for u on b's adapter and checks what it sent: GET requests
// only (a plan never writes), at most one (one attempt, never a retry), none
// without a read; on success exactly Plan.Requests of them. It returns the
// requests sent.
func (h *Harness) plan(t *testing.T, ctx context.Context, b *bundle, u adapters.Update) (adapters.Plan, []Request, error) {
	t.Helper()
	before := len(b.sim.Requests())
	p, err := b.adapter.(adapters.Planner).Plan(ctx, u)
	sent := b.sim.Requests()[before:]
	for _, r := range sent {
		if r.Method != http.MethodGet {
			t.Errorf("Plan sent %s %s: a plan sends GET requests only", r.Method, r.Path)
		}
	}
	want := 0
	if h.Features.HasRead {
		want = 1
	}
	switch {
	case len(sent) > want:
		t.Errorf("Plan sent %d requests, want at most %d", len(sent), want)
	case err == nil && (p.Requests != want || len(sent) != want):
		t.Errorf("Plan.Requests = %d and the simulator saw %d, want %d", p.Requests, len(sent), want)
	}
	return p, sent, err
}

// checkPlan checks a plan's shape for u: one FieldPlan per field, in
// u.Fields() order, with a valid state; clientSecret (and any field the
// adapter marks Secret) without values; other values valid JSON in the
// field's canonical shape, Current set exactly when the state is not
// FieldUnknown; and no secret canary in any value.
func (h *Harness) checkPlan(t *testing.T, u adapters.Update, p adapters.Plan) {
	t.Helper()
	names := make([]string, len(p.Fields))
	for i, fp := range p.Fields {
		names[i] = fp.Field
	}
	if want := u.Fields(); !slices.Equal(names, want) {
		t.Fatalf("Plan fields %q, want %q (Update.Fields order)", names, want)
	}
	for _, fp := range p.Fields {
		switch fp.State {
		case adapters.FieldChanged, adapters.FieldUnchanged, adapters.FieldUnknown:
		default:
			t.Errorf("%s: state %v", fp.Field, fp.State)
		}
		for _, s := range h.Fixtures.Secrets {
			if bytes.Contains(fp.Current, []byte(s)) || bytes.Contains(fp.Desired, []byte(s)) {
				t.Errorf("%s: the plan leaks secret canary %q", fp.Field, s)
			}
		}
		if fp.Field == messages.FieldClientSecret && !fp.Secret {
			t.Errorf("%s: not marked Secret", fp.Field)
		}
		if fp.Secret {
			if fp.Current != nil || fp.Desired != nil {
				t.Errorf("%s: a secret field carries a value", fp.Field)
			}
			continue
		}
		if fp.Desired == nil {
			t.Errorf("%s: no Desired value", fp.Field)
		} else if reason := shapeError(fp.Field, fp.Desired, false); reason != "" {
			t.Errorf("%s: Desired %s %s", fp.Field, fp.Desired, reason)
		}
		switch {
		case fp.State == adapters.FieldUnknown && fp.Current != nil:
			t.Errorf("%s: unknown, yet with Current %s", fp.Field, fp.Current)
		case fp.State != adapters.FieldUnknown && fp.Current == nil:
			t.Errorf("%s: %s without a Current value", fp.Field, fp.State)
		case fp.Current != nil:
			if reason := shapeError(fp.Field, fp.Current, true); reason != "" {
				t.Errorf("%s: Current %s %s", fp.Field, fp.Current, reason)
			}
		}
	}
}

// shapeError says why v is not a plan value of field, or "": valid JSON;
// for a canonical field, its type in messages.Changes (scopes an array of
// strings, active a bool, the others a string), null only when nullOK (a
// Current the read has no value for).
func shapeError(field string, v json.RawMessage, nullOK bool) string {
	if !json.Valid(v) {
		return "is not valid JSON"
	}
	if strings.HasPrefix(field, messages.ProviderFieldPrefix) {
		return ""
	}
	if string(v) == "null" {
		if nullOK {
			return ""
		}
		return "is null"
	}
	var dst any = new(string)
	switch field {
	case messages.FieldScopes:
		dst = new([]string)
	case messages.FieldActive:
		dst = new(bool)
	}
	if json.Unmarshal(v, dst) != nil {
		return "is not in the field's canonical shape"
	}
	return ""
}

// wantStates checks that every field of p is in state want.
func wantStates(t *testing.T, when string, p adapters.Plan, want adapters.FieldState) {
	t.Helper()
	for _, fp := range p.Fields {
		if fp.State != want {
			t.Errorf("%s: %s is %s, want %s", when, fp.Field, fp.State, want)
		}
	}
}

// testPlanDiff plans uc on the seeded resource (every field changed, or
// unknown without a read; nothing written), applies it, and plans it again
// (every field unchanged with a read, and Apply then Unchanged).
func (h *Harness) testPlanDiff(t *testing.T, uc UpdateCase) {
	b := h.setup(t, 0)
	u := uc.Update
	u.Resource = h.Fixtures.Resource
	want := adapters.FieldChanged
	if !h.Features.HasRead {
		want = adapters.FieldUnknown
	}
	before, _, err := h.plan(t, context.Background(), b, u)
	if err != nil {
		h.noSecrets(t, err)
		t.Fatalf("Plan: %v", err)
	}
	h.checkPlan(t, u, before)
	wantStates(t, "before Apply", before, want)
	h.wantState(t, b.sim, nil)

	if _, err := b.adapter.Apply(context.Background(), u); err != nil {
		h.noSecrets(t, err)
		t.Fatalf("Apply: %v", err)
	}
	after, _, err := h.plan(t, context.Background(), b, u)
	if err != nil {
		h.noSecrets(t, err)
		t.Fatalf("Plan after Apply: %v", err)
	}
	h.checkPlan(t, u, after)
	for i := range after.Fields {
		if i < len(before.Fields) && !bytes.Equal(after.Fields[i].Desired, before.Fields[i].Desired) {
			t.Errorf("%s: Desired %s after Apply, %s before: it must depend on the update alone",
				after.Fields[i].Field, after.Fields[i].Desired, before.Fields[i].Desired)
		}
	}
	if !h.Features.HasRead {
		wantStates(t, "after Apply", after, adapters.FieldUnknown)
		return
	}
	wantStates(t, "after Apply", after, adapters.FieldUnchanged)
	out, err := b.adapter.Apply(context.Background(), u)
	if err != nil || out.Status != adapters.Unchanged {
		t.Errorf("Apply after a plan of every field unchanged = %+v, %v; want Unchanged", out, err)
	}
	h.wantState(t, b.sim, uc.Want)
}

// testPlanNotFound: Plan on a missing resource fails with the Kind Apply
// fails with (KindNotFound) and writes nothing. Without a read, nothing
// tells Plan the resource is missing: it plans every field unknown.
func (h *Harness) testPlanNotFound(t *testing.T) {
	b := h.setup(t, 0)
	u := h.update(h.Fixtures.MissingResource)
	p, _, err := h.plan(t, context.Background(), b, u)
	if !h.Features.HasRead {
		if err != nil {
			h.noSecrets(t, err)
			t.Fatalf("Plan without a read: %v", err)
		}
		h.checkPlan(t, u, p)
		wantStates(t, "missing resource", p, adapters.FieldUnknown)
		return
	}
	e := h.wantError(t, err, adapters.KindNotFound)
	_, err = b.adapter.Apply(context.Background(), u)
	if ae, ok := adapters.AsError(err); !ok || ae.Kind != e.Kind {
		t.Errorf("Plan failed with %s, Apply with %v: want the same kind", e.Kind, err)
	}
	if _, ok := b.sim.Read(t, h.Fixtures.MissingResource); ok {
		t.Error("the missing resource was created")
	}
	h.wantState(t, b.sim, nil)
}

// testPlanFault plans Updates[0] against a simulator scripted with f: one
// GET, no retry, the error kind Apply would return, nothing written.
func (h *Harness) testPlanFault(t *testing.T, f Fault, kind adapters.Kind) *adapters.Error {
	t.Helper()
	h.needRead(t)
	b := h.setup(t, 0)
	b.sim.Fail(f)
	_, sent, err := h.plan(t, context.Background(), b, h.update(h.Fixtures.Resource))
	e := h.wantError(t, err, kind)
	if len(sent) != 1 {
		t.Errorf("Plan sent %d requests, want its one read and no retry", len(sent))
	}
	h.wantState(t, b.sim, nil)
	return e
}

// testPlanConcurrent: Plans of one update at once all succeed alike.
func (h *Harness) testPlanConcurrent(t *testing.T) {
	const n = 8
	b := h.setup(t, 0)
	u := h.update(h.Fixtures.Resource)
	p := b.adapter.(adapters.Planner)
	plans := make([]adapters.Plan, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { plans[i], errs[i] = p.Plan(context.Background(), u) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			h.noSecrets(t, errs[i])
			t.Fatalf("Plan %d: %v", i, errs[i])
		}
		if !reflect.DeepEqual(plans[i], plans[0]) {
			t.Errorf("Plan %d differs from Plan 0", i)
		}
	}
	h.checkPlan(t, u, plans[0])
	reqs := b.sim.Requests()
	for _, r := range reqs {
		if r.Method != http.MethodGet {
			t.Errorf("Plan sent %s %s: a plan sends GET requests only", r.Method, r.Path)
		}
	}
	if len(reqs) != n*plans[0].Requests {
		t.Errorf("the simulator saw %d requests for %d plans of %d", len(reqs), n, plans[0].Requests)
	}
}

// testPlanRefused checks that Plan refuses u with kind on field, as
// Validate does, without sending anything.
func (h *Harness) testPlanRefused(t *testing.T, u adapters.Update, kind adapters.Kind, field string) {
	b := h.setup(t, 0)
	_, err := b.adapter.(adapters.Planner).Plan(context.Background(), u)
	if e := h.wantError(t, err, kind); e.Field != field {
		t.Errorf("Plan: Field = %q, want %q", e.Field, field)
	}
	if n := len(b.sim.Requests()); n != 0 {
		t.Errorf("Plan sent %d requests for a refused update", n)
	}
}
