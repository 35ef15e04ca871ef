package hybriddatapipeline_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline"
	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
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
	const base = "https://hdp.example.com:8443"
	for _, tc := range []struct {
		name    string
		conn    adapters.Connection
		wantErr string
	}{
		{"ok", adapters.Connection{BaseURL: base, Auth: auth("username", "u-secret-1", "password", "p-secret-1")}, ""},
		{"password with colon", adapters.Connection{BaseURL: base, Auth: auth("username", "u-secret-1", "password", "p:secret-1")}, ""},
		{"no username", adapters.Connection{BaseURL: base, Auth: auth("password", "p-secret-1")}, `auth key "username" is missing`},
		{"no password", adapters.Connection{BaseURL: base, Auth: auth("username", "u-secret-1")}, `auth key "password" is missing`},
		{"blank password", adapters.Connection{BaseURL: base, Auth: auth("username", "u-secret-1", "password", " \t")}, `auth key "password" is empty`},
		{"empty username", adapters.Connection{BaseURL: base, Auth: auth("username", "", "password", "p-secret-1")}, `auth key "username" is empty`},
		{"colon in username", adapters.Connection{BaseURL: base, Auth: auth("username", "u:secret-1", "password", "p-secret-1")}, `auth key "username" holds a colon`},
		{"newline in password", adapters.Connection{BaseURL: base, Auth: auth("username", "u-secret-1", "password", "p-secret-1\r\nX: y")}, `auth key "password" holds a control character`},
		{"unknown key", adapters.Connection{BaseURL: base, Auth: auth("username", "u-secret-1", "password", "p-secret-1", "user", "x-secret-1")}, `auth key "user" is not used`},
		{"no base URL", adapters.Connection{Auth: auth("username", "u-secret-1", "password", "p-secret-1")}, "base URL"},
		{"base URL with user info", adapters.Connection{BaseURL: "https://u:p-secret-1@hdp.example.com", Auth: auth("username", "u-secret-1", "password", "p-secret-1")}, "user info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := hybriddatapipeline.New(tc.conn)
			if tc.wantErr == "" {
				if err != nil || a.Provider() != "hybriddatapipeline" {
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

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestValidate(t *testing.T) {
	a := newAdapter(t, "https://hdp.example.com", nil, canaryUsername, canaryPassword)
	ok := func(c messages.Changes) adapters.Update { return adapters.Update{Resource: appID, Changes: c} }
	pf := func(kv ...string) adapters.Update {
		u := ok(messages.Changes{})
		u.ProviderFields = map[string]json.RawMessage{}
		for i := 0; i < len(kv); i += 2 {
			u.ProviderFields[kv[i]] = raw(kv[i+1])
		}
		return u
	}
	res := func(id string) adapters.Update {
		return adapters.Update{Resource: id, Changes: messages.Changes{Name: ptr("n")}}
	}
	for _, tc := range []struct {
		name  string
		u     adapters.Update
		kind  adapters.Kind
		field string
	}{
		// Resource: a positive decimal integer.
		{"id 1", res("1"), 0, ""},
		{"id 18 digits", res("999999999999999999"), 0, ""},
		{"id 19 digits", res("1000000000000000000"), adapters.KindInvalid, "resource"},
		{"id 0", res("0"), adapters.KindInvalid, "resource"},
		{"id leading zero", res("093"), adapters.KindInvalid, "resource"},
		{"id negative", res("-93"), adapters.KindInvalid, "resource"},
		{"id hex", res("5d"), adapters.KindInvalid, "resource"},
		{"id blank", res(""), adapters.KindInvalid, "resource"},
		{"id with space", res("9 3"), adapters.KindInvalid, "resource"},
		{"id unicode digit", res("٩٣"), adapters.KindInvalid, "resource"},

		// name: alphanumerics and underscore.
		{"name", ok(messages.Changes{Name: ptr("TenantB_OAuth_app_2")}), 0, ""},
		{"name underscore only", ok(messages.Changes{Name: ptr("_")}), 0, ""},
		{"name long", ok(messages.Changes{Name: ptr(strings.Repeat("a", 1000))}), 0, ""},
		{"name with spaces (the doc's own sample)", ok(messages.Changes{Name: ptr("TenantB OAuth app")}), adapters.KindInvalid, "name"},
		{"name with hyphen", ok(messages.Changes{Name: ptr("my-app")}), adapters.KindInvalid, "name"},
		{"name with accent", ok(messages.Changes{Name: ptr("café")}), adapters.KindInvalid, "name"},
		{"name with newline", ok(messages.Changes{Name: ptr("app\n")}), adapters.KindInvalid, "name"},
		{"name empty", ok(messages.Changes{Name: ptr("")}), adapters.KindInvalid, "name"},

		// description: free text, empty allowed.
		{"description", ok(messages.Changes{Description: ptr("any text, even with spaces & symbols")}), 0, ""},
		{"description empty", ok(messages.Changes{Description: ptr("")}), 0, ""},

		// clientId, clientSecret: required, so not empty.
		{"clientId", ok(messages.Changes{ClientID: ptr("asdfjasdljfasdkjf")}), 0, ""},
		{"clientId blank", ok(messages.Changes{ClientID: ptr(" ")}), adapters.KindInvalid, "clientId"},
		{"clientSecret", ok(messages.Changes{ClientSecret: ptr(messages.Secret("s"))}), 0, ""},
		{"clientSecret empty", ok(messages.Changes{ClientSecret: ptr(messages.Secret(""))}), adapters.KindInvalid, "clientSecret"},

		// scopes: at least one, no whitespace, none empty.
		{"scopes", ok(messages.Changes{Scopes: &[]string{"full_offline_access", "test_repo"}}), 0, ""},
		{"scopes URL", ok(messages.Changes{Scopes: &[]string{"https://www.googleapis.com/auth/bigquery"}}), 0, ""},
		{"scopes empty list", ok(messages.Changes{Scopes: &[]string{}}), adapters.KindInvalid, "scopes"},
		{"scopes empty entry", ok(messages.Changes{Scopes: &[]string{"a", ""}}), adapters.KindInvalid, "scopes"},
		{"scopes with space", ok(messages.Changes{Scopes: &[]string{"a b"}}), adapters.KindInvalid, "scopes"},
		{"scopes with tab", ok(messages.Changes{Scopes: &[]string{"a\tb"}}), adapters.KindInvalid, "scopes"},

		// authorizeUrl, tokenUrl: valid URLs.
		{"authorizeUrl", ok(messages.Changes{AuthorizeURL: ptr("https://accounts.google.com/o/oauth2/v2/auth")}), 0, ""},
		{"authorizeUrl http with port", ok(messages.Changes{AuthorizeURL: ptr("http://127.0.0.1:8080/auth")}), 0, ""},
		{"authorizeUrl relative", ok(messages.Changes{AuthorizeURL: ptr("/auth")}), adapters.KindInvalid, "authorizeUrl"},
		{"authorizeUrl ftp", ok(messages.Changes{AuthorizeURL: ptr("ftp://x.example/auth")}), adapters.KindInvalid, "authorizeUrl"},
		{"authorizeUrl no host", ok(messages.Changes{AuthorizeURL: ptr("https:///auth")}), adapters.KindInvalid, "authorizeUrl"},
		{"authorizeUrl space", ok(messages.Changes{AuthorizeURL: ptr("https://x.example/a b")}), adapters.KindInvalid, "authorizeUrl"},
		{"tokenUrl", ok(messages.Changes{TokenURL: ptr("https://www.googleapis.com/oauth2/v3/token")}), 0, ""},
		{"tokenUrl empty", ok(messages.Changes{TokenURL: ptr("")}), adapters.KindInvalid, "tokenUrl"},
		{"tokenUrl opaque", ok(messages.Changes{TokenURL: ptr("https:token")}), adapters.KindInvalid, "tokenUrl"},

		// Canonical fields HDP has no place for.
		{"redirectUri", ok(messages.Changes{RedirectURI: ptr("https://x.example/cb")}), adapters.KindUnsupported, "redirectUri"},
		{"active", ok(messages.Changes{Active: ptr(true)}), adapters.KindUnsupported, "active"},
		{"supported with unsupported", ok(messages.Changes{Name: ptr("n"), Active: ptr(false)}), adapters.KindUnsupported, "active"},

		// Provider fields.
		{"dataStore", pf("dataStore", "54"), 0, ""},
		{"tenantId", pf("tenantId", "623"), 0, ""},
		{"both", pf("dataStore", "62", "tenantId", " 1 "), 0, ""},
		{"dataStore string", pf("dataStore", `"54"`), adapters.KindInvalid, "providerFields.dataStore"},
		{"dataStore fraction", pf("dataStore", "54.5"), adapters.KindInvalid, "providerFields.dataStore"},
		{"dataStore 54.0", pf("dataStore", "54.0"), adapters.KindInvalid, "providerFields.dataStore"},
		{"dataStore exponent", pf("dataStore", "5.4e1"), adapters.KindInvalid, "providerFields.dataStore"},
		{"dataStore zero", pf("dataStore", "0"), adapters.KindInvalid, "providerFields.dataStore"},
		{"dataStore negative", pf("dataStore", "-54"), adapters.KindInvalid, "providerFields.dataStore"},
		{"dataStore null", pf("dataStore", "null"), adapters.KindInvalid, "providerFields.dataStore"},
		{"dataStore bool", pf("dataStore", "true"), adapters.KindInvalid, "providerFields.dataStore"},
		{"dataStore object", pf("dataStore", `{"id":54}`), adapters.KindInvalid, "providerFields.dataStore"},
		{"dataStore overflow", pf("dataStore", "9223372036854775808"), adapters.KindInvalid, "providerFields.dataStore"},
		{"tenantId null", pf("tenantId", "null"), adapters.KindInvalid, "providerFields.tenantId"},
		{"tenantId string", pf("tenantId", `"623"`), adapters.KindInvalid, "providerFields.tenantId"},
		{"tenantId negative", pf("tenantId", "-1"), adapters.KindInvalid, "providerFields.tenantId"},
		{"native scope", pf("scope", `"a b"`), adapters.KindInvalid, "providerFields.scope"},
		{"native authorizeURI", pf("authorizeURI", `"https://x"`), adapters.KindInvalid, "providerFields.authorizeURI"},
		{"native tokenURI", pf("tokenURI", `"https://x"`), adapters.KindInvalid, "providerFields.tokenURI"},
		{"native name", pf("name", `"n"`), adapters.KindInvalid, "providerFields.name"},
		{"native clientSecret", pf("clientSecret", `"s"`), adapters.KindInvalid, "providerFields.clientSecret"},
		{"id", pf("id", `"93"`), adapters.KindInvalid, "providerFields.id"},
		{"unknown", pf("redirectURI", `"x"`), adapters.KindInvalid, "providerFields.redirectURI"},
		{"first bad in name order", pf("zzz", "1", "dataStore", "x", "aaa", "1"), adapters.KindInvalid, "providerFields.aaa"},
		{"canonical before provider fields", adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr("a b")},
			ProviderFields: map[string]json.RawMessage{"aaa": raw("1")}}, adapters.KindInvalid, "name"},
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
			if ae.Kind.Retryable() || ae.Message == "" {
				t.Errorf("error %v: retryable or no message", ae)
			}
		})
	}

	for _, tc := range []struct {
		u    adapters.Update
		text string
	}{
		{pf("scope", `"a"`), `canonical field "scopes"`},
		{pf("authorizeURI", `"https://x"`), `canonical field "authorizeUrl"`},
		{pf("tokenURI", `"https://x"`), `data.changes.tokenUrl`},
		{pf("nope", "1"), `"dataStore" and "tenantId"`},
		{ok(messages.Changes{Name: ptr("a b")}), "alphanumeric characters and the underscore"},
	} {
		if err := a.Validate(tc.u); err == nil || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("Validate(%v) = %v, want it to say %q", tc.u.Fields(), err, tc.text)
		}
	}
	if err := a.Validate(ok(messages.Changes{ClientSecret: ptr(messages.Secret(" "))})); err == nil ||
		strings.Contains(err.Error(), canarySecret) {
		t.Errorf("Validate(blank secret) = %v", err)
	}
}

type apiEnv struct {
	sim *hdpsim.Server
	srv *httptest.Server
	a   adapters.Adapter
}

// seeded is the object every API test starts from.
var seeded = hdpsim.App{
	ID: 93, Name: "TenantB_OAuth_app", DataStore: 54, TenantID: 623, Description: "TenantB OAuth application object",
	ClientID: "asdfjasdljfasdkjf", ClientSecret: canarySecret,
	AuthorizeURI: "https://accounts.google.com/o/oauth2/v2/auth", TokenURI: "https://www.googleapis.com/oauth2/v3/token",
	Scope: "full_offline_access test_repo",
}

func startAPI(t *testing.T, opts hdpsim.Options) *apiEnv {
	t.Helper()
	opts.Username, opts.Password = canaryUsername, canaryPassword
	sim := hdpsim.New(opts)
	sim.Seed(seeded)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &apiEnv{sim: sim, srv: srv, a: newAdapter(t, srv.URL, nil, canaryUsername, canaryPassword)}
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestApplyPutBody: a partial update sends the whole object, every untouched
// field (tenantId above all) carried over from the read, scopes space-joined.
func TestApplyPutBody(t *testing.T) {
	e := startAPI(t, hdpsim.Options{})
	out, err := e.a.Apply(context.Background(), adapters.Update{Resource: appID,
		Changes: messages.Changes{Scopes: &[]string{"openid", "email"}, Description: ptr("new")}})
	if err != nil || out != (adapters.Outcome{Status: adapters.Applied, Requests: 2}) {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	rs := e.sim.Requests()
	if len(rs) != 2 {
		t.Fatalf("%d requests", len(rs))
	}
	get, put := rs[0], rs[1]
	if get.Method != "GET" || get.Path != "/api/mgmt/oauthapps/93" || get.RawQuery != "" || len(get.Body) != 0 ||
		get.Header.Get("Authorization") != basic(canaryUsername, canaryPassword) || get.Header.Get("Accept") != "application/json" {
		t.Errorf("read = %s %s?%s %v", get.Method, get.Path, get.RawQuery, get.Header)
	}
	if put.Method != "PUT" || put.Path != "/api/mgmt/oauthapps/93" || put.RawQuery != "" ||
		put.Header.Get("Content-Type") != "application/json" ||
		put.Header.Get("Authorization") != basic(canaryUsername, canaryPassword) {
		t.Errorf("update = %s %s?%s %v", put.Method, put.Path, put.RawQuery, put.Header)
	}
	// The exact bytes: the document's key order, integers as integers.
	want := `{"name":"TenantB_OAuth_app","dataStore":54,"tenantId":623,"description":"new","clientId":"asdfjasdljfasdkjf",` +
		`"clientSecret":"` + canarySecret + `","authorizeURI":"https://accounts.google.com/o/oauth2/v2/auth",` +
		`"tokenURI":"https://www.googleapis.com/oauth2/v3/token","scope":"openid email"}`
	if string(put.Body) != want {
		t.Errorf("update body =\n%s\nwant\n%s", put.Body, want)
	}
	app, _ := e.sim.App(93)
	wantApp := seeded
	wantApp.Scope, wantApp.Description = "openid email", "new"
	if app != wantApp {
		t.Errorf("stored %+v\nwant %+v", app, wantApp)
	}
}

func TestApplyProviderFieldsAndSecret(t *testing.T) {
	e := startAPI(t, hdpsim.Options{})
	_, err := e.a.Apply(context.Background(), adapters.Update{Resource: appID,
		Changes:        messages.Changes{ClientSecret: ptr(messages.Secret(canaryNewSecret)), Name: ptr("BigQuery_app")},
		ProviderFields: map[string]json.RawMessage{"dataStore": raw("62"), "tenantId": raw("71")}})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(e.sim.Requests()[1].Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": "BigQuery_app", "dataStore": 62.0, "tenantId": 71.0, "description": seeded.Description,
		"clientId": seeded.ClientID, "clientSecret": canaryNewSecret, "authorizeURI": seeded.AuthorizeURI,
		"tokenURI": seeded.TokenURI, "scope": seeded.Scope}
	if !reflect.DeepEqual(body, want) {
		t.Errorf("body = %v\nwant %v", body, want)
	}
}

func TestApplyUnchanged(t *testing.T) {
	e := startAPI(t, hdpsim.Options{})
	for _, u := range []adapters.Update{
		{Changes: messages.Changes{Name: ptr(seeded.Name)}},
		{Changes: messages.Changes{Scopes: &[]string{"full_offline_access", "test_repo"}}},
		{Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canarySecret)), ClientID: ptr(seeded.ClientID)}},
		{Changes: messages.Changes{AuthorizeURL: ptr(seeded.AuthorizeURI), TokenURL: ptr(seeded.TokenURI), Description: ptr(seeded.Description)}},
		{ProviderFields: map[string]json.RawMessage{"dataStore": raw("54"), "tenantId": raw("623")}},
		{}, // nothing to set: nothing to write
	} {
		u.Resource = appID
		before := len(e.sim.Requests())
		out, err := e.a.Apply(context.Background(), u)
		if err != nil || out != (adapters.Outcome{Status: adapters.Unchanged, Requests: 1}) {
			t.Errorf("Apply(%v) = %+v, %v", u.Fields(), out, err)
		}
		if rs := e.sim.Requests()[before:]; len(rs) != 1 || rs[0].Method != "GET" {
			t.Errorf("Apply(%v) sent %d requests", u.Fields(), len(rs))
		}
	}
	// Order matters (HDP stores the string as given), and so does every
	// other field of a mixed update.
	for _, u := range []adapters.Update{
		{Changes: messages.Changes{Scopes: &[]string{"test_repo", "full_offline_access"}}},
		{Changes: messages.Changes{Name: ptr(seeded.Name), ClientSecret: ptr(messages.Secret("other"))}},
		{ProviderFields: map[string]json.RawMessage{"dataStore": raw("54"), "tenantId": raw("624")}},
	} {
		u.Resource = appID
		e.sim.Seed(seeded)
		if out, err := e.a.Apply(context.Background(), u); err != nil || out.Status != adapters.Applied {
			t.Errorf("Apply(%v) = %+v, %v, want Applied", u.Fields(), out, err)
		}
	}
}

// TestApplyUnchangedReadForms: an empty description matches an absent one,
// and scopes match a scope string with extra spaces.
func TestApplyUnchangedReadForms(t *testing.T) {
	body := `{"id":93,"name":"n","dataStore":54,"tenantId":623,"description":null,"clientId":"c","clientSecret":"` + canarySecret +
		`","authorizeURI":"https://a.example/auth","tokenURI":"https://a.example/token","scope":" a  b "}`
	srv, reqs := cannedServer(t, 200, body)
	a := newAdapter(t, srv.URL, nil, canaryUsername, canaryPassword)
	out, err := a.Apply(context.Background(), adapters.Update{Resource: appID,
		Changes: messages.Changes{Description: ptr(""), Scopes: &[]string{"a", "b"}}})
	if err != nil || out.Status != adapters.Unchanged || len(reqs()) != 1 {
		t.Fatalf("Apply = %+v, %v after %d requests", out, err, len(reqs()))
	}
}

// cannedServer answers every GET with status and body, and a PUT with 200
// {}; reqs returns every request so far as "METHOD body".
func cannedServer(t *testing.T, status int, body string) (srv *httptest.Server, reqs func() []string) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []string
	)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPut {
			_, _ = io.WriteString(w, `{}`)
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// TestApplyRefusesMissingRequired: a field the PUT requires that the read
// does not return, and the command does not set, is refused naming it.
func TestApplyRefusesMissingRequired(t *testing.T) {
	full := map[string]any{"id": "93", "name": "n", "dataStore": 54, "tenantId": 623, "description": "d", "clientId": "c",
		"clientSecret": canarySecret, "authorizeURI": "https://a.example/auth", "tokenURI": "https://a.example/token", "scope": "a b"}
	without := func(key string, v any) string {
		m := map[string]any{}
		for k, x := range full {
			if k != key {
				m[k] = x
			}
		}
		if v != nil {
			m[key] = v
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	desc := messages.Changes{Description: ptr("changed")}
	for _, tc := range []struct {
		name  string
		body  string
		field string
		text  string
		// fix is an update that carries the missing field, so the write goes.
		fix adapters.Update
	}{
		{"secret absent", without("clientSecret", nil), "clientSecret", "absent, empty or masked",
			adapters.Update{Changes: messages.Changes{Description: ptr("x"), ClientSecret: ptr(messages.Secret(canaryNewSecret))}}},
		{"secret masked", without("clientSecret", "********"), "clientSecret", "HDP's PUT replaces the whole OAuth application object",
			adapters.Update{Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canaryNewSecret))}}},
		{"secret empty", without("clientSecret", ""), "clientSecret", `requires "clientSecret"`,
			adapters.Update{Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canaryNewSecret))}}},
		{"tenantId absent", without("tenantId", nil), "providerFields.tenantId", "move the OAuth application to the tenant",
			adapters.Update{Changes: desc, ProviderFields: map[string]json.RawMessage{"tenantId": raw("623")}}},
		{"dataStore absent", without("dataStore", nil), "providerFields.dataStore", `requires "dataStore"`,
			adapters.Update{Changes: desc, ProviderFields: map[string]json.RawMessage{"dataStore": raw("54")}}},
		{"scope absent", without("scope", nil), "scopes", `requires "scope"`,
			adapters.Update{Changes: messages.Changes{Scopes: &[]string{"x"}}}},
		{"name empty", without("name", ""), "name", `did not return "name" (or returned it empty)`,
			adapters.Update{Changes: messages.Changes{Name: ptr("n2")}}},
		{"clientId null", without("clientId", nil), "clientId", `requires "clientId"`,
			adapters.Update{Changes: messages.Changes{ClientID: ptr("c2")}}},
		{"authorizeURI absent", without("authorizeURI", nil), "authorizeUrl", `requires "authorizeURI"`,
			adapters.Update{Changes: messages.Changes{AuthorizeURL: ptr("https://b.example/auth")}}},
		{"tokenURI absent", without("tokenURI", nil), "tokenUrl", `requires "tokenURI"`,
			adapters.Update{Changes: messages.Changes{TokenURL: ptr("https://b.example/token")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, reqs := cannedServer(t, 200, tc.body)
			a := newAdapter(t, srv.URL, nil, canaryUsername, canaryPassword)
			_, err := a.Apply(context.Background(), adapters.Update{Resource: appID, Changes: desc})
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != adapters.KindRejected || ae.Field != tc.field || ae.HTTPStatus != 200 ||
				!strings.Contains(ae.Message, tc.text) {
				t.Fatalf("Apply error = %#v, want rejected on %q saying %q", err, tc.field, tc.text)
			}
			if strings.Contains(err.Error(), canarySecret) {
				t.Errorf("error leaks the secret: %v", err)
			}
			if n := len(reqs()); n != 1 {
				t.Errorf("%d requests, want the read alone", n)
			}
			tc.fix.Resource = appID
			if out, err := a.Apply(context.Background(), tc.fix); err != nil || out.Status != adapters.Applied {
				t.Fatalf("Apply with the field = %+v, %v", out, err)
			}
			all := reqs()
			put := all[len(all)-1]
			if !strings.HasPrefix(put, "PUT ") || strings.Contains(put, "********") {
				t.Errorf("update = %s", put)
			}
		})
	}
}

// TestApplyMaskedSecret: against a server that masks the secret, an update
// without clientSecret is refused, one with it goes, and a clientSecret
// equal to the stored one is written (the read cannot show it in place).
func TestApplyMaskedSecret(t *testing.T) {
	e := startAPI(t, hdpsim.Options{MaskSecrets: true})
	_, err := e.a.Apply(context.Background(), adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr("n2")}})
	if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindRejected || ae.Field != "clientSecret" {
		t.Fatalf("Apply error = %v", err)
	}
	// Nothing to change: Unchanged, even though the secret is masked.
	out, err := e.a.Apply(context.Background(), adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr(seeded.Name)}})
	if err != nil || out.Status != adapters.Unchanged {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	u := adapters.Update{Resource: appID, Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canarySecret))}}
	for range 2 {
		if out, err := e.a.Apply(context.Background(), u); err != nil || out.Status != adapters.Applied {
			t.Fatalf("Apply = %+v, %v", out, err)
		}
	}
	if app, _ := e.sim.App(93); app != seeded {
		t.Errorf("stored %+v", app)
	}
}

func TestApplyErrors(t *testing.T) {
	update := adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr("renamed")}}
	for _, tc := range []struct {
		name       string
		fault      hdpsim.Fault
		kind       adapters.Kind
		status     int
		text       string
		retryAfter time.Duration
	}{
		{"400 on update", hdpsim.Fault{Method: "PUT", Status: 400, Message: `The JSON request is invalid: "name" is required`},
			adapters.KindRejected, 400, `The JSON request is invalid: "name" is required (code 400)`, 0},
		{"401", hdpsim.Fault{Status: 401}, adapters.KindUnauthorized, 401, hdpsim.ErrUnauthorized, 0},
		{"403", hdpsim.Fault{Status: 403}, adapters.KindUnauthorized, 403, "You lack the permissions to access this url. (code 222208103)", 0},
		{"403 on update", hdpsim.Fault{Method: "PUT", Status: 403}, adapters.KindUnauthorized, 403, "You lack the permissions", 0},
		{"404 on read", hdpsim.Fault{Method: "GET", Status: 404}, adapters.KindNotFound, 404, hdpsim.ErrNotFound, 0},
		{"404 on update", hdpsim.Fault{Method: "PUT", Status: 404}, adapters.KindNotFound, 404, hdpsim.ErrNotFound, 0},
		{"500", hdpsim.Fault{Status: 500}, adapters.KindUnavailable, 500, "Please try again at another time. (code 222206631)", 0},
		{"500 on update", hdpsim.Fault{Method: "PUT", Status: 500}, adapters.KindUnavailable, 500, "Please try again", 0},
		{"501", hdpsim.Fault{Status: 501}, adapters.KindRejected, 501, "Not Implemented", 0},
		{"502", hdpsim.Fault{Status: 502}, adapters.KindUnavailable, 502, "Bad Gateway", 0},
		{"503 Retry-After", hdpsim.Fault{Status: 503, RetryAfter: 5 * time.Second}, adapters.KindUnavailable, 503, "Service Unavailable", 5 * time.Second},
		{"504", hdpsim.Fault{Status: 504}, adapters.KindUnavailable, 504, "Gateway Timeout", 0},
		{"429 Retry-After", hdpsim.Fault{RetryAfter: 1500 * time.Millisecond}, adapters.KindRateLimited, 429, "Too many requests.", 2 * time.Second},
		{"429 on update", hdpsim.Fault{Method: "PUT", Status: 429}, adapters.KindRateLimited, 429, "Too many requests.", 0},
		{"408", hdpsim.Fault{Status: 408}, adapters.KindTimeout, 408, "Request Timeout", 0},
		{"409", hdpsim.Fault{Method: "PUT", Status: 409}, adapters.KindRejected, 409, "Conflict", 0},
		{"garbage", hdpsim.Fault{Garbage: true}, adapters.KindUnavailable, 200, "not a JSON object", 0},
		{"reset", hdpsim.Fault{Reset: true}, adapters.KindUnavailable, 0, "GET /api/mgmt/oauthapps/93", 0},
		{"reset on update", hdpsim.Fault{Method: "PUT", Reset: true}, adapters.KindUnavailable, 0, "PUT /api/mgmt/oauthapps/93", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, hdpsim.Options{})
			e.sim.Fail(tc.fault)
			_, err := e.a.Apply(context.Background(), update)
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != tc.kind || ae.HTTPStatus != tc.status || !strings.Contains(ae.Message, tc.text) {
				t.Fatalf("Apply error = %#v (%v), want %s %d containing %q", err, err, tc.kind, tc.status, tc.text)
			}
			if ae.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter = %v, want %v", ae.RetryAfter, tc.retryAfter)
			}
			if app, _ := e.sim.App(93); app != seeded {
				t.Errorf("stored %+v", app)
			}
		})
	}
}

func TestApplyRealRateLimitAndNotFound(t *testing.T) {
	e := startAPI(t, hdpsim.Options{RateLimit: 1, RateLimitWindow: 10 * time.Second})
	_, err := e.a.Apply(context.Background(), adapters.Update{Resource: missingAppID, Changes: messages.Changes{Name: ptr("x")}})
	if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindNotFound || ae.HTTPStatus != 404 ||
		!strings.Contains(ae.Message, "There is no OAuth application with that id.") {
		t.Fatalf("Apply error = %v", err)
	}
	_, err = e.a.Apply(context.Background(), adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr("x")}})
	ae, ok := adapters.AsError(err)
	if !ok || ae.Kind != adapters.KindRateLimited || ae.RetryAfter <= 0 || ae.RetryAfter > 10*time.Second {
		t.Fatalf("Apply error = %#v", err)
	}
}

func TestApplyUnauthorizedLeaksNothing(t *testing.T) {
	e := startAPI(t, hdpsim.Options{})
	a := newAdapter(t, e.srv.URL, nil, canaryUsername, "not-"+canaryPassword)
	_, err := a.Apply(context.Background(), adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr("x")}})
	if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindUnauthorized || ae.HTTPStatus != 401 {
		t.Fatalf("Apply error = %v", err)
	}
	if strings.Contains(err.Error(), canaryPassword) || strings.Contains(err.Error(), canaryUsername) {
		t.Errorf("error leaks a credential: %v", err)
	}
}

// TestApplyScrubsEveryEcho: a provider message quoting the credentials, the
// encoded Authorization value, the read's secret or the command's secret
// shows none of them.
func TestApplyScrubsEveryEcho(t *testing.T) {
	token := strings.TrimPrefix(basic(canaryUsername, canaryPassword), "Basic ")
	for _, method := range []string{"GET", "PUT"} {
		e := startAPI(t, hdpsim.Options{})
		e.sim.Fail(hdpsim.Fault{Method: method, Status: 400, Message: strings.Join(
			[]string{canaryUsername, canaryPassword, token, canarySecret, canaryNewSecret}, " | ")})
		_, err := e.a.Apply(context.Background(), adapters.Update{Resource: appID,
			Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canaryNewSecret))}})
		if err == nil {
			t.Fatal("no error")
		}
		for _, s := range []string{canaryUsername, canaryPassword, token, canaryNewSecret} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: error leaks %q: %v", method, s, err)
			}
		}
		if method == "PUT" && strings.Contains(err.Error(), canarySecret) {
			t.Errorf("%s: error leaks the read's secret: %v", method, err)
		}
	}
}

func TestApplyUnderBasePath(t *testing.T) {
	sim := hdpsim.New(hdpsim.Options{Username: canaryUsername, Password: canaryPassword})
	sim.Seed(seeded)
	mux := http.NewServeMux()
	mux.Handle("/hdp/", http.StripPrefix("/hdp", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a := newAdapter(t, srv.URL+"/hdp/", nil, canaryUsername, canaryPassword)
	if out, err := a.Apply(context.Background(), adapters.Update{Resource: appID, Changes: messages.Changes{Name: ptr("x")}}); err != nil || out.Status != adapters.Applied {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	if app, _ := sim.App(93); app.Name != "x" || app.TenantID != 623 {
		t.Errorf("stored %+v", app)
	}
}

func TestApplyConcurrentResources(t *testing.T) {
	e := startAPI(t, hdpsim.Options{})
	ids := []string{"1", "2", "3", "4", "5", "6"}
	for i := range ids {
		app := seeded
		app.ID = int64(i + 1)
		e.sim.Seed(app)
	}
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() {
			_, err := e.a.Apply(context.Background(), adapters.Update{Resource: id, Changes: messages.Changes{Name: ptr("n_" + id)}})
			errs <- err
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for i, id := range ids {
		if app, _ := e.sim.App(int64(i + 1)); app.Name != "n_"+id {
			t.Errorf("%s: name %q", id, app.Name)
		}
	}
	if n := len(e.sim.Requests()); n != 2*len(ids) {
		t.Errorf("%d requests", n)
	}
}

func TestRegistry(t *testing.T) {
	r := adapters.NewRegistry()
	r.Register(hybriddatapipeline.Provider, hybriddatapipeline.New)
	if !slices.Equal(r.Providers(), []string{"hybriddatapipeline"}) {
		t.Fatal(r.Providers())
	}
	_, err := r.New("hybriddatapipeline", adapters.Connection{Name: "hdp", BaseURL: "https://x.example",
		Auth: map[string]messages.Secret{"username": "u"}})
	if err == nil || !strings.Contains(err.Error(), `"password" is missing`) {
		t.Errorf("error = %v", err)
	}
}
