package reelevant_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/messages"
)

// planned is a FieldPlan with its values as strings ("" for none), for
// comparison.
type planned struct {
	state            adapters.FieldState
	current, desired string
	secret           bool
}

// TestPlanWithoutRead: Reelevant has no read, so Plan sends nothing and
// reports every field unknown, Desired being the value the PATCH would
// carry (numbers keep their literal, objects their keys sorted, URLs their
// "&"), secrets without values.
func TestPlanWithoutRead(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	a := newAdapter(t, srv.URL, nil, canaryToken)

	for _, tc := range []struct {
		name string
		u    adapters.Update
		want map[string]planned
	}{
		{"canonical fields", adapters.Update{Changes: messages.Changes{
			ClientID: ptr("new-client"), ClientSecret: ptr(messages.Secret(canarySecret)), Scopes: &[]string{"openid", "email"},
			AuthorizeURL: ptr("https://ab/authorize?a=1&b=2"), TokenURL: ptr("https://ab/token"),
		}}, map[string]planned{
			"clientId":     {adapters.FieldUnknown, "", `"new-client"`, false},
			"clientSecret": {adapters.FieldUnknown, "", "", true},
			"scopes":       {adapters.FieldUnknown, "", `["openid","email"]`, false},
			"authorizeUrl": {adapters.FieldUnknown, "", `"https://ab/authorize?a=1&b=2"`, false},
			"tokenUrl":     {adapters.FieldUnknown, "", `"https://ab/token"`, false},
		}},
		{"no scopes", adapters.Update{Changes: messages.Changes{Scopes: &[]string{}}},
			map[string]planned{"scopes": {adapters.FieldUnknown, "", `[]`, false}}},
		{"provider fields", adapters.Update{ProviderFields: map[string]json.RawMessage{
			"mode":            raw(`"client_credentials"`),
			"tokenExpiration": raw(`1e3`),
			"configuration":   raw(` { "tokenUrl" : "https://cd/token", "scopes" : [ ] } `),
		}}, map[string]planned{
			"providerFields.mode":            {adapters.FieldUnknown, "", `"client_credentials"`, false},
			"providerFields.tokenExpiration": {adapters.FieldUnknown, "", `1e3`, false},
			"providerFields.configuration":   {adapters.FieldUnknown, "", `{"scopes":[],"tokenUrl":"https://cd/token"}`, false},
		}},
		{"a configuration with a secret is a secret", adapters.Update{ProviderFields: map[string]json.RawMessage{
			"configuration": raw(`{"clientId":"c","clientSecret":"` + canaryConfigSecret + `"}`),
		}}, map[string]planned{
			"providerFields.configuration": {adapters.FieldUnknown, "", "", true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.u.Resource = clientID
			p, err := a.(adapters.Planner).Plan(context.Background(), tc.u)
			if err != nil {
				t.Fatal(err)
			}
			if p.Requests != 0 {
				t.Errorf("Requests = %d", p.Requests)
			}
			got := make(map[string]planned, len(p.Fields))
			for _, fp := range p.Fields {
				got[fp.Field] = planned{fp.State, string(fp.Current), string(fp.Desired), fp.Secret}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("plan\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}

	// Refused like Apply, before anything.
	_, err := a.(adapters.Planner).Plan(context.Background(), adapters.Update{Resource: clientID,
		ProviderFields: map[string]json.RawMessage{"mode": raw(`"implicit"`)}})
	if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindInvalid || ae.Field != "providerFields.mode" {
		t.Errorf("Plan(bad mode) error = %v", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("Plan sent %d requests", n)
	}
}
