package reelevant_test

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
	"github.com/oauthsync/oauthsync/adapters/reelevant"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
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
	const base = "https://api.reelevant.com"
	for _, tc := range []struct {
		name    string
		conn    adapters.Connection
		wantErr string
	}{
		{"ok", adapters.Connection{BaseURL: base, Auth: auth("bearerToken", "eyJhbGciOi.secret-1_x~+/==")}, ""},
		{"ok under a path", adapters.Connection{BaseURL: base + "/proxy/", Auth: auth("bearerToken", "secret-1")}, ""},
		{"no token", adapters.Connection{BaseURL: base, Auth: auth()}, `auth key "bearerToken" is missing`},
		{"nil auth", adapters.Connection{BaseURL: base}, `auth key "bearerToken" is missing`},
		{"empty token", adapters.Connection{BaseURL: base, Auth: auth("bearerToken", "")}, `auth key "bearerToken" is empty`},
		{"Bearer prefix", adapters.Connection{BaseURL: base, Auth: auth("bearerToken", "Bearer secret-1")}, `auth key "bearerToken" is not a bearer token`},
		{"trailing newline", adapters.Connection{BaseURL: base, Auth: auth("bearerToken", "secret-1\n")}, `auth key "bearerToken" is not a bearer token`},
		{"header injection", adapters.Connection{BaseURL: base, Auth: auth("bearerToken", "secret-1\r\nX: y")}, `is not a bearer token`},
		{"unknown key", adapters.Connection{BaseURL: base, Auth: auth("bearerToken", "secret-1", "token", "secret-1")}, `auth key "token" is not used`},
		{"no base URL", adapters.Connection{Auth: auth("bearerToken", "secret-1")}, "base URL"},
		{"base URL with query", adapters.Connection{BaseURL: base + "/?x=1", Auth: auth("bearerToken", "secret-1")}, "query"},
		{"base URL with user", adapters.Connection{BaseURL: "https://u:secret-1@api.reelevant.com", Auth: auth("bearerToken", "secret-1")}, "user info"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := reelevant.New(tc.conn)
			if tc.wantErr == "" {
				if err != nil || a.Provider() != "reelevant" {
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
	a := newAdapter(t, "https://api.reelevant.com", nil, canaryToken)
	changes := func(c messages.Changes) adapters.Update { return adapters.Update{Resource: clientID, Changes: c} }
	field := func(name, value string) adapters.Update {
		return adapters.Update{Resource: clientID, ProviderFields: map[string]json.RawMessage{name: raw(value)}}
	}
	type tcase struct {
		name  string
		u     adapters.Update
		kind  adapters.Kind // 0: valid
		field string
		text  string
	}
	cases := []tcase{
		// Canonical fields.
		{"clientId", changes(messages.Changes{ClientID: ptr("c")}), 0, "", ""},
		{"clientSecret", changes(messages.Changes{ClientSecret: ptr(messages.Secret("s"))}), 0, "", ""},
		{"scopes", changes(messages.Changes{Scopes: &[]string{"a", "b"}}), 0, "", ""},
		{"no scopes", changes(messages.Changes{Scopes: &[]string{}}), 0, "", ""},
		{"authorizeUrl", changes(messages.Changes{AuthorizeURL: ptr("https://login.salesforce.com/services/oauth2/authorize")}), 0, "", ""},
		{"tokenUrl", changes(messages.Changes{TokenURL: ptr("http://ab")}), 0, "", ""},
		{"bad tokenUrl scheme", changes(messages.Changes{TokenURL: ptr("ftp://example.com/token")}), adapters.KindInvalid, "tokenUrl", "must be an http or https URL matching ^(https?)"},
		{"bad tokenUrl short", changes(messages.Changes{TokenURL: ptr("https://a")}), adapters.KindInvalid, "tokenUrl", ""},
		{"bad tokenUrl white space", changes(messages.Changes{TokenURL: ptr("https://ab\u00a0")}), adapters.KindInvalid, "tokenUrl", ""},
		{"bad authorizeUrl", changes(messages.Changes{AuthorizeURL: ptr("https://.example.com")}), adapters.KindInvalid, "authorizeUrl", ""},
		{"name", changes(messages.Changes{Name: ptr("n")}), adapters.KindUnsupported, "name", "reelevant has no place for"},
		{"description", changes(messages.Changes{Description: ptr("d")}), adapters.KindUnsupported, "description", ""},
		{"redirectUri", changes(messages.Changes{RedirectURI: ptr("https://x.example/cb")}), adapters.KindUnsupported, "redirectUri", ""},
		{"active", changes(messages.Changes{Active: ptr(true)}), adapters.KindUnsupported, "active", ""},
		{"supported with unsupported", changes(messages.Changes{ClientID: ptr("c"), Active: ptr(false)}), adapters.KindUnsupported, "active", ""},
		// The resource id.
		{"upper-case hex id", adapters.Update{Resource: "65A7D77142A7E12453052D59", Changes: messages.Changes{ClientID: ptr("c")}}, 0, "", ""},
		{"23 digits", adapters.Update{Resource: clientID[1:], Changes: messages.Changes{ClientID: ptr("c")}}, adapters.KindInvalid, "resource", "^[0-9a-fA-F]{24}$"},
		{"25 digits", adapters.Update{Resource: clientID + "0", Changes: messages.Changes{ClientID: ptr("c")}}, adapters.KindInvalid, "resource", ""},
		{"not hex", adapters.Update{Resource: "65a7d77142a7e12453052d5z", Changes: messages.Changes{ClientID: ptr("c")}}, adapters.KindInvalid, "resource", ""},
		{"no id", adapters.Update{Changes: messages.Changes{ClientID: ptr("c")}}, adapters.KindInvalid, "resource", ""},
		{"path in id", adapters.Update{Resource: "../" + clientID, Changes: messages.Changes{ClientID: ptr("c")}}, adapters.KindInvalid, "resource", ""},
		{"bad id before bad field", adapters.Update{Resource: "x", Changes: messages.Changes{Name: ptr("n")}}, adapters.KindInvalid, "resource", ""},
		{"nothing to write", adapters.Update{Resource: clientID}, adapters.KindInvalid, "", "no field to write"},
		// Simple provider fields.
		{"method GET", field("method", `"GET"`), 0, "", ""},
		{"method POST", field("method", `"POST"`), 0, "", ""},
		{"method PUT", field("method", `"PUT"`), adapters.KindInvalid, "providerFields.method", `"PUT" is not one of GET, POST`},
		{"method lower case", field("method", `"get"`), adapters.KindInvalid, "providerFields.method", ""},
		{"method number", field("method", `1`), adapters.KindInvalid, "providerFields.method", "must be a string, not a number"},
		{"mode bad", field("mode", `"implicit"`), adapters.KindInvalid, "providerFields.mode",
			`"implicit" is not one of password, client_credentials, refresh_token, access_token, custom_payload, jwt_bearer`},
		{"mode null", field("mode", `null`), adapters.KindInvalid, "providerFields.mode", "not null (omit the field"},
		{"mode array", field("mode", `["password"]`), adapters.KindInvalid, "providerFields.mode", "not an array"},
		{"tokenExpiration", field("tokenExpiration", `3600`), 0, "", ""},
		{"tokenExpiration fraction", field("tokenExpiration", `-0.5e-3`), 0, "", ""},
		{"tokenExpiration string", field("tokenExpiration", `"3600"`), adapters.KindInvalid, "providerFields.tokenExpiration", "must be a number, not a string"},
		{"tokenExpiration overflow", field("tokenExpiration", `1e400`), adapters.KindInvalid, "providerFields.tokenExpiration", "double"},
		{"tokenExpiration bool", field("tokenExpiration", `true`), adapters.KindInvalid, "providerFields.tokenExpiration", "not a boolean"},
		{"accessTokenPath", field("accessTokenPath", `"data.access_token"`), 0, "", ""},
		{"accessTokenHeader empty", field("accessTokenHeader", `""`), 0, "", ""},
		{"accessTokenHeaderPrefix", field("accessTokenHeaderPrefix", `"google"`), 0, "", ""},
		{"accessTokenHeader object", field("accessTokenHeader", `{}`), adapters.KindInvalid, "providerFields.accessTokenHeader", "not an object"},
		{"accessTokenPath number", field("accessTokenPath", `1`), adapters.KindInvalid, "providerFields.accessTokenPath", ""},
		// customPayload.
		{"customPayload", field("customPayload", `{"tokenUrl":{"query":{"a":"1"},"body":{"b":""},"headers":{"X-Key":"k"}},"authorizeUrl":{}}`), 0, "", ""},
		{"customPayload the document's example", field("customPayload", `"{ payload: { query: { access_type: 'offline' } } }"`),
			adapters.KindInvalid, "providerFields.customPayload", "must be an object, not a string"},
		{"customPayload without authorizeUrl", field("customPayload", `{"tokenUrl":{}}`),
			adapters.KindInvalid, "providerFields.customPayload.authorizeUrl", "is required in providerFields.customPayload"},
		{"customPayload payload key", field("customPayload", `{"payload":{},"tokenUrl":{},"authorizeUrl":{}}`),
			adapters.KindInvalid, "providerFields.customPayload.payload", `unknown key "payload": providerFields.customPayload takes only authorizeUrl, tokenUrl`},
		{"customPayload endpoint extra key", field("customPayload", `{"tokenUrl":{"cookies":{}},"authorizeUrl":{}}`),
			adapters.KindInvalid, "providerFields.customPayload.tokenUrl.cookies", "takes only body, headers, query"},
		{"customPayload endpoint not object", field("customPayload", `{"tokenUrl":[],"authorizeUrl":{}}`),
			adapters.KindInvalid, "providerFields.customPayload.tokenUrl", "must be an object, not an array"},
		{"customPayload map not object", field("customPayload", `{"tokenUrl":{"query":"a=1"},"authorizeUrl":{}}`),
			adapters.KindInvalid, "providerFields.customPayload.tokenUrl.query", "must be an object of strings"},
		{"customPayload value not string", field("customPayload", `{"tokenUrl":{"headers":{"X-Retries":3}},"authorizeUrl":{}}`),
			adapters.KindInvalid, `providerFields.customPayload.tokenUrl.headers["X-Retries"]`, "must be a string, not a number"},
		{"customPayload duplicate key", field("customPayload", `{"tokenUrl":{},"authorizeUrl":{},"tokenUrl":{}}`),
			adapters.KindInvalid, "providerFields.customPayload", "has a duplicate key at tokenUrl"},
		// configuration.
		{"configuration, all twelve", field("configuration", `{"method":"POST","mode":"password","tokenUrl":"https://ab","authorizeUrl":"https://ab",`+
			`"clientId":"c","clientSecret":"s","scopes":[],"customPayload":{"tokenUrl":{},"authorizeUrl":{}},"accessTokenPath":"p",`+
			`"accessTokenHeader":"h","accessTokenHeaderPrefix":"x","tokenExpiration":1}`), 0, "", ""},
		{"configuration empty", field("configuration", `{}`), 0, "", ""},
		{"configuration with canonical field too", adapters.Update{Resource: clientID, Changes: messages.Changes{ClientID: ptr("top")},
			ProviderFields: map[string]json.RawMessage{"configuration": raw(`{"clientId":"nested"}`)}}, 0, "", ""},
		{"configuration not object", field("configuration", `"x"`), adapters.KindInvalid, "providerFields.configuration", "must be an object"},
		{"configuration unknown key", field("configuration", `{"redirectUri":"https://ab"}`), adapters.KindInvalid, "providerFields.configuration.redirectUri",
			"providerFields.configuration takes only accessTokenHeader, accessTokenHeaderPrefix, accessTokenPath, authorizeUrl, clientId, clientSecret, customPayload, method, mode, scopes, tokenExpiration, tokenUrl"},
		{"configuration nested", field("configuration", `{"configuration":{}}`), adapters.KindInvalid, "providerFields.configuration.configuration", "unknown key"},
		{"configuration bad mode", field("configuration", `{"mode":"x"}`), adapters.KindInvalid, "providerFields.configuration.mode", "is not one of"},
		{"configuration bad method", field("configuration", `{"method":"PATCH"}`), adapters.KindInvalid, "providerFields.configuration.method", ""},
		{"configuration bad tokenUrl", field("configuration", `{"tokenUrl":"https://"}`), adapters.KindInvalid, "providerFields.configuration.tokenUrl", "matching"},
		{"configuration scopes not array", field("configuration", `{"scopes":"a b"}`), adapters.KindInvalid, "providerFields.configuration.scopes", "an array of strings"},
		{"configuration scopes item", field("configuration", `{"scopes":["a",2]}`), adapters.KindInvalid, "providerFields.configuration.scopes[1]", ""},
		{"configuration clientSecret number", field("configuration", `{"clientSecret":42}`), adapters.KindInvalid, "providerFields.configuration.clientSecret", ""},
		{"configuration customPayload", field("configuration", `{"customPayload":{"tokenUrl":{}}}`), adapters.KindInvalid, "providerFields.configuration.customPayload.authorizeUrl", ""},
		{"configuration tokenExpiration", field("configuration", `{"tokenExpiration":"1h"}`), adapters.KindInvalid, "providerFields.configuration.tokenExpiration", ""},
		{"configuration null", field("configuration", `null`), adapters.KindInvalid, "providerFields.configuration", "not null"},
		// Names and syntax.
		{"unknown field", field("noSuchField", `1`), adapters.KindInvalid, "providerFields.noSuchField", `unknown provider field "noSuchField": Reelevant takes accessTokenHeader`},
		{"canonical name as provider field", field("name", `"x"`), adapters.KindInvalid, "providerFields.name", "unknown provider field"},
		{"invalid JSON", field("mode", `"password`), adapters.KindInvalid, "providerFields.mode", "is not valid JSON"},
		{"two values", field("mode", `"password" "jwt_bearer"`), adapters.KindInvalid, "providerFields.mode", "is not a single JSON value"},
		{"empty value", field("mode", ``), adapters.KindInvalid, "providerFields.mode", "is not valid JSON"},
		{"first bad field reported", adapters.Update{Resource: clientID, ProviderFields: map[string]json.RawMessage{
			"mode": raw(`"password"`), "method": raw(`"PUT"`), "tokenExpiration": raw(`"x"`)}}, adapters.KindInvalid, "providerFields.method", ""},
	}
	for _, mode := range []string{"password", "client_credentials", "refresh_token", "access_token", "custom_payload", "jwt_bearer"} {
		cases = append(cases, tcase{"mode " + mode, field("mode", `"`+mode+`"`), 0, "", ""})
	}
	// Native names of canonical fields point to the canonical field.
	for native, canonical := range map[string]string{"clientId": "clientId", "clientSecret": "clientSecret", "scopes": "scopes",
		"authorizeUrl": "authorizeUrl", "tokenUrl": "tokenUrl"} {
		cases = append(cases, tcase{"native " + native, field(native, `"x"`), adapters.KindInvalid, "providerFields." + native, "set it as changes." + canonical})
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
				t.Fatalf("Validate = %#v (%v), want %s on %q", err, err, tc.kind, tc.field)
			}
			if !strings.Contains(ae.Message, tc.text) {
				t.Errorf("message %q does not contain %q", ae.Message, tc.text)
			}
			if ae.Kind.Retryable() {
				t.Errorf("Validate returned a retryable kind")
			}
		})
	}
}

// TestValidateQuotesNoValue: refusals name the field and the rule, never
// a value (a URL may carry a credential; a secret may be mistyped into
// the wrong field).
func TestValidateQuotesNoValue(t *testing.T) {
	a := newAdapter(t, "https://api.reelevant.com", nil, canaryToken)
	const v = "canary-value-Wq81"
	for _, u := range []adapters.Update{
		{Resource: clientID, Changes: messages.Changes{TokenURL: ptr("ftp://" + v)}},
		{Resource: clientID, Changes: messages.Changes{AuthorizeURL: ptr("https://x" + v + "\n")}},
		{Resource: clientID, Changes: messages.Changes{Name: ptr(v)}},
		{Resource: clientID, ProviderFields: map[string]json.RawMessage{"configuration": raw(`{"clientSecret":"` + v + `","tokenUrl":"` + v + `"}`)}},
		{Resource: clientID, ProviderFields: map[string]json.RawMessage{"customPayload": raw(`{"tokenUrl":{"headers":{"Authorization":["` + v + `"]}},"authorizeUrl":{}}`)}},
		{Resource: clientID, ProviderFields: map[string]json.RawMessage{"accessTokenPath": raw(`{"k":"` + v + `"}`)}},
		{Resource: clientID, ProviderFields: map[string]json.RawMessage{"clientSecret": raw(`"` + v + `"`)}},
		{Resource: clientID, ProviderFields: map[string]json.RawMessage{"configuration": raw(`{"clientSecret":"` + v + `","clientSecret":"x"}`)}},
		{Resource: clientID, ProviderFields: map[string]json.RawMessage{"tokenExpiration": raw(`"` + v + `"`)}},
	} {
		err := a.Validate(u)
		if err == nil {
			t.Fatalf("Validate(%v) = nil", u.Fields())
		}
		if strings.Contains(err.Error(), v) {
			t.Errorf("error quotes the value: %v", err)
		}
	}
}

type apiEnv struct {
	sim *reelevantsim.Server
	srv *httptest.Server
	a   adapters.Adapter
}

var initial = map[string]any{
	"mode": "refresh_token", "tokenUrl": "https://login.salesforce.com/services/oauth2/token",
	"clientId": "initial", "clientSecret": canarySecret, "scopes": []any{"api"}, "accessTokenHeader": "authorization",
}

func startAPI(t *testing.T, opts reelevantsim.Options) *apiEnv {
	t.Helper()
	opts.Token = canaryToken
	sim := reelevantsim.New(opts)
	sim.Seed(clientID, initial)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &apiEnv{sim: sim, srv: srv, a: newAdapter(t, srv.URL, nil, canaryToken)}
}

func TestApplyRequest(t *testing.T) {
	e := startAPI(t, reelevantsim.Options{})
	out, err := e.a.Apply(context.Background(), adapters.Update{
		Resource: clientID,
		Changes: messages.Changes{ClientID: ptr("new-client"), ClientSecret: ptr(messages.Secret(`new"secret`)),
			Scopes: &[]string{"openid", "email"}, AuthorizeURL: ptr("https://ab/authorize"), TokenURL: ptr("https://ab/token")},
		ProviderFields: map[string]json.RawMessage{
			"mode":            raw(`"client_credentials"`),
			"tokenExpiration": raw(`1e3`),
			"configuration":   raw(` { "tokenUrl" : "https://cd/token", "scopes" : [ ] } `),
		},
	})
	if err != nil || out != (adapters.Outcome{Status: adapters.Applied, Requests: 1}) {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	rs := e.sim.Requests()
	if len(rs) != 1 {
		t.Fatalf("%d requests", len(rs))
	}
	r := rs[0]
	if r.Method != http.MethodPatch || r.RawPath != "/v2/datasources/oauth/"+clientID || r.RawQuery != "" {
		t.Errorf("request %s %s?%s", r.Method, r.RawPath, r.RawQuery)
	}
	for k, want := range map[string]string{
		"Authorization": "Bearer " + canaryToken, "Content-Type": "application/json", "Accept": "application/json",
	} {
		if got := r.Header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	// Exactly the fields present, canonical ones under their native names,
	// provider fields re-encoded compactly with number literals kept.
	const want = `{"authorizeUrl":"https://ab/authorize","clientId":"new-client","clientSecret":"new\"secret",` +
		`"configuration":{"scopes":[],"tokenUrl":"https://cd/token"},"mode":"client_credentials","scopes":["openid","email"],` +
		`"tokenExpiration":1e3,"tokenUrl":"https://ab/token"}`
	if string(r.Body) != want {
		t.Errorf("body\n got %s\nwant %s", r.Body, want)
	}
	stored, _ := e.sim.Client(clientID)
	wantStored := map[string]any{
		"authorizeUrl": "https://ab/authorize", "clientId": "new-client", "clientSecret": `new"secret`,
		"configuration": map[string]any{"scopes": []any{}, "tokenUrl": "https://cd/token"}, "mode": "client_credentials",
		"scopes": []any{"openid", "email"}, "tokenExpiration": float64(1000), "tokenUrl": "https://ab/token",
		"accessTokenHeader": "authorization", // untouched
	}
	if !reflect.DeepEqual(stored, wantStored) {
		t.Errorf("stored %v\n want %v", stored, wantStored)
	}
}

// TestApplySendsOnlyWhatIsPresent: a partial update with no read; the
// fields it does not carry keep their values, the secret included.
func TestApplySendsOnlyWhatIsPresent(t *testing.T) {
	e := startAPI(t, reelevantsim.Options{})
	for _, u := range []adapters.Update{
		{Resource: clientID, ProviderFields: map[string]json.RawMessage{"method": raw(`"POST"`)}},
		{Resource: clientID, Changes: messages.Changes{Scopes: &[]string{}}},
	} {
		if out, err := e.a.Apply(context.Background(), u); err != nil || out.Status != adapters.Applied || out.Requests != 1 {
			t.Fatalf("Apply = %+v, %v", out, err)
		}
	}
	rs := e.sim.Requests()
	if len(rs) != 2 || string(rs[0].Body) != `{"method":"POST"}` || string(rs[1].Body) != `{"scopes":[]}` {
		t.Fatalf("requests %v", rs)
	}
	stored, _ := e.sim.Client(clientID)
	if stored["method"] != "POST" || !reflect.DeepEqual(stored["scopes"], []any{}) || stored["clientSecret"] != canarySecret ||
		stored["clientId"] != "initial" || stored["mode"] != "refresh_token" {
		t.Errorf("stored %v", stored)
	}
}

func TestApplyErrors(t *testing.T) {
	update := adapters.Update{Resource: clientID, Changes: messages.Changes{ClientSecret: ptr(messages.Secret(canarySecret))}}
	for _, tc := range []struct {
		name       string
		opts       reelevantsim.Options
		fault      *reelevantsim.Fault
		token      string
		resource   string
		kind       adapters.Kind
		status     int
		retryAfter time.Duration
		text       string
	}{
		{name: "400 validation", fault: &reelevantsim.Fault{Status: 400, Message: "tokenUrl must match pattern", Data: map[string]any{"field": "tokenUrl"}},
			kind: adapters.KindRejected, status: 400, text: `tokenUrl must match pattern data {"field":"tokenUrl"}`},
		{name: "400 error_code", fault: &reelevantsim.Fault{Status: 400, ErrorCode: 4001, Message: "Invalid OAuth client"},
			kind: adapters.KindRejected, status: 400, text: "Invalid OAuth client (error_code 4001)"},
		{name: "401 wrong token", token: "stale-tok-4Rq", kind: adapters.KindUnauthorized, status: 401, text: reelevantsim.MsgUnauthorized},
		{name: "403", fault: &reelevantsim.Fault{Status: 403}, kind: adapters.KindUnauthorized, status: 403, text: "Forbidden"},
		{name: "404 unknown id", resource: missingID, kind: adapters.KindNotFound, status: 404,
			text: reelevantsim.MsgNotFound + ` data {"id":"` + missingID + `"} (Reelevant answers 404 when the OAuth client does not exist, and also when the token lacks write permission on it)`},
		{name: "404 for lack of permission", fault: &reelevantsim.Fault{Status: 404, Message: "Not Found"}, kind: adapters.KindNotFound, status: 404, text: "write permission"},
		{name: "409", fault: &reelevantsim.Fault{Status: 409, ErrorCode: 2002, Message: "OAuth client is in use"}, kind: adapters.KindRejected, status: 409, text: "in use"},
		{name: "429 Retry-After", fault: &reelevantsim.Fault{RetryAfter: 7 * time.Second}, kind: adapters.KindRateLimited, status: 429, retryAfter: 7 * time.Second, text: "Too Many Requests"},
		{name: "429 bare", fault: &reelevantsim.Fault{Status: 429}, kind: adapters.KindRateLimited, status: 429, text: "Too Many Requests"},
		{name: "500", fault: &reelevantsim.Fault{Status: 500}, kind: adapters.KindUnavailable, status: 500, text: "Internal Server Error"},
		{name: "503 Retry-After", fault: &reelevantsim.Fault{Status: 503, RetryAfter: 2 * time.Second}, kind: adapters.KindUnavailable, status: 503, retryAfter: 2 * time.Second},
		{name: "200 fail", fault: &reelevantsim.Fault{Status: 200, Envelope: "fail", Message: "refused"}, kind: adapters.KindRejected, status: 200, text: "refused"},
		{name: "200 error_code", fault: &reelevantsim.Fault{Status: 200, ErrorCode: 9, Message: "odd"}, kind: adapters.KindRejected, status: 200, text: "(error_code 9)"},
		{name: "200 error", fault: &reelevantsim.Fault{Status: 200, Envelope: "error"}, kind: adapters.KindUnavailable, status: 200, text: `status "error"`},
		{name: "garbage", fault: &reelevantsim.Fault{Garbage: true}, kind: adapters.KindUnavailable, status: 200, text: "not a JSON object"},
		{name: "reset", fault: &reelevantsim.Fault{Reset: true}, kind: adapters.KindUnavailable},
		{name: "echoed secrets", fault: &reelevantsim.Fault{Status: 400, Message: canaryToken + " " + canarySecret, Data: map[string]any{"v": canarySecret}},
			kind: adapters.KindRejected, status: 400, text: messages.Redacted + " " + messages.Redacted + ` data {"v":"` + messages.Redacted + `"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAPI(t, tc.opts)
			if tc.fault != nil {
				e.sim.Fail(*tc.fault)
			}
			a := e.a
			if tc.token != "" {
				a = newAdapter(t, e.srv.URL, nil, tc.token)
			}
			u := update
			if tc.resource != "" {
				u.Resource = tc.resource
			}
			_, err := a.Apply(context.Background(), u)
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != tc.kind || ae.HTTPStatus != tc.status || ae.RetryAfter != tc.retryAfter || !strings.Contains(ae.Message, tc.text) {
				t.Fatalf("Apply error = %#v\n(%v), want %s %d retry %v containing %q", err, err, tc.kind, tc.status, tc.retryAfter, tc.text)
			}
			if strings.Contains(err.Error(), canaryToken) || strings.Contains(err.Error(), canarySecret) {
				t.Errorf("error leaks a secret: %v", err)
			}
			if stored, _ := e.sim.Client(clientID); !reflect.DeepEqual(stored, initial) {
				t.Errorf("a failed Apply changed the client: %v", stored)
			}
		})
	}
}

func TestApplyRateLimitedBySimulator(t *testing.T) {
	e := startAPI(t, reelevantsim.Options{RateLimit: 1, RateLimitWindow: time.Minute})
	u := adapters.Update{Resource: clientID, ProviderFields: map[string]json.RawMessage{"mode": raw(`"password"`)}}
	if _, err := e.a.Apply(context.Background(), u); err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	_, err := e.a.Apply(context.Background(), u)
	ae, ok := adapters.AsError(err)
	if !ok || ae.Kind != adapters.KindRateLimited || ae.RetryAfter <= 0 || ae.RetryAfter > time.Minute {
		t.Fatalf("second Apply = %v", err)
	}
}

func TestApplyUnderBasePath(t *testing.T) {
	sim := reelevantsim.New(reelevantsim.Options{Token: canaryToken})
	sim.Seed(clientID, map[string]any{"clientId": "c"})
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a := newAdapter(t, srv.URL+"/api/", nil, canaryToken)
	if out, err := a.Apply(context.Background(), adapters.Update{Resource: clientID, Changes: messages.Changes{ClientID: ptr("d")}}); err != nil || out.Status != adapters.Applied {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	if c, _ := sim.Client(clientID); c["clientId"] != "d" {
		t.Errorf("not applied: %v", c)
	}
}

func TestApplyRefusesWithoutSending(t *testing.T) {
	e := startAPI(t, reelevantsim.Options{})
	for _, u := range []adapters.Update{
		{Resource: "nope", Changes: messages.Changes{ClientID: ptr("c")}},
		{Resource: clientID, Changes: messages.Changes{Active: ptr(true)}},
		{Resource: clientID, ProviderFields: map[string]json.RawMessage{"clientId": raw(`"c"`)}},
		{Resource: clientID},
	} {
		if _, err := e.a.Apply(context.Background(), u); err == nil {
			t.Errorf("Apply(%v) = nil", u.Fields())
		}
	}
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

func TestApplyConcurrentResources(t *testing.T) {
	e := startAPI(t, reelevantsim.Options{})
	ids := []string{"000000000000000000000001", "000000000000000000000002", "000000000000000000000003", "000000000000000000000004"}
	for _, id := range ids {
		e.sim.Seed(id, map[string]any{})
	}
	errs := make(chan error, len(ids))
	for _, id := range ids {
		go func() {
			_, err := e.a.Apply(context.Background(), adapters.Update{Resource: id, Changes: messages.Changes{ClientID: ptr("c-" + id)}})
			errs <- err
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, id := range ids {
		if c, _ := e.sim.Client(id); c["clientId"] != "c-"+id {
			t.Errorf("%s: %v", id, c)
		}
	}
}

func TestRegistryAndProviderFields(t *testing.T) {
	r := adapters.NewRegistry()
	r.Register(reelevant.Provider, reelevant.New)
	if !slices.Equal(r.Providers(), []string{"reelevant"}) {
		t.Fatal(r.Providers())
	}
	_, err := r.New("reelevant", adapters.Connection{Name: "rl", BaseURL: "https://api.reelevant.com"})
	if err == nil || !strings.Contains(err.Error(), `"bearerToken" is missing`) {
		t.Errorf("error = %v", err)
	}
	want := []string{"accessTokenHeader", "accessTokenHeaderPrefix", "accessTokenPath", "configuration", "customPayload", "method", "mode", "tokenExpiration"}
	if got := reelevant.ProviderFields(); !slices.Equal(got, want) {
		t.Errorf("ProviderFields() = %v, want %v", got, want)
	}
}
