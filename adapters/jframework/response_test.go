package jframework

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
	"github.com/oauthsync/oauthsync/messages"
)

const (
	testBrand     = "brand-canary.example.com"
	testKey       = "auth-key-canary-abcdef"
	testSecret    = "client-secret-canary-xyz"
	testNewSecret = "new-client-secret-canary-uvw"
	testID        = "sApKpllz4sAplsmzha"
	testCID       = "0f8fad5b-d9cb-469f-a165-70867728950e"
)

var testNow = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func testAdapter(t testing.TB) *adapter {
	a, err := New(adapters.Connection{BaseURL: "https://protocol.jframework.io", Auth: map[string]messages.Secret{
		AuthBrandURL: testBrand, AuthKey: testKey}})
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
	return &httpx.Response{Status: status, Header: h, Body: []byte(body), Call: "GET /api/v1/app-integrations/authentication/" + testID}
}

// failEnvelope is jframework's failure body with one error.
func failEnvelope(status int, message, code, text string) string {
	b, _ := json.Marshal(map[string]any{
		"success": false, "statusCode": status, "message": message, "data": nil,
		"errors": []any{map[string]any{"code": code, "message": text, "correlationId": testCID}},
	})
	return string(b)
}

// goodRead is the read page's example answer, with valid URIs and the test
// secret.
const goodRead = `{"success":true,"statusCode":200,"message":"The request was successful.","data":{
"appIntegration":{"type":"Authenticate","name":"Google","domain":"https://google.com","description":null,"logoURL":null,"status":"Active","id":"gOoGlEaPpInTeGrAt1"},
"isDefault":false,"status":"Active","description":"description","tags":"tags","iconURL":"https://x.example/i.png",
"tokenEndpoint":"https://x.example/token","id":"sApKpllz4sAplsmzha","authEndpoint":"https://x.example/auth",
"redirectURI":"https://x.example/cb","clientSecret":"` + testSecret + `","clientId":"clientId","projectId":"projectId",
"name":"name","code":"code","scope":"openid email"},"errors":[]}`

func TestParseRead(t *testing.T) {
	a := testAdapter(t)
	secs := func(d time.Duration) string { return strconv.FormatInt(testNow.Add(d).Unix(), 10) }
	for _, tc := range []struct {
		name       string
		resp       *httpx.Response
		kind       adapters.Kind
		retryAfter time.Duration
		text       string
	}{
		{"ok", resp(200, goodRead), 0, 0, ""},
		{"success false", resp(200, failEnvelope(200, "boom", "", "")), adapters.KindUnavailable, 0, "success is false (statusCode 200): boom"},
		{"success false no statusCode", resp(200, `{"success":false,"message":"boom"}`), adapters.KindUnavailable, 0, "success is false: boom"},
		{"success false 404", resp(200, failEnvelope(404, "gone", "AppIntegrationAuthenticationNotFound", "The app authentication was not found in the system.")),
			adapters.KindNotFound, 0, "success is false (statusCode 404): gone [AppIntegrationAuthenticationNotFound: The app authentication was not found in the system. (correlationId " + testCID + ")]"},
		{"success false not-found code only", resp(200, `{"success":false,"errors":[{"code":"AppIntegrationNotFound"}]}`), adapters.KindNotFound, 0, "AppIntegrationNotFound"},
		{"success false 400", resp(200, failEnvelope(400, "bad", "InvalidRequest", "x")), adapters.KindRejected, 0, "(statusCode 400)"},
		{"success false 401", resp(200, failEnvelope(401, "no", "Unauthorized", "x")), adapters.KindUnauthorized, 0, "(statusCode 401)"},
		{"success false 429", resp(200, failEnvelope(429, "slow", "RateLimitExceeded", "x"), "X-RateLimit-Reset", secs(7*time.Second)),
			adapters.KindRateLimited, 7 * time.Second, "(statusCode 429)"},
		{"success false rate code only", resp(200, `{"success":false,"errors":[{"code":"RateLimitExceeded"}]}`, "X-RateLimit-Reset", secs(3*time.Second)),
			adapters.KindRateLimited, 3 * time.Second, "RateLimitExceeded"},
		{"success false 503", resp(200, failEnvelope(503, "down", "X", "x")), adapters.KindUnavailable, 0, "(statusCode 503)"},
		{"success false 209", resp(200, failEnvelope(209, "quota", "FeatureUsageLimitExceeded", "x")), adapters.KindRateLimited, UsageLimitWait, "usage limit"},
		{"209 with its reset", resp(209, failEnvelope(209, "quota", "FeatureUsageLimitExceeded", "x"), "X-RateLimit-Reset", secs(9*time.Second)),
			adapters.KindRateLimited, 9 * time.Second, "waiting for its reset"},
		{"no success", resp(200, `{"data":{}}`), adapters.KindUnavailable, 0, "success is not true"},
		{"success string", resp(200, `{"success":"true","data":{}}`), adapters.KindUnavailable, 0, "success is not true"},
		{"success null", resp(200, `{"success":null,"data":{}}`), adapters.KindUnavailable, 0, "success is not true"},
		{"no data", resp(200, `{"success":true}`), adapters.KindUnavailable, 0, "success without data"},
		{"data null", resp(200, `{"success":true,"data":null}`), adapters.KindUnavailable, 0, "success without data"},
		{"data array", resp(200, `{"success":true,"data":[]}`), adapters.KindUnavailable, 0, "data is not"},
		{"wrong types", resp(200, `{"success":true,"data":{"name":1}}`), adapters.KindUnavailable, 0, "data is not"},
		{"status number", resp(200, `{"success":true,"data":{"status":1}}`), adapters.KindUnavailable, 0, "data is not"},
		{"another object", resp(200, `{"success":true,"data":{"id":"other"}}`), adapters.KindUnavailable, 0, "another app integration authentication"},
		{"garbage", resp(200, `<html>`), adapters.KindUnavailable, 0, "not the expected JSON"},
		{"empty", resp(200, ``), adapters.KindUnavailable, 0, "not the expected JSON"},
		{"trailing", resp(200, goodRead+`{}`), adapters.KindUnavailable, 0, "not the expected JSON"},
		{"209", resp(209, failEnvelope(209, "The user has exceeded the feature usage limit.", "FeatureUsageLimitExceeded", "x")),
			adapters.KindRateLimited, UsageLimitWait, "HTTP 209: the feature usage limit is exceeded (jframework's status 209); waiting for its reset: The user has exceeded the feature usage limit. [FeatureUsageLimitExceeded: x (correlationId " + testCID + ")]"},
		{"209 success true", resp(209, goodRead), adapters.KindRateLimited, UsageLimitWait, "usage limit"},
		{"209 garbage", resp(209, `nope`), adapters.KindRateLimited, UsageLimitWait, "usage limit"},
		{"400", resp(400, failEnvelope(400, "The request was not successful.", "InvalidRequest", "The scope field is required.")),
			adapters.KindRejected, 0, "HTTP 400 Bad Request: The request was not successful. [InvalidRequest: The scope field is required. (correlationId " + testCID + ")]"},
		{"400 not-found code", resp(400, failEnvelope(400, "m", "AppIntegrationNotFound", "x")), adapters.KindNotFound, 0, "AppIntegrationNotFound"},
		{"400 garbage", resp(400, `nope`), adapters.KindRejected, 0, "HTTP 400"},
		{"409", resp(409, failEnvelope(409, "m", "AppIntegrationConflictSetting", "The app integration request was conflict setting.")),
			adapters.KindRejected, 0, "AppIntegrationConflictSetting"},
		{"401", resp(401, failEnvelope(401, "m", "Unauthorized", "The request is not authenticated.")), adapters.KindUnauthorized, 0, "not authenticated"},
		{"403", resp(403, failEnvelope(403, "m", "Forbidden", "Access denied.")), adapters.KindUnauthorized, 0, "Access denied."},
		{"404", resp(404, failEnvelope(404, "The AppSettingAuthentication is not found.", "AppIntegrationAuthenticationNotFound", "x")),
			adapters.KindNotFound, 0, "The AppSettingAuthentication is not found. [AppIntegrationAuthenticationNotFound: x (correlationId " + testCID + ")]"},
		{"404 empty", resp(404, ``), adapters.KindNotFound, 0, "not a jframework answer: check the connection's base URL"},
		{"405", resp(405, ``), adapters.KindRejected, 0, "HTTP 405"},
		{"429 reset", resp(429, failEnvelope(429, "The user has exceeded the rate limit", "RateLimitExceeded", "API call exceeded rate limit due to too many requests."),
			"X-RateLimit-Reset", secs(90*time.Second)), adapters.KindRateLimited, 90 * time.Second, "RateLimitExceeded"},
		{"429 reset past, Retry-After", resp(429, `{}`, "X-RateLimit-Reset", secs(-time.Minute), "Retry-After", "4"), adapters.KindRateLimited, 4 * time.Second, ""},
		{"429 reset far", resp(429, `{}`, "X-RateLimit-Reset", secs(72*time.Hour)), adapters.KindRateLimited, httpx.MaxWait, ""},
		// Milliseconds read as seconds are far in the future: capped, never
		// negative.
		{"429 reset in ms", resp(429, `{}`, "X-RateLimit-Reset", strconv.FormatInt(testNow.Add(time.Minute).UnixMilli(), 10)), adapters.KindRateLimited, httpx.MaxWait, ""},
		{"429 reset garbage", resp(429, `{}`, "X-RateLimit-Reset", "soon"), adapters.KindRateLimited, 0, ""},
		{"429 nothing", resp(429, ``), adapters.KindRateLimited, 0, ""},
		{"500", resp(500, failEnvelope(500, "m", "InternalServerError", "boom")), adapters.KindUnavailable, 0, "boom"},
		{"502 html", resp(502, `<html>bad gateway</html>`), adapters.KindUnavailable, 0, "HTTP 502"},
		{"408", resp(408, ``), adapters.KindTimeout, 0, ""},
		{"302", resp(302, ``, "Location", "https://elsewhere"), adapters.KindRejected, 0, "redirects are not followed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur, err := a.parseRead(tc.resp, testID)
			if tc.kind == 0 {
				if err != nil || *cur.Name != "name" || *cur.ClientSecret != testSecret || *cur.appIntegrationID() != "gOoGlEaPpInTeGrAt1" ||
					*cur.Status != "Active" || *cur.IsDefault || cur.AuthEndpoint == nil {
					t.Fatalf("parseRead = %+v, %v", cur, err)
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

func TestParseReadAppIntegrationID(t *testing.T) {
	a := testAdapter(t)
	for body, want := range map[string]string{
		`{"success":true,"data":{"appIntegration":{"id":"A"},"appIntegrationId":"B"}}`: "A",
		`{"success":true,"data":{"appIntegration":{"id":""},"appIntegrationId":"B"}}`:  "B",
		`{"success":true,"data":{"appIntegration":null,"appIntegrationId":"B"}}`:       "B",
		`{"success":true,"data":{"appIntegrationId":"B"}}`:                             "B",
		`{"success":true,"data":{"appIntegration":{"type":"Authenticate"}}}`:           "",
	} {
		cur, err := a.parseRead(resp(200, body), testID)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		got := ""
		if p := cur.appIntegrationID(); p != nil {
			got = *p
		}
		if got != want {
			t.Errorf("%s: appIntegrationId %q, want %q", body, got, want)
		}
	}
}

func TestParseWrite(t *testing.T) {
	a := testAdapter(t)
	if err := a.parseWrite(resp(200, goodRead), testSecret); err != nil {
		t.Fatalf("parseWrite: %v", err)
	}
	for _, tc := range []struct {
		resp *httpx.Response
		kind adapters.Kind
	}{
		{resp(200, `{"success":false}`), adapters.KindUnavailable},
		{resp(200, `null`), adapters.KindUnavailable},
		{resp(204, ``), adapters.KindUnavailable},
		{resp(209, failEnvelope(209, "m", "c", "t")), adapters.KindRateLimited},
		{resp(200, failEnvelope(209, "m", "c", "t")), adapters.KindRateLimited},
		{resp(404, failEnvelope(404, "m", "AppIntegrationNotFound", "t")), adapters.KindNotFound},
		{resp(400, failEnvelope(400, "m", "InvalidRequest", "t")), adapters.KindRejected},
		{resp(409, failEnvelope(409, "m", "BrandNotConfiguredApp", "t")), adapters.KindRejected},
	} {
		err := a.parseWrite(tc.resp, testSecret)
		if ae, ok := adapters.AsError(err); !ok || ae.Kind != tc.kind || ae.Retryable() != tc.kind.Retryable() {
			t.Errorf("parseWrite(%d %s) = %v, want %s", tc.resp.Status, tc.resp.Body, err, tc.kind)
		}
	}
}

func TestEnvelopeText(t *testing.T) {
	id := func(s string) string { return s }
	for _, tc := range []struct{ body, want string }{
		{`{"message":"m"}`, "m"},
		{`{"message":"m","errors":[]}`, "m"},
		{`{"message":"m","errors":[{"code":"C","details":"d","correlationId":"X"}]}`, "m [C: d (correlationId X)]"},
		{`{"errors":[{"code":"C","message":"msg","details":"d"}]}`, "[C: msg]"},
		{`{"errors":[{"message":"only text"},{"correlationId":"X"},{"code":"C"},1,"s",null]}`, "[only text; (correlationId X); C]"},
		{`{"errors":[{"code":"1"},{"code":"2"},{"code":"3"},{"code":"4"},{"code":"5"},{"code":"6"}]}`, "[1; 2; 3; 4; 2 more]"},
		{`{"errors":{"code":"C"}}`, ""},
		{`{"message":1,"errors":[{"code":2,"message":true}]}`, ""},
		{`[]`, ""},
	} {
		if got := decodeEnvelope([]byte(tc.body)).text(id); got != tc.want {
			t.Errorf("text(%s) = %q, want %q", tc.body, got, tc.want)
		}
	}
	// The first error's correlationId survives a long message and text.
	long := strings.Repeat("x", 2000)
	body := `{"message":"` + long + `","errors":[{"code":"` + long + `","message":"` + long + `","correlationId":"` + testCID + `"},{"code":"B","correlationId":"` + long + `"}]}`
	e := httpx.StatusError(resp(400, body), decodeEnvelope([]byte(body)).text(id))
	if !strings.Contains(e.Message, "(correlationId "+testCID+")") {
		t.Errorf("correlationId lost: %s", e.Message)
	}
}

func TestErrorsAreScrubbed(t *testing.T) {
	a := testAdapter(t)
	leak := "brand " + testBrand + " key " + testKey + " secret " + testSecret + " new " + testNewSecret + ` quoted "` + testKey + `"`
	bodies := func(status int) []string {
		env, _ := json.Marshal(map[string]any{"success": false, "statusCode": status, "message": leak,
			"errors": []any{map[string]any{"code": leak, "message": leak, "details": leak, "correlationId": leak}}})
		// A read answer whose data carries a secret the adapter has not
		// been told about, echoed in the message.
		echo, _ := json.Marshal(map[string]any{"success": false, "statusCode": status, "message": "the secret is data-secret-canary-777",
			"data": map[string]any{"clientSecret": "data-secret-canary-777"}})
		return []string{string(env), string(echo)}
	}
	for _, status := range []int{200, 209, 400, 401, 403, 404, 409, 429, 500, 503} {
		for _, b := range bodies(status) {
			// The read knows the command's secret; the write also the read's.
			_, rerr := a.parseRead(resp(status, b), testID, testNewSecret)
			werr := a.parseWrite(resp(status, b), testSecret, testNewSecret)
			for _, c := range []struct {
				err     error
				secrets []string
			}{
				{rerr, []string{testBrand, testKey, testNewSecret, "data-secret-canary-777"}},
				{werr, []string{testBrand, testKey, testSecret, testNewSecret, "data-secret-canary-777"}},
			} {
				if c.err == nil {
					t.Fatalf("%d: no error", status)
				}
				for _, s := range c.secrets {
					if strings.Contains(c.err.Error(), s) {
						t.Errorf("%d: error leaks %q: %v", status, s, c.err)
					}
				}
			}
		}
	}
}

// TestLongMessageScrubbedBeforeCut: a secret straddling a cut is still
// scrubbed.
func TestLongMessageScrubbedBeforeCut(t *testing.T) {
	a := testAdapter(t)
	for _, limit := range []int{maxMessageText, maxErrorText, maxErrorCode, httpx.MaxProviderMessage} {
		for pad := limit - len(testKey); pad <= limit; pad++ {
			text := strings.Repeat("a", pad) + testKey
			for _, body := range []string{
				`{"success":false,"message":"` + text + `"}`,
				`{"success":false,"errors":[{"code":"` + text + `","message":"` + text + `","correlationId":"` + text + `"}]}`,
			} {
				err := a.parseWrite(resp(400, body), testSecret)
				if strings.Contains(err.Error(), testKey[:len(testKey)/2]) {
					t.Fatalf("pad %d: error leaks part of the key: %v", pad, err)
				}
			}
		}
	}
}

// FuzzParseResponse: whatever jframework (or something in front of it)
// answers, decoding never panics, every error is an *adapters.Error of a
// known kind with a sane RetryAfter, and no secret reaches a message.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []struct {
		status int
		body   string
		reset  string
	}{
		{200, goodRead, ""},
		{200, `{"success":true,"data":null}`, ""},
		{200, failEnvelope(404, "m", "AppIntegrationAuthenticationNotFound", "t"), ""},
		{200, failEnvelope(429, "m", "RateLimitExceeded", "t"), "1795341600"},
		{200, failEnvelope(209, "m", "c", "t"), ""},
		{200, `<html>`, ""},
		{209, failEnvelope(209, "The user has exceeded the feature usage limit.", "c", "t"), ""},
		{400, failEnvelope(400, "m", "InvalidRequest", testSecret), ""},
		{401, failEnvelope(401, "m", "Unauthorized", testKey), ""},
		{404, ``, ""},
		{429, failEnvelope(429, "m", "RateLimitExceeded", "t"), "1377012333"},
		{429, `{}`, "-1"},
		{500, `{"success":false,"errors":[{"details":"` + testBrand + `"}]}`, ""},
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
				if status < 200 || status > 299 || status == StatusUsageLimit {
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
			if status == StatusUsageLimit && (ae.Kind != adapters.KindRateLimited || ae.RetryAfter <= 0) {
				t.Fatalf("209 classified %s, wait %v; want the provider's wait signal", ae.Kind, ae.RetryAfter)
			}
			if ae.Message == "" {
				t.Fatal("empty message")
			}
			for _, s := range []string{testKey, testBrand, testSecret} {
				if strings.Contains(err.Error(), s) {
					t.Fatalf("error leaks %q: %v", s, err)
				}
			}
		}
		cur, err := a.parseRead(r, testID, testSecret)
		check(err)
		if err == nil {
			if _, merr := merge(cur, messages.Changes{}, nativeFields{}); merr != nil && (merr.Kind != adapters.KindRejected || merr.Field == "") {
				t.Fatalf("merge error %v", merr)
			}
			inPlace(cur, messages.Changes{Active: new(bool)}, nativeFields{}, []string{messages.FieldActive})
		}
		check(a.parseWrite(r, testSecret))
	})
}

var correlationInMessage = regexp.MustCompile(`\(correlationId [^)]+\)`)

func TestCorrelationIDInEveryProviderError(t *testing.T) {
	a := testAdapter(t)
	for _, status := range []int{209, 400, 401, 403, 404, 409, 429, 500} {
		err := a.parseWrite(resp(status, failEnvelope(status, "m", "Code", "text")), testSecret)
		if !correlationInMessage.MatchString(err.Error()) {
			t.Errorf("%d: no correlationId in %v", status, err)
		}
	}
}
