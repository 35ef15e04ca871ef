package hdpsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
)

const (
	username = "d2cadmin"
	password = "s3cr3t:pass"
	secret   = "1912308409123890"
	appPath  = hdpsim.PathPrefix + "/93"
)

var t0 = time.Date(2024, 2, 2, 10, 0, 0, 0, time.UTC)

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

var sample = hdpsim.App{
	ID: 93, Name: "TenantB_OAuth_app", DataStore: 54, TenantID: 623, Description: "TenantB OAuth application object",
	ClientID: "asdfjasdljfasdkjf", ClientSecret: secret,
	AuthorizeURI: "https://accounts.google.com/o/oauth2/v2/auth", TokenURI: "https://www.googleapis.com/oauth2/v3/token",
	Scope: "full_offline_access test_repo",
}

type env struct {
	sim   *hdpsim.Server
	srv   *httptest.Server
	clock *fixedClock
}

func start(t *testing.T, opts hdpsim.Options) *env {
	t.Helper()
	clock := &fixedClock{now: t0}
	opts.Username, opts.Password = username, password
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	sim := hdpsim.New(opts)
	sim.Seed(sample)
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

// do sends a request with the right credentials and, for a body, JSON's
// Content-Type; hdr overrides headers ("" deletes one).
func (e *env) do(t *testing.T, method, path, body string, hdr map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(username, password)
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

func envelope(code float64, value string) map[string]any {
	return map[string]any{"error": map[string]any{"code": code, "message": map[string]any{"lang": "en-US", "value": value}}}
}

// validPut is a whole, valid PUT body.
func validPut() map[string]any {
	return map[string]any{
		"name": "Renamed_app", "dataStore": 62, "tenantId": 71, "description": "new",
		"clientId": "cid", "clientSecret": "csecret", "authorizeURI": "https://a.example/auth",
		"tokenURI": "https://a.example/token", "scope": "openid email",
	}
}

func encode(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAuthentication(t *testing.T) {
	e := start(t, hdpsim.Options{})
	unauthorized := envelope(401, hdpsim.ErrUnauthorized)
	for name, hdr := range map[string]map[string]string{
		"none":           {"Authorization": ""},
		"wrong password": {"Authorization": "Basic " + basic(username, "nope")},
		"wrong user":     {"Authorization": "Basic " + basic("other", password)},
		"bearer":         {"Authorization": "Bearer " + password},
		"not base64":     {"Authorization": "Basic !!!"},
	} {
		t.Run(name, func(t *testing.T) {
			a := e.do(t, "GET", appPath, "", hdr)
			a.want(t, 401, unauthorized)
			if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("WWW-Authenticate = %q", a.header.Get("WWW-Authenticate"))
			}
			e.do(t, "PUT", appPath, encode(validPut()), hdr).want(t, 401, unauthorized)
		})
	}
	if app, _ := e.sim.App(93); app != sample {
		t.Errorf("unauthenticated PUT changed the object: %+v", app)
	}
	// Empty configured credentials never match.
	empty := hdpsim.New(hdpsim.Options{})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", appPath, nil)
	req.SetBasicAuth("", "")
	empty.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("empty credentials: %d", rec.Code)
	}
}

func basic(u, p string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(u, p)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

func TestGet(t *testing.T) {
	e := start(t, hdpsim.Options{})
	a := e.do(t, "GET", appPath, "", nil)
	a.want(t, 200, map[string]any{
		"id": "93", "name": "TenantB_OAuth_app", "dataStore": 54.0, "tenantId": 623.0,
		"description": "TenantB OAuth application object", "clientId": "asdfjasdljfasdkjf", "clientSecret": secret,
		"authorizeURI": "https://accounts.google.com/o/oauth2/v2/auth", "tokenURI": "https://www.googleapis.com/oauth2/v3/token",
		"scope": "full_offline_access test_repo",
	})
	// The document's key order.
	want := `{"id":"93","name":"TenantB_OAuth_app","dataStore":54,"tenantId":623,"description":"TenantB OAuth application object",` +
		`"clientId":"asdfjasdljfasdkjf","clientSecret":"` + secret + `","authorizeURI":"https://accounts.google.com/o/oauth2/v2/auth",` +
		`"tokenURI":"https://www.googleapis.com/oauth2/v3/token","scope":"full_offline_access test_repo"}`
	if a.raw != want || a.header.Get("Content-Type") != "application/json" {
		t.Errorf("raw = %s (%s)", a.raw, a.header.Get("Content-Type"))
	}
	notFound := envelope(404, hdpsim.ErrNotFound)
	for _, id := range []string{"94", "0", "-93", "abc", "9.3", "99999999999999999999"} {
		e.do(t, "GET", hdpsim.PathPrefix+"/"+id, "", nil).want(t, 404, notFound)
	}
	// A leading zero is the same integer, as a server parsing the id would take it.
	e.do(t, "GET", hdpsim.PathPrefix+"/093", "", nil).want(t, 200, nil)
}

func TestGetMasked(t *testing.T) {
	e := start(t, hdpsim.Options{MaskSecrets: true})
	a := e.do(t, "GET", appPath, "", nil)
	if a.body["clientSecret"] != hdpsim.MaskedSecret || strings.Contains(a.raw, secret) {
		t.Errorf("masked read = %s", a.raw)
	}
	if app, _ := e.sim.App(93); app.ClientSecret != secret {
		t.Errorf("stored secret = %q", app.ClientSecret)
	}
}

func TestPutIsAFullReplacement(t *testing.T) {
	e := start(t, hdpsim.Options{UserTenantID: 7})
	body := validPut()
	a := e.do(t, "PUT", appPath, encode(body), nil)
	a.want(t, 200, map[string]any{
		"id": "93", "name": "Renamed_app", "dataStore": 62.0, "tenantId": 71.0, "description": "new", "clientId": "cid",
		"clientSecret": "csecret", "authorizeURI": "https://a.example/auth", "tokenURI": "https://a.example/token", "scope": "openid email",
	})
	want := hdpsim.App{ID: 93, Name: "Renamed_app", DataStore: 62, TenantID: 71, Description: "new", ClientID: "cid",
		ClientSecret: "csecret", AuthorizeURI: "https://a.example/auth", TokenURI: "https://a.example/token", Scope: "openid email"}
	if app, _ := e.sim.App(93); app != want {
		t.Errorf("stored %+v", app)
	}

	// Omitted optional fields: description is cleared, tenantId becomes
	// the user's own tenant.
	delete(body, "description")
	delete(body, "tenantId")
	e.do(t, "PUT", appPath, encode(body), nil).want(t, 200, nil)
	want.Description, want.TenantID = "", 7
	if app, _ := e.sim.App(93); app != want {
		t.Errorf("stored %+v, want %+v", app, want)
	}
	// null is "not specified" too.
	body["tenantId"], body["description"] = nil, nil
	e.do(t, "PUT", appPath, encode(body), nil).want(t, 200, nil)
	if app, _ := e.sim.App(93); app != want {
		t.Errorf("stored %+v, want %+v", app, want)
	}
}

func TestPutValidation(t *testing.T) {
	e := start(t, hdpsim.Options{})
	invalid := func(detail string) map[string]any { return envelope(400, hdpsim.ErrInvalidJSON+": "+detail) }
	with := func(k string, v any) string {
		b := validPut()
		b[k] = v
		return encode(b)
	}
	without := func(k string) string {
		b := validPut()
		delete(b, k)
		return encode(b)
	}
	for _, tc := range []struct {
		name string
		body string
		want map[string]any
	}{
		{"missing name", without("name"), invalid(`"name" is required`)},
		{"missing dataStore", without("dataStore"), invalid(`"dataStore" is required`)},
		{"missing clientId", without("clientId"), invalid(`"clientId" is required`)},
		{"missing clientSecret", without("clientSecret"), invalid(`"clientSecret" is required`)},
		{"missing authorizeURI", without("authorizeURI"), invalid(`"authorizeURI" is required`)},
		{"missing tokenURI", without("tokenURI"), invalid(`"tokenURI" is required`)},
		{"missing scope", without("scope"), invalid(`"scope" is required`)},
		{"null clientSecret", with("clientSecret", nil), invalid(`"clientSecret" is required`)},
		{"empty clientSecret", with("clientSecret", ""), invalid(`"clientSecret" is required`)},
		{"blank scope", with("scope", " "), invalid(`"scope" is required`)},
		{"name with spaces", with("name", "TenantB OAuth app"), invalid(`"name" can contain only alphanumeric characters and the underscore character`)},
		{"name with hyphen", with("name", "a-b"), invalid(`"name" can contain only alphanumeric characters and the underscore character`)},
		{"dataStore string", with("dataStore", "54"), invalid(`"dataStore" must be an integer`)},
		{"dataStore fraction", with("dataStore", 54.5), invalid(`"dataStore" must be an integer`)},
		{"dataStore zero", with("dataStore", 0), invalid(`"dataStore" must be a valid id`)},
		{"tenantId negative", with("tenantId", -1), invalid(`"tenantId" must be a valid id`)},
		{"tenantId bool", with("tenantId", true), invalid(`"tenantId" must be an integer`)},
		{"description number", with("description", 1), invalid(`"description" must be a string`)},
		{"scope array", with("scope", []string{"a"}), invalid(`"scope" must be a string`)},
		{"authorizeURI relative", with("authorizeURI", "/auth"), invalid(`"authorizeURI" must be a valid URL`)},
		{"tokenURI no scheme", with("tokenURI", "a.example/token"), invalid(`"tokenURI" must be a valid URL`)},
		{"unknown key", with("redirectUri", "https://x"), invalid(`"redirectUri" is not a property of an OAuth application object`)},
		{"id in body", with("id", "93"), invalid(`"id" is not a property of an OAuth application object`)},
		{"array body", `[1]`, invalid("the body must be an object")},
		{"null body", `null`, invalid("the body must be an object")},
		{"malformed", `{"name":`, envelope(400, hdpsim.ErrInvalidJSON)},
		{"two values", encode(validPut()) + `{}`, envelope(400, hdpsim.ErrInvalidJSON)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, "PUT", appPath, tc.body, nil).want(t, 400, tc.want)
		})
	}
	e.do(t, "PUT", appPath, encode(validPut()), map[string]string{"Content-Type": "text/plain"}).
		want(t, 415, envelope(415, hdpsim.ErrMediaType))
	e.do(t, "PUT", hdpsim.PathPrefix+"/94", encode(validPut()), nil).want(t, 404, envelope(404, hdpsim.ErrNotFound))
	e.do(t, "PUT", appPath, strings.Repeat(" ", hdpsim.MaxBodyBytes+1), nil).want(t, 413, nil)

	if app, _ := e.sim.App(93); app != sample {
		t.Errorf("refused updates changed the object: %+v", app)
	}
	if _, ok := e.sim.App(94); ok {
		t.Error("a PUT on an unknown id created it")
	}
	// A valid body with Content-Type parameters is fine.
	e.do(t, "PUT", appPath, encode(validPut()), map[string]string{"Content-Type": "application/json; charset=utf-8"}).want(t, 200, nil)
}

func TestOtherPathsAndMethods(t *testing.T) {
	e := start(t, hdpsim.Options{})
	noRoute := envelope(404, hdpsim.ErrNoRoute)
	for _, p := range []string{"/", hdpsim.PathPrefix, hdpsim.PathPrefix + "/", appPath + "/x", "/api/mgmt/oauth/client/applications/93"} {
		e.do(t, "GET", p, "", nil).want(t, 404, noRoute)
	}
	for _, m := range []string{"POST", "DELETE", "PATCH"} {
		a := e.do(t, m, appPath, encode(validPut()), nil)
		a.want(t, 405, envelope(405, hdpsim.ErrMethod))
		if a.header.Get("Allow") != "GET, PUT" {
			t.Errorf("%s: Allow = %q", m, a.header.Get("Allow"))
		}
	}
	if app, _ := e.sim.App(93); app != sample {
		t.Errorf("object changed: %+v", app)
	}
}

func TestRateLimit(t *testing.T) {
	e := start(t, hdpsim.Options{RateLimit: 2, RateLimitWindow: 10 * time.Second})
	e.do(t, "GET", appPath, "", nil).want(t, 200, nil)
	e.do(t, "PUT", appPath, encode(validPut()), nil).want(t, 200, nil)
	e.clock.Add(3500 * time.Millisecond)
	a := e.do(t, "GET", appPath, "", nil)
	a.want(t, 429, envelope(429, hdpsim.ErrTooManyRequests))
	if a.header.Get("Retry-After") != "7" {
		t.Errorf("Retry-After = %q, want 7", a.header.Get("Retry-After"))
	}
	// Per user: wrong credentials are counted apart (and refused).
	e.do(t, "GET", appPath, "", map[string]string{"Authorization": "Basic " + basic("other", "x")}).want(t, 401, nil)
	e.clock.Add(7 * time.Second)
	e.do(t, "GET", appPath, "", nil).want(t, 200, nil)

	// No limit by default.
	u := start(t, hdpsim.Options{})
	for range 50 {
		if a := u.do(t, "GET", appPath, "", nil); a.status != 200 || a.header.Get("Retry-After") != "" {
			t.Fatalf("unlimited: %d %v", a.status, a.header)
		}
	}
}

func TestFaults(t *testing.T) {
	e := start(t, hdpsim.Options{})

	e.sim.Fail(hdpsim.Fault{Status: 500})
	e.sim.Fail(hdpsim.Fault{Status: 403})
	e.sim.Fail(hdpsim.Fault{Status: 400, Message: "custom", Code: 222200001})
	e.sim.Fail(hdpsim.Fault{Status: 502})
	e.do(t, "GET", appPath, "", nil).want(t, 500, envelope(hdpsim.CodeInternal, hdpsim.ErrInternal))
	e.do(t, "GET", appPath, "", nil).want(t, 403, envelope(hdpsim.CodeForbidden, hdpsim.ErrForbidden))
	e.do(t, "GET", appPath, "", nil).want(t, 400, envelope(222200001, "custom"))
	e.do(t, "GET", appPath, "", nil).want(t, 502, envelope(502, "Bad Gateway"))
	e.do(t, "GET", appPath, "", nil).want(t, 200, nil) // queue drained

	// A method-scoped fault waits for its method; others keep their order.
	e.sim.Fail(hdpsim.Fault{Method: "PUT", Status: 404})
	e.do(t, "GET", appPath, "", nil).want(t, 200, nil)
	if e.sim.PendingFaults() != 1 {
		t.Fatalf("pending = %d", e.sim.PendingFaults())
	}
	e.do(t, "PUT", appPath, encode(validPut()), nil).want(t, 404, envelope(404, hdpsim.ErrNotFound))
	if app, _ := e.sim.App(93); app != sample {
		t.Errorf("faulted PUT changed the object: %+v", app)
	}

	e.sim.Fail(hdpsim.Fault{RetryAfter: 2500 * time.Millisecond})
	a := e.do(t, "GET", appPath, "", nil)
	a.want(t, 429, envelope(429, hdpsim.ErrTooManyRequests))
	if a.header.Get("Retry-After") != "3" {
		t.Errorf("Retry-After = %q", a.header.Get("Retry-After"))
	}
	e.sim.Fail(hdpsim.Fault{Status: 503, RetryAfter: time.Second})
	if a := e.do(t, "GET", appPath, "", nil); a.status != 503 || a.header.Get("Retry-After") != "1" {
		t.Errorf("503: %d %v", a.status, a.header)
	}

	e.sim.Fail(hdpsim.Fault{Garbage: true})
	a = e.do(t, "GET", appPath, "", nil)
	if a.status != 200 || json.Valid([]byte(a.raw)) {
		t.Errorf("garbage: %d %q", a.status, a.raw)
	}

	e.sim.Fail(hdpsim.Fault{Reset: true})
	req, _ := http.NewRequest("GET", e.srv.URL+appPath, nil)
	if resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("reset: got a response %d", resp.StatusCode)
	}
}

func TestDelayHonoursContext(t *testing.T) {
	sim := hdpsim.New(hdpsim.Options{Username: username, Password: password})
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		close(done)
	}))
	defer srv.Close()
	sim.Fail(hdpsim.Fault{Delay: time.Hour})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+appPath, nil)
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
	e := start(t, hdpsim.Options{Latency: 20 * time.Millisecond, Now: time.Now})
	e.sim.Fail(hdpsim.Fault{Delay: 20 * time.Millisecond})
	begin := time.Now()
	e.do(t, "GET", appPath, "", nil).want(t, 200, nil)
	if d := time.Since(begin); d < 40*time.Millisecond {
		t.Errorf("answered after %v, want at least 40ms", d)
	}
}

func TestRequestsAndReset(t *testing.T) {
	e := start(t, hdpsim.Options{})
	body := encode(validPut())
	e.do(t, "GET", appPath+"?user=someone", "", nil)
	e.do(t, "PUT", appPath, body, nil)
	rs := e.sim.Requests()
	if len(rs) != 2 {
		t.Fatalf("%d requests", len(rs))
	}
	if rs[0].Method != "GET" || rs[0].Path != appPath || rs[0].RawQuery != "user=someone" ||
		rs[0].Header.Get("Authorization") != "Basic "+basic(username, password) || len(rs[0].Body) != 0 || !rs[0].Time.Equal(t0) {
		t.Errorf("first request %+v", rs[0])
	}
	if rs[1].Method != "PUT" || string(rs[1].Body) != body || rs[1].Header.Get("Content-Type") != "application/json" {
		t.Errorf("second request %+v", rs[1])
	}
	rs[1].Body[0] = 'X' // a copy
	if e.sim.Requests()[1].Body[0] != '{' {
		t.Error("Requests returned shared memory")
	}

	e.sim.Fail(hdpsim.Fault{Status: 500})
	e.sim.Reset()
	if len(e.sim.Requests()) != 0 || e.sim.PendingFaults() != 0 {
		t.Error("Reset kept requests or faults")
	}
	if _, ok := e.sim.App(93); ok {
		t.Error("Reset kept objects")
	}
	e.do(t, "GET", appPath, "", nil).want(t, 404, nil)

	n := start(t, hdpsim.Options{NoRecord: true})
	n.do(t, "GET", appPath, "", nil).want(t, 200, nil)
	if len(n.sim.Requests()) != 0 {
		t.Error("NoRecord recorded")
	}
}

func TestSeedDefaults(t *testing.T) {
	sim := hdpsim.New(hdpsim.Options{UserTenantID: 5})
	a := sim.Seed(hdpsim.App{Name: "x"})
	b := sim.Seed(hdpsim.App{ID: 10, Name: "y"})
	c := sim.Seed(hdpsim.App{Name: "z"})
	if a.ID != 1 || b.ID != 10 || c.ID != 11 || a.TenantID != 5 || len(a.ClientID) != 24 || len(a.ClientSecret) != 32 ||
		a.ClientSecret == c.ClientSecret {
		t.Errorf("seeded %+v %+v %+v", a, b, c)
	}
	if got, ok := sim.App(a.ID); !ok || got != a {
		t.Errorf("App = %+v, %v", got, ok)
	}
	if d := hdpsim.New(hdpsim.Options{}).Seed(hdpsim.App{}); d.TenantID != hdpsim.DefaultUserTenantID {
		t.Errorf("default tenant %d", d.TenantID)
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	sim := hdpsim.New(hdpsim.Options{Username: username, Password: password})
	sim.Seed(sample)
	mux := http.NewServeMux()
	mux.Handle("/sim/hdp/", http.StripPrefix("/sim/hdp", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/sim/hdp"+appPath, nil)
	req.SetBasicAuth(username, password)
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
	e := start(t, hdpsim.Options{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			b := validPut()
			b["name"] = "n" + strconv.Itoa(i)
			req, _ := http.NewRequest("PUT", e.srv.URL+appPath, strings.NewReader(encode(b)))
			req.SetBasicAuth(username, password)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			e.sim.Requests()
			e.sim.App(93)
		})
	}
	wg.Wait()
	if n := len(e.sim.Requests()); n != 16 {
		t.Errorf("%d requests recorded", n)
	}
}
