package rocketchat

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/messages"
)

const (
	testUser   = "UserIdCanary00001"
	testToken  = "token-canary-abcdef"
	testSecret = "client-secret-canary-xyz"
	testApp    = "65a7d77142a7e12453052d59"
)

var testNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func testAdapter(t testing.TB) *adapter {
	a, err := New(adapters.Connection{BaseURL: "https://chat.example.com", Auth: map[string]messages.Secret{
		AuthUserID: testUser, AuthToken: testToken}})
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
	return &httpx.Response{Status: status, Header: h, Body: []byte(body), Call: "GET /api/v1/oauth-apps.get"}
}

func TestParseRead(t *testing.T) {
	a := testAdapter(t)
	ms := func(d time.Duration) string { return strconv.FormatInt(testNow.Add(d).UnixMilli(), 10) }
	good := `{"oauthApp":{"_id":"` + testApp + `","name":"n","active":true,"clientId":"c","clientSecret":"` + testSecret +
		`","redirectUri":"https://x","_createdAt":"2024-01-17T13:34:41.445Z"},"success":true}`
	for _, tc := range []struct {
		name       string
		resp       *httpx.Response
		kind       adapters.Kind
		retryAfter time.Duration
		text       string
	}{
		{"ok", resp(200, good), 0, 0, ""},
		{"oauthApp null", resp(200, `{"oauthApp":null,"success":true}`), adapters.KindNotFound, 0, "oauthApp is null"},
		{"no oauthApp", resp(200, `{"success":true}`), adapters.KindUnavailable, 0, "no oauthApp"},
		{"success false", resp(200, `{"success":false,"error":"boom"}`), adapters.KindUnavailable, 0, "success is not true: boom"},
		{"no success", resp(200, `{"oauthApp":{}}`), adapters.KindUnavailable, 0, "success is not true"},
		{"success string", resp(200, `{"oauthApp":{},"success":"true"}`), adapters.KindUnavailable, 0, "not the expected JSON"},
		{"garbage", resp(200, `<html>`), adapters.KindUnavailable, 0, "not the expected JSON"},
		{"empty", resp(200, ``), adapters.KindUnavailable, 0, "not the expected JSON"},
		{"trailing", resp(200, good+`{}`), adapters.KindUnavailable, 0, "not the expected JSON"},
		{"wrong types", resp(200, `{"oauthApp":{"name":1},"success":true}`), adapters.KindUnavailable, 0, "oauthApp is not"},
		{"oauthApp array", resp(200, `{"oauthApp":[],"success":true}`), adapters.KindUnavailable, 0, "oauthApp is not"},
		{"another app", resp(200, `{"oauthApp":{"_id":"otherotherother00"},"success":true}`), adapters.KindUnavailable, 0, "another app"},
		{"not found", resp(400, `{"success":false,"error":"OAuth app not found."}`), adapters.KindNotFound, 0, "OAuth app not found."},
		{"invalid params", resp(400, `{"success":false,"error":"must match exactly one schema in oneOf [error-invalid-params]","errorType":"error-invalid-params"}`),
			adapters.KindRejected, 0, "oneOf [error-invalid-params]"},
		{"400 errorType only", resp(400, `{"success":false,"error":"bad","errorType":"error-x"}`), adapters.KindRejected, 0, "bad [error-x]"},
		{"400 garbage", resp(400, `nope`), adapters.KindRejected, 0, "HTTP 400"},
		{"401", resp(401, `{"status":"error","message":"You must be logged in to do this."}`), adapters.KindUnauthorized, 0, "logged in"},
		{"403", resp(403, `{"success":false,"error":"User does not have the permissions required for this action [error-unauthorized]"}`),
			adapters.KindUnauthorized, 0, "[error-unauthorized]"},
		{"404", resp(404, `{"success":false,"error":"Resource not found"}`), adapters.KindRejected, 0, "Resource not found"},
		{"429 reset", resp(429, `{"success":false,"error":"You must wait 9 seconds"}`, "X-RateLimit-Reset", ms(1500*time.Millisecond)),
			adapters.KindRateLimited, 1500 * time.Millisecond, "wait 9 seconds"},
		{"429 reset past, message", resp(429, `{"success":false,"error":"Error, too many requests. Please slow down. You must wait 9 seconds before trying this endpoint again. [error-too-many-requests]"}`,
			"X-RateLimit-Reset", ms(-time.Second)), adapters.KindRateLimited, 9 * time.Second, "[error-too-many-requests]"},
		{"429 message only", resp(429, `{"success":false,"error":"You must wait 1 second"}`), adapters.KindRateLimited, time.Second, ""},
		{"429 Retry-After", resp(429, `{}`, "Retry-After", "4"), adapters.KindRateLimited, 4 * time.Second, ""},
		{"429 nothing", resp(429, ``), adapters.KindRateLimited, 0, ""},
		{"500", resp(500, `{"success":false,"error":"Internal server error"}`), adapters.KindUnavailable, 0, "Internal server error"},
		{"502 html", resp(502, `<html>bad gateway</html>`), adapters.KindUnavailable, 0, "HTTP 502"},
		{"408", resp(408, ``), adapters.KindTimeout, 0, ""},
		{"302", resp(302, ``, "Location", "https://elsewhere"), adapters.KindRejected, 0, "redirects are not followed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app, err := a.parseRead(tc.resp, testApp)
			if tc.kind == 0 {
				if err != nil || *app.Name != "n" || !*app.Active || *app.RedirectURI != "https://x" || app.ClientSecret != testSecret {
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

func TestParseUpdate(t *testing.T) {
	a := testAdapter(t)
	flat := `{"_id":"` + testApp + `","name":"n","active":false,"clientId":"c","clientSecret":"` + testSecret + `","redirectUri":"https://x","success":true}`
	if err := a.parseUpdate(resp(200, flat), testSecret); err != nil {
		t.Fatalf("parseUpdate: %v", err)
	}
	for _, tc := range []struct {
		resp *httpx.Response
		kind adapters.Kind
	}{
		{resp(200, `{"success":false}`), adapters.KindUnavailable},
		{resp(200, `null`), adapters.KindUnavailable},
		{resp(400, `{"success":false,"error":"Application not found [error-application-not-found]","errorType":"error-application-not-found"}`), adapters.KindNotFound},
		{resp(400, `{"success":false,"error":"must NOT have additional properties [invalid-params]","errorType":"invalid-params"}`), adapters.KindRejected},
	} {
		err := a.parseUpdate(tc.resp, testSecret)
		if ae, ok := adapters.AsError(err); !ok || ae.Kind != tc.kind {
			t.Errorf("parseUpdate(%d %s) = %v, want %s", tc.resp.Status, tc.resp.Body, err, tc.kind)
		}
	}
}

func TestErrorsAreScrubbed(t *testing.T) {
	a := testAdapter(t)
	echo := `{"success":false,"error":"token ` + testToken + ` user ` + testUser + ` secret ` + testSecret + `","errorType":"x"}`
	for _, status := range []int{200, 400, 401, 403, 429, 500} {
		b := echo
		if status == 200 {
			b = strings.Replace(echo, `"success":false`, `"success":true,"bogus":1,"success":false`, 1)
		}
		for _, err := range []error{a.parseUpdate(resp(status, b), testSecret), func() error { _, err := a.parseRead(resp(status, b), testApp); return err }()} {
			if err == nil {
				t.Fatalf("%d: no error", status)
			}
			for _, s := range []string{testToken, testUser} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("%d: error leaks %q: %v", status, s, err)
				}
			}
		}
		if err := a.parseUpdate(resp(status, b), testSecret); strings.Contains(err.Error(), testSecret) {
			t.Errorf("%d: error leaks the client secret: %v", status, err)
		}
	}
}

// TestLongMessageScrubbedBeforeCut: a secret straddling the cut is still
// scrubbed.
func TestLongMessageScrubbedBeforeCut(t *testing.T) {
	a := testAdapter(t)
	for pad := httpx.MaxProviderMessage - len(testToken); pad <= httpx.MaxProviderMessage; pad++ {
		body := `{"success":false,"error":"` + strings.Repeat("a", pad) + testToken + `"}`
		err := a.parseUpdate(resp(400, body), testSecret)
		if strings.Contains(err.Error(), testToken[:len(testToken)/2]) {
			t.Fatalf("pad %d: error leaks part of the token: %v", pad, err)
		}
	}
}

// FuzzParseResponse: whatever Rocket.Chat (or something in front of it)
// answers, decoding never panics, every error is an *adapters.Error of a
// known kind with a sane RetryAfter, and no credential reaches a message.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
		reset  string
	}{
		{200, `{"oauthApp":{"_id":"65a7d77142a7e12453052d59","name":"n","active":true,"redirectUri":"https://x","clientSecret":"s"},"success":true}`, ""},
		{200, `{"oauthApp":null,"success":true}`, ""},
		{200, `{"_id":"65a7d77142a7e12453052d59","name":"n","success":true}`, ""},
		{200, `<html>`, ""},
		{400, `{"success":false,"error":"OAuth app not found."}`, ""},
		{400, `{"success":false,"error":"Application not found [error-application-not-found]","errorType":"error-application-not-found"}`, ""},
		{401, `{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}`, ""},
		{429, `{"success":false,"error":"You must wait 12 seconds before trying this endpoint again. [error-too-many-requests]"}`, "1795341600000"},
		{429, `{"success":false,"error":"wait 999999999 seconds"}`, "-1"},
		{500, `{"success":false,"error":"token-canary-abcdef"}`, ""},
		{302, ``, ""},
		{0, `{}`, "x"},
	} {
		f.Add(s.status, []byte(s.body), s.reset)
	}
	a := testAdapter(f)
	f.Fuzz(func(t *testing.T, status int, body []byte, reset string) {
		r := &httpx.Response{Status: status, Header: http.Header{"X-Ratelimit-Reset": {reset}}, Body: body, Call: "GET /x"}
		check := func(err error) {
			if err == nil {
				return
			}
			ae, ok := adapters.AsError(err)
			if !ok {
				t.Fatalf("error %v (%T) is not an *adapters.Error", err, err)
			}
			if ae.Kind < adapters.KindInvalid || ae.Kind > adapters.KindTimeout {
				t.Fatalf("unknown kind %d", ae.Kind)
			}
			if ae.RetryAfter < 0 || ae.RetryAfter > httpx.MaxWait {
				t.Fatalf("RetryAfter = %v", ae.RetryAfter)
			}
			if ae.HTTPStatus != status {
				t.Fatalf("HTTPStatus = %d, want %d", ae.HTTPStatus, status)
			}
			if (status >= 200 && status <= 299) && ae.Kind != adapters.KindUnavailable && ae.Kind != adapters.KindNotFound && ae.Kind != adapters.KindRejected {
				t.Fatalf("2xx classified %s", ae.Kind)
			}
			if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testUser) {
				t.Fatalf("error leaks a credential: %v", err)
			}
		}
		app, err := a.parseRead(r, testApp)
		check(err)
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("status %d accepted", status)
			}
			if _, err := merge(app, messages.Changes{}); err != nil && (err.Kind != adapters.KindRejected || err.Field == "") {
				t.Fatalf("merge error %v", err)
			}
		}
		err = a.parseUpdate(r, testSecret)
		check(err)
		if err != nil && strings.Contains(err.Error(), testSecret) {
			t.Fatalf("error leaks the client secret: %v", err)
		}
	})
}
