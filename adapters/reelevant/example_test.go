package reelevant_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/messages"
)

// The adapter against the simulator: register it by name, build it for a
// connection, apply a partial update (canonical and provider-native
// fields), and see two refusals.
func Example() {
	sim := reelevantsim.New(reelevantsim.Options{Token: "eyJhbGciOiJIUzI1NiJ9.example"})
	sim.Seed("65a7d77142a7e12453052d59", map[string]any{"mode": "refresh_token", "clientId": "old", "clientSecret": "old-secret"})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	registry := adapters.NewRegistry()
	registry.Register(reelevant.Provider, reelevant.New)
	a, err := registry.New("reelevant", adapters.Connection{
		Name:    "reelevant-prod",
		BaseURL: srv.URL,
		Auth:    map[string]messages.Secret{"bearerToken": "eyJhbGciOiJIUzI1NiJ9.example"},
	})
	if err != nil {
		panic(err)
	}

	clientID, secret := "new-client", messages.Secret("new-secret")
	u := adapters.Update{
		Resource:       "65a7d77142a7e12453052d59",
		Changes:        messages.Changes{ClientID: &clientID, ClientSecret: &secret},
		ProviderFields: map[string]json.RawMessage{"mode": json.RawMessage(`"client_credentials"`), "method": json.RawMessage(`"POST"`)},
	}
	out, err := a.Apply(context.Background(), u)
	fmt.Println(out.Status == adapters.Applied, out.Requests, err)
	fmt.Println(string(sim.Requests()[0].Body))

	active := true
	err = a.Validate(adapters.Update{Resource: "65a7d77142a7e12453052d59", Changes: messages.Changes{Active: &active}})
	e, _ := adapters.AsError(err)
	fmt.Println(e.Kind, e.Field, e.Kind.Code())

	err = a.Validate(adapters.Update{Resource: "65a7d77142a7e12453052d59",
		ProviderFields: map[string]json.RawMessage{"mode": json.RawMessage(`"implicit"`)}})
	fmt.Println(err)
	// Output:
	// true 1 <nil>
	// {"clientId":"new-client","clientSecret":"new-secret","method":"POST","mode":"client_credentials"}
	// unsupported active unsupported_field
	// invalid: providerFields.mode: "implicit" is not one of password, client_credentials, refresh_token, access_token, custom_payload, jwt_bearer
}
