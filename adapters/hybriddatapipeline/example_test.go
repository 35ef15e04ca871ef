package hybriddatapipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/messages"
)

// The adapter against the simulator: register it by name, build it for a
// connection, apply a partial update (the rest of the object, tenantId
// included, is carried over), see the second apply find it in place, and
// see refusals.
func Example() {
	sim := hdpsim.New(hdpsim.Options{Username: "d2cadmin", Password: "s3cr3t"})
	sim.Seed(hdpsim.App{
		ID: 93, Name: "TenantB_OAuth_app", DataStore: 54, TenantID: 623, Description: "TenantB OAuth application object",
		ClientID: "asdfjasdljfasdkjf", ClientSecret: "1912308409123890",
		AuthorizeURI: "https://accounts.google.com/o/oauth2/v2/auth", TokenURI: "https://www.googleapis.com/oauth2/v3/token",
		Scope: "full_offline_access test_repo",
	})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	registry := adapters.NewRegistry()
	registry.Register(hybriddatapipeline.Provider, hybriddatapipeline.New)
	a, err := registry.New("hybriddatapipeline", adapters.Connection{
		Name:    "hdp",
		BaseURL: srv.URL,
		Auth:    map[string]messages.Secret{"username": "d2cadmin", "password": "s3cr3t"},
	})
	if err != nil {
		panic(err)
	}

	scopes := []string{"https://www.googleapis.com/auth/analytics.readonly", "offline_access"}
	u := adapters.Update{
		Resource:       "93",
		Changes:        messages.Changes{Scopes: &scopes},
		ProviderFields: map[string]json.RawMessage{"dataStore": json.RawMessage(`62`)},
	}
	out, err := a.Apply(context.Background(), u)
	fmt.Println(out.Status == adapters.Applied, out.Requests, err)
	out, err = a.Apply(context.Background(), u)
	fmt.Println(out.Status == adapters.Unchanged, out.Requests, err)
	app, _ := sim.App(93)
	fmt.Printf("%q %d %d %q\n", app.Scope, app.DataStore, app.TenantID, app.Description)

	uri := "https://app.example.com/cb"
	err = a.Validate(adapters.Update{Resource: "93", Changes: messages.Changes{RedirectURI: &uri}})
	e, _ := adapters.AsError(err)
	fmt.Println(e.Kind, e.Field, e.Kind.Code())

	name := "TenantB OAuth app"
	err = a.Validate(adapters.Update{Resource: "93", Changes: messages.Changes{Name: &name}})
	e, _ = adapters.AsError(err)
	fmt.Println(e.Kind, e.Field, e.Kind.Code())
	// Output:
	// true 2 <nil>
	// true 1 <nil>
	// "https://www.googleapis.com/auth/analytics.readonly offline_access" 62 623 "TenantB OAuth application object"
	// unsupported redirectUri unsupported_field
	// invalid name invalid_command
}
