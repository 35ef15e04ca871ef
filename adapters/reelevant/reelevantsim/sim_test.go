package reelevantsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
)

const (
	token    = "eyJhbGciOiJIUzI1NiJ9.sim-token"
	clientID = "65a7d77142a7e12453052d59"
	secret   = "QwIAYE1_8M02p-Js8SHZyTPg7HpJm-1ZtbjuSp8bXpP"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)

// clock is a clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	sim   *reelevantsim.Server
	srv   *httptest.Server
	clock *clock
}

var seeded = map[string]any{
	"mode": "refresh_token", "tokenUrl": "https://login.salesforce.com/services/oauth2/token",
	"clientId": "client", "clientSecret": secret, "scopes": []any{"api"},
	"configuration": map[string]any{"clientId": "cfg", "scopes": []any{"a"}},
}

func start(t *testing.T, opts reelevantsim.Options) *env {
	t.Helper()
	c := &clock{now: t0}
	opts.Token = token
	if opts.Now == nil {
		opts.Now = c.Now
	}
	sim := reelevantsim.New(opts)
	sim.Seed(clientID, seeded)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{sim: sim, srv: srv, clock: c}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(t *testing.T, method, path, body string, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal([]byte(a.raw), &a.body)
	return a
}

func (e *env) patch(t *testing.T, body string) answer {
	t.Helper()
	return e.do(t, http.MethodPatch, reelevantsim.PathPrefix+clientID, body, nil)
}

// want checks the status and that the body holds every key of fields with
// that value; the envelope's program, version, datetime and code are
// always checked.
func (a answer) want(t *testing.T, status int, fields map[string]any) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.raw)
	}
	base := map[string]any{"program": "datasources-api", "version": "0.0.0", "datetime": "2026-11-22T10:00:00.123Z", "code": float64(status)}
	for k, v := range base {
		if _, set := fields[k]; !set && !reflect.DeepEqual(a.body[k], v) {
			t.Errorf("%s = %#v, want %#v in %s", k, a.body[k], v, a.raw)
		}
	}
	for k, v := range fields {
		if !reflect.DeepEqual(a.body[k], v) {
			t.Errorf("%s = %#v, want %#v in %s", k, a.body[k], v, a.raw)
		}
	}
}

func TestUpdate(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	a := e.patch(t, `{"clientSecret":"new-secret","scopes":["openid"],"tokenExpiration":1e3,"configuration":{"tokenUrl":"https://ab"},`+
		`"customPayload":{"tokenUrl":{"body":{"audience":"x"}},"authorizeUrl":{}}}`)
	a.want(t, 200, map[string]any{
		"status": "success", "message": reelevantsim.MsgUpdated,
		"data": map[string]any{"companyId": reelevantsim.DefaultCompanyID, "resourceGroupIds": []any{}, "versions": []any{}, "archivedAt": nil},
	})
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range a.body {
			if !yield(k) {
				return
			}
		}
	})
	if !slices.Equal(keys, []string{"code", "data", "datetime", "message", "program", "status", "version"}) {
		t.Errorf("envelope keys %v", keys)
	}
	if strings.Contains(a.raw, "secret") {
		t.Errorf("the answer shows the write-only secret: %s", a.raw)
	}
	got, _ := e.sim.Client(clientID)
	want := map[string]any{
		"mode": "refresh_token", "tokenUrl": "https://login.salesforce.com/services/oauth2/token", "clientId": "client", // untouched
		"clientSecret": "new-secret", "scopes": []any{"openid"}, "tokenExpiration": float64(1000),
		"configuration": map[string]any{"tokenUrl": "https://ab"}, // replaced as a whole
		"customPayload": map[string]any{"tokenUrl": map[string]any{"body": map[string]any{"audience": "x"}}, "authorizeUrl": map[string]any{}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored %v\nwant %v", got, want)
	}

	// An empty PATCH is valid and changes nothing.
	e.patch(t, `{}`).want(t, 200, map[string]any{"status": "success"})
	if again, _ := e.sim.Client(clientID); !reflect.DeepEqual(again, want) {
		t.Errorf("empty PATCH changed the client: %v", again)
	}
	// The same PATCH twice leaves the same state.
	e.patch(t, `{"method":"POST"}`).want(t, 200, nil)
	e.patch(t, `{"method":"POST"}`).want(t, 200, nil)
	if c, _ := e.sim.Client(clientID); c["method"] != "POST" {
		t.Errorf("method = %v", c["method"])
	}
}

func TestAuthentication(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	unauthorized := map[string]any{"status": "fail", "message": reelevantsim.MsgUnauthorized, "data": map[string]any{}}
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Basic " + token, token, "Bearer " + token + "x", "Bearer  " + token} {
		a := e.do(t, http.MethodPatch, reelevantsim.PathPrefix+clientID, `{"clientId":"x"}`, map[string]string{"Authorization": auth})
		a.want(t, 401, unauthorized)
		if _, has := a.body["error_code"]; has {
			t.Errorf("401 with error_code: %s", a.raw)
		}
	}
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+clientID, `{}`, map[string]string{"Authorization": "bearer " + token}).want(t, 200, nil)

	// An empty Options.Token accepts nobody.
	open := reelevantsim.New(reelevantsim.Options{})
	open.Seed(clientID, nil)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPatch, reelevantsim.PathPrefix+clientID, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer ")
	req.Header.Set("Content-Type", "application/json")
	open.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("empty token: %d", rec.Code)
	}
	if c, _ := e.sim.Client(clientID); c["clientId"] != "client" {
		t.Errorf("unauthorized PATCH applied: %v", c)
	}
}

func TestChecksInOrder(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	bad := map[string]string{"Authorization": "Bearer wrong"}
	// Authentication first, then the id, then the body, then existence.
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+"nope", `{"x":1}`, bad).want(t, 401, nil)
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+"nope", `{"x":1}`, nil).want(t, 400, map[string]any{"data": map[string]any{"field": "id"}})
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+"65a7d77142a7e12453052d5a", `{"x":1}`, nil).want(t, 400, nil)
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+"65a7d77142a7e12453052d5a", `{}`, nil).
		want(t, 404, map[string]any{"status": "fail", "message": reelevantsim.MsgNotFound, "data": map[string]any{"id": "65a7d77142a7e12453052d5a"}})
}

func TestID(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	for _, id := range []string{"x", clientID[1:], clientID + "0", "65a7d77142a7e12453052d5g", "65a7d77142a7e12453052d5%20", "%2E%2E", clientID + "%2Fx"} {
		a := e.do(t, http.MethodPatch, reelevantsim.PathPrefix+id, `{}`, nil)
		a.want(t, 400, map[string]any{"status": "fail", "message": `id must match pattern "^[0-9a-fA-F]{24}$"`, "data": map[string]any{"field": "id"}})
		if _, has := a.body["error_code"]; has {
			t.Errorf("%s: a validation failure has no error_code: %s", id, a.raw)
		}
	}
	// Upper-case hex is an id too.
	e.sim.Seed(strings.ToUpper(clientID), nil)
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+strings.ToUpper(clientID), `{}`, nil).want(t, 200, nil)
}

func TestBodyValidation(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	const urlRule = ` must match pattern "^(https?):\/\/[^\s$.?#].([^\s]|\x20)*$"`
	for _, tc := range []struct {
		name, body, message string
		data                map[string]any
	}{
		{"array", `[]`, "body must be object, got array", map[string]any{"field": "body"}},
		{"null", `null`, "body must be object, got null", map[string]any{"field": "body"}},
		{"string", `"x"`, "body must be object, got string", map[string]any{"field": "body"}},
		{"invalid JSON", `{"clientId":`, "the body is not valid JSON", map[string]any{}},
		{"trailing data", `{}{}`, "the body is not valid JSON", map[string]any{}},
		{"empty", ``, "the body is not valid JSON", map[string]any{}},
		{"unknown keys", `{"name":"x","clientId":"c","active":true}`, "body must NOT have additional properties: active, name",
			map[string]any{"fields": []any{"active", "name"}}},
		{"nested unknown", `{"configuration":{"redirectUri":"x"}}`, "configuration must NOT have additional properties: configuration.redirectUri",
			map[string]any{"fields": []any{"configuration.redirectUri"}}},
		{"nested configuration", `{"configuration":{"configuration":{}}}`, "configuration must NOT have additional properties: configuration.configuration",
			map[string]any{"fields": []any{"configuration.configuration"}}},
		{"mode", `{"mode":"implicit"}`, "mode must be equal to one of the allowed values: password, client_credentials, refresh_token, access_token, custom_payload, jwt_bearer",
			map[string]any{"field": "mode"}},
		{"method", `{"method":"PUT"}`, "method must be equal to one of the allowed values: GET, POST", map[string]any{"field": "method"}},
		{"method type", `{"method":1}`, "method must be string, got number", map[string]any{"field": "method"}},
		{"null value", `{"clientId":null}`, "clientId must be string, got null", map[string]any{"field": "clientId"}},
		{"tokenUrl", `{"tokenUrl":"ftp://x.example"}`, "tokenUrl" + urlRule, map[string]any{"field": "tokenUrl"}},
		{"authorizeUrl NBSP", `{"authorizeUrl":"https://ab\u00a0"}`, "authorizeUrl" + urlRule, map[string]any{"field": "authorizeUrl"}},
		{"nested tokenUrl", `{"configuration":{"tokenUrl":"https://a"}}`, "configuration.tokenUrl" + urlRule, map[string]any{"field": "configuration.tokenUrl"}},
		{"scopes", `{"scopes":"a b"}`, "scopes must be array, got string", map[string]any{"field": "scopes"}},
		{"scopes item", `{"scopes":["a",1]}`, "scopes[1] must be string, got number", map[string]any{"field": "scopes[1]"}},
		{"tokenExpiration", `{"tokenExpiration":"60"}`, "tokenExpiration must be number, got string", map[string]any{"field": "tokenExpiration"}},
		{"tokenExpiration infinite", `{"tokenExpiration":1e400}`, "tokenExpiration must be a finite number", map[string]any{"field": "tokenExpiration"}},
		{"customPayload string", `{"customPayload":"{ payload: { query: { access_type: 'offline' } } }"}`, "customPayload must be object, got string",
			map[string]any{"field": "customPayload"}},
		{"customPayload required", `{"customPayload":{"tokenUrl":{}}}`, "customPayload must have required property 'authorizeUrl'",
			map[string]any{"field": "customPayload.authorizeUrl"}},
		{"customPayload extra", `{"customPayload":{"tokenUrl":{"cookies":{}},"authorizeUrl":{}}}`,
			"customPayload.tokenUrl must NOT have additional properties: customPayload.tokenUrl.cookies", map[string]any{"fields": []any{"customPayload.tokenUrl.cookies"}}},
		{"customPayload map value", `{"configuration":{"customPayload":{"tokenUrl":{"query":{"n":1}},"authorizeUrl":{}}}}`,
			"configuration.customPayload.tokenUrl.query.n must be string, got number", map[string]any{"field": "configuration.customPayload.tokenUrl.query.n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.patch(t, tc.body).want(t, 400, map[string]any{"status": "fail", "message": tc.message, "data": tc.data})
		})
	}
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+clientID, `{}`, map[string]string{"Content-Type": "text/plain"}).
		want(t, 400, map[string]any{"message": "the body must be application/json"})
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+clientID, `{}`, map[string]string{"Content-Type": "application/json; charset=utf-8"}).want(t, 200, nil)
	e.patch(t, `{"method":"GET","mode":"jwt_bearer","tokenUrl":"https://a\tb","authorizeUrl":"http://ab c","clientId":"","clientSecret":"",`+
		`"scopes":[],"customPayload":{"tokenUrl":{"query":{},"body":{},"headers":{"h":""}},"authorizeUrl":{}},"accessTokenPath":"",`+
		`"accessTokenHeader":"","accessTokenHeaderPrefix":"","tokenExpiration":-1.5,"configuration":{}}`).want(t, 200, nil)

	if c, _ := e.sim.Client(clientID); c["clientId"] != "" || c["tokenExpiration"] != -1.5 {
		t.Errorf("stored %v", c)
	}
}

func TestOtherRoutes(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	notFound := map[string]any{"status": "fail", "message": reelevantsim.MsgRouteNotFound, "data": map[string]any{}}
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, reelevantsim.PathPrefix + clientID},
		{http.MethodPost, reelevantsim.PathPrefix + clientID},
		{http.MethodPut, reelevantsim.PathPrefix + clientID},
		{http.MethodDelete, reelevantsim.PathPrefix + clientID},
		{http.MethodPatch, reelevantsim.PathPrefix},
		{http.MethodPatch, reelevantsim.PathPrefix + clientID + "/status"},
		{http.MethodPatch, "/v1/datasources/oauth/" + clientID},
		{http.MethodGet, "/"},
	} {
		e.do(t, r.method, r.path, `{}`, nil).want(t, 404, notFound)
	}
}

func TestRateLimit(t *testing.T) {
	e := start(t, reelevantsim.Options{RateLimit: 2, RateLimitWindow: 10 * time.Second})
	e.patch(t, `{}`).want(t, 200, nil)
	e.patch(t, `{}`).want(t, 200, nil)
	e.clock.Add(3 * time.Second)
	a := e.patch(t, `{"clientId":"x"}`)
	e.clock.Add(-3 * time.Second) // the envelope's datetime in want
	a.want(t, 429, map[string]any{"status": "fail", "message": reelevantsim.MsgTooManyRequest, "datetime": "2026-11-22T10:00:03.123Z"})
	if a.header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After = %q", a.header.Get("Retry-After"))
	}
	if c, _ := e.sim.Client(clientID); c["clientId"] != "client" {
		t.Error("a limited call was applied")
	}
	// Per token: another token is counted apart (and refused as unknown).
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+clientID, `{}`, map[string]string{"Authorization": "Bearer other"}).want(t, 401, nil)
	e.clock.Add(10 * time.Second)
	a = e.patch(t, `{}`)
	if a.status != 200 {
		t.Errorf("new window: %d", a.status)
	}
}

func TestNoRateLimitByDefault(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	for range 50 {
		e.patch(t, `{}`).want(t, 200, nil)
	}
}

func TestFaults(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	e.sim.Fail(reelevantsim.Fault{Status: 500})
	e.sim.Fail(reelevantsim.Fault{Status: 503, RetryAfter: 1500 * time.Millisecond})
	e.sim.Fail(reelevantsim.Fault{Status: 400, Message: "custom", ErrorCode: 4001, Data: map[string]any{"err": "x"}})
	e.sim.Fail(reelevantsim.Fault{Status: 200, Envelope: "fail"})
	e.sim.Fail(reelevantsim.Fault{RetryAfter: 30 * time.Second})
	if e.sim.PendingFaults() != 5 {
		t.Fatalf("pending = %d", e.sim.PendingFaults())
	}
	e.patch(t, `{}`).want(t, 500, map[string]any{"status": "error", "message": "Internal Server Error", "data": map[string]any{}})
	a := e.patch(t, `{}`)
	a.want(t, 503, map[string]any{"status": "error", "message": "Service Unavailable"})
	if a.header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After = %q", a.header.Get("Retry-After"))
	}
	e.patch(t, `{}`).want(t, 400, map[string]any{"status": "fail", "message": "custom", "error_code": float64(4001), "data": map[string]any{"err": "x"}})
	e.patch(t, `{}`).want(t, 200, map[string]any{"status": "fail", "message": "OK"})
	a = e.patch(t, `{"clientId":"x"}`)
	a.want(t, 429, map[string]any{"status": "fail", "message": "Too Many Requests"})
	if a.header.Get("Retry-After") != "30" {
		t.Errorf("Retry-After = %q", a.header.Get("Retry-After"))
	}
	e.patch(t, `{}`).want(t, 200, map[string]any{"status": "success"}) // queue drained
	if c, _ := e.sim.Client(clientID); c["clientId"] != "client" {
		t.Error("a faulted call was applied")
	}

	e.sim.Fail(reelevantsim.Fault{Garbage: true})
	a = e.patch(t, `{}`)
	if a.status != 200 || json.Valid([]byte(a.raw)) {
		t.Errorf("garbage: %d %q", a.status, a.raw)
	}

	e.sim.Fail(reelevantsim.Fault{Reset: true})
	req, _ := http.NewRequest(http.MethodPatch, e.srv.URL+reelevantsim.PathPrefix+clientID, strings.NewReader(`{}`))
	if resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("reset: got a response %d", resp.StatusCode)
	}
}

func TestDelayHonoursContext(t *testing.T) {
	sim := reelevantsim.New(reelevantsim.Options{Token: token})
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		close(done)
	}))
	defer srv.Close()
	sim.Fail(reelevantsim.Fault{Delay: time.Hour})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, srv.URL+reelevantsim.PathPrefix+clientID, strings.NewReader(`{}`))
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	select {
	case <-done: // the handler gave up with the client
	case <-time.After(10 * time.Second):
		t.Fatal("handler still waiting after the client went away")
	}
}

func TestLatencyAndDelayThenNormalAnswer(t *testing.T) {
	e := start(t, reelevantsim.Options{Latency: 20 * time.Millisecond, Now: time.Now})
	e.sim.Fail(reelevantsim.Fault{Delay: 20 * time.Millisecond})
	begin := time.Now()
	if a := e.patch(t, `{}`); a.status != 200 {
		t.Fatalf("status %d", a.status)
	}
	if d := time.Since(begin); d < 40*time.Millisecond {
		t.Errorf("answered after %v, want at least 40ms", d)
	}
}

func TestRequestsAndReset(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	body := `{"clientId":"x"}`
	e.patch(t, body)
	e.do(t, http.MethodPatch, reelevantsim.PathPrefix+"a%2Fb?q=1", body, nil)
	rs := e.sim.Requests()
	if len(rs) != 2 {
		t.Fatalf("%d requests", len(rs))
	}
	if r := rs[0]; r.Method != http.MethodPatch || r.Path != reelevantsim.PathPrefix+clientID || string(r.Body) != body ||
		r.Header.Get("Authorization") != "Bearer "+token || !r.Time.Equal(t0) {
		t.Errorf("first request %+v", r)
	}
	if r := rs[1]; r.Path != reelevantsim.PathPrefix+"a/b" || r.RawPath != reelevantsim.PathPrefix+"a%2Fb" || r.RawQuery != "q=1" {
		t.Errorf("second request %+v", r)
	}
	rs[0].Body[0] = 'X' // a copy
	rs[0].Header.Set("Authorization", "changed")
	if r := e.sim.Requests()[0]; r.Body[0] != '{' || r.Header.Get("Authorization") != "Bearer "+token {
		t.Error("Requests returned shared memory")
	}

	e.sim.Fail(reelevantsim.Fault{Status: 500})
	e.sim.Reset()
	if len(e.sim.Requests()) != 0 || e.sim.PendingFaults() != 0 {
		t.Error("Reset kept requests or faults")
	}
	if _, ok := e.sim.Client(clientID); ok {
		t.Error("Reset kept clients")
	}
	e.patch(t, `{}`).want(t, 404, nil)
}

func TestNoRecord(t *testing.T) {
	e := start(t, reelevantsim.Options{NoRecord: true})
	e.patch(t, `{}`).want(t, 200, nil)
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("%d requests recorded", n)
	}
}

func TestSeedAndClient(t *testing.T) {
	sim := reelevantsim.New(reelevantsim.Options{})
	id := sim.Seed("", map[string]any{"scopes": []string{"a"}, "tokenExpiration": 60, "configuration": map[string]any{"clientId": "c"}})
	if !reelevantsim.IDPattern.MatchString(id) {
		t.Errorf("seeded id %q", id)
	}
	c, ok := sim.Client(id)
	want := map[string]any{"scopes": []any{"a"}, "tokenExpiration": float64(60), "configuration": map[string]any{"clientId": "c"}}
	if !ok || !reflect.DeepEqual(c, want) {
		t.Fatalf("Client = %v, %v", c, ok)
	}
	c["configuration"].(map[string]any)["clientId"] = "changed"
	c["scopes"].([]any)[0] = "changed"
	if again, _ := sim.Client(id); !reflect.DeepEqual(again, want) {
		t.Errorf("Client returned shared memory: %v", again)
	}
	if other := sim.Seed("", nil); other == id {
		t.Error("two random ids are equal")
	}
	if _, ok := sim.Client("65a7d77142a7e12453052d5a"); ok {
		t.Error("Client found an id never seeded")
	}
	defer func() {
		if recover() == nil {
			t.Error("Seed with a value JSON cannot encode did not panic")
		}
	}()
	sim.Seed("", map[string]any{"x": func() {}})
}

func TestBodyProperties(t *testing.T) {
	want := []string{"accessTokenHeader", "accessTokenHeaderPrefix", "accessTokenPath", "authorizeUrl", "clientId", "clientSecret",
		"configuration", "customPayload", "method", "mode", "scopes", "tokenExpiration", "tokenUrl"}
	if got := reelevantsim.BodyProperties(); !slices.Equal(got, want) {
		t.Errorf("BodyProperties() = %v", got)
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	sim := reelevantsim.New(reelevantsim.Options{Token: token})
	sim.Seed(clientID, nil)
	mux := http.NewServeMux()
	mux.Handle("/sim/reelevant/", http.StripPrefix("/sim/reelevant", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/sim/reelevant"+reelevantsim.PathPrefix+clientID, strings.NewReader(`{"mode":"password"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c, _ := sim.Client(clientID); resp.StatusCode != 200 || c["mode"] != "password" {
		t.Errorf("status %d, stored %v", resp.StatusCode, c)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := start(t, reelevantsim.Options{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPatch, e.srv.URL+reelevantsim.PathPrefix+clientID,
				strings.NewReader(`{"accessTokenPath":"p`+string(rune('a'+i))+`"}`))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			e.sim.Requests()
			e.sim.Client(clientID)
		})
	}
	wg.Wait()
	if n := len(e.sim.Requests()); n != 16 {
		t.Errorf("%d requests recorded", n)
	}
}
