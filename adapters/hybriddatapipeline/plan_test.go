package hybriddatapipeline_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/messages"
)

// planned is a FieldPlan with its values as strings ("" for none), for
// comparison.
type planned struct {
	state            adapters.FieldState
	current, desired string
	secret           bool
}

// planOf plans u on a and returns the plan by field.
func planOf(a adapters.Adapter, u adapters.Update) (map[string]planned, error) {
	p, err := a.(adapters.Planner).Plan(context.Background(), u)
	if err != nil {
		return nil, err
	}
	out := make(map[string]planned, len(p.Fields))
	for _, fp := range p.Fields {
		out[fp.Field] = planned{fp.State, string(fp.Current), string(fp.Desired), fp.Secret}
	}
	return out, nil
}

func allUnchanged(p map[string]planned) bool {
	for _, fp := range p {
		if fp.state != adapters.FieldUnchanged {
			return false
		}
	}
	return true
}

// TestPlanFields: each field's state, current and desired value, in the
// canonical shape (scope as scopes, ids as integers), the secret without
// values.
func TestPlanFields(t *testing.T) {
	e := startAPI(t, hdpsim.Options{})
	u := adapters.Update{Resource: appID,
		Changes: messages.Changes{
			Name: ptr(seeded.Name), Description: ptr("new"), Scopes: &[]string{"full_offline_access", "test_repo"},
			ClientSecret: ptr(messages.Secret(canarySecret)), TokenURL: ptr("https://t.example/token?a=1&b=2"),
		},
		ProviderFields: map[string]json.RawMessage{"dataStore": raw("54"), "tenantId": raw(" 624 ")},
	}
	got, err := planOf(e.a, u)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]planned{
		"name":                     {adapters.FieldUnchanged, `"TenantB_OAuth_app"`, `"TenantB_OAuth_app"`, false},
		"description":              {adapters.FieldChanged, `"TenantB OAuth application object"`, `"new"`, false},
		"clientSecret":             {adapters.FieldUnchanged, "", "", true},
		"scopes":                   {adapters.FieldUnchanged, `["full_offline_access","test_repo"]`, `["full_offline_access","test_repo"]`, false},
		"tokenUrl":                 {adapters.FieldChanged, `"https://www.googleapis.com/oauth2/v3/token"`, `"https://t.example/token?a=1&b=2"`, false},
		"providerFields.dataStore": {adapters.FieldUnchanged, `54`, `54`, false},
		"providerFields.tenantId":  {adapters.FieldChanged, `623`, `624`, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan\n got %+v\nwant %+v", got, want)
	}
	if rs := e.sim.Requests(); len(rs) != 1 || rs[0].Method != "GET" {
		t.Errorf("Plan sent %d requests, want the read alone", len(rs))
	}
	got, err = planOf(e.a, adapters.Update{Resource: appID, Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canaryNewSecret))}})
	if err != nil || got["clientSecret"] != (planned{adapters.FieldChanged, "", "", true}) {
		t.Errorf("Plan(new secret) = %+v, %v", got, err)
	}
}

// TestPlanReadForms: an empty description holds an absent one, and scopes a
// scope string with extra spaces; Current shows what the read holds.
func TestPlanReadForms(t *testing.T) {
	body := `{"id":93,"name":"n","dataStore":54,"tenantId":623,"description":null,"clientId":"c","clientSecret":"` + canarySecret +
		`","authorizeURI":"https://a.example/auth","tokenURI":"https://a.example/token","scope":" a  b "}`
	srv, reqs := cannedServer(t, 200, body)
	a := newAdapter(t, srv.URL, nil, canaryUsername, canaryPassword)
	got, err := planOf(a, adapters.Update{Resource: appID, Changes: messages.Changes{Description: ptr(""), Scopes: &[]string{"a", "b"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]planned{
		"description": {adapters.FieldUnchanged, `null`, `""`, false},
		"scopes":      {adapters.FieldUnchanged, `["a","b"]`, `["a","b"]`, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan\n got %+v\nwant %+v", got, want)
	}
	if n := len(reqs()); n != 1 {
		t.Errorf("%d requests", n)
	}
}

// TestPlanMaskedSecret: a masked secret is unknown, not changed; an update
// that needs a write the masked secret prevents fails Plan as it fails Apply;
// one that changes nothing plans unchanged.
func TestPlanMaskedSecret(t *testing.T) {
	e := startAPI(t, hdpsim.Options{MaskSecrets: true})
	got, err := planOf(e.a, adapters.Update{Resource: appID, Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canarySecret))}})
	if err != nil || got["clientSecret"] != (planned{adapters.FieldUnknown, "", "", true}) {
		t.Errorf("Plan(secret) = %+v, %v, want unknown", got, err)
	}
	got, err = planOf(e.a, adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr(seeded.Name)}})
	if err != nil || !allUnchanged(got) {
		t.Errorf("Plan(same name) = %+v, %v, want unchanged", got, err)
	}
	u := adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr("n2")}}
	_, perr := planOf(e.a, u)
	_, aerr := e.a.Apply(context.Background(), u)
	pe, ok1 := adapters.AsError(perr)
	ae, ok2 := adapters.AsError(aerr)
	if !ok1 || !ok2 || pe.Kind != adapters.KindRejected || pe.Kind != ae.Kind || pe.Field != "clientSecret" || pe.Field != ae.Field {
		t.Fatalf("Plan error %v, Apply error %v: want both rejected on clientSecret", perr, aerr)
	}
	for _, text := range []string{perr.Error(), pe.Message} {
		if strings.Contains(text, canarySecret) || strings.Contains(text, hdpsim.MaskedSecret) {
			t.Errorf("error shows a secret: %s", text)
		}
	}
	for _, r := range e.sim.Requests() {
		if r.Method == "PUT" {
			t.Error("a PUT was sent")
		}
	}
}

// TestPlanAgreesWithApply: Plan is all unchanged exactly when Apply is
// Unchanged.
func TestPlanAgreesWithApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    adapters.Update
	}{
		{"same name", adapters.Update{Changes: messages.Changes{Name: ptr(seeded.Name)}}},
		{"same scopes", adapters.Update{Changes: messages.Changes{Scopes: &[]string{"full_offline_access", "test_repo"}}}},
		{"scopes reordered", adapters.Update{Changes: messages.Changes{Scopes: &[]string{"test_repo", "full_offline_access"}}}},
		{"same secret and clientId", adapters.Update{Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canarySecret)), ClientID: ptr(seeded.ClientID)}}},
		{"same name, other secret", adapters.Update{Changes: messages.Changes{Name: ptr(seeded.Name), ClientSecret: ptr(messages.Secret("other"))}}},
		{"same urls and description", adapters.Update{Changes: messages.Changes{AuthorizeURL: ptr(seeded.AuthorizeURI), TokenURL: ptr(seeded.TokenURI), Description: ptr(seeded.Description)}}},
		{"description cleared", adapters.Update{Changes: messages.Changes{Description: ptr("")}}},
		{"same ids", adapters.Update{ProviderFields: map[string]json.RawMessage{"dataStore": raw("54"), "tenantId": raw("623")}}},
		{"other tenant", adapters.Update{ProviderFields: map[string]json.RawMessage{"dataStore": raw("54"), "tenantId": raw("624")}}},
		{"nothing", adapters.Update{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, hdpsim.Options{})
			tc.u.Resource = appID
			got, err := planOf(e.a, tc.u)
			if err != nil {
				t.Fatal(err)
			}
			out, err := e.a.Apply(context.Background(), tc.u)
			if err != nil || (out.Status == adapters.Unchanged) != allUnchanged(got) {
				t.Errorf("Apply = %+v, %v after the plan %+v", out, err, got)
			}
		})
	}
}
