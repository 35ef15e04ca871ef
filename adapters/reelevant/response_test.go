package reelevant

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
	testToken  = "token-canary-abcdef.XYZ"
	testSecret = "client-secret-canary-xyz"
	testID     = "65a7d77142a7e12453052d59"
	testCall   = "PATCH /v2/datasources/oauth/" + testID
)

func testAdapter(t testing.TB) *adapter {
	t.Helper()
	a, err := New(adapters.Connection{BaseURL: "https://api.reelevant.com",
		Auth: map[string]messages.Secret{AuthBearerToken: testToken}})
	if err != nil {
		t.Fatal(err)
	}
	return a.(*adapter)
}

func resp(status int, body string, kv ...string) *httpx.Response {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return &httpx.Response{Status: status, Header: h, Body: []byte(body), Call: testCall}
}

// envelopeOf is Reelevant's envelope with the given status, code and rest.
func envelopeOf(status string, code int, rest string) string {
	s := `{"program":"datasources-api","version":"0.0.0","datetime":"2026-11-22T10:00:00.000Z","status":"` + status +
		`","code":` + strconv.Itoa(code)
	if rest != "" {
		s += "," + rest
	}
	return s + "}"
}

func TestParseResponse(t *testing.T) {
	a := testAdapter(t)
	success := envelopeOf("success", 200, `"message":"OAuth client updated","data":{"companyId":"5e1f8a3b2c4d6e7f8a9b0c1d","resourceGroupIds":[],"versions":[],"archivedAt":null}`)
	for _, tc := range []struct {
		name       string
		resp       *httpx.Response
		kind       adapters.Kind // 0: success
		retryAfter time.Duration
		text       []string
	}{
		{"success", resp(200, success), 0, 0, nil},
		{"success, minimal", resp(200, `{"status":"success"}`), 0, 0, nil},
		{"success 201", resp(201, `{"status":"success","data":{}}`), 0, 0, nil},
		{"200 fail", resp(200, envelopeOf("fail", 400, `"message":"tokenUrl is invalid","data":{"field":"tokenUrl"}`)),
			adapters.KindRejected, 0, []string{`refused the update (status "fail")`, "tokenUrl is invalid", `data {"field":"tokenUrl"}`}},
		{"200 with error_code", resp(200, envelopeOf("success", 200, `"error_code":4242,"message":"odd"`)),
			adapters.KindRejected, 0, []string{"(error_code 4242)", "odd"}},
		{"200 error", resp(200, envelopeOf("error", 500, `"message":"boom"`)), adapters.KindUnavailable, 0, []string{`status "error"`, "boom"}},
		{"200 other status", resp(200, `{"status":"ok"}`), adapters.KindUnavailable, 0, []string{`status is not "success"`}},
		{"200 status not a string", resp(200, `{"status":true}`), adapters.KindUnavailable, 0, []string{`status is not "success"`}},
		{"200 no status", resp(200, `{"data":{}}`), adapters.KindUnavailable, 0, []string{`status is not "success"`}},
		{"200 garbage", resp(200, `<html>502</html>`), adapters.KindUnavailable, 0, []string{"not a JSON object"}},
		{"200 array", resp(200, `[{"status":"success"}]`), adapters.KindUnavailable, 0, []string{"not a JSON object"}},
		{"200 empty", resp(200, ``), adapters.KindUnavailable, 0, []string{"not a JSON object"}},
		{"200 trailing data", resp(200, `{"status":"success"}{}`), adapters.KindUnavailable, 0, []string{"not a JSON object"}},
		{"204", resp(204, ``), adapters.KindUnavailable, 0, []string{"not a JSON object"}},
		{"400 validation", resp(400, envelopeOf("fail", 400, `"message":"id must match pattern","data":{"field":"id"}`)),
			adapters.KindRejected, 0, []string{"HTTP 400 Bad Request", "id must match pattern", `data {"field":"id"}`}},
		{"400 error_code", resp(400, envelopeOf("fail", 400, `"error_code":1001,"message":"Invalid configuration","data":{"fields":["a","b"]}`)),
			adapters.KindRejected, 0, []string{"Invalid configuration (error_code 1001) data {\"fields\":[\"a\",\"b\"]}"}},
		{"400 garbage", resp(400, `nope`), adapters.KindRejected, 0, []string{"HTTP 400"}},
		{"401", resp(401, envelopeOf("fail", 401, `"message":"Unauthorized","data":{}`)), adapters.KindUnauthorized, 0, []string{"HTTP 401", "Unauthorized"}},
		{"403", resp(403, envelopeOf("fail", 403, `"message":"Forbidden"`)), adapters.KindUnauthorized, 0, []string{"Forbidden"}},
		{"404", resp(404, envelopeOf("fail", 404, `"message":"OAuth client not found","data":{"id":"`+testID+`"}`)),
			adapters.KindNotFound, 0, []string{"OAuth client not found", "also when the token lacks write permission"}},
		{"404 bare", resp(404, ``), adapters.KindNotFound, 0, []string{"HTTP 404 Not Found", "write permission"}},
		{"409", resp(409, envelopeOf("fail", 409, `"error_code":2002,"message":"OAuth client is in use"`)),
			adapters.KindRejected, 0, []string{"HTTP 409", "in use", "error_code 2002"}},
		{"429 Retry-After", resp(429, envelopeOf("fail", 429, `"message":"Too Many Requests"`), "Retry-After", "7"),
			adapters.KindRateLimited, 7 * time.Second, []string{"Too Many Requests"}},
		{"429 none", resp(429, ``), adapters.KindRateLimited, 0, []string{"HTTP 429"}},
		{"429 bad Retry-After", resp(429, ``, "Retry-After", "soon"), adapters.KindRateLimited, 0, nil},
		{"408", resp(408, ``), adapters.KindTimeout, 0, nil},
		{"500 error", resp(500, envelopeOf("error", 500, `"message":"Internal Server Error","data":{}`)),
			adapters.KindUnavailable, 0, []string{"HTTP 500", "Internal Server Error"}},
		{"500 fail", resp(500, envelopeOf("fail", 500, `"message":"odd"`)), adapters.KindUnavailable, 0, []string{"odd"}},
		{"503 Retry-After", resp(503, `<html>`, "Retry-After", "3"), adapters.KindUnavailable, 3 * time.Second, nil},
		{"502 html", resp(502, `<html>bad gateway</html>`), adapters.KindUnavailable, 0, []string{"HTTP 502"}},
		{"302", resp(302, ``, "Location", "https://elsewhere"), adapters.KindRejected, 0, []string{"redirects are not followed"}},
		{"wrong field types", resp(400, `{"status":"fail","message":7,"error_code":"E1","data":"text"}`),
			adapters.KindRejected, 0, []string{`(error_code "E1") data "text"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := a.parseResponse(tc.resp, testSecret)
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("parseResponse: %v", err)
				}
				return
			}
			ae, ok := adapters.AsError(err)
			if !ok || ae.Kind != tc.kind || ae.RetryAfter != tc.retryAfter || ae.HTTPStatus != tc.resp.Status {
				t.Fatalf("parseResponse = %#v, want %s (retry %v, status %d)", err, tc.kind, tc.retryAfter, tc.resp.Status)
			}
			if !strings.HasPrefix(ae.Message, testCall+": HTTP ") {
				t.Errorf("message %q does not name the call and status", ae.Message)
			}
			for _, s := range tc.text {
				if !strings.Contains(ae.Message, s) {
					t.Errorf("message %q does not contain %q", ae.Message, s)
				}
			}
		})
	}
}

func TestErrorsAreScrubbed(t *testing.T) {
	a := testAdapter(t)
	const configSecret = `cfg"secret\é`
	// The secrets in the message, the error code and the data, the last
	// escaped the way another encoder might (\u00e9 for é, \/ for /).
	body := `{"status":"fail","message":"token ` + testToken + ` secret ` + testSecret + `","error_code":"` + testSecret +
		`","data":{"echo":"cfg\"secret\\\u00e9","token":"` + strings.ReplaceAll(testToken, ".", `\u002e`) + `"}}`
	for _, status := range []int{200, 400, 401, 404, 409, 429, 500} {
		err := a.parseResponse(resp(status, body), testSecret, configSecret)
		if err == nil {
			t.Fatalf("%d: no error", status)
		}
		for _, s := range []string{testToken, testSecret, configSecret, `cfg\"secret`} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%d: error leaks %q: %v", status, s, err)
			}
		}
		if !strings.Contains(err.Error(), messages.Redacted) {
			t.Errorf("%d: nothing redacted: %v", status, err)
		}
	}
}

// TestLongMessageScrubbedBeforeCut: a secret straddling the cut is still
// scrubbed.
func TestLongMessageScrubbedBeforeCut(t *testing.T) {
	a := testAdapter(t)
	for _, status := range []int{200, 400} {
		for pad := httpx.MaxProviderMessage - len(testSecret) - 8; pad <= httpx.MaxProviderMessage; pad++ {
			body := `{"status":"fail","message":"` + strings.Repeat("a", pad) + testSecret + `"}`
			err := a.parseResponse(resp(status, body), testSecret)
			if strings.Contains(err.Error(), testSecret[:len(testSecret)/2]) {
				t.Fatalf("%d, pad %d: error leaks part of the secret: %v", status, pad, err)
			}
		}
	}
}

// FuzzParseResponse: whatever Reelevant (or something in front of it)
// answers, decoding never panics, every error is an *adapters.Error of a
// known kind with a sane RetryAfter and the response's status, only a 2xx
// can succeed, and no secret reaches a message.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []struct {
		status     int
		body       string
		retryAfter string
	}{
		{200, `{"status":"success","program":"datasources-api","version":"0.0.0","datetime":"x","message":"ok","data":{"companyId":"a","resourceGroupIds":[],"versions":[],"archivedAt":null},"code":200}`, ""},
		{200, `{"status":"fail","error_code":1,"message":"m","data":{"field":"tokenUrl"}}`, ""},
		{200, `{"status":"success","error_code":null}`, ""},
		{200, `{"status":"error"}`, ""},
		{200, `<html>`, ""},
		{400, `{"status":"fail","code":400,"message":"id must match pattern","data":{"field":"id"}}`, ""},
		{401, `{"status":"fail","code":401,"message":"token-canary-abcdef.XYZ"}`, ""},
		{404, `{"status":"fail","code":404,"message":"OAuth client not found","data":{"id":"65a7d77142a7e12453052d59"}}`, ""},
		{409, `{"status":"fail","error_code":2,"message":"in use"}`, ""},
		{429, `{}`, "30"},
		{429, ``, "Wed, 21 Oct 2015 07:28:00 GMT"},
		{500, `{"status":"error","message":"client-secret-canary-xyz"}`, ""},
		{503, `{"status":"error"}`, "99999999999999999999"},
		{302, ``, ""},
		{0, `{}`, "x"},
	} {
		f.Add(s.status, []byte(s.body), s.retryAfter)
	}
	a := testAdapter(f)
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		r := &httpx.Response{Status: status, Header: http.Header{"Retry-After": {retryAfter}}, Body: body, Call: testCall}
		err := a.parseResponse(r, testSecret)
		if err == nil {
			if status < 200 || status > 299 {
				t.Fatalf("status %d accepted", status)
			}
			return
		}
		ae, ok := adapters.AsError(err)
		if !ok {
			t.Fatalf("error %v (%T) is not an *adapters.Error", err, err)
		}
		if ae.Kind < adapters.KindInvalid || ae.Kind > adapters.KindTimeout || ae.Kind.String() == "" {
			t.Fatalf("unknown kind %d", ae.Kind)
		}
		if ae.Kind == adapters.KindInvalid || ae.Kind == adapters.KindUnsupported {
			t.Fatalf("a response classified %s", ae.Kind)
		}
		if ae.RetryAfter < 0 || ae.RetryAfter > httpx.MaxWait {
			t.Fatalf("RetryAfter = %v", ae.RetryAfter)
		}
		if ae.HTTPStatus != status {
			t.Fatalf("HTTPStatus = %d, want %d", ae.HTTPStatus, status)
		}
		if status >= 200 && status <= 299 && ae.Kind != adapters.KindUnavailable && ae.Kind != adapters.KindRejected {
			t.Fatalf("2xx classified %s", ae.Kind)
		}
		if ae.Message == "" {
			t.Fatal("empty message")
		}
		if strings.Contains(err.Error(), testToken) || strings.Contains(err.Error(), testSecret) {
			t.Fatalf("error leaks a secret: %v", err)
		}
	})
}
