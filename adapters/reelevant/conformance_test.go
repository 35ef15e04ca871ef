package reelevant_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/adaptertest"
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/messages"
)

// Canaries: values that must never appear in an error.
const (
	canaryToken        = "canary-bearer-token.9HqLlyZOugD_0YdwAJF8V47U3QHXSq"
	canarySecret       = "canary-client-secret-QwIAYE1_8M02p-Js8SHZyTPg7HpJm"
	canaryConfigSecret = "canary-config-secret-Zt7bXpP_1ZtbjuSp8b-x0Q"
	clientID           = "65a7d77142a7e12453052d59"
	missingID          = "65a7d77142a7e12453052d5a"
)

// conformanceSim adapts reelevantsim to adaptertest.Sim.
type conformanceSim struct {
	sim *reelevantsim.Server
	srv *httptest.Server
}

func startSim(t *testing.T) adaptertest.Sim {
	sim := reelevantsim.New(reelevantsim.Options{Token: canaryToken})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &conformanceSim{sim: sim, srv: srv}
}

func (s *conformanceSim) URL() string { return s.srv.URL }

// Seed stores the fields and the canary client secret, which Reelevant
// keeps but never returns.
func (s *conformanceSim) Seed(t *testing.T, id string, f map[string]any) {
	t.Helper()
	if _, ok := f["clientSecret"]; !ok {
		f["clientSecret"] = canarySecret
	}
	s.sim.Seed(id, f)
}

func (s *conformanceSim) Read(_ *testing.T, id string) (map[string]any, bool) {
	return s.sim.Client(id)
}

func (s *conformanceSim) Requests() []adaptertest.Request {
	var out []adaptertest.Request
	for _, r := range s.sim.Requests() {
		out = append(out, adaptertest.Request{Method: r.Method, Path: r.Path, Body: r.Body})
	}
	return out
}

func (s *conformanceSim) Fail(f adaptertest.Fault) {
	switch f.Kind {
	case adaptertest.FaultRateLimited:
		s.sim.Fail(reelevantsim.Fault{Status: http.StatusTooManyRequests, RetryAfter: f.Wait})
	case adaptertest.FaultServerError:
		s.sim.Fail(reelevantsim.Fault{Status: http.StatusInternalServerError})
	case adaptertest.FaultSlow:
		s.sim.Fail(reelevantsim.Fault{Delay: f.Wait})
	case adaptertest.FaultGarbage:
		s.sim.Fail(reelevantsim.Fault{Garbage: true})
	case adaptertest.FaultReset:
		s.sim.Fail(reelevantsim.Fault{Reset: true})
	case adaptertest.FaultRejectEchoing:
		echo := strings.Join(f.Echo, ", ")
		s.sim.Fail(reelevantsim.Fault{Status: http.StatusBadRequest, ErrorCode: 4001,
			Message: "Invalid OAuth client configuration: " + echo, Data: map[string]any{"err": echo}})
	case adaptertest.FaultConflict:
		s.sim.Fail(reelevantsim.Fault{Status: http.StatusConflict, Message: "OAuth client is being updated"})
	default:
		panic("unknown fault kind")
	}
}

func newAdapter(t testing.TB, baseURL string, client *http.Client, token string) adapters.Adapter {
	t.Helper()
	a, err := reelevant.New(adapters.Connection{
		Name: "reelevant-test", BaseURL: baseURL, HTTPClient: client,
		Auth: map[string]messages.Secret{reelevant.AuthBearerToken: messages.Secret(token)},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func ptr[T any](v T) *T { return &v }

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Provider: reelevant.Provider,
		// Reelevant documents no rate-limit signal; the simulator's 429
		// sends Retry-After, as a gateway in front of it would, and the
		// suite checks that the adapter honours it.
		Features: adaptertest.Features{HasRead: false, FullReplace: false, RateLimitSignal: "Retry-After"},
		Fixtures: adaptertest.Fixtures{
			Resource:        clientID,
			MissingResource: missingID,
			InvalidResource: "65a7d77142a7e12453052d5g", // g is not a hex digit
			Initial: map[string]any{
				"mode": "refresh_token", "method": "GET",
				"tokenUrl":          "https://login.salesforce.com/services/oauth2/token",
				"authorizeUrl":      "https://login.salesforce.com/services/oauth2/authorize",
				"clientId":          "initial-client-id",
				"scopes":            []any{"api", "refresh_token"},
				"accessTokenHeader": "authorization",
				"tokenExpiration":   float64(3600),
				"configuration":     map[string]any{"clientId": "initial-config-client", "scopes": []any{"api"}},
			},
			Updates: []adaptertest.UpdateCase{
				{
					Name: "credentials",
					Update: adapters.Update{
						Changes: messages.Changes{ClientID: ptr("new-client-id"), ClientSecret: ptr(messages.Secret(canarySecret))},
						ProviderFields: map[string]json.RawMessage{"configuration": raw(`{"clientId":"cfg-client","clientSecret":"` +
							canaryConfigSecret + `","tokenUrl":"https://auth.example.com/token","scopes":["read","write"],"mode":"client_credentials"}`)},
					},
					Want: map[string]any{
						"clientId": "new-client-id", "clientSecret": canarySecret,
						"configuration": map[string]any{"clientId": "cfg-client", "clientSecret": canaryConfigSecret,
							"tokenUrl": "https://auth.example.com/token", "scopes": []any{"read", "write"}, "mode": "client_credentials"},
					},
				},
				{
					Name:   "scopes",
					Update: adapters.Update{Changes: messages.Changes{Scopes: &[]string{"openid", "offline_access"}}},
					Want:   map[string]any{"scopes": []any{"openid", "offline_access"}},
				},
				{
					Name:   "no scopes",
					Update: adapters.Update{Changes: messages.Changes{Scopes: &[]string{}}},
					Want:   map[string]any{"scopes": []any{}},
				},
				{
					Name: "urls",
					Update: adapters.Update{Changes: messages.Changes{
						AuthorizeURL: ptr("https://accounts.example.com/o/oauth2/v2/auth"), TokenURL: ptr("https://oauth2.example.com/token?x=1 y"),
					}},
					Want: map[string]any{"authorizeUrl": "https://accounts.example.com/o/oauth2/v2/auth", "tokenUrl": "https://oauth2.example.com/token?x=1 y"},
				},
				{
					Name: "mode, method and tokenExpiration",
					Update: adapters.Update{ProviderFields: map[string]json.RawMessage{
						"mode": raw(`"client_credentials"`), "method": raw(`"POST"`), "tokenExpiration": raw(`1800.5`),
					}},
					Want: map[string]any{"mode": "client_credentials", "method": "POST", "tokenExpiration": 1800.5},
				},
				{
					Name: "customPayload",
					Update: adapters.Update{ProviderFields: map[string]json.RawMessage{"customPayload": raw(
						`{"tokenUrl":{"body":{"audience":"https://api.example.com"},"headers":{"x-api-version":"2"}},"authorizeUrl":{"query":{"access_type":"offline","prompt":"consent"}}}`)}},
					Want: map[string]any{"customPayload": map[string]any{
						"tokenUrl":     map[string]any{"body": map[string]any{"audience": "https://api.example.com"}, "headers": map[string]any{"x-api-version": "2"}},
						"authorizeUrl": map[string]any{"query": map[string]any{"access_type": "offline", "prompt": "consent"}},
					}},
				},
				{
					Name: "access token fields",
					Update: adapters.Update{ProviderFields: map[string]json.RawMessage{
						"accessTokenPath": raw(`"data.access_token"`), "accessTokenHeader": raw(`"x-shopify-access-token"`), "accessTokenHeaderPrefix": raw(`"google"`),
					}},
					Want: map[string]any{"accessTokenPath": "data.access_token", "accessTokenHeader": "x-shopify-access-token", "accessTokenHeaderPrefix": "google"},
				},
			},
			Unsupported: messages.Changes{RedirectURI: ptr("https://app.example.com/cb")},
			Secrets:     []string{canaryToken, canarySecret, canaryConfigSecret},
		},
		Start: startSim,
		New: func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter {
			return newAdapter(t, baseURL, client, canaryToken)
		},
		NewUnauthorized: func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter {
			return newAdapter(t, baseURL, client, "wrong-token")
		},
		CheckWrite: checkWrite,
	})
}

// spec is the official spec's PATCH /oauth/{id}: the id's schema and the
// request body's schema with its two allOf branches merged.
type spec struct {
	id, body *openapi3.Schema
	raw      *openapi3.Schema // the body schema as written
}

var loadSpec = sync.OnceValues(func() (*spec, error) {
	path, err := adaptertest.FindSpec("reelevant-oauth-subset.json")
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, err
	}
	// No doc.Validate: the subset has no info object, and the spec's own
	// example for customPayload does not validate against it (docs/providers/NOTES.md §1.2).
	op := doc.Paths.Value("/oauth/{id}").Patch
	body := op.RequestBody.Value.Content.Get("application/json").Schema.Value
	// Taken literally, each allOf branch's additionalProperties: false
	// refuses the other's keys, so every non-empty body fails (docs/providers/NOTES.md
	// §1.2). Merge the branches into one object, as docs/providers/NOTES.md §6 says.
	return &spec{id: op.Parameters.GetByInAndName("path", "id").Schema.Value, body: adaptertest.MergeAllOf(body), raw: body}, nil
})

// checkWrite validates a request the simulator received against the spec.
func checkWrite(t *testing.T, r adaptertest.Request) {
	t.Helper()
	s, err := loadSpec()
	if err != nil {
		t.Fatalf("loading the spec: %v", err)
	}
	id, ok := strings.CutPrefix(r.Path, reelevantsim.PathPrefix)
	if r.Method != http.MethodPatch || !ok {
		t.Errorf("write %s %s is not PATCH %s{id}", r.Method, r.Path, reelevantsim.PathPrefix)
		return
	}
	if err := s.id.VisitJSON(id); err != nil {
		t.Errorf("path id %q breaks the spec: %v", id, err)
	}
	var body any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Errorf("body is not JSON: %v", err)
		return
	}
	if err := s.body.VisitJSON(body, openapi3.VisitAsRequest()); err != nil {
		t.Errorf("body %s breaks the spec: %v", r.Body, err)
	}
}

// TestSpecAllOfDefect pins the reason checkWrite merges the body's allOf
// branches: as written, the spec refuses any non-empty body.
func TestSpecAllOfDefect(t *testing.T) {
	s, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []map[string]any{{"clientId": "x"}, {"configuration": map[string]any{"clientId": "x"}}} {
		if err := s.raw.VisitJSON(body, openapi3.VisitAsRequest()); err == nil {
			t.Errorf("the spec as written accepts %v: the merge may no longer be needed", body)
		}
		if err := s.body.VisitJSON(body, openapi3.VisitAsRequest()); err != nil {
			t.Errorf("the merged schema refuses %v: %v", body, err)
		}
	}
	if err := s.raw.VisitJSON(map[string]any{}, openapi3.VisitAsRequest()); err != nil {
		t.Errorf("the spec as written refuses {}: %v", err)
	}
	// The merged schema refuses what the adapter refuses.
	for _, body := range []map[string]any{
		{"name": "x"},
		{"mode": "implicit"},
		{"method": "PUT"},
		{"tokenUrl": "ftp://x.example"},
		{"customPayload": map[string]any{"tokenUrl": map[string]any{}}},
		{"configuration": map[string]any{"configuration": map[string]any{}}},
	} {
		if err := s.body.VisitJSON(body, openapi3.VisitAsRequest()); err == nil {
			t.Errorf("the merged schema accepts %v", body)
		}
	}
}
