package jframework_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
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

// TestPlanActiveAndStatus: canonical active is planned against status as a
// bool (Active true, Inactive false, anything else null); the native status
// as the provider's string.
func TestPlanActiveAndStatus(t *testing.T) {
	inactive := seeded()
	inactive.Status = jframework.StatusInactive
	for _, tc := range []struct {
		name string
		in   jframeworksim.Integration
		u    adapters.Update
		want map[string]planned
	}{
		{"Active holds true", seeded(), adapters.Update{Changes: messages.Changes{Active: ptr(true)}},
			map[string]planned{"active": {adapters.FieldUnchanged, `true`, `true`, false}}},
		{"Active to false", seeded(), adapters.Update{Changes: messages.Changes{Active: ptr(false)}},
			map[string]planned{"active": {adapters.FieldChanged, `true`, `false`, false}}},
		{"Inactive holds false", inactive, adapters.Update{Changes: messages.Changes{Active: ptr(false)}},
			map[string]planned{"active": {adapters.FieldUnchanged, `false`, `false`, false}}},
		{"Inactive to true", inactive, adapters.Update{Changes: messages.Changes{Active: ptr(true)}},
			map[string]planned{"active": {adapters.FieldChanged, `false`, `true`, false}}},
		{"native status", inactive, adapters.Update{ProviderFields: map[string]json.RawMessage{"status": raw(`"Active"`)}},
			map[string]planned{"providerFields.status": {adapters.FieldChanged, `"Inactive"`, `"Active"`, false}}},
		{"native status held", seeded(), adapters.Update{ProviderFields: map[string]json.RawMessage{"status": raw(`"Active"`)}},
			map[string]planned{"providerFields.status": {adapters.FieldUnchanged, `"Active"`, `"Active"`, false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, jframeworksim.Options{}, tc.in)
			tc.u.Resource = resourceID
			got, err := planOf(e.a, tc.u)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan\n got %+v\nwant %+v", got, tc.want)
			}
			out, err := e.a.Apply(context.Background(), tc.u)
			if err != nil || (out.Status == adapters.Unchanged) != allUnchanged(got) {
				t.Errorf("Apply = %+v, %v after the plan %+v", out, err, got)
			}
		})
	}

	// A status outside the enum, or none: active shows null, and no
	// active holds it.
	for _, status := range []any{"Suspended", nil} {
		d := readData()
		if status != nil {
			d["status"] = status
		}
		a, put := fakeRead(t, d)
		got, err := planOf(a, adapters.Update{Resource: resourceID, Changes: messages.Changes{Active: ptr(true)}})
		if err != nil || got["active"] != (planned{adapters.FieldChanged, `null`, `true`, false}) {
			t.Errorf("status %v: Plan = %+v, %v", status, got, err)
		}
		if put() != nil {
			t.Error("Plan sent a PUT")
		}
	}
}

// TestPlanFields: the canonical shape of each field's values (scope as
// scopes, nullable fields as null), the secret without values.
func TestPlanFields(t *testing.T) {
	in := seeded()
	in.Scope = "openid  email\tprofile"
	in.IconURL, in.Description = nil, nil
	e := startAPI(t, jframeworksim.Options{}, in)
	got, err := planOf(e.a, adapters.Update{Resource: resourceID,
		Changes: messages.Changes{
			Scopes: &[]string{"openid", "email", "profile"}, Description: ptr(""), ClientSecret: secret(canaryNewSecret),
			AuthorizeURL: ptr("https://a.example/auth?x=1&y=2"),
		},
		ProviderFields: map[string]json.RawMessage{
			"iconURL": raw(`null`), "tags": raw(`null`), "isDefault": raw(`true`), "appIntegrationId": raw(`"` + otherAppID + `"`),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]planned{
		"scopes":                          {adapters.FieldUnchanged, `["openid","email","profile"]`, `["openid","email","profile"]`, false},
		"description":                     {adapters.FieldChanged, `null`, `""`, false},
		"clientSecret":                    {adapters.FieldChanged, "", "", true},
		"authorizeUrl":                    {adapters.FieldChanged, `"` + initialAuthEP + `"`, `"https://a.example/auth?x=1&y=2"`, false},
		"providerFields.iconURL":          {adapters.FieldUnchanged, `null`, `null`, false},
		"providerFields.tags":             {adapters.FieldChanged, `"` + initialTags + `"`, `null`, false},
		"providerFields.isDefault":        {adapters.FieldUnchanged, `true`, `true`, false},
		"providerFields.appIntegrationId": {adapters.FieldChanged, `"` + appID + `"`, `"` + otherAppID + `"`, false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("plan\n got %+v\nwant %+v", got, want)
	}
	if rs := e.sim.Requests(); len(rs) != 1 || rs[0].Method != "GET" {
		t.Errorf("Plan sent %d requests, want the read alone", len(rs))
	}
}

// TestPlanSecretTheReadLacks: without the read's clientSecret, a new one is
// unknown (Apply would send it), and an update that needs the old one fails
// Plan as it fails Apply.
func TestPlanSecretTheReadLacks(t *testing.T) {
	d := readData()
	delete(d, "clientSecret")
	a, put := fakeRead(t, d)
	got, err := planOf(a, adapters.Update{Resource: resourceID, Changes: messages.Changes{ClientSecret: secret(canaryNewSecret)}})
	if err != nil || got["clientSecret"] != (planned{adapters.FieldUnknown, "", "", true}) {
		t.Errorf("Plan(secret) = %+v, %v, want unknown", got, err)
	}
	u := adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("m")}}
	_, perr := planOf(a, u)
	pe, ok := adapters.AsError(perr)
	if !ok || pe.Kind != adapters.KindRejected || pe.Field != "clientSecret" {
		t.Fatalf("Plan error = %v, want rejected on clientSecret", perr)
	}
	if put() != nil {
		t.Error("Plan sent a PUT")
	}
	_, aerr := a.Apply(context.Background(), u)
	if ae, ok := adapters.AsError(aerr); !ok || ae.Kind != pe.Kind || ae.Field != pe.Field {
		t.Errorf("Apply error = %v, Plan error = %v: want the same", aerr, perr)
	}
}

// TestPlanAgreesWithApply: Plan is all unchanged exactly when Apply is
// Unchanged (TestApplyUnchanged's cases).
func TestPlanAgreesWithApply(t *testing.T) {
	in := seeded()
	in.Scope = "openid  email\tprofile"
	in.IconURL = nil
	for _, tc := range []struct {
		name string
		u    adapters.Update
	}{
		{"every canonical field", adapters.Update{Changes: messages.Changes{
			Name: ptr(in.Name), Description: ptr(initialDesc), ClientID: ptr(in.ClientID), ClientSecret: secret(canarySecret),
			RedirectURI: ptr(initialRedir), Scopes: &[]string{"openid", "email", "profile"}, AuthorizeURL: ptr(initialAuthEP),
			TokenURL: ptr(initialTokEP), Active: ptr(true),
		}}},
		{"every native field", adapters.Update{ProviderFields: map[string]json.RawMessage{
			"appIntegrationId": raw(`"` + appID + `"`), "code": raw(`"GOOGLE_OAUTH2"`), "projectId": raw(`"my-google-project-123"`),
			"iconURL": raw(`null`), "tags": raw(`"` + initialTags + `"`), "status": raw(`"Active"`), "isDefault": raw(`true`),
		}}},
		{"scopes in another order", adapters.Update{Changes: messages.Changes{Scopes: &[]string{"email", "openid", "profile"}}}},
		{"another secret", adapters.Update{Changes: messages.Changes{ClientSecret: secret(canaryNewSecret)}}},
		{"active false", adapters.Update{Changes: messages.Changes{Active: ptr(false)}}},
		{"iconURL set", adapters.Update{ProviderFields: map[string]json.RawMessage{"iconURL": raw(`"` + initialIcon + `"`)}}},
		{"tags null", adapters.Update{ProviderFields: map[string]json.RawMessage{"tags": raw(`null`)}}},
		{"isDefault false", adapters.Update{ProviderFields: map[string]json.RawMessage{"isDefault": raw(`false`)}}},
		{"description cleared to empty", adapters.Update{Changes: messages.Changes{Description: ptr("")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, jframeworksim.Options{}, in)
			tc.u.Resource = resourceID
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
