package jframeworksim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters/jframework/jframeworksim"
)

const (
	brandURL = "YOUR_BRAND_URL"
	authKey  = "YOUR_AUTH_KEY"
	id       = "sApKpllz4sAplsmzha"
	appID    = "gOoGlEaPpInTeGrAt1"
	secret   = "GOCSPX-EXAMPLESECRET"
	path     = jframeworksim.PathPrefix + id
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// fixedClock is a clock tests move by hand.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fixedClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type env struct {
	sim   *jframeworksim.Server
	srv   *httptest.Server
	clock *fixedClock
}

func ptr[T any](v T) *T { return &v }

// seeded is the update page's example, stored.
func seeded() jframeworksim.Integration {
	return jframeworksim.Integration{
		ID: id,
		AppIntegration: jframeworksim.AppIntegration{ID: appID, Type: "Authenticate", Name: "Google",
			Domain: "https://google.com", Status: "Active"},
		Code: "GOOGLE_OAUTH2", Name: "Google OAuth2 Integration", ProjectID: "my-google-project-123",
		ClientID: "1234567890-abc.apps.googleusercontent.com", ClientSecret: secret,
		RedirectURI: "https://subdomain.com/auth/callback", Scope: "openid email profile",
		AuthEndpoint: ptr("https://accounts.google.com/o/oauth2/auth"), TokenEndpoint: ptr("https://oauth2.googleapis.com/token"),
		IconURL: ptr("https://subdomain.com/assets/google-icon.png"), Tags: ptr("#google #oauth2"),
		Description: ptr("Integration for Google OAuth2 authentication."), Status: "Active", IsDefault: true, CreatedDate: t0,
	}
}

func start(t *testing.T, opts jframeworksim.Options) *env {
	t.Helper()
	clock := &fixedClock{now: t0.Add(time.Hour)}
	opts.BrandURL, opts.AuthKey = brandURL, authKey
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	sim := jframeworksim.New(opts)
	sim.Seed(seeded())
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &env{sim: sim, srv: srv, clock: clock}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (e *env) do(t *testing.T, method, path string, body string, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Brand-URL", brandURL)
	req.Header.Set("Auth-Key", authKey)
	req.Header.Set("Accept", "application/json")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
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
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (a answer) want(t *testing.T, status int, body map[string]any) {
	t.Helper()
	if a.status != status {
		t.Errorf("status = %d, want %d (body %s)", a.status, status, a.raw)
	}
	if body != nil && !reflect.DeepEqual(a.body, body) {
		t.Errorf("body = %s\nwant %v", a.raw, body)
	}
}

var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// wantFailure checks jframework's failure envelope: success false, the
// statusCode, the message, data null, and errors with these codes and
// texts, each with a correlationId (one per answer).
func (a answer) wantFailure(t *testing.T, status int, message string, errs ...string) {
	t.Helper()
	a.want(t, status, nil)
	if a.body["success"] != false || a.body["statusCode"] != float64(status) || a.body["message"] != message ||
		a.body["data"] != nil || len(a.body) != 5 {
		t.Errorf("envelope %s, want success false, statusCode %d, message %q, data null", a.raw, status, message)
	}
	list, _ := a.body["errors"].([]any)
	if len(list) != len(errs)/2 {
		t.Fatalf("errors %v, want %d", a.body["errors"], len(errs)/2)
	}
	var cid any
	for i, item := range list {
		e, _ := item.(map[string]any)
		if e["code"] != errs[2*i] || e["message"] != errs[2*i+1] || len(e) != 3 {
			t.Errorf("errors[%d] = %v, want code %q, message %q", i, e, errs[2*i], errs[2*i+1])
		}
		if s, _ := e["correlationId"].(string); !guid.MatchString(s) || (cid != nil && cid != s) {
			t.Errorf("errors[%d].correlationId = %v", i, e["correlationId"])
		}
		cid = e["correlationId"]
	}
}

func body(fields map[string]any) string {
	b, _ := json.Marshal(fields)
	return string(b)
}

// validUpdate is the update page's example body.
func validUpdate() map[string]any {
	return map[string]any{
		"appIntegrationId": appID, "code": "GOOGLE_OAUTH2", "name": "Renamed", "projectId": "my-google-project-123",
		"clientId": "1234567890-abc.apps.googleusercontent.com", "clientSecret": "NEW-SECRET",
		"redirectURI": "https://subdomain.com/auth/callback", "scope": "openid email profile",
		"authEndpoint": "https://accounts.google.com/o/oauth2/auth", "tokenEndpoint": "https://oauth2.googleapis.com/token",
		"iconURL": "https://subdomain.com/assets/google-icon.png", "tags": "#google #oauth2",
		"description": "Integration for Google OAuth2 authentication.", "status": "Inactive", "isDefault": false,
	}
}

func TestAuth(t *testing.T) {
	e := start(t, jframeworksim.Options{})
	for name, hdr := range map[string]map[string]string{
		"no key":      {"Auth-Key": ""},
		"no brand":    {"Brand-URL": ""},
		"wrong key":   {"Auth-Key": "nope"},
		"wrong brand": {"Brand-URL": "other"},
		"key case":    {"Auth-Key": strings.ToLower(authKey)},
	} {
		t.Run(name, func(t *testing.T) {
			e.do(t, "GET", path, "", hdr).wantFailure(t, 401, jframeworksim.MsgFailed, jframeworksim.CodeUnauthorized, jframeworksim.ErrUnauthorized)
			e.do(t, "PUT", path, body(validUpdate()), hdr).wantFailure(t, 401, jframeworksim.MsgFailed, jframeworksim.CodeUnauthorized, jframeworksim.ErrUnauthorized)
		})
	}
	if in, _ := e.sim.Integration(id); in.Name != "Google OAuth2 Integration" {
		t.Errorf("an unauthorized update changed the object: %+v", in)
	}
	// Empty credentials in Options never match.
	sim := jframeworksim.New(jframeworksim.Options{})
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 401 {
		t.Errorf("empty credentials: %d", rec.Code)
	}
}

func TestGet(t *testing.T) {
	e := start(t, jframeworksim.Options{})
	a := e.do(t, "GET", path, "", nil)
	// The read page's example, field for field and in its order.
	want := `{"success":true,"statusCode":200,"message":"The request was successful.","data":{` +
		`"appIntegration":{"type":"Authenticate","name":"Google","domain":"https://google.com","description":null,"logoURL":null,"status":"Active","id":"` + appID + `"},` +
		`"isDefault":true,"status":"Active","description":"Integration for Google OAuth2 authentication.","tags":"#google #oauth2",` +
		`"iconURL":"https://subdomain.com/assets/google-icon.png","tokenEndpoint":"https://oauth2.googleapis.com/token","id":"` + id + `",` +
		`"authEndpoint":"https://accounts.google.com/o/oauth2/auth","redirectURI":"https://subdomain.com/auth/callback","clientSecret":"` + secret + `",` +
		`"clientId":"1234567890-abc.apps.googleusercontent.com","projectId":"my-google-project-123","name":"Google OAuth2 Integration",` +
		`"code":"GOOGLE_OAUTH2","scope":"openid email profile"},"errors":[]}`
	if a.status != 200 || a.raw != want {
		t.Errorf("GET = %d %s\nwant %s", a.status, a.raw, want)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	e.do(t, "GET", jframeworksim.PathPrefix+"Kd12AnplKdMd5s", "", nil).wantFailure(t, 404,
		jframeworksim.MsgAuthenticationNotFound, jframeworksim.CodeAuthenticationNotFound, jframeworksim.ErrAuthenticationNotFound)
}

func TestPutValidation(t *testing.T) {
	e := start(t, jframeworksim.Options{})
	with := func(k string, v any) string {
		f := validUpdate()
		f[k] = v
		return body(f)
	}
	without := func(k string) string {
		f := validUpdate()
		delete(f, k)
		return body(f)
	}
	invalid := jframeworksim.CodeInvalidRequest
	var cases []struct {
		name, body string
		errs       []string
	}
	add := func(name, body string, errs ...string) {
		cases = append(cases, struct {
			name, body string
			errs       []string
		}{name, body, errs})
	}
	for _, k := range []string{"appIntegrationId", "code", "name", "projectId", "clientId", "clientSecret", "redirectURI", "scope"} {
		add("missing "+k, without(k), invalid, "The "+k+" field is required.")
		add("null "+k, with(k, nil), invalid, "The "+k+" field is required.")
		add("empty "+k, with(k, ""), invalid, "The field "+k+" must be a string with a minimum length of 1.")
		add("number "+k, with(k, 1), invalid, "The "+k+" field must be a string.")
	}
	for _, k := range []string{"authEndpoint", "tokenEndpoint", "iconURL"} {
		add(k+" not a URI", with(k, "iconUrl"), invalid, "The "+k+" field is not a valid fully-qualified URI.")
		add(k+" relative", with(k, "/a/b"), invalid, "The "+k+" field is not a valid fully-qualified URI.")
		add(k+" empty", with(k, ""), invalid, "The "+k+" field is not a valid fully-qualified URI.")
		add(k+" number", with(k, 1), invalid, "The "+k+" field must be a string or null.")
	}
	for _, k := range []string{"tags", "description"} {
		add(k+" boolean", with(k, true), invalid, "The "+k+" field must be a string or null.")
	}
	add("status lower case", with("status", "active"), invalid, "The status field must be one of: Inactive, Active.")
	add("status null", with("status", nil), invalid, "The status field must be one of: Inactive, Active.")
	add("status number", with("status", 1), invalid, "The status field must be one of: Inactive, Active.")
	add("isDefault string", with("isDefault", "true"), invalid, "The isDefault field must be a boolean.")
	add("isDefault null", with("isDefault", nil), invalid, "The isDefault field must be a boolean.")
	add("unknown key", with("appIntegration", map[string]any{"id": appID}), invalid, `The field "appIntegration" is not a property of the request.`)
	add("id is not a body field", with("id", id), invalid, `The field "id" is not a property of the request.`)
	add("several problems", body(map[string]any{"x": 1, "name": ""}),
		invalid, `The field "x" is not a property of the request.`,
		invalid, "The appIntegrationId field is required.", invalid, "The code field is required.",
		invalid, "The field name must be a string with a minimum length of 1.",
		invalid, "The projectId field is required.", invalid, "The clientId field is required.",
		invalid, "The clientSecret field is required.", invalid, "The redirectURI field is required.",
		invalid, "The scope field is required.")
	add("array body", `[1]`, invalid, "The request body must be a JSON object.")
	add("null body", `null`, invalid, "The request body must be a JSON object.")
	add("malformed", `{"name":`, invalid, "The request body is not valid JSON.")
	add("trailing", body(validUpdate())+`{}`, invalid, "The request body is not valid JSON.")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, "PUT", path, tc.body, nil).wantFailure(t, 400, jframeworksim.MsgFailed, tc.errs...)
		})
	}
	e.do(t, "PUT", path, body(validUpdate()), map[string]string{"Content-Type": "text/plain"}).
		wantFailure(t, 415, jframeworksim.MsgFailed, jframeworksim.CodeUnsupportedMediaType, "The request body must be application/json.")
	e.do(t, "PUT", path, "", nil).wantFailure(t, 415, jframeworksim.MsgFailed, jframeworksim.CodeUnsupportedMediaType, "The request body must be application/json.")

	if in, _ := e.sim.Integration(id); !reflect.DeepEqual(in, seeded()) {
		t.Errorf("refused updates changed the object: %+v", in)
	}
}

func TestPutReplacesTheWholeObject(t *testing.T) {
	e := start(t, jframeworksim.Options{})
	u := validUpdate()
	a := e.do(t, "PUT", path, body(u), map[string]string{"Content-Type": "application/json; charset=utf-8"})
	a.want(t, 200, nil)
	data, _ := a.body["data"].(map[string]any)
	if a.body["success"] != true || data["name"] != "Renamed" || data["clientSecret"] != "NEW-SECRET" || data["status"] != "Inactive" {
		t.Errorf("PUT answer %s", a.raw)
	}
	want := seeded()
	want.Name, want.ClientSecret, want.Status, want.IsDefault = "Renamed", "NEW-SECRET", "Inactive", false
	if in, _ := e.sim.Integration(id); !reflect.DeepEqual(in, want) {
		t.Errorf("stored\n %+v\nwant %+v", in, want)
	}

	// Only the required fields: every optional one is cleared.
	minimal := map[string]any{}
	for _, k := range []string{"appIntegrationId", "code", "name", "projectId", "clientId", "clientSecret", "redirectURI", "scope"} {
		minimal[k] = u[k]
	}
	e.do(t, "PUT", path, body(minimal), nil).want(t, 200, nil)
	in, _ := e.sim.Integration(id)
	if in.AuthEndpoint != nil || in.TokenEndpoint != nil || in.IconURL != nil || in.Tags != nil || in.Description != nil ||
		in.Status != "Inactive" || in.IsDefault || in.Name != "Renamed" || !in.CreatedDate.Equal(t0) {
		t.Errorf("after a minimal PUT: %+v", in)
	}
	// Explicit nulls clear too; status Active stays Active.
	u["iconURL"], u["tags"], u["status"], u["isDefault"] = nil, nil, "Active", true
	e.do(t, "PUT", path, body(u), nil).want(t, 200, nil)
	if in, _ := e.sim.Integration(id); in.IconURL != nil || in.Tags != nil || in.Status != "Active" || !in.IsDefault || in.Description == nil {
		t.Errorf("after nulls: %+v", in)
	}
	// The GET shows the nulls as null.
	a = e.do(t, "GET", path, "", nil)
	if data := a.body["data"].(map[string]any); data["iconURL"] != nil || data["tags"] != nil {
		t.Errorf("GET %s", a.raw)
	}
	if _, has := a.body["data"].(map[string]any)["iconURL"]; !has {
		t.Error("null iconURL left out of the read")
	}
}

func TestPutAppIntegration(t *testing.T) {
	e := start(t, jframeworksim.Options{})
	u := validUpdate()
	u["appIntegrationId"] = "NoSuchAppIntegration"
	e.do(t, "PUT", path, body(u), nil).wantFailure(t, 404, jframeworksim.MsgFailed,
		jframeworksim.CodeAppIntegrationNotFound, jframeworksim.ErrAppIntegrationNotFound)

	stripe := e.sim.SeedAppIntegration(jframeworksim.AppIntegration{Type: "PaymentGateway", Name: "Stripe", Domain: "https://stripe.com"})
	u["appIntegrationId"] = stripe.ID
	e.do(t, "PUT", path, body(u), nil).want(t, 200, nil)
	if in, _ := e.sim.Integration(id); !reflect.DeepEqual(in.AppIntegration, stripe) {
		t.Errorf("app integration %+v, want %+v", in.AppIntegration, stripe)
	}
	// An unknown authentication is 404 whatever the body.
	e.do(t, "PUT", jframeworksim.PathPrefix+"Kd12AnplKdMd5s", body(validUpdate()), nil).wantFailure(t, 404,
		jframeworksim.MsgAuthenticationNotFound, jframeworksim.CodeAuthenticationNotFound, jframeworksim.ErrAuthenticationNotFound)
}

func TestOtherRoutes(t *testing.T) {
	e := start(t, jframeworksim.Options{})
	for _, p := range []string{"/api/v1/app-integrations/authentication", jframeworksim.PathPrefix, path + "/x", "/"} {
		if a := e.do(t, "GET", p, "", nil); a.status != 404 || a.raw != "" {
			t.Errorf("GET %s = %d %q", p, a.status, a.raw)
		}
	}
	// The login is served, for POST only.
	if a := e.do(t, "GET", jframeworksim.LoginPath, "", nil); a.status != 405 || a.header.Get("Allow") != "POST" {
		t.Errorf("GET %s = %d %v", jframeworksim.LoginPath, a.status, a.header)
	}
	for _, m := range []string{"POST", "PATCH", "DELETE"} {
		if a := e.do(t, m, path, body(validUpdate()), nil); a.status != 405 || a.header.Get("Allow") != "GET, PUT" {
			t.Errorf("%s = %d %v", m, a.status, a.header)
		}
	}
}

func TestRateLimit(t *testing.T) {
	e := start(t, jframeworksim.Options{RateLimit: 2, RateLimitWindow: 10 * time.Second})
	e.clock.Add(250 * time.Millisecond) // resets round up to whole seconds
	reset := strconv.FormatInt(e.clock.Now().Add(10*time.Second).Unix()+1, 10)
	for i, remaining := range []string{"1", "0"} {
		a := e.do(t, "GET", path, "", nil)
		a.want(t, 200, nil)
		if a.header.Get("X-RateLimit-Limit") != "2" || a.header.Get("X-RateLimit-Remaining") != remaining ||
			a.header.Get("X-RateLimit-Reset") != reset {
			t.Errorf("call %d: headers %v, want reset %s", i, a.header, reset)
		}
	}
	e.clock.Add(3 * time.Second)
	a := e.do(t, "PUT", path, body(validUpdate()), nil)
	a.wantFailure(t, 429, jframeworksim.MsgRateLimited, jframeworksim.CodeRateLimitExceeded, jframeworksim.ErrRateLimited)
	if a.header.Get("Retry-After") != "" || a.header.Get("X-RateLimit-Reset") != reset || a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("429 headers %v", a.header)
	}
	if in, _ := e.sim.Integration(id); in.Name != "Google OAuth2 Integration" {
		t.Error("a rate-limited update was applied")
	}
	// Per Auth-Key: unauthenticated calls are counted on their own.
	if a := e.do(t, "GET", path, "", map[string]string{"Auth-Key": "other"}); a.status != 401 || a.header.Get("X-RateLimit-Reset") == "" {
		t.Errorf("other key: %d %v", a.status, a.header)
	}
	// A new window.
	e.clock.Add(7 * time.Second)
	e.do(t, "GET", path, "", nil).want(t, 200, nil)
	// Every answer carries the headers, unknown routes included.
	if a := e.do(t, "GET", "/nowhere", "", nil); a.header.Get("X-RateLimit-Reset") == "" {
		t.Errorf("404: no rate-limit headers")
	}
}

func TestFaults(t *testing.T) {
	e := start(t, jframeworksim.Options{})

	e.sim.Fail(jframeworksim.Fault{Status: 500})
	e.sim.Fail(jframeworksim.Fault{Status: 503})
	e.sim.Fail(jframeworksim.Fault{Status: 400, Code: "Custom", Error: "custom"})
	e.do(t, "GET", path, "", nil).wantFailure(t, 500, jframeworksim.MsgFailed, jframeworksim.CodeInternal, jframeworksim.ErrInternal)
	e.do(t, "GET", path, "", nil).wantFailure(t, 503, jframeworksim.MsgFailed, "ServiceUnavailable", "Service Unavailable.")
	e.do(t, "GET", path, "", nil).wantFailure(t, 400, jframeworksim.MsgFailed, "Custom", "custom")
	e.do(t, "GET", path, "", nil).want(t, 200, nil) // queue drained

	// The usage limit, as a status and inside a 200.
	e.sim.Fail(jframeworksim.Fault{Status: jframeworksim.StatusUsageLimit})
	e.do(t, "GET", path, "", nil).wantFailure(t, 209, jframeworksim.MsgUsageLimit, jframeworksim.CodeUsageLimitExceeded, jframeworksim.ErrUsageLimit)
	e.sim.Fail(jframeworksim.Fault{Status: jframeworksim.StatusUsageLimit, Unsuccessful: true})
	a := e.do(t, "GET", path, "", nil)
	a.want(t, 200, nil)
	if a.body["success"] != false || a.body["statusCode"] != float64(209) {
		t.Errorf("unsuccessful 209: %s", a.raw)
	}
	e.sim.Fail(jframeworksim.Fault{Unsuccessful: true})
	if a := e.do(t, "GET", path, "", nil); a.status != 200 || a.body["success"] != false || a.body["statusCode"] != float64(200) {
		t.Errorf("unsuccessful: %d %s", a.status, a.raw)
	}

	// Method- and path-scoped faults wait for their request; the others
	// keep their order.
	e.sim.Fail(jframeworksim.Fault{Method: "PUT", Status: 502})
	e.sim.Fail(jframeworksim.Fault{Path: jframeworksim.PathPrefix + "other", Status: 502})
	e.do(t, "GET", path, "", nil).want(t, 200, nil)
	if e.sim.PendingFaults() != 2 {
		t.Fatalf("pending = %d", e.sim.PendingFaults())
	}
	e.do(t, "PUT", path, body(validUpdate()), nil).want(t, 502, nil)
	e.do(t, "GET", jframeworksim.PathPrefix+"other", "", nil).want(t, 502, nil)

	e.sim.Fail(jframeworksim.Fault{RateLimitReset: 2500 * time.Millisecond})
	a = e.do(t, "GET", path, "", nil)
	a.wantFailure(t, 429, jframeworksim.MsgRateLimited, jframeworksim.CodeRateLimitExceeded, jframeworksim.ErrRateLimited)
	if want := strconv.FormatInt(e.clock.Now().Add(3*time.Second).Unix(), 10); a.header.Get("X-RateLimit-Reset") != want ||
		a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("X-RateLimit-Reset = %q, want %q (epoch seconds, rounded up)", a.header.Get("X-RateLimit-Reset"), want)
	}
	e.sim.Fail(jframeworksim.Fault{Status: 429})
	e.do(t, "GET", path, "", nil).wantFailure(t, 429, jframeworksim.MsgRateLimited, jframeworksim.CodeRateLimitExceeded, jframeworksim.ErrRateLimited)

	e.sim.Fail(jframeworksim.Fault{Garbage: true})
	a = e.do(t, "GET", path, "", nil)
	if a.status != 200 || json.Valid([]byte(a.raw)) {
		t.Errorf("garbage: %d %q", a.status, a.raw)
	}

	e.sim.Fail(jframeworksim.Fault{Reset: true})
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("reset: got a response %d", resp.StatusCode)
	}
}

func TestDelayHonoursContext(t *testing.T) {
	sim := jframeworksim.New(jframeworksim.Options{BrandURL: brandURL, AuthKey: authKey})
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		close(done)
	}))
	defer srv.Close()
	sim.Fail(jframeworksim.Fault{Delay: time.Hour})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
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
	e := start(t, jframeworksim.Options{Latency: 20 * time.Millisecond, Now: time.Now})
	e.sim.Fail(jframeworksim.Fault{Delay: 20 * time.Millisecond})
	begin := time.Now()
	e.do(t, "GET", path, "", nil).want(t, 200, nil)
	if d := time.Since(begin); d < 40*time.Millisecond {
		t.Errorf("answered after %v, want at least 40ms", d)
	}
}

func TestRequestsAndReset(t *testing.T) {
	e := start(t, jframeworksim.Options{})
	b := body(validUpdate())
	e.do(t, "GET", path+"?x=1", "", nil)
	e.do(t, "PUT", path, b, nil)
	rs := e.sim.Requests()
	if len(rs) != 2 {
		t.Fatalf("%d requests", len(rs))
	}
	if rs[0].Method != "GET" || rs[0].Path != path || rs[0].RawQuery != "x=1" || rs[0].Header.Get("Auth-Key") != authKey || len(rs[0].Body) != 0 {
		t.Errorf("first request %+v", rs[0])
	}
	if rs[1].Method != "PUT" || !bytes.Equal(rs[1].Body, []byte(b)) || rs[1].Header.Get("Brand-URL") != brandURL || !rs[1].Time.Equal(e.clock.Now()) {
		t.Errorf("second request %+v", rs[1])
	}
	rs[1].Body[0] = 'X' // a copy
	if e.sim.Requests()[1].Body[0] != '{' {
		t.Error("Requests returned shared memory")
	}

	e.sim.Fail(jframeworksim.Fault{Status: 500})
	e.sim.Reset()
	if len(e.sim.Requests()) != 0 || e.sim.PendingFaults() != 0 {
		t.Error("Reset kept requests or faults")
	}
	if _, ok := e.sim.Integration(id); ok {
		t.Error("Reset kept integrations")
	}
	e.do(t, "GET", path, "", nil).want(t, 404, nil)
	// The app integrations went too: a new authentication cannot move to
	// the old one.
	in := seeded()
	in.AppIntegration = jframeworksim.AppIntegration{ID: "Fresh"}
	e.sim.Seed(in)
	e.do(t, "PUT", path, body(validUpdate()), nil).want(t, 404, nil)
}

func TestNoRecord(t *testing.T) {
	e := start(t, jframeworksim.Options{NoRecord: true})
	e.do(t, "GET", path, "", nil).want(t, 200, nil)
	if n := len(e.sim.Requests()); n != 0 {
		t.Errorf("%d requests recorded", n)
	}
}

func TestSeedDefaultsAndCopies(t *testing.T) {
	sim := jframeworksim.New(jframeworksim.Options{Now: func() time.Time { return t0 }})
	in := sim.Seed(jframeworksim.Integration{Name: "x", Tags: ptr("t")})
	if len(in.ID) != 18 || len(in.ClientSecret) != 40 || in.Status != "Active" || !in.CreatedDate.Equal(t0) ||
		len(in.AppIntegration.ID) != 18 || in.AppIntegration.Type != "Authenticate" || in.AppIntegration.Status != "Active" {
		t.Errorf("seeded %+v", in)
	}
	got, ok := sim.Integration(in.ID)
	if !ok || !reflect.DeepEqual(got, in) {
		t.Errorf("Integration = %+v, %v", got, ok)
	}
	*got.Tags = "changed"
	*in.Tags = "changed too"
	if again, _ := sim.Integration(in.ID); *again.Tags != "t" {
		t.Error("Seed or Integration shares memory with the store")
	}
	if _, ok := sim.Integration("nope"); ok {
		t.Error("found an unseeded id")
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	sim := jframeworksim.New(jframeworksim.Options{BrandURL: brandURL, AuthKey: authKey})
	sim.Seed(seeded())
	mux := http.NewServeMux()
	mux.Handle("/sim/jframework/", http.StripPrefix("/sim/jframework", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/sim/jframework"+path, nil)
	req.Header.Set("Brand-URL", brandURL)
	req.Header.Set("Auth-Key", authKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := start(t, jframeworksim.Options{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			f := validUpdate()
			f["name"] = "n" + strconv.Itoa(i)
			req, _ := http.NewRequest("PUT", e.srv.URL+path, strings.NewReader(body(f)))
			req.Header.Set("Brand-URL", brandURL)
			req.Header.Set("Auth-Key", authKey)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			e.sim.Requests()
			e.sim.Integration(id)
		})
	}
	wg.Wait()
	if n := len(e.sim.Requests()); n != 16 {
		t.Errorf("%d requests recorded", n)
	}
}
