package jframework_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/adaptertest"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
	"github.com/oauthsync/oauthsync/messages"
)

// Canaries: values that must never appear in an error.
const (
	canaryBrandURL  = "canary-brand-7Qm2.example.com"
	canaryAuthKey   = "canary-auth-key-Zx81-eyJhbGciOiJIUzI1NiJ9.qwe"
	canarySecret    = "canary-stored-client-secret-GOCSPX-Vb1"
	canaryNewSecret = "canary-new-client-secret-GOCSPX-Q7p"

	resourceID    = "sApKpllz4sAplsmzha" // the documents' example id
	missingID     = "Kd12AnplKdMd5s"     // the SDK's example id
	appID         = "gOoGlEaPpInTeGrAt1"
	otherAppID    = "sTrIpEaPpInTeGrAt2"
	initialScope  = "openid email profile"
	initialIcon   = "https://subdomain.com/assets/google-icon.png"
	initialTags   = "#google #oauth2"
	initialDesc   = "Integration for Google OAuth2 authentication."
	initialRedir  = "https://subdomain.com/auth/callback"
	initialAuthEP = "https://accounts.google.com/o/oauth2/auth"
	initialTokEP  = "https://oauth2.googleapis.com/token"
)

// initial are the native fields the fixture resource is seeded with (the
// update page's example body, clientSecret aside).
func initial() map[string]any {
	return map[string]any{
		"appIntegrationId": appID,
		"code":             "GOOGLE_OAUTH2",
		"name":             "Google OAuth2 Integration",
		"projectId":        "my-google-project-123",
		"clientId":         "1234567890-abc.apps.googleusercontent.com",
		"redirectURI":      initialRedir,
		"scope":            initialScope,
		"authEndpoint":     initialAuthEP,
		"tokenEndpoint":    initialTokEP,
		"iconURL":          initialIcon,
		"tags":             initialTags,
		"description":      initialDesc,
		"status":           "Active",
		"isDefault":        true,
	}
}

// conformanceSim adapts jframeworksim to adaptertest.Sim.
type conformanceSim struct {
	sim *jframeworksim.Server
	srv *httptest.Server
}

func startSim(t *testing.T) adaptertest.Sim {
	sim := jframeworksim.New(jframeworksim.Options{BrandURL: canaryBrandURL, AuthKey: canaryAuthKey})
	// A second app integration, for the update that moves the
	// authentication to it.
	sim.SeedAppIntegration(jframeworksim.AppIntegration{ID: otherAppID, Type: "PaymentGateway", Name: "Stripe", Domain: "https://stripe.com"})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &conformanceSim{sim: sim, srv: srv}
}

func (s *conformanceSim) URL() string { return s.srv.URL }

func (s *conformanceSim) Seed(t *testing.T, id string, f map[string]any) {
	t.Helper()
	str := func(k string) string {
		v, ok := f[k].(string)
		if !ok {
			t.Fatalf("Seed: %s must be a string: %v", k, f)
		}
		return v
	}
	null := func(k string) *string {
		switch v := f[k].(type) {
		case nil:
			return nil
		case string:
			return &v
		}
		t.Fatalf("Seed: %s must be a string or nil: %v", k, f)
		return nil
	}
	isDefault, ok := f["isDefault"].(bool)
	if !ok {
		t.Fatalf("Seed: isDefault must be a bool: %v", f)
	}
	s.sim.Seed(jframeworksim.Integration{
		ID:             id,
		AppIntegration: jframeworksim.AppIntegration{ID: str("appIntegrationId")},
		Code:           str("code"), Name: str("name"), ProjectID: str("projectId"), ClientID: str("clientId"),
		ClientSecret: canarySecret, RedirectURI: str("redirectURI"), Scope: str("scope"),
		AuthEndpoint: null("authEndpoint"), TokenEndpoint: null("tokenEndpoint"), IconURL: null("iconURL"),
		Tags: null("tags"), Description: null("description"), Status: str("status"), IsDefault: isDefault,
	})
}

func (s *conformanceSim) Read(t *testing.T, id string) (map[string]any, bool) {
	in, ok := s.sim.Integration(id)
	if !ok {
		return nil, false
	}
	null := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	return map[string]any{
		"appIntegrationId": in.AppIntegration.ID, "code": in.Code, "name": in.Name, "projectId": in.ProjectID,
		"clientId": in.ClientID, "clientSecret": in.ClientSecret, "redirectURI": in.RedirectURI, "scope": in.Scope,
		"authEndpoint": null(in.AuthEndpoint), "tokenEndpoint": null(in.TokenEndpoint), "iconURL": null(in.IconURL),
		"tags": null(in.Tags), "description": null(in.Description), "status": in.Status, "isDefault": in.IsDefault,
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
		s.sim.Fail(jframeworksim.Fault{RateLimitReset: f.Wait})
	case adaptertest.FaultServerError:
		s.sim.Fail(jframeworksim.Fault{Status: http.StatusInternalServerError})
	case adaptertest.FaultSlow:
		s.sim.Fail(jframeworksim.Fault{Delay: f.Wait})
	case adaptertest.FaultGarbage:
		s.sim.Fail(jframeworksim.Fault{Garbage: true})
	case adaptertest.FaultReset:
		s.sim.Fail(jframeworksim.Fault{Reset: true})
	case adaptertest.FaultRejectEchoing:
		s.sim.Fail(jframeworksim.Fault{
			Method: http.MethodPut, Status: http.StatusBadRequest, Code: jframeworksim.CodeInvalidRequest,
			Error: "The values are invalid: " + strings.Join(f.Echo, ", "),
		})
	case adaptertest.FaultConflict:
		s.sim.Fail(jframeworksim.Fault{Method: http.MethodPut, Status: http.StatusConflict, Code: jframeworksim.CodeConflictSetting,
			Error: "The app integration setting conflicts with an existing one."})
	default:
		panic("unknown fault kind")
	}
}

func newAdapter(t *testing.T, baseURL string, client *http.Client, brandURL, authKey string) adapters.Adapter {
	t.Helper()
	a, err := jframework.New(adapters.Connection{
		Name: "jf-test", BaseURL: baseURL, HTTPClient: client,
		Auth: map[string]messages.Secret{jframework.AuthBrandURL: messages.Secret(brandURL), jframework.AuthKey: messages.Secret(authKey)},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func ptr[T any](v T) *T { return &v }

func secret(s string) *messages.Secret { return ptr(messages.Secret(s)) }

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Provider: jframework.Provider,
		Features: adaptertest.Features{HasRead: true, FullReplace: true, RateLimitSignal: "X-RateLimit-Reset (epoch seconds)"},
		Fixtures: adaptertest.Fixtures{
			Resource:        resourceID,
			MissingResource: missingID,
			InvalidResource: "sApKpllz4.sAplsmzha", // a dot is outside ResourcePattern
			Initial:         initial(),
			Updates: []adaptertest.UpdateCase{
				{
					// Updates[0] carries a new secret, so that the
					// echoing case shows the command's secret scrubbed too.
					Name: "redirectUri, clientSecret and active",
					Update: adapters.Update{Changes: messages.Changes{
						RedirectURI: ptr("https://new.example/cb"), ClientSecret: secret(canaryNewSecret), Active: ptr(false),
					}},
					Want: map[string]any{"redirectURI": "https://new.example/cb", "clientSecret": canaryNewSecret, "status": "Inactive"},
				},
				{
					Name:   "name",
					Update: adapters.Update{Changes: messages.Changes{Name: ptr("renamed")}},
					Want:   map[string]any{"name": "renamed"},
				},
				{
					Name:   "description",
					Update: adapters.Update{Changes: messages.Changes{Description: ptr("")}},
					Want:   map[string]any{"description": ""},
				},
				{
					Name:   "clientId",
					Update: adapters.Update{Changes: messages.Changes{ClientID: ptr("new-client.apps.googleusercontent.com")}},
					Want:   map[string]any{"clientId": "new-client.apps.googleusercontent.com"},
				},
				{
					Name:   "clientSecret",
					Update: adapters.Update{Changes: messages.Changes{ClientSecret: secret(canaryNewSecret)}},
					Want:   map[string]any{"clientSecret": canaryNewSecret},
				},
				{
					Name:   "scopes",
					Update: adapters.Update{Changes: messages.Changes{Scopes: &[]string{"openid", "https://www.googleapis.com/auth/drive"}}},
					Want:   map[string]any{"scope": "openid https://www.googleapis.com/auth/drive"},
				},
				{
					Name:   "authorizeUrl",
					Update: adapters.Update{Changes: messages.Changes{AuthorizeURL: ptr("https://accounts.google.com/o/oauth2/v2/auth")}},
					Want:   map[string]any{"authEndpoint": "https://accounts.google.com/o/oauth2/v2/auth"},
				},
				{
					Name:   "tokenUrl",
					Update: adapters.Update{Changes: messages.Changes{TokenURL: ptr("https://www.googleapis.com/oauth2/v4/token")}},
					Want:   map[string]any{"tokenEndpoint": "https://www.googleapis.com/oauth2/v4/token"},
				},
				{
					Name:   "active",
					Update: adapters.Update{Changes: messages.Changes{Active: ptr(false)}},
					Want:   map[string]any{"status": "Inactive"},
				},
				{
					Name: "every canonical field",
					Update: adapters.Update{Changes: messages.Changes{
						Name: ptr("all"), Description: ptr("all fields"), ClientID: ptr("cid"), ClientSecret: secret(canaryNewSecret),
						RedirectURI: ptr("https://all.example/cb"), Scopes: &[]string{"a", "b"}, AuthorizeURL: ptr("https://all.example/auth"),
						TokenURL: ptr("https://all.example/token"), Active: ptr(false),
					}},
					Want: map[string]any{
						"name": "all", "description": "all fields", "clientId": "cid", "clientSecret": canaryNewSecret,
						"redirectURI": "https://all.example/cb", "scope": "a b", "authEndpoint": "https://all.example/auth",
						"tokenEndpoint": "https://all.example/token", "status": "Inactive",
					},
				},
				{
					Name: "every native field",
					Update: adapters.Update{ProviderFields: map[string]json.RawMessage{
						"appIntegrationId": raw(`"` + otherAppID + `"`), "code": raw(`"STRIPE"`), "projectId": raw(`"proj-2"`),
						"iconURL": raw(`"https://cdn.example/icon.svg"`), "tags": raw(`"#stripe"`), "status": raw(`"Inactive"`),
						"isDefault": raw(`false`),
					}},
					Want: map[string]any{
						"appIntegrationId": otherAppID, "code": "STRIPE", "projectId": "proj-2", "iconURL": "https://cdn.example/icon.svg",
						"tags": "#stripe", "status": "Inactive", "isDefault": false,
					},
				},
				{
					Name: "iconURL and tags cleared",
					Update: adapters.Update{ProviderFields: map[string]json.RawMessage{
						"iconURL": raw(`null`), "tags": raw(`null`),
					}},
					Want: map[string]any{"iconURL": nil, "tags": nil},
				},
				{
					Name: "canonical and native together",
					Update: adapters.Update{
						Changes:        messages.Changes{Name: ptr("mixed"), Scopes: &[]string{"email"}},
						ProviderFields: map[string]json.RawMessage{"code": raw(`"MIXED"`)},
					},
					Want: map[string]any{"name": "mixed", "scope": "email", "code": "MIXED"},
				},
			},
			// jframework has a place for every canonical field: the
			// suite's unsupported-field case is skipped.
			Unsupported: messages.Changes{},
			Secrets:     []string{canaryBrandURL, canaryAuthKey, canarySecret, canaryNewSecret},
		},
		Start: startSim,
		New: func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter {
			return newAdapter(t, baseURL, client, canaryBrandURL, canaryAuthKey)
		},
		NewUnauthorized: func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter {
			return newAdapter(t, baseURL, client, canaryBrandURL, "wrong-auth-key")
		},
		CheckWrite: checkWrite,
	})
}

// updateSchema is the update body's schema, written by hand from the
// provider document (jframework publishes no OpenAPI spec; docs/providers/NOTES.md §4.1), in
// testdata/update.openapi.yaml.
var updateSchema = sync.OnceValues(func() (*openapi3.Schema, error) {
	b, err := os.ReadFile("testdata/update.openapi.yaml")
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		return nil, err
	}
	openapi3.DefineStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
		if u, err := url.Parse(s); err != nil || !u.IsAbs() || strings.ContainsAny(s, " \t\r\n") {
			return errors.New("not an absolute URI")
		}
		return nil
	}))
	op := doc.Paths.Find("/api/v1/app-integrations/authentication/{id}").Put
	return op.RequestBody.Value.Content.Get("application/json").Schema.Value, nil
})

// checkWrite validates every write against the document's schema.
func checkWrite(t *testing.T, r adaptertest.Request) {
	t.Helper()
	if r.Method != http.MethodPut || !strings.HasPrefix(r.Path, jframeworksim.PathPrefix) {
		t.Errorf("write %s %s: want PUT %s{id}", r.Method, r.Path, jframeworksim.PathPrefix)
		return
	}
	schema, err := updateSchema()
	if err != nil {
		t.Fatalf("update schema: %v", err)
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Errorf("write body is not JSON: %v", err)
		return
	}
	if err := schema.VisitJSON(v, openapi3.EnableFormatValidation()); err != nil {
		t.Errorf("write body breaks the document's schema: %v", err)
	}
}

// TestUpdateSchema: the hand-written schema CheckWrite uses accepts the
// update page's example and refuses what the document forbids.
func TestUpdateSchema(t *testing.T) {
	schema, err := updateSchema()
	if err != nil {
		t.Fatal(err)
	}
	example := func() map[string]any {
		return map[string]any{
			"appIntegrationId": "sApKpllz4sAplsmzha", "code": "GOOGLE_OAUTH2", "name": "Google OAuth2 Integration",
			"projectId": "my-google-project-123", "clientId": "1234567890-abc.apps.googleusercontent.com",
			"clientSecret": "GOCSPX-EXAMPLESECRET", "redirectURI": "https://subdomain.com/auth/callback",
			"scope": "openid email profile", "authEndpoint": "https://accounts.google.com/o/oauth2/auth",
			"tokenEndpoint": "https://oauth2.googleapis.com/token", "iconURL": "https://subdomain.com/assets/google-icon.png",
			"tags": "#google #oauth2", "description": "Integration for Google OAuth2 authentication.", "status": "Active", "isDefault": true,
		}
	}
	check := func(v map[string]any) error { return schema.VisitJSON(v, openapi3.EnableFormatValidation()) }
	if err := check(example()); err != nil {
		t.Fatalf("the document's example: %v", err)
	}
	nulls := example()
	for _, k := range []string{"authEndpoint", "tokenEndpoint", "iconURL", "tags", "description"} {
		nulls[k] = nil
	}
	if err := check(nulls); err != nil {
		t.Errorf("nulls: %v", err)
	}
	for name, edit := range map[string]func(map[string]any){
		"missing scope":         func(m map[string]any) { delete(m, "scope") },
		"empty clientSecret":    func(m map[string]any) { m["clientSecret"] = "" },
		"extra key":             func(m map[string]any) { m["appIntegration"] = map[string]any{} },
		"status lower case":     func(m map[string]any) { m["status"] = "active" },
		"status null":           func(m map[string]any) { m["status"] = nil },
		"iconURL not a URI":     func(m map[string]any) { m["iconURL"] = "iconUrl" },
		"isDefault string":      func(m map[string]any) { m["isDefault"] = "true" },
		"tags number":           func(m map[string]any) { m["tags"] = 1.0 },
		"authEndpoint relative": func(m map[string]any) { m["authEndpoint"] = "/auth" },
	} {
		m := example()
		edit(m)
		if check(m) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
