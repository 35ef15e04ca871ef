package jframework_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/jframework"
	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
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
	const base = "https://protocol.jframework.io"
	for _, tc := range []struct {
		name    string
		conn    adapters.Connection
		wantErr string
	}{
		{"ok", adapters.Connection{BaseURL: base, Auth: auth("brandURL", "b-secret-1", "authKey", "k-secret-1")}, ""},
		{"ok with base path", adapters.Connection{BaseURL: base + "/", Auth: auth("brandURL", "b-secret-1", "authKey", "k-secret-1")}, ""},
		{"no brandURL", adapters.Connection{BaseURL: base, Auth: auth("authKey", "k-secret-1")}, `auth key "brandURL" is missing`},
		{"no authKey", adapters.Connection{BaseURL: base, Auth: auth("brandURL", "b-secret-1")}, `auth key "authKey" is missing`},
		{"no auth", adapters.Connection{BaseURL: base}, `auth key "brandURL" is missing`},
		{"blank authKey", adapters.Connection{BaseURL: base, Auth: auth("brandURL", "b-secret-1", "authKey", " \t")}, `auth key "authKey" is empty`},
		{"empty brandURL", adapters.Connection{BaseURL: base, Auth: auth("brandURL", "", "authKey", "k-secret-1")}, `auth key "brandURL" is empty`},
		{"unknown key", adapters.Connection{BaseURL: base, Auth: auth("brandURL", "b-secret-1", "authkey", "k-secret-1")}, `auth key "authkey" is not used`},
		{"newline in key", adapters.Connection{BaseURL: base, Auth: auth("brandURL", "b-secret-1", "authKey", "k-secret-1\r\nX: y")}, `auth key "authKey" holds a character`},
		{"no base URL", adapters.Connection{Auth: auth("brandURL", "b-secret-1", "authKey", "k-secret-1")}, "base URL"},
		{"base URL with query", adapters.Connection{BaseURL: base + "/?x=1", Auth: auth("brandURL", "b-secret-1", "authKey", "k-secret-1")}, "query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := jframework.New(tc.conn)
			if tc.wantErr == "" {
				if err != nil || a.Provider() != "jframework" {
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
	a := newAdapter(t, "https://protocol.jframework.io", nil, canaryBrandURL, canaryAuthKey)
	ch := func(c messages.Changes) adapters.Update { return adapters.Update{Resource: resourceID, Changes: c} }
	pf := func(kv ...string) adapters.Update {
		u := adapters.Update{Resource: resourceID, ProviderFields: map[string]json.RawMessage{}}
		for i := 0; i < len(kv); i += 2 {
			u.ProviderFields[kv[i]] = json.RawMessage(kv[i+1])
		}
		return u
	}
	res := func(id string) adapters.Update {
		return adapters.Update{Resource: id, Changes: messages.Changes{Active: ptr(true)}}
	}
	type tcase struct {
		name  string
		u     adapters.Update
		kind  adapters.Kind
		field string
		text  string
	}
	cases := []tcase{
		// Resource ids.
		{"doc id", res("sApKpllz4sAplsmzha"), 0, "", ""},
		{"underscore and hyphen", res("a_b-C9"), 0, "", ""},
		{"one char", res("x"), 0, "", ""},
		{"128 chars", res(strings.Repeat("a", 128)), 0, "", ""},
		{"129 chars", res(strings.Repeat("a", 129)), adapters.KindInvalid, "resource", "does not match"},
		{"dot", res("sApK.pllz"), adapters.KindInvalid, "resource", ""},
		{"space", res("sApK pllz"), adapters.KindInvalid, "resource", ""},
		{"percent", res("sApK%2Fpllz"), adapters.KindInvalid, "resource", ""},
		{"empty", res(""), adapters.KindInvalid, "resource", ""},
		{"non-ASCII", res("sApKpllzé"), adapters.KindInvalid, "resource", ""},

		// Canonical fields.
		{"every canonical field", ch(messages.Changes{
			Name: ptr("n"), Description: ptr(""), ClientID: ptr("c"), ClientSecret: secret("s"), RedirectURI: ptr("r"),
			Scopes: &[]string{"a", "b:c", "https://x/y"}, AuthorizeURL: ptr("https://x/auth"), TokenURL: ptr("urn:x:token"), Active: ptr(false),
		}), 0, "", ""},
		{"empty name", ch(messages.Changes{Name: ptr("")}), adapters.KindInvalid, "name", "min length 1"},
		{"blank name is a string of length 1", ch(messages.Changes{Name: ptr(" ")}), 0, "", ""},
		{"empty clientId", ch(messages.Changes{ClientID: ptr("")}), adapters.KindInvalid, "clientId", "clientId is a required string"},
		{"empty clientSecret", ch(messages.Changes{ClientSecret: secret("")}), adapters.KindInvalid, "clientSecret", ""},
		{"empty redirectUri", ch(messages.Changes{RedirectURI: ptr("")}), adapters.KindInvalid, "redirectUri", "redirectURI"},
		{"no scopes", ch(messages.Changes{Scopes: &[]string{}}), adapters.KindInvalid, "scopes", "at least one"},
		{"empty scope", ch(messages.Changes{Scopes: &[]string{"a", ""}}), adapters.KindInvalid, "scopes", "scope 1 is empty"},
		{"scope with space", ch(messages.Changes{Scopes: &[]string{"a b"}}), adapters.KindInvalid, "scopes", "whitespace"},
		{"scope with tab", ch(messages.Changes{Scopes: &[]string{"a\tb"}}), adapters.KindInvalid, "scopes", "whitespace"},
		{"relative authorizeUrl", ch(messages.Changes{AuthorizeURL: ptr("/o/oauth2/auth")}), adapters.KindInvalid, "authorizeUrl", "authEndpoint"},
		{"empty authorizeUrl", ch(messages.Changes{AuthorizeURL: ptr("")}), adapters.KindInvalid, "authorizeUrl", ""},
		{"authorizeUrl with space", ch(messages.Changes{AuthorizeURL: ptr("https://a b/")}), adapters.KindInvalid, "authorizeUrl", ""},
		{"tokenUrl not a URI", ch(messages.Changes{TokenURL: ptr("tokenEndpoint")}), adapters.KindInvalid, "tokenUrl", "tokenEndpoint"},
		{"tokenUrl non-ASCII", ch(messages.Changes{TokenURL: ptr("https://exämple.com/t")}), adapters.KindInvalid, "tokenUrl", ""},

		// Native fields.
		{"every native field", pf("appIntegrationId", `"A"`, "code", `"C"`, "projectId", `"P"`, "iconURL", `"https://x/i.png"`,
			"tags", `"#a #b"`, "status", `"Inactive"`, "isDefault", `true`), 0, "", ""},
		{"nulls", pf("iconURL", `null`, "tags", `null`), 0, "", ""},
		{"empty tags", pf("tags", `""`), 0, "", ""},
		{"status Active", pf("status", `"Active"`), 0, "", ""},
		{"appIntegrationId number", pf("appIntegrationId", `1`), adapters.KindInvalid, "providerFields.appIntegrationId", "not a number"},
		{"appIntegrationId empty", pf("appIntegrationId", `""`), adapters.KindInvalid, "providerFields.appIntegrationId", "min length 1"},
		{"appIntegrationId null", pf("appIntegrationId", `null`), adapters.KindInvalid, "providerFields.appIntegrationId", "not null"},
		{"code object", pf("code", `{}`), adapters.KindInvalid, "providerFields.code", "not an object"},
		{"code empty", pf("code", `""`), adapters.KindInvalid, "providerFields.code", ""},
		{"projectId array", pf("projectId", `["p"]`), adapters.KindInvalid, "providerFields.projectId", "not an array"},
		{"iconURL not a URI", pf("iconURL", `"iconUrl"`), adapters.KindInvalid, "providerFields.iconURL", "absolute URI or null"},
		{"iconURL empty", pf("iconURL", `""`), adapters.KindInvalid, "providerFields.iconURL", ""},
		{"iconURL number", pf("iconURL", `3`), adapters.KindInvalid, "providerFields.iconURL", "not a number"},
		{"tags boolean", pf("tags", `true`), adapters.KindInvalid, "providerFields.tags", "not a boolean"},
		{"tags array", pf("tags", `["#a"]`), adapters.KindInvalid, "providerFields.tags", "not an array"},
		{"status lower case", pf("status", `"active"`), adapters.KindInvalid, "providerFields.status", `not "active"`},
		{"status number", pf("status", `1`), adapters.KindInvalid, "providerFields.status", "not a number"},
		{"status null", pf("status", `null`), adapters.KindInvalid, "providerFields.status", "not null"},
		{"isDefault string", pf("isDefault", `"true"`), adapters.KindInvalid, "providerFields.isDefault", "not a string"},
		{"isDefault null", pf("isDefault", `null`), adapters.KindInvalid, "providerFields.isDefault", "not null"},
		{"isDefault number", pf("isDefault", `1`), adapters.KindInvalid, "providerFields.isDefault", ""},
		{"not JSON", pf("code", `{`), adapters.KindInvalid, "providerFields.code", "not a JSON value"},
		{"empty raw", pf("isDefault", ``), adapters.KindInvalid, "providerFields.isDefault", "not a JSON value"},
		{"unknown", pf("noSuchField", `1`), adapters.KindInvalid, "providerFields.noSuchField", "unknown provider field"},
		{"unknown, not JSON", pf("noSuchField", `{`), adapters.KindInvalid, "providerFields.noSuchField", "unknown provider field"},
		{"read-only appIntegration", pf("appIntegration", `{"id":"A"}`), adapters.KindInvalid, "providerFields.appIntegration", "unknown"},
		{"read-only id", pf("id", `"x"`), adapters.KindInvalid, "providerFields.id", "unknown"},
		{"case matters", pf("IsDefault", `true`), adapters.KindInvalid, "providerFields.IsDefault", "unknown"},
		{"first bad field in order", pf("zzz", `1`, "code", `1`, "isDefault", `"x"`), adapters.KindInvalid, "providerFields.code", ""},

		// Conflict.
		{"active and status", adapters.Update{Resource: resourceID, Changes: messages.Changes{Active: ptr(true)},
			ProviderFields: map[string]json.RawMessage{"status": json.RawMessage(`"Active"`)}},
			adapters.KindInvalid, "providerFields.status", `conflicts with the canonical field "active"`},
		{"active and bad status", adapters.Update{Resource: resourceID, Changes: messages.Changes{Active: ptr(true)},
			ProviderFields: map[string]json.RawMessage{"status": json.RawMessage(`"On"`)}},
			adapters.KindInvalid, "providerFields.status", "must be"},
		{"canonical checked first", adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("")},
			ProviderFields: map[string]json.RawMessage{"code": json.RawMessage(`1`)}}, adapters.KindInvalid, "name", ""},
	}
	// Native names of canonical fields, and canonical names, under
	// providerFields: refused, pointing to the canonical field.
	for native, canonical := range map[string]string{
		"name": "name", "description": "description", "clientId": "clientId", "clientSecret": "clientSecret",
		"redirectURI": "redirectUri", "scope": "scopes", "authEndpoint": "authorizeUrl", "tokenEndpoint": "tokenUrl",
		"redirectUri": "redirectUri", "scopes": "scopes", "authorizeUrl": "authorizeUrl", "tokenUrl": "tokenUrl", "active": "active",
	} {
		cases = append(cases, tcase{"native " + native, pf(native, `"x"`), adapters.KindInvalid, "providerFields." + native,
			`through the canonical field "` + canonical + `"`})
	}
	for _, tc := range cases {
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
			if !strings.Contains(ae.Message, tc.text) {
				t.Errorf("message %q does not contain %q", ae.Message, tc.text)
			}
			// Apply refuses it too, before any I/O (the base URL is not served).
			if _, err := a.Apply(context.Background(), tc.u); err == nil || err.Error() != ae.Error() {
				t.Errorf("Apply error = %v, want %v", err, ae)
			}
		})
	}
	// The value of a refused secret never shows.
	err := a.Validate(ch(messages.Changes{ClientSecret: secret(""), Scopes: &[]string{"x"}}))
	if err == nil || strings.Contains(err.Error(), canarySecret) {
		t.Errorf("Validate = %v", err)
	}
}

// apiEnv is a simulator seeded with the fixture object and an adapter on it.
type apiEnv struct {
	sim *jframeworksim.Server
	srv *httptest.Server
	a   adapters.Adapter
}

func seeded() jframeworksim.Integration {
	return jframeworksim.Integration{
		ID:             resourceID,
		AppIntegration: jframeworksim.AppIntegration{ID: appID},
		Code:           "GOOGLE_OAUTH2", Name: "Google OAuth2 Integration", ProjectID: "my-google-project-123",
		ClientID: "1234567890-abc.apps.googleusercontent.com", ClientSecret: canarySecret,
		RedirectURI: initialRedir, Scope: initialScope, AuthEndpoint: ptr(initialAuthEP), TokenEndpoint: ptr(initialTokEP),
		IconURL: ptr(initialIcon), Tags: ptr(initialTags), Description: ptr(initialDesc), Status: "Active", IsDefault: true,
	}
}

func startAPI(t *testing.T, opts jframeworksim.Options, in jframeworksim.Integration) *apiEnv {
	t.Helper()
	opts.BrandURL, opts.AuthKey = canaryBrandURL, canaryAuthKey
	sim := jframeworksim.New(opts)
	sim.Seed(in)
	sim.SeedAppIntegration(jframeworksim.AppIntegration{ID: otherAppID})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &apiEnv{sim: sim, srv: srv, a: newAdapter(t, srv.URL, nil, canaryBrandURL, canaryAuthKey)}
}

// putBody is the body of the last request, which must be a PUT.
func (e *apiEnv) putBody(t *testing.T) map[string]any {
	t.Helper()
	rs := e.sim.Requests()
	last := rs[len(rs)-1]
	if last.Method != http.MethodPut {
		t.Fatalf("last request is %s", last.Method)
	}
	var body map[string]any
	if err := json.Unmarshal(last.Body, &body); err != nil {
		t.Fatal(err)
	}
	return body
}

func TestApplyRequests(t *testing.T) {
	e := startAPI(t, jframeworksim.Options{}, seeded())
	out, err := e.a.Apply(context.Background(), adapters.Update{Resource: resourceID,
		Changes: messages.Changes{Name: ptr("renamed")}})
	if err != nil || out != (adapters.Outcome{Status: adapters.Applied, Requests: 2}) {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	rs := e.sim.Requests()
	if len(rs) != 2 {
		t.Fatalf("%d requests", len(rs))
	}
	path := jframeworksim.PathPrefix + resourceID
	for i, r := range rs {
		method := []string{"GET", "PUT"}[i]
		if r.Method != method || r.Path != path || r.RawQuery != "" ||
			r.Header.Get("Brand-URL") != canaryBrandURL || r.Header.Get("Auth-Key") != canaryAuthKey ||
			r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Accept") != "application/json" {
			t.Errorf("request %d = %s %s?%s %v, want %s %s with Brand-URL, Auth-Key, Content-Type and Accept", i, r.Method, r.Path, r.RawQuery, r.Header, method, path)
		}
	}
	if len(rs[0].Body) != 0 {
		t.Errorf("the read has a body: %s", rs[0].Body)
	}
	// Every field carried over, the change overlaid, in the document's
	// order.
	want := `{"appIntegrationId":"` + appID + `","code":"GOOGLE_OAUTH2","name":"renamed","projectId":"my-google-project-123",` +
		`"clientId":"1234567890-abc.apps.googleusercontent.com","clientSecret":"` + canarySecret + `","redirectURI":"` + initialRedir + `",` +
		`"scope":"` + initialScope + `","authEndpoint":"` + initialAuthEP + `","tokenEndpoint":"` + initialTokEP + `",` +
		`"iconURL":"` + initialIcon + `","tags":"` + initialTags + `","description":"` + initialDesc + `","status":"Active","isDefault":true}`
	if string(rs[1].Body) != want {
		t.Errorf("PUT body\n got %s\nwant %s", rs[1].Body, want)
	}
}

func TestApplyPartialUpdateBodies(t *testing.T) {
	inactive := seeded()
	inactive.Status, inactive.IsDefault = "Inactive", false
	inactive.AuthEndpoint, inactive.TokenEndpoint, inactive.IconURL, inactive.Tags, inactive.Description = nil, nil, nil, nil, nil
	for _, tc := range []struct {
		name string
		in   jframeworksim.Integration
		u    adapters.Update
		want map[string]any // the PUT body's fields that differ from the seeded object's
	}{
		{"active true", inactive, adapters.Update{Changes: messages.Changes{Active: ptr(true)}}, map[string]any{"status": "Active"}},
		{"active false", seeded(), adapters.Update{Changes: messages.Changes{Active: ptr(false)}}, map[string]any{"status": "Inactive"}},
		{"scopes joined", seeded(), adapters.Update{Changes: messages.Changes{Scopes: &[]string{"openid", "profile"}}}, map[string]any{"scope": "openid profile"}},
		{"authorizeUrl and tokenUrl", inactive, adapters.Update{Changes: messages.Changes{AuthorizeURL: ptr("https://a/x"), TokenURL: ptr("https://a/y")}},
			map[string]any{"authEndpoint": "https://a/x", "tokenEndpoint": "https://a/y"}},
		{"nulls carried as nulls", inactive, adapters.Update{Changes: messages.Changes{Name: ptr("n")}}, map[string]any{"name": "n"}},
		{"iconURL null", seeded(), adapters.Update{ProviderFields: map[string]json.RawMessage{"iconURL": raw(`null`)}}, map[string]any{"iconURL": nil}},
		{"native status", seeded(), adapters.Update{ProviderFields: map[string]json.RawMessage{"status": raw(`"Inactive"`)}}, map[string]any{"status": "Inactive"}},
		{"isDefault", seeded(), adapters.Update{ProviderFields: map[string]json.RawMessage{"isDefault": raw(`false`)}}, map[string]any{"isDefault": false}},
		{"appIntegrationId", seeded(), adapters.Update{ProviderFields: map[string]json.RawMessage{"appIntegrationId": raw(`"` + otherAppID + `"`)}},
			map[string]any{"appIntegrationId": otherAppID}},
		{"new secret", seeded(), adapters.Update{Changes: messages.Changes{ClientSecret: secret(canaryNewSecret)}}, map[string]any{"clientSecret": canaryNewSecret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, jframeworksim.Options{}, tc.in)
			before := bodyOf(tc.in)
			tc.u.Resource = resourceID
			if out, err := e.a.Apply(context.Background(), tc.u); err != nil || out.Status != adapters.Applied {
				t.Fatalf("Apply = %+v, %v", out, err)
			}
			want := before
			for k, v := range tc.want {
				want[k] = v
			}
			if got := e.putBody(t); !reflect.DeepEqual(got, want) {
				t.Errorf("PUT body\n got %v\nwant %v", got, want)
			}
			// What the PUT sent is what is stored: nothing was cleared.
			after, _ := e.sim.Integration(resourceID)
			if got := bodyOf(after); !reflect.DeepEqual(got, want) {
				t.Errorf("stored\n got %v\nwant %v", got, want)
			}
		})
	}
}

// bodyOf is the full PUT body that keeps in as it is.
func bodyOf(in jframeworksim.Integration) map[string]any {
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
	}
}

// fakeRead serves a fixed read answer and records the PUT body.
func fakeRead(t *testing.T, data map[string]any) (adapters.Adapter, func() map[string]any) {
	t.Helper()
	var mu sync.Mutex
	var put []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPut {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			put = b
			mu.Unlock()
			_, _ = w.Write([]byte(`{"success":true,"statusCode":200,"message":"ok","data":{},"errors":[]}`))
			return
		}
		b, _ := json.Marshal(map[string]any{"success": true, "statusCode": 200, "message": "ok", "data": data, "errors": []any{}})
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return newAdapter(t, srv.URL, nil, canaryBrandURL, canaryAuthKey), func() map[string]any {
		mu.Lock()
		defer mu.Unlock()
		if put == nil {
			return nil
		}
		var m map[string]any
		if err := json.Unmarshal(put, &m); err != nil {
			t.Fatalf("PUT body %q: %v", put, err)
		}
		return m
	}
}

func readData() map[string]any {
	return map[string]any{
		"appIntegration": map[string]any{"type": "Authenticate", "name": "Google", "domain": "https://google.com", "status": "Active", "id": appID},
		"id":             resourceID, "code": "c", "name": "n", "projectId": "p", "clientId": "ci", "clientSecret": canarySecret,
		"redirectURI": "https://r", "scope": "s",
	}
}

func TestApplyWithASparseRead(t *testing.T) {
	// The optional fields are absent from the read: the nullable ones go
	// as null, status and isDefault (not nullable, no value known) are left
	// out rather than invented.
	a, put := fakeRead(t, readData())
	if _, err := a.Apply(context.Background(), adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("m")}}); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"appIntegrationId": appID, "code": "c", "name": "m", "projectId": "p", "clientId": "ci",
		"clientSecret": canarySecret, "redirectURI": "https://r", "scope": "s",
		"authEndpoint": nil, "tokenEndpoint": nil, "iconURL": nil, "tags": nil, "description": nil}
	if got := put(); !reflect.DeepEqual(got, want) {
		t.Errorf("PUT body\n got %v\nwant %v", got, want)
	}
}

func TestApplyRefusesWhatTheReadLacks(t *testing.T) {
	for _, tc := range []struct {
		drop   string
		field  string
		update messages.Changes
	}{
		{"clientSecret", "clientSecret", messages.Changes{Name: ptr("m")}},
		{"appIntegration", "providerFields.appIntegrationId", messages.Changes{Name: ptr("m")}},
		{"code", "providerFields.code", messages.Changes{Name: ptr("m")}},
		{"scope", "scopes", messages.Changes{Name: ptr("m")}},
		{"name", "name", messages.Changes{Scopes: &[]string{"x"}}},
	} {
		t.Run(tc.drop, func(t *testing.T) {
			d := readData()
			delete(d, tc.drop)
			a, put := fakeRead(t, d)
			_, err := a.Apply(context.Background(), adapters.Update{Resource: resourceID, Changes: tc.update})
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != adapters.KindRejected || ae.Field != tc.field || ae.HTTPStatus != 200 ||
				!strings.Contains(ae.Message, "the read did not return") {
				t.Fatalf("Apply error = %#v", err)
			}
			if put() != nil {
				t.Error("a PUT was sent")
			}
		})
	}
	// An empty value is as good as none (the PUT requires min length 1)…
	d := readData()
	d["clientSecret"] = ""
	a, _ := fakeRead(t, d)
	if _, err := a.Apply(context.Background(), adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("m")}}); err == nil {
		t.Error("an empty clientSecret was carried over")
	}
	// …and the command can supply what the read lacks.
	delete(d, "clientSecret")
	a, put := fakeRead(t, d)
	if _, err := a.Apply(context.Background(), adapters.Update{Resource: resourceID,
		Changes: messages.Changes{ClientSecret: secret(canaryNewSecret)}}); err != nil {
		t.Fatal(err)
	}
	if got := put()["clientSecret"]; got != canaryNewSecret {
		t.Errorf("clientSecret = %v", got)
	}
}

func TestApplyUnchanged(t *testing.T) {
	in := seeded()
	in.Scope = "openid  email\tprofile" // the same scopes, spaced otherwise
	in.IconURL = nil
	for _, tc := range []struct {
		name    string
		u       adapters.Update
		applied bool
	}{
		{"every canonical field", adapters.Update{Changes: messages.Changes{
			Name: ptr(in.Name), Description: ptr(initialDesc), ClientID: ptr(in.ClientID), ClientSecret: secret(canarySecret),
			RedirectURI: ptr(initialRedir), Scopes: &[]string{"openid", "email", "profile"}, AuthorizeURL: ptr(initialAuthEP),
			TokenURL: ptr(initialTokEP), Active: ptr(true),
		}}, false},
		{"every native field", adapters.Update{ProviderFields: map[string]json.RawMessage{
			"appIntegrationId": raw(`"` + appID + `"`), "code": raw(`"GOOGLE_OAUTH2"`), "projectId": raw(`"my-google-project-123"`),
			"iconURL": raw(`null`), "tags": raw(`"` + initialTags + `"`), "status": raw(`"Active"`), "isDefault": raw(`true`),
		}}, false},
		{"scopes in another order", adapters.Update{Changes: messages.Changes{Scopes: &[]string{"email", "openid", "profile"}}}, true},
		{"another secret", adapters.Update{Changes: messages.Changes{ClientSecret: secret(canaryNewSecret)}}, true},
		{"active false", adapters.Update{Changes: messages.Changes{Active: ptr(false)}}, true},
		{"iconURL set", adapters.Update{ProviderFields: map[string]json.RawMessage{"iconURL": raw(`"` + initialIcon + `"`)}}, true},
		{"tags null", adapters.Update{ProviderFields: map[string]json.RawMessage{"tags": raw(`null`)}}, true},
		{"isDefault false", adapters.Update{ProviderFields: map[string]json.RawMessage{"isDefault": raw(`false`)}}, true},
		{"description cleared to empty", adapters.Update{Changes: messages.Changes{Description: ptr("")}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, jframeworksim.Options{}, in)
			tc.u.Resource = resourceID
			out, err := e.a.Apply(context.Background(), tc.u)
			if err != nil {
				t.Fatal(err)
			}
			want := adapters.Outcome{Status: adapters.Unchanged, Requests: 1}
			if tc.applied {
				want = adapters.Outcome{Status: adapters.Applied, Requests: 2}
			}
			if out != want {
				t.Errorf("Outcome = %+v, want %+v", out, want)
			}
			if n := len(e.sim.Requests()); n != want.Requests {
				t.Errorf("%d requests", n)
			}
		})
	}
}

var correlationID = regexp.MustCompile(`\(correlationId [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\)`)

func TestApplyErrors(t *testing.T) {
	update := adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("renamed")}}
	get, put := http.MethodGet, http.MethodPut
	for _, tc := range []struct {
		name      string
		fault     jframeworksim.Fault
		kind      adapters.Kind
		status    int
		text      string
		writeSent bool
	}{
		{"400 on the write", jframeworksim.Fault{Method: put, Status: 400, Code: "InvalidRequest", Error: "The scope field is required."},
			adapters.KindRejected, 400, "InvalidRequest: The scope field is required.", true},
		{"409 on the write", jframeworksim.Fault{Method: put, Status: 409}, adapters.KindRejected, 409, "AppIntegrationConflictSetting", true},
		{"409 BrandNotConfiguredApp", jframeworksim.Fault{Method: put, Status: 409, Code: "BrandNotConfiguredApp", Error: "The brand was not configured."},
			adapters.KindRejected, 409, "BrandNotConfiguredApp", true},
		{"401 on the read", jframeworksim.Fault{Method: get, Status: 401}, adapters.KindUnauthorized, 401, "Unauthorized: The request is not authenticated.", false},
		{"403 on the write", jframeworksim.Fault{Method: put, Status: 403}, adapters.KindUnauthorized, 403, "Forbidden", true},
		{"404 on the read", jframeworksim.Fault{Method: get, Status: 404}, adapters.KindNotFound, 404,
			"The AppSettingAuthentication is not found. [AppIntegrationAuthenticationNotFound: The app authentication was not found in the system.", false},
		{"404 on the write", jframeworksim.Fault{Method: put, Status: 404, Code: "AppIntegrationNotFound", Error: jframeworksim.ErrAppIntegrationNotFound},
			adapters.KindNotFound, 404, "AppIntegrationNotFound", true},
		{"429 on the write", jframeworksim.Fault{Method: put, Status: 429}, adapters.KindRateLimited, 429, "RateLimitExceeded", true},
		{"500 on the read", jframeworksim.Fault{Method: get, Status: 500}, adapters.KindUnavailable, 500, "InternalServerError", false},
		{"503 on the write", jframeworksim.Fault{Method: put, Status: 503}, adapters.KindUnavailable, 503, "ServiceUnavailable", true},
		{"209 on the read", jframeworksim.Fault{Method: get, Status: jframework.StatusUsageLimit}, adapters.KindRateLimited, 209,
			"the feature usage limit is exceeded", false},
		{"209 on the write", jframeworksim.Fault{Method: put, Status: jframework.StatusUsageLimit}, adapters.KindRateLimited, 209,
			"usage limit is exceeded (jframework's status 209); waiting for its reset: The user has exceeded the feature usage limit. [FeatureUsageLimitExceeded", true},
		{"success:false on the read", jframeworksim.Fault{Method: get, Unsuccessful: true}, adapters.KindUnavailable, 200,
			"HTTP 200: success is false (statusCode 200)", false},
		{"success:false 209 on the write", jframeworksim.Fault{Method: put, Unsuccessful: true, Status: jframework.StatusUsageLimit},
			adapters.KindRateLimited, 200, "success is false (statusCode 209): the feature usage limit is exceeded", true},
		{"success:false 400 on the write", jframeworksim.Fault{Method: put, Unsuccessful: true, Status: 400},
			adapters.KindRejected, 200, "(statusCode 400)", true},
		{"success:false 404 on the write", jframeworksim.Fault{Method: put, Unsuccessful: true, Status: 404},
			adapters.KindNotFound, 200, "AppIntegrationAuthenticationNotFound", true},
		{"success:false 429 on the read", jframeworksim.Fault{Method: get, Unsuccessful: true, Status: 429},
			adapters.KindRateLimited, 200, "RateLimitExceeded", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, jframeworksim.Options{}, seeded())
			e.sim.Fail(tc.fault)
			_, err := e.a.Apply(context.Background(), update)
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != tc.kind || ae.HTTPStatus != tc.status || !strings.Contains(ae.Message, tc.text) {
				t.Fatalf("Apply error = %#v (%v), want %s %d containing %q", err, err, tc.kind, tc.status, tc.text)
			}
			if !correlationID.MatchString(ae.Message) {
				t.Errorf("no correlationId in %q", ae.Message)
			}
			if ae.Kind == adapters.KindRateLimited && (ae.RetryAfter <= 0 || ae.RetryAfter > time.Minute+time.Second) {
				t.Errorf("RetryAfter = %v", ae.RetryAfter)
			}
			if n := len(e.sim.Requests()); (n == 2) != tc.writeSent {
				t.Errorf("%d requests", n)
			}
			if tc.status == 209 && ae.RetryAfter <= 0 {
				t.Error("209 without the wait it signals")
			}
		})
	}
}

func TestApplyRealRefusals(t *testing.T) {
	t.Run("unknown app integration", func(t *testing.T) {
		e := startAPI(t, jframeworksim.Options{}, seeded())
		_, err := e.a.Apply(context.Background(), adapters.Update{Resource: resourceID,
			ProviderFields: map[string]json.RawMessage{"appIntegrationId": raw(`"NoSuchAppIntegration"`)}})
		if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindNotFound || !strings.Contains(ae.Message, "AppIntegrationNotFound") {
			t.Fatalf("Apply error = %v", err)
		}
	})
	t.Run("stored values the write refuses", func(t *testing.T) {
		// The read page's example holds iconURL "iconUrl" and tokenEndpoint
		// "tokenEndpoint", which are not URIs: carried over verbatim, the
		// write refuses them, and says which.
		in := seeded()
		in.IconURL, in.TokenEndpoint = ptr("iconUrl"), ptr("tokenEndpoint")
		e := startAPI(t, jframeworksim.Options{}, in)
		_, err := e.a.Apply(context.Background(), adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("n")}})
		ae, ok := adapters.AsError(err)
		if !ok || ae.Kind != adapters.KindRejected || ae.HTTPStatus != 400 ||
			!strings.Contains(ae.Message, "The tokenEndpoint field is not a valid") || !strings.Contains(ae.Message, "The iconURL field is not a valid") {
			t.Fatalf("Apply error = %v", err)
		}
		// Setting them in the same command repairs the object.
		_, err = e.a.Apply(context.Background(), adapters.Update{Resource: resourceID,
			Changes:        messages.Changes{TokenURL: ptr("https://t.example/token")},
			ProviderFields: map[string]json.RawMessage{"iconURL": raw(`null`)}})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("the resource is gone", func(t *testing.T) {
		e := startAPI(t, jframeworksim.Options{}, seeded())
		_, err := e.a.Apply(context.Background(), adapters.Update{Resource: missingID, Changes: messages.Changes{Name: ptr("n")}})
		if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindNotFound || ae.HTTPStatus != 404 ||
			!strings.Contains(ae.Message, "AppIntegrationAuthenticationNotFound") {
			t.Fatalf("Apply error = %v", err)
		}
	})
	t.Run("wrong brand", func(t *testing.T) {
		e := startAPI(t, jframeworksim.Options{}, seeded())
		a := newAdapter(t, e.srv.URL, nil, "other-brand.example.com", canaryAuthKey)
		_, err := a.Apply(context.Background(), adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("n")}})
		if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindUnauthorized || ae.HTTPStatus != 401 {
			t.Fatalf("Apply error = %v", err)
		}
	})
	t.Run("base URL with a wrong path", func(t *testing.T) {
		e := startAPI(t, jframeworksim.Options{}, seeded())
		a := newAdapter(t, e.srv.URL+"/api", nil, canaryBrandURL, canaryAuthKey)
		_, err := a.Apply(context.Background(), adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("n")}})
		if ae, ok := adapters.AsError(err); !ok || ae.Kind != adapters.KindNotFound || !strings.Contains(ae.Message, "check the connection's base URL") {
			t.Fatalf("Apply error = %v", err)
		}
	})
}

// TestRateLimitResetIsSeconds: the simulator's real limiter answers 429
// with X-RateLimit-Reset in epoch seconds, and the wait comes out in
// seconds, not a thousand times longer or shorter.
func TestRateLimitResetIsSeconds(t *testing.T) {
	e := startAPI(t, jframeworksim.Options{RateLimit: 1, RateLimitWindow: 20 * time.Second}, seeded())
	update := adapters.Update{Resource: resourceID, Changes: messages.Changes{Name: ptr("n")}}
	_, err := e.a.Apply(context.Background(), update) // GET, then PUT over the limit
	ae, ok := adapters.AsError(err)
	if !ok || ae.Kind != adapters.KindRateLimited || ae.HTTPStatus != 429 {
		t.Fatalf("Apply error = %v", err)
	}
	if ae.RetryAfter < 18*time.Second || ae.RetryAfter > 21*time.Second {
		t.Errorf("RetryAfter = %v, want about 20s", ae.RetryAfter)
	}
	if !strings.Contains(ae.Message, "RateLimitExceeded: API call exceeded rate limit due to too many requests.") {
		t.Errorf("message %q", ae.Message)
	}

	e.sim.Fail(jframeworksim.Fault{RateLimitReset: 2500 * time.Millisecond})
	_, err = e.a.Apply(context.Background(), update)
	// 2.5 s from now, rounded up to a whole epoch second: 2.5-3.5 s.
	if ae, ok := adapters.AsError(err); !ok || ae.RetryAfter <= 1500*time.Millisecond || ae.RetryAfter > 3500*time.Millisecond {
		t.Errorf("Apply error = %#v, want a wait of 2.5-3.5 s", err)
	}
}

func TestApplyUnderBasePath(t *testing.T) {
	sim := jframeworksim.New(jframeworksim.Options{BrandURL: canaryBrandURL, AuthKey: canaryAuthKey})
	sim.Seed(seeded())
	mux := http.NewServeMux()
	mux.Handle("/jf/", http.StripPrefix("/jf", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a := newAdapter(t, srv.URL+"/jf/", nil, canaryBrandURL, canaryAuthKey)
	if out, err := a.Apply(context.Background(), adapters.Update{Resource: resourceID, Changes: messages.Changes{Active: ptr(false)}}); err != nil || out.Status != adapters.Applied {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	if in, _ := sim.Integration(resourceID); in.Status != "Inactive" {
		t.Error("not applied")
	}
}

func TestApplyConcurrentResources(t *testing.T) {
	e := startAPI(t, jframeworksim.Options{}, seeded())
	var ids []string
	for i := range 8 {
		in := seeded()
		in.ID = "res" + strconv.Itoa(i)
		e.sim.Seed(in)
		ids = append(ids, in.ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	for _, id := range ids {
		wg.Go(func() {
			_, err := e.a.Apply(context.Background(), adapters.Update{Resource: id, Changes: messages.Changes{Name: ptr("n-" + id)}})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, id := range ids {
		if in, _ := e.sim.Integration(id); in.Name != "n-"+id || in.ClientSecret != canarySecret || in.Tags == nil {
			t.Errorf("%s: %+v", id, in)
		}
	}
	if n := len(e.sim.Requests()); n != 2*len(ids) {
		t.Errorf("%d requests", n)
	}
}

func TestRegistry(t *testing.T) {
	r := adapters.NewRegistry()
	r.Register(jframework.Provider, jframework.New)
	if !slices.Equal(r.Providers(), []string{"jframework"}) {
		t.Fatal(r.Providers())
	}
	_, err := r.New("jframework", adapters.Connection{Name: "jf", BaseURL: "https://x.example",
		Auth: map[string]messages.Secret{"brandURL": "b"}})
	if err == nil || !strings.Contains(err.Error(), `"authKey" is missing`) {
		t.Errorf("error = %v", err)
	}
}
