package rocketchat_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
)

// planned is a FieldPlan with its values as strings ("" for none), for
// comparison.
type planned struct {
	state            adapters.FieldState
	current, desired string
}

// planOf plans u on a and returns the plan by field.
func planOf(t *testing.T, a adapters.Adapter, u adapters.Update) (map[string]planned, error) {
	t.Helper()
	p, err := a.(adapters.Planner).Plan(context.Background(), u)
	if err != nil {
		return nil, err
	}
	out := make(map[string]planned, len(p.Fields))
	for _, fp := range p.Fields {
		if fp.Secret {
			t.Errorf("%s: marked Secret: Rocket.Chat has no secret field an update can carry", fp.Field)
		}
		out[fp.Field] = planned{fp.State, string(fp.Current), string(fp.Desired)}
	}
	return out, nil
}

// TestPlanComparesAsApply: Plan compares each field the way Apply does
// (redirectUri lists in Rocket.Chat's stored form), shows what is stored and
// what Apply would send, and is all unchanged exactly when Apply is
// Unchanged.
func TestPlanComparesAsApply(t *testing.T) {
	const stored = "https://a.example/cb, https://b.example/cb"
	for _, tc := range []struct {
		name    string
		changes messages.Changes
		want    map[string]planned
	}{
		{"a, b holds a,b", messages.Changes{RedirectURI: ptr("https://a.example/cb,https://b.example/cb")},
			map[string]planned{"redirectUri": {adapters.FieldUnchanged, `"` + stored + `"`, `"https://a.example/cb,https://b.example/cb"`}}},
		{"a list with newlines and blanks is normalized", messages.Changes{RedirectURI: ptr(" https://a.example/cb ,\nhttps://b.example/cb,")},
			map[string]planned{"redirectUri": {adapters.FieldUnchanged, `"` + stored + `"`, `"https://a.example/cb,https://b.example/cb"`}}},
		{"order matters", messages.Changes{RedirectURI: ptr("https://b.example/cb,https://a.example/cb")},
			map[string]planned{"redirectUri": {adapters.FieldChanged, `"` + stored + `"`, `"https://b.example/cb,https://a.example/cb"`}}},
		{"a URL with & is not HTML-escaped", messages.Changes{RedirectURI: ptr("https://a.example/cb?x=1&y=2")},
			map[string]planned{"redirectUri": {adapters.FieldChanged, `"` + stored + `"`, `"https://a.example/cb?x=1&y=2"`}}},
		{"name held, active changed", messages.Changes{Name: ptr("test-oauth-app"), Active: ptr(false)},
			map[string]planned{
				"name":   {adapters.FieldUnchanged, `"test-oauth-app"`, `"test-oauth-app"`},
				"active": {adapters.FieldChanged, `true`, `false`},
			}},
		{"every field held", messages.Changes{Name: ptr("test-oauth-app"), Active: ptr(true), RedirectURI: ptr(stored)},
			map[string]planned{
				"name":        {adapters.FieldUnchanged, `"test-oauth-app"`, `"test-oauth-app"`},
				"active":      {adapters.FieldUnchanged, `true`, `true`},
				"redirectUri": {adapters.FieldUnchanged, `"` + stored + `"`, `"https://a.example/cb,https://b.example/cb"`},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, rocketchatsim.Options{})
			e.sim.Seed(rocketchatsim.App{ID: canaryAppID, Name: "test-oauth-app", Active: true, RedirectURI: stored, ClientSecret: canarySecret})
			u := adapters.Update{Resource: canaryAppID, Changes: tc.changes}
			got, err := planOf(t, e.a, u)
			if err != nil {
				t.Fatalf("Plan: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan\n got %+v\nwant %+v", got, tc.want)
			}
			if rs := e.sim.Requests(); len(rs) != 1 || rs[0].Method != http.MethodGet || rs[0].Path != rocketchatsim.PathGet {
				t.Fatalf("Plan sent %d requests, want the read alone", len(rs))
			}
			unchanged := true
			for _, p := range got {
				unchanged = unchanged && p.state == adapters.FieldUnchanged
			}
			out, err := e.a.Apply(context.Background(), u)
			if err != nil || (out.Status == adapters.Unchanged) != unchanged {
				t.Errorf("Apply = %+v, %v; the plan says unchanged: %v", out, err, unchanged)
			}
		})
	}
}

// TestPlanRefusesWhatApplyRefuses: a read without a field the update body
// needs fails Plan as it fails Apply (KindRejected naming the field), after
// the read alone; an update that sets the field plans it from null.
func TestPlanRefusesWhatApplyRefuses(t *testing.T) {
	var (
		mu      sync.Mutex
		methods []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"oauthApp":{"_id":"`+canaryAppID+`","name":"n","active":true,"clientSecret":"`+canarySecret+`"},"success":true}`)
	}))
	t.Cleanup(srv.Close)
	a := newAdapter(t, srv.URL, nil, canaryUserID, canaryToken)

	u := adapters.Update{Resource: canaryAppID, Changes: messages.Changes{Name: ptr("m")}}
	_, perr := planOf(t, a, u)
	_, aerr := a.Apply(context.Background(), u)
	pe, ok1 := adapters.AsError(perr)
	ae, ok2 := adapters.AsError(aerr)
	if !ok1 || !ok2 || pe.Kind != adapters.KindRejected || pe.Kind != ae.Kind || pe.Field != "redirectUri" || pe.Field != ae.Field {
		t.Fatalf("Plan error %v, Apply error %v: want both rejected on redirectUri", perr, aerr)
	}
	mu.Lock()
	sent := slices.Clone(methods)
	mu.Unlock()
	if !slices.Equal(sent, []string{"GET", "GET"}) {
		t.Errorf("requests %v, want one read each", sent)
	}

	got, err := planOf(t, a, adapters.Update{Resource: canaryAppID, Changes: messages.Changes{RedirectURI: ptr("https://x.example/cb")}})
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	want := map[string]planned{"redirectUri": {adapters.FieldChanged, `null`, `"https://x.example/cb"`}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan\n got %+v\nwant %+v", got, want)
	}
}
