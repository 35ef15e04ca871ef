package hybriddatapipeline_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/adaptertest"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
	"github.com/oauthsync/oauthsync/messages"
)

// Canaries: values that must never appear in an error.
const (
	canaryUsername  = "canary-login-7Wq2"
	canaryPassword  = "canary-pw-Zt9:xK_3pQ-7hLm" // no 8-byte word a message may hold: any 8-byte run of it is redacted
	canarySecret    = "canary-client-secret-1912308409123890"
	canaryNewSecret = "canary-new-client-secret-HbV0wz"
	appID           = "93"
	missingAppID    = "4242"
)

// conformanceSim adapts hdpsim to adaptertest.Sim.
type conformanceSim struct {
	sim *hdpsim.Server
	srv *httptest.Server
}

func startSim(t *testing.T) adaptertest.Sim {
	sim := hdpsim.New(hdpsim.Options{Username: canaryUsername, Password: canaryPassword})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &conformanceSim{sim: sim, srv: srv}
}

func (s *conformanceSim) URL() string { return s.srv.URL }

func (s *conformanceSim) Seed(t *testing.T, id string, f map[string]any) {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatalf("Seed: id %q is not an integer", id)
	}
	str := func(k string) string {
		v, ok := f[k].(string)
		if !ok {
			t.Fatalf("Seed needs %s (string): %v", k, f)
		}
		return v
	}
	num := func(k string) int64 {
		v, ok := f[k].(int64)
		if !ok {
			t.Fatalf("Seed needs %s (int64): %v", k, f)
		}
		return v
	}
	s.sim.Seed(hdpsim.App{
		ID: n, Name: str("name"), DataStore: num("dataStore"), TenantID: num("tenantId"),
		Description: str("description"), ClientID: str("clientId"), ClientSecret: canarySecret,
		AuthorizeURI: str("authorizeURI"), TokenURI: str("tokenURI"), Scope: str("scope"),
	})
}

func (s *conformanceSim) Read(t *testing.T, id string) (map[string]any, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, false
	}
	app, ok := s.sim.App(n)
	if !ok {
		return nil, false
	}
	return map[string]any{
		"name": app.Name, "dataStore": app.DataStore, "tenantId": app.TenantID, "description": app.Description,
		"clientId": app.ClientID, "clientSecret": app.ClientSecret, "authorizeURI": app.AuthorizeURI,
		"tokenURI": app.TokenURI, "scope": app.Scope,
	}, true
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
		s.sim.Fail(hdpsim.Fault{RetryAfter: f.Wait})
	case adaptertest.FaultServerError:
		s.sim.Fail(hdpsim.Fault{Status: http.StatusInternalServerError})
	case adaptertest.FaultSlow:
		s.sim.Fail(hdpsim.Fault{Delay: f.Wait})
	case adaptertest.FaultGarbage:
		s.sim.Fail(hdpsim.Fault{Garbage: true})
	case adaptertest.FaultReset:
		s.sim.Fail(hdpsim.Fault{Reset: true})
	case adaptertest.FaultRejectEchoing:
		s.sim.Fail(hdpsim.Fault{
			Method: http.MethodPut, Status: http.StatusBadRequest,
			Message: hdpsim.ErrInvalidJSON + ": " + strings.Join(f.Echo, ", "),
		})
	case adaptertest.FaultConflict:
		// HDP documents no 409; one (from a proxy or a later version)
		// must still be a permanent refusal.
		s.sim.Fail(hdpsim.Fault{Method: http.MethodPut, Status: http.StatusConflict, Message: "An OAuth application with this name already exists"})
	default:
		panic("unknown fault kind")
	}
}

func newAdapter(t *testing.T, baseURL string, client *http.Client, username, password string) adapters.Adapter {
	t.Helper()
	a, err := hybriddatapipeline.New(adapters.Connection{
		Name: "hdp-test", BaseURL: baseURL, HTTPClient: client,
		Auth: map[string]messages.Secret{
			hybriddatapipeline.AuthUsername: messages.Secret(username),
			hybriddatapipeline.AuthPassword: messages.Secret(password),
		},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func ptr[T any](v T) *T { return &v }

// initial is the fixture object, after the document's sample (with a name
// that keeps the document's own name rule, which its sample breaks).
func initial() map[string]any {
	return map[string]any{
		"name": "TenantB_OAuth_app", "dataStore": int64(54), "tenantId": int64(623),
		"description": "TenantB OAuth application object", "clientId": "asdfjasdljfasdkjf",
		"authorizeURI": "https://accounts.google.com/o/oauth2/v2/auth",
		"tokenURI":     "https://www.googleapis.com/oauth2/v3/token",
		"scope":        "full_offline_access test_repo",
	}
}

// putSchema is the hand-written JSON Schema of the PUT body
// (testdata/oauthapp-put.schema.json): HDP publishes no machine-readable
// spec.
func putSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "oauthapp-put.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("oauthapp-put.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("oauthapp-put.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkPut validates a write against the PUT schema, and checks the
// adapter's own rule that tenantId is always sent.
func checkPut(schema *jsonschema.Schema) func(t *testing.T, r adaptertest.Request) {
	return func(t *testing.T, r adaptertest.Request) {
		t.Helper()
		if r.Method != http.MethodPut || !strings.HasPrefix(r.Path, hdpsim.PathPrefix+"/") {
			t.Errorf("write %s %s: want PUT %s/{id}", r.Method, r.Path, hdpsim.PathPrefix)
			return
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Body))
		if err != nil {
			t.Errorf("PUT body is not JSON: %v", err)
			return
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("PUT body breaks the document's schema: %v", err)
		}
		var body map[string]json.RawMessage
		if json.Unmarshal(r.Body, &body) == nil {
			if _, ok := body["tenantId"]; !ok {
				t.Error("PUT body without tenantId: the object would move to the caller's tenant")
			}
		}
	}
}

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Provider: hybriddatapipeline.Provider,
		Features: adaptertest.Features{HasRead: true, FullReplace: true, RateLimitSignal: "Retry-After (seconds; not documented by HDP, sent by proxies)"},
		Fixtures: adaptertest.Fixtures{
			Resource:        appID,
			MissingResource: missingAppID,
			InvalidResource: "93a", // HDP's ids are integers
			Initial:         initial(),
			Updates: []adaptertest.UpdateCase{
				{
					// Updates[0] drives the failure cases: it carries a
					// client secret, so that the echo case checks the
					// command's secret beside the read's.
					Name: "scopes and clientSecret",
					Update: adapters.Update{Changes: messages.Changes{
						Scopes: &[]string{"https://www.googleapis.com/auth/analytics.readonly"}, ClientSecret: ptr(messages.Secret(canaryNewSecret)),
					}},
					Want: map[string]any{"scope": "https://www.googleapis.com/auth/analytics.readonly", "clientSecret": canaryNewSecret},
				},
				{
					Name:   "scopes",
					Update: adapters.Update{Changes: messages.Changes{Scopes: &[]string{"openid", "email", "offline_access"}}},
					Want:   map[string]any{"scope": "openid email offline_access"},
				},
				{
					Name:   "name",
					Update: adapters.Update{Changes: messages.Changes{Name: ptr("Renamed_app_2")}},
					Want:   map[string]any{"name": "Renamed_app_2"},
				},
				{
					Name:   "description",
					Update: adapters.Update{Changes: messages.Changes{Description: ptr("a new description")}},
					Want:   map[string]any{"description": "a new description"},
				},
				{
					Name:   "description cleared",
					Update: adapters.Update{Changes: messages.Changes{Description: ptr("")}},
					Want:   map[string]any{"description": ""},
				},
				{
					Name:   "clientId",
					Update: adapters.Update{Changes: messages.Changes{ClientID: ptr("new-client-id")}},
					Want:   map[string]any{"clientId": "new-client-id"},
				},
				{
					Name:   "clientSecret",
					Update: adapters.Update{Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canaryNewSecret))}},
					Want:   map[string]any{"clientSecret": canaryNewSecret},
				},
				{
					Name:   "authorizeUrl",
					Update: adapters.Update{Changes: messages.Changes{AuthorizeURL: ptr("https://login.example.com/authorize")}},
					Want:   map[string]any{"authorizeURI": "https://login.example.com/authorize"},
				},
				{
					Name:   "tokenUrl",
					Update: adapters.Update{Changes: messages.Changes{TokenURL: ptr("https://login.example.com/token")}},
					Want:   map[string]any{"tokenURI": "https://login.example.com/token"},
				},
				{
					Name:   "dataStore",
					Update: adapters.Update{ProviderFields: map[string]json.RawMessage{"dataStore": json.RawMessage(`62`)}},
					Want:   map[string]any{"dataStore": int64(62)},
				},
				{
					Name:   "tenantId",
					Update: adapters.Update{ProviderFields: map[string]json.RawMessage{"tenantId": json.RawMessage(`71`)}},
					Want:   map[string]any{"tenantId": int64(71)},
				},
				{
					Name: "all",
					Update: adapters.Update{
						Changes: messages.Changes{
							Name: ptr("All_fields"), Description: ptr("all"), ClientID: ptr("cid-2"),
							ClientSecret: ptr(messages.Secret(canaryNewSecret)), Scopes: &[]string{"api", "refresh_token"},
							AuthorizeURL: ptr("https://sf.example.com/services/oauth2/authorize"),
							TokenURL:     ptr("https://sf.example.com/services/oauth2/token"),
						},
						ProviderFields: map[string]json.RawMessage{"dataStore": json.RawMessage(`1`), "tenantId": json.RawMessage(`72`)},
					},
					Want: map[string]any{
						"name": "All_fields", "description": "all", "clientId": "cid-2", "clientSecret": canaryNewSecret,
						"scope": "api refresh_token", "authorizeURI": "https://sf.example.com/services/oauth2/authorize",
						"tokenURI": "https://sf.example.com/services/oauth2/token", "dataStore": int64(1), "tenantId": int64(72),
					},
				},
			},
			Unsupported: messages.Changes{RedirectURI: ptr("https://app.example.com/cb")},
			Secrets:     []string{canaryUsername, canaryPassword, canarySecret, canaryNewSecret},
		},
		Start: startSim,
		New: func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter {
			return newAdapter(t, baseURL, client, canaryUsername, canaryPassword)
		},
		NewUnauthorized: func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter {
			return newAdapter(t, baseURL, client, canaryUsername, "wrong-password")
		},
		CheckWrite: checkPut(putSchema(t)),
	})
}
