package rocketchat_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/rocketchat"
	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
	"github.com/oauthsync/oauthsync/messages"
)

func TestNewChecksTheConnection(t *testing.T) {
	auth := func(kv ...string) map[string]messages.Secret {
		m := map[string]messages.Secret{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = messages.Secret(kv[i+1])
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		conn    adapters.Connection
		wantErr string
	}{
		{"ok", adapters.Connection{BaseURL: "https://chat.example.com", Auth: auth("userId", "u-secret-1", "authToken", "t-secret-1")}, ""},
		{"no userId", adapters.Connection{BaseURL: "https://chat.example.com", Auth: auth("authToken", "t-secret-1")}, `auth key "userId" is missing`},
		{"no authToken", adapters.Connection{BaseURL: "https://chat.example.com", Auth: auth("userId", "u-secret-1")}, `auth key "authToken" is missing`},
		{"blank authToken", adapters.Connection{BaseURL: "https://chat.example.com", Auth: auth("userId", "u-secret-1", "authToken", "  ")}, `auth key "authToken" is empty`},
		{"unknown key", adapters.Connection{BaseURL: "https://chat.example.com", Auth: auth("userId", "u-secret-1", "authtoken", "t-secret-1")}, `auth key "authtoken" is not used`},
		{"newline in token", adapters.Connection{BaseURL: "https://chat.example.com", Auth: auth("userId", "u-secret-1", "authToken", "t-secret-1\r\nX: y")}, `auth key "authToken" holds a character`},
		{"no base URL", adapters.Connection{Auth: auth("userId", "u-secret-1", "authToken", "t-secret-1")}, "base URL"},
		{"base URL with query", adapters.Connection{BaseURL: "https://chat.example.com/?x=1", Auth: auth("userId", "u-secret-1", "authToken", "t-secret-1")}, "query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := rocketchat.New(tc.conn)
			if tc.wantErr == "" {
				if err != nil || a.Provider() != "rocketchat" {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "secret-1") {
				t.Errorf("error leaks a credential: %v", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	a := newAdapter(t, "https://chat.example.com", nil, canaryUserID, canaryToken)
	ok := func(c messages.Changes) adapters.Update { return adapters.Update{Resource: canaryAppID, Changes: c} }
	for _, tc := range []struct {
		name  string
		u     adapters.Update
		kind  adapters.Kind
		field string
	}{
		{"name", ok(messages.Changes{Name: ptr("n")}), 0, ""},
		{"all three", ok(messages.Changes{Name: ptr("n"), Active: ptr(true), RedirectURI: ptr("https://a,https://b")}), 0, ""},
		{"meteor id", adapters.Update{Resource: "fxHAgLRjP3RswMe67", Changes: messages.Changes{Active: ptr(true)}}, 0, ""},
		{"16 chars", adapters.Update{Resource: "fxHAgLRjP3RswMe6", Changes: messages.Changes{Active: ptr(true)}}, adapters.KindInvalid, "resource"},
		{"25 chars", adapters.Update{Resource: canaryAppID + "0", Changes: messages.Changes{Active: ptr(true)}}, adapters.KindInvalid, "resource"},
		{"underscore", adapters.Update{Resource: "fxHAgLRjP3RswMe6_", Changes: messages.Changes{Active: ptr(true)}}, adapters.KindInvalid, "resource"},
		{"blank name", ok(messages.Changes{Name: ptr(" \t")}), adapters.KindInvalid, "name"},
		{"empty name", ok(messages.Changes{Name: ptr("")}), adapters.KindInvalid, "name"},
		{"blank redirectUri", ok(messages.Changes{RedirectURI: ptr("")}), adapters.KindInvalid, "redirectUri"},
		{"separators only", ok(messages.Changes{RedirectURI: ptr(" , \n")}), adapters.KindInvalid, "redirectUri"},
		{"clientId", ok(messages.Changes{ClientID: ptr("x")}), adapters.KindUnsupported, "clientId"},
		{"clientSecret", ok(messages.Changes{ClientSecret: ptr(messages.Secret("x"))}), adapters.KindUnsupported, "clientSecret"},
		{"description", ok(messages.Changes{Description: ptr("x")}), adapters.KindUnsupported, "description"},
		{"scopes", ok(messages.Changes{Scopes: &[]string{"a"}}), adapters.KindUnsupported, "scopes"},
		{"authorizeUrl", ok(messages.Changes{AuthorizeURL: ptr("https://x")}), adapters.KindUnsupported, "authorizeUrl"},
		{"tokenUrl", ok(messages.Changes{TokenURL: ptr("https://x")}), adapters.KindUnsupported, "tokenUrl"},
		{"supported with unsupported", ok(messages.Changes{Name: ptr("n"), TokenURL: ptr("https://x")}), adapters.KindUnsupported, "tokenUrl"},
		{"provider field", adapters.Update{Resource: canaryAppID, Changes: messages.Changes{Name: ptr("n")},
			ProviderFields: map[string]json.RawMessage{"name": json.RawMessage(`"x"`), "appId": json.RawMessage(`"x"`)}},
			adapters.KindInvalid, "providerFields.appId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Validate(tc.u)
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != tc.kind || ae.Field != tc.field {
				t.Fatalf("Validate = %#v, want %s on %q", err, tc.kind, tc.field)
			}
		})
	}
	err := a.Validate(ok(messages.Changes{ClientSecret: ptr(messages.Secret("x"))}))
	if !strings.Contains(err.Error(), "cannot change") {
		t.Errorf("clientSecret refusal does not say why: %v", err)
	}
}

type apiEnv struct {
	sim *rocketchatsim.Server
	srv *httptest.Server
	a   adapters.Adapter
}

func startAPI(t *testing.T, opts rocketchatsim.Options) *apiEnv {
	t.Helper()
	opts.UserID, opts.AuthToken = canaryUserID, canaryToken
	sim := rocketchatsim.New(opts)
	sim.Seed(rocketchatsim.App{ID: canaryAppID, Name: "test-oauth-app", Active: true,
		RedirectURI: "https://a.example/cb,https://b.example/cb", ClientSecret: canarySecret})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &apiEnv{sim: sim, srv: srv, a: newAdapter(t, srv.URL, nil, canaryUserID, canaryToken)}
}

func TestApplyRequests(t *testing.T) {
	e := startAPI(t, rocketchatsim.Options{})
	out, err := e.a.Apply(context.Background(), adapters.Update{Resource: canaryAppID,
		Changes: messages.Changes{RedirectURI: ptr("https://c.example/cb\n https://a.example/cb")}})
	if err != nil || out != (adapters.Outcome{Status: adapters.Applied, Requests: 2}) {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	rs := e.sim.Requests()
	if len(rs) != 2 {
		t.Fatalf("%d requests", len(rs))
	}
	get, post := rs[0], rs[1]
	if get.Method != "GET" || get.Path != rocketchatsim.PathGet || get.RawQuery != "_id="+canaryAppID ||
		get.Header.Get("X-User-Id") != canaryUserID || get.Header.Get("X-Auth-Token") != canaryToken {
		t.Errorf("read = %s %s?%s %v", get.Method, get.Path, get.RawQuery, get.Header)
	}
	if post.Method != "POST" || post.Path != rocketchatsim.PathUpdate || post.RawQuery != "" ||
		post.Header.Get("Content-Type") != "application/json" ||
		post.Header.Get("X-User-Id") != canaryUserID || post.Header.Get("X-Auth-Token") != canaryToken {
		t.Errorf("update = %s %s?%s %v", post.Method, post.Path, post.RawQuery, post.Header)
	}
	var body map[string]any
	if err := json.Unmarshal(post.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"appId": canaryAppID, "name": "test-oauth-app", "active": true,
		"redirectUri": "https://c.example/cb,https://a.example/cb"}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("update body = %s, want exactly %v", post.Body, want)
	}
}

func TestApplyUnchangedComparesNormalizedRedirects(t *testing.T) {
	e := startAPI(t, rocketchatsim.Options{})
	out, err := e.a.Apply(context.Background(), adapters.Update{Resource: canaryAppID, Changes: messages.Changes{
		Name: ptr("test-oauth-app"), Active: ptr(true), RedirectURI: ptr(" https://a.example/cb ,\nhttps://b.example/cb,"),
	}})
	if err != nil || out != (adapters.Outcome{Status: adapters.Unchanged, Requests: 1}) {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	// Order matters to the server (it keeps the list as given).
	out, err = e.a.Apply(context.Background(), adapters.Update{Resource: canaryAppID, Changes: messages.Changes{
		RedirectURI: ptr("https://b.example/cb,https://a.example/cb"),
	}})
	if err != nil || out.Status != adapters.Applied {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
}

func TestApplyErrors(t *testing.T) {
	update := adapters.Update{Resource: canaryAppID, Changes: messages.Changes{Name: ptr("renamed")}}
	for _, tc := range []struct {
		name   string
		opts   rocketchatsim.Options
		fault  *rocketchatsim.Fault
		kind   adapters.Kind
		status int
		text   string
	}{
		{"app gone before the update", rocketchatsim.Options{},
			&rocketchatsim.Fault{Path: rocketchatsim.PathUpdate, Status: 400, Error: rocketchatsim.ErrUpdateNotFound, ErrorType: "error-application-not-found"},
			adapters.KindNotFound, 400, "Application not found"},
		{"not-found text without errorType", rocketchatsim.Options{},
			&rocketchatsim.Fault{Path: rocketchatsim.PathUpdate, Status: 400, Error: rocketchatsim.ErrUpdateNotFound},
			adapters.KindNotFound, 400, "Application not found"},
		{"other 400", rocketchatsim.Options{},
			&rocketchatsim.Fault{Path: rocketchatsim.PathUpdate, Status: 400, Error: "Invalid name [error-invalid-name]", ErrorType: "error-invalid-name"},
			adapters.KindRejected, 400, "Invalid name [error-invalid-name]"},
		{"401", rocketchatsim.Options{}, &rocketchatsim.Fault{Status: 401}, adapters.KindUnauthorized, 401, "You must be logged in"},
		{"403 on update", rocketchatsim.Options{}, &rocketchatsim.Fault{Path: rocketchatsim.PathUpdate, Status: 403},
			adapters.KindUnauthorized, 403, "[error-unauthorized]"},
		{"404 route", rocketchatsim.Options{}, &rocketchatsim.Fault{Status: 404}, adapters.KindRejected, 404, "base URL"},
		{"503", rocketchatsim.Options{}, &rocketchatsim.Fault{Status: 503}, adapters.KindUnavailable, 503, "Service Unavailable"},
		{"500 on update", rocketchatsim.Options{}, &rocketchatsim.Fault{Path: rocketchatsim.PathUpdate, Status: 500},
			adapters.KindUnavailable, 500, "Internal server error"},
		{"real rate limit", rocketchatsim.Options{RateLimit: 1}, nil, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, tc.opts)
			if tc.fault != nil {
				e.sim.Fail(*tc.fault)
			}
			_, err := e.a.Apply(context.Background(), update)
			if tc.kind == 0 { // the rate-limit case: the second call is limited
				if err != nil {
					t.Fatalf("first Apply: %v", err)
				}
				_, err = e.a.Apply(context.Background(), update)
				tc.kind, tc.status, tc.text = adapters.KindRateLimited, 429, "too many requests"
			}
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != tc.kind || ae.HTTPStatus != tc.status || !strings.Contains(ae.Message, tc.text) {
				t.Fatalf("Apply error = %#v (%v), want %s %d containing %q", err, err, tc.kind, tc.status, tc.text)
			}
			if tc.kind == adapters.KindRateLimited && (ae.RetryAfter <= 0 || ae.RetryAfter > time.Minute) {
				t.Errorf("RetryAfter = %v", ae.RetryAfter)
			}
		})
	}
}

func TestApplyForbiddenUser(t *testing.T) {
	e := startAPI(t, rocketchatsim.Options{ForbiddenUserID: "ForbiddenUser0001"})
	a := newAdapter(t, e.srv.URL, nil, "ForbiddenUser0001", canaryToken)
	_, err := a.Apply(context.Background(), adapters.Update{Resource: canaryAppID, Changes: messages.Changes{Active: ptr(false)}})
	if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindUnauthorized || ae.HTTPStatus != 403 {
		t.Fatalf("Apply error = %v", err)
	}
}

func TestApplyUnderBasePath(t *testing.T) {
	sim := rocketchatsim.New(rocketchatsim.Options{UserID: canaryUserID, AuthToken: canaryToken})
	sim.Seed(rocketchatsim.App{ID: canaryAppID, Name: "n", Active: true, RedirectURI: "https://x"})
	mux := http.NewServeMux()
	mux.Handle("/chat/", http.StripPrefix("/chat", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a := newAdapter(t, srv.URL+"/chat/", nil, canaryUserID, canaryToken)
	if out, err := a.Apply(context.Background(), adapters.Update{Resource: canaryAppID, Changes: messages.Changes{Active: ptr(false)}}); err != nil || out.Status != adapters.Applied {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	if app, _ := sim.App(canaryAppID); app.Active {
		t.Error("not applied")
	}
}

func TestApplyConcurrentResources(t *testing.T) {
	e := startAPI(t, rocketchatsim.Options{})
	ids := []string{"AAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCC", "DDDDDDDDDDDDDDDDD"}
	for _, id := range ids {
		e.sim.Seed(rocketchatsim.App{ID: id, Name: "n", Active: true, RedirectURI: "https://x"})
	}
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() {
			_, err := e.a.Apply(context.Background(), adapters.Update{Resource: id, Changes: messages.Changes{Name: ptr("n-" + id)}})
			errs <- err
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, id := range ids {
		if app, _ := e.sim.App(id); app.Name != "n-"+id {
			t.Errorf("%s: name %q", id, app.Name)
		}
	}
	if n := len(e.sim.Requests()); n != 2*len(ids) {
		t.Errorf("%d requests", n)
	}
}

func TestRegistry(t *testing.T) {
	r := adapters.NewRegistry()
	r.Register(rocketchat.Provider, rocketchat.New)
	if !slices.Equal(r.Providers(), []string{"rocketchat"}) {
		t.Fatal(r.Providers())
	}
	_, err := r.New("rocketchat", adapters.Connection{Name: "rc", BaseURL: "https://x.example",
		Auth: map[string]messages.Secret{"userId": "u"}})
	if err == nil || !strings.Contains(err.Error(), `"authToken" is missing`) {
		t.Errorf("error = %v", err)
	}
}
