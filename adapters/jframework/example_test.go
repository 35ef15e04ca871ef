package jframework_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/messages"
)

// The adapter against the simulator: register it by name, build it for a
// connection, apply an update (read, then a full PUT), apply it again
// (nothing to write), and see a refusal.
func Example() {
	sim := jframeworksim.New(jframeworksim.Options{BrandURL: "acme.example.com", AuthKey: "eyJhbGciOiJIUzI1NiJ9.example"})
	sim.Seed(jframeworksim.Integration{
		ID: "sApKpllz4sAplsmzha", AppIntegration: jframeworksim.AppIntegration{ID: "gOoGlEaPpInTeGrAt1"},
		Code: "GOOGLE_OAUTH2", Name: "Google OAuth2 Integration", ProjectID: "my-google-project-123",
		ClientID: "1234567890-abc.apps.googleusercontent.com", RedirectURI: "https://subdomain.com/auth/callback",
		Scope: "openid email profile", Status: "Active",
	})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	registry := adapters.NewRegistry()
	registry.Register(jframework.Provider, jframework.New)
	a, err := registry.New("jframework", adapters.Connection{
		Name:    "jf",
		BaseURL: srv.URL,
		Auth:    map[string]messages.Secret{"brandURL": "acme.example.com", "authKey": "eyJhbGciOiJIUzI1NiJ9.example"},
	})
	if err != nil {
		panic(err)
	}

	uri, active := "https://app.example.com/cb", false
	u := adapters.Update{
		Resource:       "sApKpllz4sAplsmzha",
		Changes:        messages.Changes{RedirectURI: &uri, Active: &active, Scopes: &[]string{"openid", "email"}},
		ProviderFields: map[string]json.RawMessage{"tags": json.RawMessage(`"#google"`)},
	}
	out, err := a.Apply(context.Background(), u)
	fmt.Println(out.Status == adapters.Applied, out.Requests, err)
	stored, _ := sim.Integration("sApKpllz4sAplsmzha")
	fmt.Println(stored.RedirectURI, stored.Status, stored.Scope, *stored.Tags, stored.Name)

	out, err = a.Apply(context.Background(), u)
	fmt.Println(out.Status == adapters.Unchanged, out.Requests, err)

	u.ProviderFields = map[string]json.RawMessage{"status": json.RawMessage(`"Active"`)}
	e, _ := adapters.AsError(a.Validate(u))
	fmt.Println(e.Kind, e.Field, e.Kind.Code())
	// Output:
	// true 2 <nil>
	// https://app.example.com/cb Inactive openid email #google Google OAuth2 Integration
	// true 1 <nil>
	// invalid providerFields.status invalid_command
}
