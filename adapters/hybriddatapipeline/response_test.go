package hybriddatapipeline

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/messages"
)

const (
	testUser      = "login-canary-user"
	testPassword  = "password-canary-abcdef"
	testSecret    = "client-secret-canary-xyz"
	testCmdSecret = "command-secret-canary-123"
	testApp       = "93"
)

var testNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func testAdapter(t testing.TB) *adapter {
	a, err := New(adapters.Connection{BaseURL: "https://hdp.example.com", Auth: map[string]messages.Secret{
		AuthUsername: testUser, AuthPassword: testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	ad := a.(*adapter)
	ad.now = func() time.Time { return testNow }
	return ad
}

func resp(status int, body string, kv ...string) *httpx.Response {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return &httpx.Response{Status: status, Header: h, Body: []byte(body), Call: "GET /api/mgmt/oauthapps/93"}
}

func envelopeBody(code any, value string) string {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"code": code, "message": map[string]any{"lang": "en-US", "value": value}}})
	return string(b)
}

const goodRead = `{"id":"93","name":"TenantB_OAuth_app","dataStore":54,"tenantId":623,"description":"d","clientId":"c",` +
	`"clientSecret":"` + testSecret + `","authorizeURI":"https://a.example/auth","tokenURI":"https://a.example/token","scope":"a b"}`

func TestParseRead(t *testing.T) {
	a := testAdapter(t)
	for _, tc := range []struct {
		name       string
		resp       *httpx.Response
		kind       adapters.Kind
		retryAfter time.Duration
		text       string
	}{
		{"ok", resp(200, goodRead), 0, 0, ""},
		{"id as integer", resp(200, strings.Replace(goodRead, `"id":"93"`, `"id":93`, 1)), 0, 0, ""},
		{"no id", resp(200, strings.Replace(goodRead, `"id":"93",`, ``, 1)), 0, 0, ""},
		{"ids as strings", resp(200, strings.NewReplacer(`54`, `"54"`, `623`, `"623"`).Replace(goodRead)), 0, 0, ""},
		{"unknown keys ignored", resp(200, strings.Replace(goodRead, `{`, `{"createdAt":"x","extra":{"a":[1]},`, 1)), 0, 0, ""},
		{"another app", resp(200, strings.Replace(goodRead, `"id":"93"`, `"id":"94"`, 1)), adapters.KindUnavailable, 0, "another OAuth application"},
		{"id 093", resp(200, strings.Replace(goodRead, `"id":"93"`, `"id":"093"`, 1)), adapters.KindUnavailable, 0, `"id" is not an integer`},
		{"id fraction", resp(200, strings.Replace(goodRead, `"id":"93"`, `"id":93.0`, 1)), adapters.KindUnavailable, 0, `"id" is not an integer`},
		{"dataStore bool", resp(200, strings.Replace(goodRead, `54`, `true`, 1)), adapters.KindUnavailable, 0, `"dataStore" is not an integer`},
		{"name number", resp(200, strings.Replace(goodRead, `"TenantB_OAuth_app"`, `7`, 1)), adapters.KindUnavailable, 0, `"name" is not a string`},
		{"array", resp(200, `[`+goodRead+`]`), adapters.KindUnavailable, 0, "not a JSON object"},
		{"garbage", resp(200, "<html>\x00\xff"), adapters.KindUnavailable, 0, "not a JSON object"},
		{"empty", resp(200, ``), adapters.KindUnavailable, 0, "not a JSON object"},
		{"trailing", resp(200, goodRead+`{}`), adapters.KindUnavailable, 0, "not a JSON object"},
		{"error in a 200", resp(200, envelopeBody(222206631, "boom")), adapters.KindUnavailable, 0, "the body is an error: boom (code 222206631)"},

		{"400", resp(400, envelopeBody(222206001, "The JSON request is invalid")), adapters.KindRejected, 0, "HTTP 400 Bad Request: The JSON request is invalid (code 222206001)"},
		{"400 garbage", resp(400, `nope`), adapters.KindRejected, 0, "HTTP 400"},
		{"400 message string", resp(400, `{"error":{"code":"7","message":"plain"}}`), adapters.KindRejected, 0, "plain (code 7)"},
		{"400 bare error string", resp(400, `{"error":"proxy says no"}`), adapters.KindRejected, 0, "proxy says no"},
		{"400 odd code", resp(400, `{"error":{"code":{"x":1},"message":{"value":"v"}}}`), adapters.KindRejected, 0, ": v"},
		{"401", resp(401, envelopeBody(401, "Invalid login"), "WWW-Authenticate", `Basic realm="x"`), adapters.KindUnauthorized, 0, "Invalid login"},
		{"403", resp(403, envelopeBody(222208103, "You lack the permissions to access this url.")), adapters.KindUnauthorized, 0, "(code 222208103)"},
		{"404", resp(404, envelopeBody(404, "There is no OAuth application with that id.")), adapters.KindNotFound, 0, "There is no OAuth application"},
		{"404 without envelope", resp(404, `<html>Not Found</html>`), adapters.KindNotFound, 0, "check the connection's base URL"},
		{"429 seconds", resp(429, ``, "Retry-After", "7"), adapters.KindRateLimited, 7 * time.Second, "HTTP 429"},
		{"429 date", resp(429, ``, "Retry-After", testNow.Add(90*time.Second).Format(http.TimeFormat)), adapters.KindRateLimited, 90 * time.Second, ""},
		{"429 nothing", resp(429, ``), adapters.KindRateLimited, 0, ""},
		{"429 bad header", resp(429, ``, "Retry-After", "soon"), adapters.KindRateLimited, 0, ""},
		{"500", resp(500, envelopeBody(222206631, "Problem getting OAuth Client Application at this time. Please try again at another time.")),
			adapters.KindUnavailable, 0, "Please try again at another time. (code 222206631)"},
		{"501", resp(501, envelopeBody(501, "Not implemented"), "Retry-After", "3"), adapters.KindRejected, 0, "HTTP 501"},
		{"502 html", resp(502, `<html>bad gateway</html>`), adapters.KindUnavailable, 0, "HTTP 502"},
		{"503 Retry-After", resp(503, ``, "Retry-After", "4"), adapters.KindUnavailable, 4 * time.Second, "HTTP 503"},
		{"504", resp(504, ``), adapters.KindUnavailable, 0, "HTTP 504"},
		{"505", resp(505, ``), adapters.KindUnavailable, 0, "HTTP 505"},
		{"408", resp(408, ``), adapters.KindTimeout, 0, ""},
		{"302", resp(302, ``, "Location", "https://elsewhere"), adapters.KindRejected, 0, "redirects are not followed"},
		{"1xx", resp(100, ``), adapters.KindUnavailable, 0, "unexpected response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, err := a.parseRead(tc.resp, testApp)
			if tc.kind == 0 {
				if err != nil || *app.name != "TenantB_OAuth_app" || *app.dataStore != 54 || *app.tenantID != 623 ||
					*app.clientSecret != testSecret || *app.scope != "a b" || !app.secretKnown() {
					t.Fatalf("parseRead = %+v, %v", app, err)
				}
				return
			}
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != tc.kind || ae.RetryAfter != tc.retryAfter || ae.HTTPStatus != tc.resp.Status {
				t.Fatalf("parseRead error = %#v, want %s (retry %v, status %d)", err, tc.kind, tc.retryAfter, tc.resp.Status)
			}
			if !strings.Contains(ae.Message, tc.text) {
				t.Errorf("message %q does not contain %q", ae.Message, tc.text)
			}
		})
	}
}

func TestSecretKnown(t *testing.T) {
	for s, want := range map[string]bool{"s": true, "a*b": true, "*x": true, "": false, "*": false, "********": false} {
		o := &oauthApp{clientSecret: &s}
		if got := o.secretKnown(); got != want {
			t.Errorf("secretKnown(%q) = %v", s, got)
		}
	}
	if (&oauthApp{}).secretKnown() {
		t.Error("absent secret known")
	}
}

func TestParseUpdate(t *testing.T) {
	a := testAdapter(t)
	for _, body := range []string{goodRead, `{}`} {
		if err := a.parseUpdate(resp(200, body)); err != nil {
			t.Errorf("parseUpdate(%s): %v", body, err)
		}
	}
	for _, tc := range []struct {
		resp *httpx.Response
		kind adapters.Kind
	}{
		{resp(200, ``), adapters.KindUnavailable},
		{resp(200, `null`), adapters.KindUnavailable},
		{resp(204, ``), adapters.KindUnavailable},
		{resp(200, envelopeBody(1, "x")), adapters.KindUnavailable},
		{resp(400, envelopeBody(400, `"name" can contain only alphanumeric characters`)), adapters.KindRejected},
		{resp(404, envelopeBody(404, "There is no OAuth application with that id.")), adapters.KindNotFound},
		{resp(500, ``), adapters.KindUnavailable},
	} {
		err := a.parseUpdate(tc.resp)
		if ae, ok := adapters.AsError(err); !ok || ae.Kind != tc.kind {
			t.Errorf("parseUpdate(%d %s) = %v, want %s", tc.resp.Status, tc.resp.Body, err, tc.kind)
		}
	}
}

func TestErrorsAreScrubbed(t *testing.T) {
	a := testAdapter(t)
	token := base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword))
	text := "user " + testUser + " password " + testPassword + " header Basic " + token + " secret " + testSecret + " new " + testCmdSecret +
		` quoted "` + testPassword + `\"`
	for _, status := range []int{200, 400, 401, 403, 404, 429, 500, 501, 502} {
		body := envelopeBody(222206631, text)
		for _, err := range []error{
			a.parseUpdate(resp(status, body), testSecret, testCmdSecret),
			func() error {
				_, err := a.parseRead(resp(status, body), testApp, testSecret, testCmdSecret)
				return err
			}(),
		} {
			if err == nil {
				t.Fatalf("%d: no error", status)
			}
			for _, s := range []string{testUser, testPassword, token, testSecret, testCmdSecret} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("%d: error leaks %q: %v", status, s, err)
				}
			}
			if !strings.Contains(err.Error(), messages.Redacted) {
				t.Errorf("%d: nothing redacted: %v", status, err)
			}
		}
	}
}

// TestLongMessageScrubbedBeforeCut: a secret straddling the cut is still
// scrubbed.
func TestLongMessageScrubbedBeforeCut(t *testing.T) {
	a := testAdapter(t)
	for pad := httpx.MaxProviderMessage - len(testPassword); pad <= httpx.MaxProviderMessage; pad++ {
		for _, status := range []int{200, 400} {
			body := envelopeBody(1, strings.Repeat("a", pad)+testPassword)
			err := a.parseUpdate(resp(status, body))
			if strings.Contains(err.Error(), testPassword[:len(testPassword)/2]) {
				t.Fatalf("pad %d, status %d: error leaks part of the password: %v", pad, status, err)
			}
		}
	}
}

func TestMergeCarriesEverything(t *testing.T) {
	s := func(v string) *string { return &v }
	n := func(v int64) *int64 { return &v }
	cur := &oauthApp{name: s("n"), description: s("d"), clientID: s("c"), clientSecret: s(testSecret),
		authorizeURI: s("https://a/auth"), tokenURI: s("https://a/token"), scope: s("x  y"), dataStore: n(54), tenantID: n(623)}
	b, err := merge(cur, messages.Changes{}, nativeFields{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(b)
	want := `{"name":"n","dataStore":54,"tenantId":623,"description":"d","clientId":"c","clientSecret":"` + testSecret +
		`","authorizeURI":"https://a/auth","tokenURI":"https://a/token","scope":"x  y"}`
	if string(got) != want {
		t.Errorf("merge = %s\nwant %s", got, want)
	}
	// Formatting the body never shows the secret.
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if strings.Contains(strings.ReplaceAll(fmt.Sprintf(f, *b), " ", ""), testSecret) {
			t.Errorf("%s shows the secret", f)
		}
	}
	cur.description = nil
	b, _ = merge(cur, messages.Changes{}, nativeFields{})
	if got, _ := json.Marshal(b); strings.Contains(string(got), "description") {
		t.Errorf("absent description sent: %s", got)
	}
}

// FuzzParseResponse: whatever HDP (or something in front of it) answers,
// decoding never panics, every error is an *adapters.Error of a known kind
// with a sane RetryAfter and the response's status, and no credential or
// secret reaches a message.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
		retry  string
	}{
		{200, goodRead, ""},
		{200, `{"id":93,"name":null,"dataStore":"54","tenantId":null}`, ""},
		{200, `{"id":"94"}`, ""},
		{200, `<html>`, ""},
		{200, envelopeBody(1, "x"), ""},
		{400, envelopeBody(222206001, "The JSON request is invalid"), ""},
		{401, envelopeBody(401, testPassword), ""},
		{404, `{"error":{"code":"x","message":"y"}}`, ""},
		{429, `{"error":"slow down"}`, "12"},
		{429, ``, "Sun, 06 Nov 1994 08:49:37 GMT"},
		{500, envelopeBody(222206631, "Please try again at another time. "+testSecret), ""},
		{501, ``, "99999999999999999999"},
		{503, ``, "-1"},
		{302, ``, ""},
		{0, `{}`, "x"},
	} {
		f.Add(s.status, []byte(s.body), s.retry)
	}
	a := testAdapter(f)
	f.Fuzz(func(t *testing.T, status int, body []byte, retry string) {
		r := &httpx.Response{Status: status, Header: http.Header{"Retry-After": {retry}}, Body: body, Call: "GET /x"}
		check := func(err error) {
			if err == nil {
				return
			}
			ae, ok := adapters.AsError(err)
			if !ok {
				t.Fatalf("error %v (%T) is not an *adapters.Error", err, err)
			}
			if ae.Kind < adapters.KindInvalid || ae.Kind > adapters.KindTimeout || ae.Kind.String() == "" {
				t.Fatalf("unknown kind %d", ae.Kind)
			}
			if ae.RetryAfter < 0 || ae.RetryAfter > httpx.MaxWait {
				t.Fatalf("RetryAfter = %v", ae.RetryAfter)
			}
			if ae.HTTPStatus != status {
				t.Fatalf("HTTPStatus = %d, want %d", ae.HTTPStatus, status)
			}
			if status >= 200 && status <= 299 && ae.Kind != adapters.KindUnavailable {
				t.Fatalf("2xx classified %s", ae.Kind)
			}
			if ae.Message == "" {
				t.Fatal("no message")
			}
			for _, s := range []string{testUser, testPassword, testCmdSecret} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error leaks %q: %v", s, err)
				}
			}
		}
		app, err := a.parseRead(r, testApp, testCmdSecret)
		check(err)
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("status %d accepted", status)
			}
			if app.id != nil && *app.id != 93 {
				t.Fatalf("another app accepted: %d", *app.id)
			}
			if b, err := merge(app, messages.Changes{}, nativeFields{}); err != nil {
				if err.Kind != adapters.KindRejected || err.Field == "" || strings.Contains(err.Error(), testSecret) {
					t.Fatalf("merge error %v", err)
				}
			} else if b.Name == "" || b.ClientID == "" || b.ClientSecret == "" || b.Scope == "" || b.TokenURI == "" || b.AuthorizeURI == "" {
				t.Fatalf("merge sent an empty required field: %+v", b)
			}
		}
		err = a.parseUpdate(r, testSecret, testCmdSecret)
		check(err)
		if err != nil && strings.Contains(err.Error(), testSecret) {
			t.Fatalf("error leaks the client secret: %v", err)
		}
	})
}

// FuzzValidateProviderFields: any provider field value is accepted as a
// positive integer or refused as KindInvalid naming the field; never a panic.
func FuzzValidateProviderFields(f *testing.F) {
	for _, s := range []string{"54", "0", "-1", "54.0", "5e1", `"54"`, "null", "9223372036854775807", "9223372036854775808", " 7 ", "{}", ""} {
		f.Add("dataStore", s)
		f.Add("tenantId", s)
	}
	f.Add("scope", `"a"`)
	f.Fuzz(func(t *testing.T, name, value string) {
		u := adapters.Update{Resource: testApp, ProviderFields: map[string]json.RawMessage{name: json.RawMessage(value)}}
		nf, err := validate(u)
		if err == nil {
			var n *int64
			switch name {
			case FieldDataStore:
				n = nf.dataStore
			case FieldTenantID:
				n = nf.tenantID
			default:
				t.Fatalf("provider field %q accepted", name)
			}
			if n == nil || *n <= 0 {
				t.Fatalf("%q = %s accepted as %v", name, value, n)
			}
			return
		}
		ae, ok := adapters.AsError(err)
		if !ok || ae.Kind != adapters.KindInvalid || ae.Field != messages.ProviderFieldPrefix+name {
			t.Fatalf("validate = %#v", err)
		}
	})
}
