package rocketchat_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/adaptertest"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
)

// Canaries: values that must never appear in an error.
const (
	canaryUserID = "CanaryUserId00001"
	canaryToken  = "canary-auth-token-9HqLlyZOugD_0YdwAJF8V47U3QHXSq"
	canarySecret = "canary-client-secret-QwIAYE1_8M02p-Js8SHZyTPg7HpJm"
	canaryAppID  = "65a7d77142a7e12453052d59"
	missingAppID = "fxHAgLRjP3RswMe67"
)

// conformanceSim adapts rocketchatsim to adaptertest.Sim.
type conformanceSim struct {
	sim *rocketchatsim.Server
	srv *httptest.Server
}

func startSim(t *testing.T) adaptertest.Sim {
	sim := rocketchatsim.New(rocketchatsim.Options{UserID: canaryUserID, AuthToken: canaryToken})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &conformanceSim{sim: sim, srv: srv}
}

func (s *conformanceSim) URL() string { return s.srv.URL }

func (s *conformanceSim) Seed(t *testing.T, id string, f map[string]any) {
	t.Helper()
	name, ok1 := f["name"].(string)
	active, ok2 := f["active"].(bool)
	redirect, ok3 := f["redirectUri"].(string)
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("Seed needs name (string), active (bool), redirectUri (string): %v", f)
	}
	s.sim.Seed(rocketchatsim.App{ID: id, Name: name, Active: active, RedirectURI: redirect, ClientSecret: canarySecret})
}

func (s *conformanceSim) Read(t *testing.T, id string) (map[string]any, bool) {
	app, ok := s.sim.App(id)
	if !ok {
		return nil, false
	}
	return map[string]any{
		"name": app.Name, "active": app.Active, "redirectUri": app.RedirectURI,
		"clientId": app.ClientID, "clientSecret": app.ClientSecret,
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
		s.sim.Fail(rocketchatsim.Fault{RateLimitReset: f.Wait})
	case adaptertest.FaultServerError:
		s.sim.Fail(rocketchatsim.Fault{Status: http.StatusInternalServerError})
	case adaptertest.FaultSlow:
		s.sim.Fail(rocketchatsim.Fault{Delay: f.Wait})
	case adaptertest.FaultGarbage:
		s.sim.Fail(rocketchatsim.Fault{Garbage: true})
	case adaptertest.FaultReset:
		s.sim.Fail(rocketchatsim.Fault{Reset: true})
	case adaptertest.FaultRejectEchoing:
		s.sim.Fail(rocketchatsim.Fault{
			Path: rocketchatsim.PathUpdate, Status: http.StatusBadRequest, ErrorType: "error-invalid-arguments",
			Error: "Invalid arguments: " + strings.Join(f.Echo, ", ") + " [error-invalid-arguments]",
		})
	case adaptertest.FaultConflict:
		// Rocket.Chat has no conflict status: the nearest is a business
		// refusal of the update, a 400 with its errorType.
		s.sim.Fail(rocketchatsim.Fault{Path: rocketchatsim.PathUpdate, Status: http.StatusBadRequest,
			ErrorType: "error-invalid-redirectUri", Error: "Invalid redirectUri [error-invalid-redirectUri]"})
	default:
		panic("unknown fault kind")
	}
}

func newAdapter(t *testing.T, baseURL string, client *http.Client, userID, token string) adapters.Adapter {
	t.Helper()
	a, err := rocketchat.New(adapters.Connection{
		Name: "rc-test", BaseURL: baseURL, HTTPClient: client,
		Auth: map[string]messages.Secret{rocketchat.AuthUserID: messages.Secret(userID), rocketchat.AuthToken: messages.Secret(token)},
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

func ptr[T any](v T) *T { return &v }

func TestConformance(t *testing.T) {
	adaptertest.Run(t, adaptertest.Harness{
		Provider: rocketchat.Provider,
		Features: adaptertest.Features{HasRead: true, FullReplace: true, RateLimitSignal: "X-RateLimit-Reset (epoch ms)"},
		Fixtures: adaptertest.Fixtures{
			Resource:        canaryAppID,
			MissingResource: missingAppID,
			InvalidResource: "zap-ier", // a hyphen is never in a Rocket.Chat id
			Initial:         map[string]any{"name": "test-oauth-app", "active": true, "redirectUri": "https://testuri.com"},
			Updates: []adaptertest.UpdateCase{
				{
					Name:   "redirectUri",
					Update: adapters.Update{Changes: messages.Changes{RedirectURI: ptr("https://new.example/cb")}},
					Want:   map[string]any{"redirectUri": "https://new.example/cb"},
				},
				{
					Name:   "name",
					Update: adapters.Update{Changes: messages.Changes{Name: ptr("renamed")}},
					Want:   map[string]any{"name": "renamed"},
				},
				{
					Name:   "active",
					Update: adapters.Update{Changes: messages.Changes{Active: ptr(false)}},
					Want:   map[string]any{"active": false},
				},
				{
					Name: "all",
					Update: adapters.Update{Changes: messages.Changes{
						Name: ptr("all-three"), Active: ptr(false), RedirectURI: ptr(" https://a.example/cb ,\nhttps://b.example/cb"),
					}},
					Want: map[string]any{"name": "all-three", "active": false, "redirectUri": "https://a.example/cb,https://b.example/cb"},
				},
			},
			Unsupported: messages.Changes{Scopes: &[]string{"openid"}},
			Secrets:     []string{canaryUserID, canaryToken, canarySecret},
		},
		Start: startSim,
		New: func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter {
			return newAdapter(t, baseURL, client, canaryUserID, canaryToken)
		},
		NewUnauthorized: func(t *testing.T, baseURL string, client *http.Client) adapters.Adapter {
			return newAdapter(t, baseURL, client, canaryUserID, "wrong-token")
		},
		CheckWrite: adaptertest.CheckWith(specValidator(t)),
	})
}

// specValidator checks update bodies against the official Rocket.Chat
// OpenAPI document, closed to undeclared properties as the server's own
// validator is (additionalProperties: false, docs/providers/NOTES.md §3.2).
func specValidator(t testing.TB) func(adaptertest.Request) error {
	return adaptertest.SpecBodyValidator(t, adaptertest.SpecFile(t, "rocketchat-integrations.yaml"), adaptertest.Operation{
		Method:  http.MethodPost,
		Path:    "/api/v1/oauth-apps.update",
		Matches: func(p string) bool { return p == rocketchatsim.PathUpdate },
		Adjust:  adaptertest.Closed,
	})
}

func TestSpecValidatorRefusesWhatTheServerRefuses(t *testing.T) {
	validate := specValidator(t)
	req := func(body string) adaptertest.Request {
		return adaptertest.Request{Method: http.MethodPost, Path: rocketchatsim.PathUpdate, Body: []byte(body)}
	}
	if err := validate(req(`{"appId":"a","name":"n","active":true,"redirectUri":"https://x"}`)); err != nil {
		t.Fatalf("a valid body was refused: %v", err)
	}
	for _, bad := range []string{
		`{"appId":"a","name":"n","active":true}`,                                          // required redirectUri missing
		`{"appId":"a","name":"n","active":"yes","redirectUri":"https://x"}`,               // wrong type
		`{"appId":"a","name":"n","active":true,"redirectUri":"https://x","clientId":"c"}`, // extra key
	} {
		if err := validate(req(bad)); err == nil {
			t.Errorf("%s passed the spec check", bad)
		}
	}
}
