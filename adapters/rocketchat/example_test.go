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

// A plan: what Apply would change, field by field, read with one GET and
// nothing written.
func Example_plan() {
	sim := rocketchatsim.New(rocketchatsim.Options{UserID: "aobEdbYhXfu5hkeqG", AuthToken: "9HqLlyZOugD_0YdwAJF8V47U3QHXSq"})
	sim.Seed(rocketchatsim.App{ID: "65a7d77142a7e12453052d59", Name: "test-oauth-app", Active: true,
		RedirectURI: "https://a.example/cb, https://b.example/cb"})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	a, err := rocketchat.New(adapters.Connection{
		Name:    "rc-prod",
		BaseURL: srv.URL,
		Auth:    map[string]messages.Secret{"userId": "aobEdbYhXfu5hkeqG", "authToken": "9HqLlyZOugD_0YdwAJF8V47U3QHXSq"},
	})
	if err != nil {
		panic(err)
	}
	planner, ok := a.(adapters.Planner)
	if !ok {
		panic("not a planner")
	}
	name, uris, active := "test-oauth-app", "https://a.example/cb,https://b.example/cb", false
	plan, err := planner.Plan(context.Background(), adapters.Update{Resource: "65a7d77142a7e12453052d59",
		Changes: messages.Changes{Name: &name, RedirectURI: &uris, Active: &active}})
	if err != nil {
		panic(err)
	}
	for _, f := range plan.Fields {
		fmt.Printf("%s %s: %s -> %s\n", f.Field, f.State, f.Current, f.Desired)
	}
	fmt.Println(plan.Requests, len(sim.Requests()), sim.Requests()[0].Method)
	// Output:
	// name unchanged: "test-oauth-app" -> "test-oauth-app"
	// redirectUri unchanged: "https://a.example/cb, https://b.example/cb" -> "https://a.example/cb,https://b.example/cb"
	// active changed: true -> false
	// 1 1 GET
}
