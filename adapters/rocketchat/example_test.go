package rocketchat_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
)

// The adapter against the simulator: register it by name, build it for a
// connection, apply an update, and see a refusal.
func Example() {
	sim := rocketchatsim.New(rocketchatsim.Options{UserID: "aobEdbYhXfu5hkeqG", AuthToken: "9HqLlyZOugD_0YdwAJF8V47U3QHXSq"})
	sim.Seed(rocketchatsim.App{ID: "65a7d77142a7e12453052d59", Name: "test-oauth-app", Active: true, RedirectURI: "https://testuri.com"})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	registry := adapters.NewRegistry()
	registry.Register(rocketchat.Provider, rocketchat.New)
	a, err := registry.New("rocketchat", adapters.Connection{
		Name:    "rc-prod",
		BaseURL: srv.URL,
		Auth:    map[string]messages.Secret{"userId": "aobEdbYhXfu5hkeqG", "authToken": "9HqLlyZOugD_0YdwAJF8V47U3QHXSq"},
	})
	if err != nil {
		panic(err)
	}

	uri, active := "https://app.example.com/cb", false
	u := adapters.Update{Resource: "65a7d77142a7e12453052d59", Changes: messages.Changes{RedirectURI: &uri, Active: &active}}
	out, err := a.Apply(context.Background(), u)
	fmt.Println(out.Status == adapters.Applied, out.Requests, err)
	out, err = a.Apply(context.Background(), u)
	fmt.Println(out.Status == adapters.Unchanged, out.Requests, err)

	secret := messages.Secret("new-secret")
	err = a.Validate(adapters.Update{Resource: "65a7d77142a7e12453052d59", Changes: messages.Changes{ClientSecret: &secret}})
	e, _ := adapters.AsError(err)
	fmt.Println(e.Kind, e.Field, e.Kind.Code())
	// Output:
	// true 2 <nil>
	// true 1 <nil>
	// unsupported clientSecret unsupported_field
}
