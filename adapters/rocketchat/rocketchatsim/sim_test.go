package rocketchatsim_test

import (
	"bytes"
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

	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
)

const (
	userID    = "aobEdbYhXfu5hkeqG"
	authToken = "9HqLlyZOugD_0YdwAJF8V47U3QHXSq"
	forbidden = "ForbiddenUser0001"
	appID     = "65a7d77142a7e12453052d59"
	secret    = "QwIAYE1_8M02p-Js8SHZyTPg7HpJm-1ZtbjuSp8bXpP"
)

var t0 = time.Date(2024, 1, 17, 13, 34, 41, 445e6, time.UTC)

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
	sim   *rocketchatsim.Server
	srv   *httptest.Server
	clock *fixedClock
}

func start(t *testing.T, opts rocketchatsim.Options) *env {
	t.Helper()
	clock := &fixedClock{now: t0.Add(time.Hour)}
	opts.UserID, opts.AuthToken, opts.ForbiddenUserID = userID, authToken, forbidden
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	sim := rocketchatsim.New(opts)
	sim.Seed(rocketchatsim.App{
		ID: appID, Name: "test-oauth-app", Active: true, RedirectURI: "https://testuri.com",
		ClientID: "fxHAgLRjP3RswMe67", ClientSecret: secret, CreatedAt: t0,
	})
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
	req.Header.Set("X-User-Id", userID)
	req.Header.Set("X-Auth-Token", authToken)
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

func update(fields map[string]any) string {
	b, _ := json.Marshal(fields)
	return string(b)
}

func validUpdate() map[string]any {
	return map[string]any{"appId": appID, "name": "renamed", "active": false, "redirectUri": "https://new.example/cb"}
}

func TestAuth(t *testing.T) {
	e := start(t, rocketchatsim.Options{})
	loggedOut := map[string]any{"success": false, "error": rocketchatsim.ErrLoggedOut, "status": "error", "message": rocketchatsim.ErrLoggedOut}
	for name, hdr := range map[string]map[string]string{
		"no token":    {"X-Auth-Token": ""},
		"no user":     {"X-User-Id": ""},
		"wrong token": {"X-Auth-Token": "nope"},
		"wrong user":  {"X-User-Id": "someoneElse123456"},
	} {
		t.Run(name, func(t *testing.T) {
			e.do(t, "GET", rocketchatsim.PathGet+"?_id="+appID, "", hdr).want(t, 401, loggedOut)
			e.do(t, "POST", rocketchatsim.PathUpdate, update(validUpdate()), hdr).want(t, 401, loggedOut)
		})
	}
	// Auth comes before body validation.
	e.do(t, "POST", rocketchatsim.PathUpdate, "{}", map[string]string{"X-Auth-Token": "nope"}).want(t, 401, loggedOut)

	t.Run("forbidden user", func(t *testing.T) {
		hdr := map[string]string{"X-User-Id": forbidden}
		e.do(t, "POST", rocketchatsim.PathUpdate, update(validUpdate()), hdr).
			want(t, 403, map[string]any{"success": false, "error": rocketchatsim.ErrForbidden})
		a := e.do(t, "GET", rocketchatsim.PathGet+"?_id="+appID, "", hdr)
		a.want(t, 200, nil)
		if _, has := a.body["oauthApp"].(map[string]any)["clientSecret"]; has || strings.Contains(a.raw, secret) {
			t.Errorf("read without manage-oauth-apps shows the secret: %s", a.raw)
		}
		if app, _ := e.sim.App(appID); app.Name != "test-oauth-app" {
			t.Errorf("forbidden update changed the app: %+v", app)
		}
	})
}

func TestGet(t *testing.T) {
	e := start(t, rocketchatsim.Options{})
	wantApp := map[string]any{
		"oauthApp": map[string]any{
			"_id": appID, "name": "test-oauth-app", "active": true, "clientId": "fxHAgLRjP3RswMe67",
			"clientSecret": secret, "redirectUri": "https://testuri.com",
			"_createdAt": "2024-01-17T13:34:41.445Z", "_updatedAt": "2024-01-17T13:34:41.445Z",
			"_createdBy": map[string]any{"_id": "system", "username": "system"},
		},
		"success": true,
	}
	e.do(t, "GET", rocketchatsim.PathGet+"?_id="+appID, "", nil).want(t, 200, wantApp)
	e.do(t, "GET", rocketchatsim.PathGet+"?clientId=fxHAgLRjP3RswMe67", "", nil).want(t, 200, wantApp)

	e.do(t, "GET", rocketchatsim.PathGet+"?_id=nosuchapp00000000", "", nil).
		want(t, 400, map[string]any{"success": false, "error": "OAuth app not found."})
	e.do(t, "GET", rocketchatsim.PathGet+"?clientId=nosuch", "", nil).
		want(t, 400, map[string]any{"success": false, "error": "OAuth app not found."})

	for _, q := range []string{"", "?appId=" + appID, "?_id=" + appID + "&clientId=x", "?_id=a&_id=b", "?_id=" + appID + "&extra=1"} {
		a := e.do(t, "GET", rocketchatsim.PathGet+q, "", nil)
		a.want(t, 400, nil)
		if a.body["errorType"] != "error-invalid-params" || a.body["success"] != false ||
			!strings.HasSuffix(a.body["error"].(string), "[error-invalid-params]") {
			t.Errorf("query %q: body %s", q, a.raw)
		}
	}
}

func TestUpdateValidation(t *testing.T) {
	e := start(t, rocketchatsim.Options{})
	invalid := func(msg string) map[string]any {
		return map[string]any{"success": false, "error": msg + " [invalid-params]", "errorType": "invalid-params"}
	}
	method := func(reason, code string) map[string]any {
		return map[string]any{"success": false, "error": reason + " [" + code + "]", "errorType": code,
			"details": map[string]any{"method": "updateOAuthApp"}}
	}
	with := func(k string, v any) string {
		f := validUpdate()
		f[k] = v
		return update(f)
	}
	without := func(k string) string {
		f := validUpdate()
		delete(f, k)
		return update(f)
	}
	for _, tc := range []struct {
		name string
		body string
		want map[string]any
	}{
		{"missing appId", without("appId"), invalid("must have required property 'appId'")},
		{"missing name", without("name"), invalid("must have required property 'name'")},
		{"missing active", without("active"), invalid("must have required property 'active'")},
		{"missing redirectUri", without("redirectUri"), invalid("must have required property 'redirectUri'")},
		{"extra clientSecret", with("clientSecret", "x"), invalid("must NOT have additional properties")},
		{"extra clientId", with("clientId", "x"), invalid("must NOT have additional properties")},
		{"active as string", with("active", "true"), invalid("/active must be boolean")},
		{"name as number", with("name", 3), invalid("/name must be string")},
		{"appId null", with("appId", nil), invalid("/appId must be string")},
		{"redirectUri array", with("redirectUri", []string{"https://x"}), invalid("/redirectUri must be string")},
		{"array body", `[1,2]`, invalid("must be object")},
		{"null body", `null`, invalid("must be object")},
		{"blank name", with("name", "  "), method("Invalid name", "error-invalid-name")},
		{"blank redirectUri", with("redirectUri", ""), method("Invalid redirectUri", "error-invalid-redirectUri")},
		{"separators only", with("redirectUri", " ,\n , "), method("Invalid redirectUri", "error-invalid-redirectUri")},
		{"unknown appId", with("appId", "nosuchapp00000000"), method("Application not found", "error-application-not-found")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do(t, "POST", rocketchatsim.PathUpdate, tc.body, nil).want(t, 400, tc.want)
		})
	}
	a := e.do(t, "POST", rocketchatsim.PathUpdate, `{"appId":`, nil)
	if a.status != 400 || a.body["success"] != false {
		t.Errorf("malformed JSON: %d %s", a.status, a.raw)
	}
	// A body not declared as JSON is an empty object to the validator.
	e.do(t, "POST", rocketchatsim.PathUpdate, update(validUpdate()), map[string]string{"Content-Type": "text/plain"}).
		want(t, 400, invalid("must have required property 'appId'"))

	if app, _ := e.sim.App(appID); app.Name != "test-oauth-app" || !app.UpdatedAt.Equal(t0) {
		t.Errorf("refused updates changed the app: %+v", app)
	}
}

func TestUpdate(t *testing.T) {
	e := start(t, rocketchatsim.Options{})
	f := validUpdate()
	f["redirectUri"] = " https://a.example/cb ,\n\nhttps://b.example/cb,, "
	a := e.do(t, "POST", rocketchatsim.PathUpdate, update(f), nil)
	a.want(t, 200, map[string]any{
		"_id": appID, "name": "renamed", "active": false, "clientId": "fxHAgLRjP3RswMe67", "clientSecret": secret,
		"redirectUri": "https://a.example/cb,https://b.example/cb",
		"_createdAt":  "2024-01-17T13:34:41.445Z", "_updatedAt": "2024-01-17T14:34:41.445Z",
		"_createdBy": map[string]any{"_id": "system", "username": "system"},
		"_updatedBy": map[string]any{"_id": userID, "username": rocketchatsim.DefaultUsername},
		"success":    true,
	})
	app, ok := e.sim.App(appID)
	if !ok || app.Name != "renamed" || app.Active || app.RedirectURI != "https://a.example/cb,https://b.example/cb" ||
		!app.UpdatedAt.Equal(t0.Add(time.Hour)) || app.ClientSecret != secret {
		t.Errorf("stored app = %+v", app)
	}
	// Same clock: _updatedAt still moves forward.
	e.do(t, "POST", rocketchatsim.PathUpdate, update(f), nil).want(t, 200, nil)
	if again, _ := e.sim.App(appID); !again.UpdatedAt.After(app.UpdatedAt) {
		t.Errorf("_updatedAt not bumped: %v then %v", app.UpdatedAt, again.UpdatedAt)
	}
}

func TestOtherPaths(t *testing.T) {
	e := start(t, rocketchatsim.Options{})
	notFound := map[string]any{"success": false, "error": "Resource not found"}
	e.do(t, "GET", "/api/v1/oauth-apps.list", "", nil).want(t, 404, notFound)
	e.do(t, "POST", rocketchatsim.PathGet, "{}", nil).want(t, 404, notFound)
	e.do(t, "GET", rocketchatsim.PathUpdate, "", nil).want(t, 404, notFound)
	e.do(t, "PUT", rocketchatsim.PathUpdate, update(validUpdate()), nil).want(t, 404, notFound)
	e.do(t, "GET", "/", "", nil).want(t, 404, notFound)
}

func TestRateLimit(t *testing.T) {
	e := start(t, rocketchatsim.Options{RateLimit: 2, RateLimitWindow: 10 * time.Second})
	reset := strconv.FormatInt(e.clock.Now().Add(10*time.Second).UnixMilli(), 10)
	get := rocketchatsim.PathGet + "?_id=" + appID
	for i, remaining := range []string{"1", "0"} {
		a := e.do(t, "GET", get, "", nil)
		a.want(t, 200, nil)
		if a.header.Get("X-RateLimit-Limit") != "2" || a.header.Get("X-RateLimit-Remaining") != remaining ||
			a.header.Get("X-RateLimit-Reset") != reset {
			t.Errorf("call %d: headers %v", i, a.header)
		}
	}
	e.clock.Add(3 * time.Second)
	a := e.do(t, "GET", get, "", nil)
	a.want(t, 429, map[string]any{"success": false, "error": "Error, too many requests. Please slow down. " +
		"You must wait 7 seconds before trying this endpoint again. [error-too-many-requests]"})
	if a.header.Get("Retry-After") != "" || a.header.Get("X-RateLimit-Reset") != reset || a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("429 headers %v", a.header)
	}
	// Per route and method: the update still has room.
	e.do(t, "POST", rocketchatsim.PathUpdate, update(validUpdate()), nil).want(t, 200, nil)
	// A new window.
	e.clock.Add(7 * time.Second)
	e.do(t, "GET", get, "", nil).want(t, 200, nil)

	// Every answer carries the headers, errors included.
	for _, path := range []string{"/nowhere", rocketchatsim.PathGet} {
		if a := e.do(t, "GET", path, "", map[string]string{"X-Auth-Token": "bad"}); a.header.Get("X-RateLimit-Reset") == "" {
			t.Errorf("%s %d: no rate-limit headers", path, a.status)
		}
	}
}

func TestFaults(t *testing.T) {
	e := start(t, rocketchatsim.Options{})
	get := rocketchatsim.PathGet + "?_id=" + appID

	e.sim.Fail(rocketchatsim.Fault{Status: 500})
	e.sim.Fail(rocketchatsim.Fault{Status: 503})
	e.sim.Fail(rocketchatsim.Fault{Status: 400, Error: "custom"})
	e.do(t, "GET", get, "", nil).want(t, 500, map[string]any{"success": false, "error": "Internal server error"})
	e.do(t, "GET", get, "", nil).want(t, 503, map[string]any{"success": false, "error": "Service Unavailable"})
	e.do(t, "GET", get, "", nil).want(t, 400, map[string]any{"success": false, "error": "custom"})
	e.do(t, "GET", get, "", nil).want(t, 200, nil) // queue drained

	// A path-scoped fault waits for its path; unscoped faults keep their order.
	e.sim.Fail(rocketchatsim.Fault{Path: rocketchatsim.PathUpdate, Status: 502})
	e.do(t, "GET", get, "", nil).want(t, 200, nil)
	if e.sim.PendingFaults() != 1 {
		t.Fatalf("pending = %d", e.sim.PendingFaults())
	}
	e.do(t, "POST", rocketchatsim.PathUpdate, update(validUpdate()), nil).want(t, 502, nil)

	e.sim.Fail(rocketchatsim.Fault{RateLimitReset: 2500 * time.Millisecond})
	a := e.do(t, "GET", get, "", nil)
	a.want(t, 429, map[string]any{"success": false, "error": "Error, too many requests. Please slow down. " +
		"You must wait 3 seconds before trying this endpoint again. [error-too-many-requests]"})
	if want := strconv.FormatInt(e.clock.Now().Add(2500*time.Millisecond).UnixMilli(), 10); a.header.Get("X-RateLimit-Reset") != want {
		t.Errorf("X-RateLimit-Reset = %q, want %q", a.header.Get("X-RateLimit-Reset"), want)
	}

	e.sim.Fail(rocketchatsim.Fault{Garbage: true})
	a = e.do(t, "GET", get, "", nil)
	if a.status != 200 || json.Valid([]byte(a.raw)) {
		t.Errorf("garbage: %d %q", a.status, a.raw)
	}

	e.sim.Fail(rocketchatsim.Fault{Reset: true})
	req, _ := http.NewRequest("GET", e.srv.URL+get, nil)
	if resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("reset: got a response %d", resp.StatusCode)
	}
}

func TestDelayHonoursContext(t *testing.T) {
	sim := rocketchatsim.New(rocketchatsim.Options{UserID: userID, AuthToken: authToken})
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sim.ServeHTTP(w, r)
		close(done)
	}))
	defer srv.Close()
	sim.Fail(rocketchatsim.Fault{Delay: time.Hour})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+rocketchatsim.PathGet, nil)
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
	e := start(t, rocketchatsim.Options{Latency: 20 * time.Millisecond, Now: time.Now})
	e.sim.Fail(rocketchatsim.Fault{Delay: 20 * time.Millisecond})
	begin := time.Now()
	e.do(t, "GET", rocketchatsim.PathGet+"?_id="+appID, "", nil).want(t, 200, nil)
	if d := time.Since(begin); d < 40*time.Millisecond {
		t.Errorf("answered after %v, want at least 40ms", d)
	}
}

func TestRequestsAndReset(t *testing.T) {
	e := start(t, rocketchatsim.Options{})
	body := update(validUpdate())
	e.do(t, "GET", rocketchatsim.PathGet+"?_id="+appID, "", nil)
	e.do(t, "POST", rocketchatsim.PathUpdate, body, nil)
	rs := e.sim.Requests()
	if len(rs) != 2 {
		t.Fatalf("%d requests", len(rs))
	}
	if rs[0].Method != "GET" || rs[0].Path != rocketchatsim.PathGet || rs[0].Query.Get("_id") != appID ||
		rs[0].RawQuery != "_id="+appID || rs[0].Header.Get("X-Auth-Token") != authToken || len(rs[0].Body) != 0 {
		t.Errorf("first request %+v", rs[0])
	}
	if rs[1].Method != "POST" || rs[1].Path != rocketchatsim.PathUpdate || !bytes.Equal(rs[1].Body, []byte(body)) ||
		rs[1].Header.Get("X-User-Id") != userID || !rs[1].Time.Equal(e.clock.Now()) {
		t.Errorf("second request %+v", rs[1])
	}
	rs[1].Body[0] = 'X' // a copy
	if e.sim.Requests()[1].Body[0] != '{' {
		t.Error("Requests returned shared memory")
	}

	e.sim.Fail(rocketchatsim.Fault{Status: 500})
	e.sim.Reset()
	if len(e.sim.Requests()) != 0 || e.sim.PendingFaults() != 0 {
		t.Error("Reset kept requests or faults")
	}
	if _, ok := e.sim.App(appID); ok {
		t.Error("Reset kept apps")
	}
	e.do(t, "GET", rocketchatsim.PathGet+"?_id="+appID, "", nil).want(t, 400, nil)
}

func TestSeedDefaults(t *testing.T) {
	sim := rocketchatsim.New(rocketchatsim.Options{})
	app := sim.Seed(rocketchatsim.App{Name: "x", RedirectURI: "https://x"})
	if len(app.ID) != 17 || len(app.ClientID) != 17 || len(app.ClientSecret) != 43 || app.CreatedAt.IsZero() ||
		!app.UpdatedAt.Equal(app.CreatedAt) {
		t.Errorf("seeded %+v", app)
	}
	if got, ok := sim.App(app.ID); !ok || got != app {
		t.Errorf("App = %+v, %v", got, ok)
	}
}

func TestMountedUnderPrefix(t *testing.T) {
	sim := rocketchatsim.New(rocketchatsim.Options{UserID: userID, AuthToken: authToken})
	sim.Seed(rocketchatsim.App{ID: appID, Name: "n", RedirectURI: "https://x"})
	mux := http.NewServeMux()
	mux.Handle("/sim/rocketchat/", http.StripPrefix("/sim/rocketchat", sim))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/sim/rocketchat"+rocketchatsim.PathGet+"?_id="+appID, nil)
	req.Header.Set("X-User-Id", userID)
	req.Header.Set("X-Auth-Token", authToken)
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
	e := start(t, rocketchatsim.Options{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			f := validUpdate()
			f["name"] = "n" + strconv.Itoa(i)
			req, _ := http.NewRequest("POST", e.srv.URL+rocketchatsim.PathUpdate, strings.NewReader(update(f)))
			req.Header.Set("X-User-Id", userID)
			req.Header.Set("X-Auth-Token", authToken)
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			e.sim.Requests()
			e.sim.App(appID)
		})
	}
	wg.Wait()
	if n := len(e.sim.Requests()); n != 16 {
		t.Errorf("%d requests recorded", n)
	}
}

func TestParseURIList(t *testing.T) {
	for in, want := range map[string][]string{
		"https://a":                 {"https://a"},
		" https://a , https://b\n":  {"https://a", "https://b"},
		"https://a\nhttps://b,,\n,": {"https://a", "https://b"},
		"":                          nil,
		" , \n ":                    nil,
	} {
		if got := rocketchatsim.ParseURIList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseURIList(%q) = %q, want %q", in, got, want)
		}
	}
}
