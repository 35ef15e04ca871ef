package httpx_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
)

func newClient(t *testing.T, cfg httpx.Config) *httpx.Client {
	t.Helper()
	c, err := httpx.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func wantKind(t *testing.T, err error, kind adapters.Kind) *adapters.Error {
	t.Helper()
	ae, ok := adapters.AsError(err)
	if !ok {
		t.Fatalf("error %v (%T) is not an *adapters.Error", err, err)
	}
	if ae.Kind != kind {
		t.Fatalf("kind = %s, want %s (%v)", ae.Kind, kind, ae)
	}
	return ae
}

func TestNewValidatesBaseURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"https://chat.example.com", true},
		{"http://127.0.0.1:8080/prefix/", true},
		{"", false},
		{"chat.example.com", false},
		{"/relative/path", false},
		{"ftp://chat.example.com", false},
		{"https://", false},
		{"https://user:pass@chat.example.com", false},
		{"https://chat.example.com/?a=b", false},
		{"https://chat.example.com/?", false},
		{"https://chat.example.com/#frag", false},
		{"https://chat.example.com/#", false},
		{"mailto:someone@example.com", false},
		{"https://chat.example.com/%zz", false},
	} {
		_, err := httpx.New(httpx.Config{BaseURL: tc.url})
		if (err == nil) != tc.ok {
			t.Errorf("New(%q) error = %v, want ok=%v", tc.url, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "pass") {
			t.Errorf("New(%q) error leaks user info: %v", tc.url, err)
		}
	}
	if _, err := httpx.New(httpx.Config{BaseURL: "https://x.example", Timeout: -1}); err == nil {
		t.Error("negative timeout accepted")
	}
}

func TestDoBuildsRequest(t *testing.T) {
	type seen struct {
		method, uri, host, ctype, accept, ua, custom string
		body                                         string
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Host, r.Header.Get("Content-Type"), r.Header.Get("Accept"),
			r.Header.Get("User-Agent"), r.Header.Get("X-Custom"), string(b)}
		w.Header().Set("X-Answer", "yes")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()

	c := newClient(t, httpx.Config{BaseURL: srv.URL + "/base/"})
	resp, err := c.Do(context.Background(), httpx.Request{
		Method: http.MethodPost,
		Path:   []string{"api", "v1", "oauth-apps.update"},
		Query:  url.Values{"_id": {"a b&c"}},
		Header: http.Header{"X-Custom": {"v"}},
		JSON:   map[string]any{"appId": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := <-got
	want := seen{"POST", "/base/api/v1/oauth-apps.update?_id=a+b%26c", strings.TrimPrefix(srv.URL, "http://"),
		"application/json", "application/json", httpx.DefaultUserAgent, "v", `{"appId":"x"}`}
	if s != want {
		t.Errorf("server saw %+v\nwant %+v", s, want)
	}
	if resp.Status != http.StatusCreated || !resp.OK() || resp.Header.Get("X-Answer") != "yes" || string(resp.Body) != `{"ok":true}` {
		t.Errorf("response = %+v", resp)
	}
	if resp.Call != "POST /base/api/v1/oauth-apps.update" {
		t.Errorf("Call = %q", resp.Call)
	}
}

// TestDoPathEscaping: no segment can change the host, the base path or the
// query.
func TestDoPathEscaping(t *testing.T) {
	uris := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		uris <- r.Host + " " + r.RequestURI
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	c := newClient(t, httpx.Config{BaseURL: srv.URL + "/api"})

	for _, tc := range []struct{ seg, want string }{
		{"../../admin", "/api/..%2F..%2Fadmin"},
		{"x?admin=1", "/api/x%3Fadmin=1"},
		{"x#frag", "/api/x%23frag"},
		{"a/b", "/api/a%2Fb"},
		{"@evil.example.com", "/api/@evil.example.com"},
		{"%2e%2e", "/api/%252e%252e"},
		{"x y", "/api/x%20y"},
	} {
		if _, err := c.Do(context.Background(), httpx.Request{Path: []string{"apps", tc.seg}}); err != nil {
			t.Fatalf("%q: %v", tc.seg, err)
		}
		got := <-uris
		want := host + " " + strings.Replace(tc.want, "/api/", "/api/apps/", 1)
		if got != want {
			t.Errorf("segment %q: server saw %q, want %q", tc.seg, got, want)
		}
	}
	for _, seg := range []string{"", ".", ".."} {
		_, err := c.Do(context.Background(), httpx.Request{Path: []string{seg}})
		wantKind(t, err, adapters.KindInvalid)
	}
	if len(uris) != 0 {
		t.Errorf("refused segments reached the server")
	}
}

func TestDoDoesNotFollowRedirects(t *testing.T) {
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()

	// The given client's own CheckRedirect is replaced.
	given := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	c := newClient(t, httpx.Config{BaseURL: redirector.URL, HTTPClient: given})
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		resp, err := c.Do(context.Background(), httpx.Request{Method: m, Path: []string{"x"}, JSON: map[string]int{"a": 1}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != http.StatusFound {
			t.Errorf("%s: status = %d, want 302", m, resp.Status)
		}
		e := httpx.StatusError(resp, "")
		if e.Kind != adapters.KindRejected || e.Retryable() {
			t.Errorf("%s: StatusError = %v, want rejected", m, e)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("redirect target got %d requests", n)
	}
	if given.CheckRedirect == nil {
		t.Error("the given client was modified")
	}
}

func TestDoKeepsTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	var calls atomic.Int32
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		calls.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})
	c := newClient(t, httpx.Config{BaseURL: srv.URL, HTTPClient: &http.Client{Transport: rt}})
	if _, err := c.Do(context.Background(), httpx.Request{}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Errorf("transport called %d times, want 1", calls.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestDoCapsResponseSize(t *testing.T) {
	const limit = 1000
	size := make(chan int, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(make([]byte, <-size))
	}))
	defer srv.Close()
	c := newClient(t, httpx.Config{BaseURL: srv.URL, MaxResponseBytes: limit})

	size <- limit
	resp, err := c.Do(context.Background(), httpx.Request{})
	if err != nil || len(resp.Body) != limit {
		t.Fatalf("exactly the limit: resp=%v err=%v", resp, err)
	}
	size <- 10 * limit
	_, err = c.Do(context.Background(), httpx.Request{})
	e := wantKind(t, err, adapters.KindUnavailable)
	if !strings.Contains(e.Message, "larger than 1000 bytes") || e.HTTPStatus != http.StatusOK {
		t.Errorf("error = %v (status %d)", e, e.HTTPStatus)
	}
	if c.MaxResponseBytes() != limit {
		t.Errorf("MaxResponseBytes = %d", c.MaxResponseBytes())
	}
	if d := newClient(t, httpx.Config{BaseURL: srv.URL}); d.MaxResponseBytes() != httpx.DefaultMaxResponseBytes {
		t.Errorf("default MaxResponseBytes = %d", d.MaxResponseBytes())
	}
}

// TestDoStopsReadingAtTheCap: the client drops the connection at the cap
// rather than reading a huge body to the end.
func TestDoStopsReadingAtTheCap(t *testing.T) {
	const huge = 64 << 20 // far beyond socket buffers
	full := make(chan bool, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 64<<10)
		for n := 0; n < huge; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				full <- false
				return
			}
		}
		full <- true
	}))
	defer srv.Close()
	c := newClient(t, httpx.Config{BaseURL: srv.URL})
	_, err := c.Do(context.Background(), httpx.Request{})
	wantKind(t, err, adapters.KindUnavailable)
	select {
	case whole := <-full:
		if whole {
			t.Error("the client read the whole body")
		}
	case <-time.After(30 * time.Second):
		t.Error("the server is still writing: the client did not drop the connection")
	}
}

// blockingServer answers nothing until the client goes away; arrived
// receives a value when a request is in.
func blockingServer(t *testing.T) (*httptest.Server, <-chan struct{}) {
	arrived := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv, arrived
}

func TestDoTimeouts(t *testing.T) {
	srv, _ := blockingServer(t)

	t.Run("config timeout", func(t *testing.T) {
		c := newClient(t, httpx.Config{BaseURL: srv.URL, Timeout: 50 * time.Millisecond})
		_, err := c.Do(context.Background(), httpx.Request{})
		e := wantKind(t, err, adapters.KindTimeout)
		if !e.Retryable() || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("http.Client timeout", func(t *testing.T) {
		c := newClient(t, httpx.Config{BaseURL: srv.URL, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
		_, err := c.Do(context.Background(), httpx.Request{})
		wantKind(t, err, adapters.KindTimeout)
	})
	t.Run("caller deadline", func(t *testing.T) {
		c := newClient(t, httpx.Config{BaseURL: srv.URL})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.Do(ctx, httpx.Request{})
		wantKind(t, err, adapters.KindTimeout)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error %v does not wrap DeadlineExceeded", err)
		}
	})
	t.Run("slow body", func(t *testing.T) {
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "{")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}))
		defer slow.Close()
		c := newClient(t, httpx.Config{BaseURL: slow.URL, Timeout: 50 * time.Millisecond})
		_, err := c.Do(context.Background(), httpx.Request{})
		e := wantKind(t, err, adapters.KindTimeout)
		if e.HTTPStatus != http.StatusOK {
			t.Errorf("HTTPStatus = %d", e.HTTPStatus)
		}
	})
}

func TestDoCancel(t *testing.T) {
	srv, arrived := blockingServer(t)
	c := newClient(t, httpx.Config{BaseURL: srv.URL})

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := c.Do(ctx, httpx.Request{Query: url.Values{"token": {"query-secret"}}})
	e := wantKind(t, err, adapters.KindUnavailable)
	if !errors.Is(err, context.Canceled) || e.Err != context.Canceled {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if strings.Contains(err.Error(), "query-secret") {
		t.Errorf("error leaks the query: %v", err)
	}

	// Already cancelled: no request.
	_, err = c.Do(ctx, httpx.Request{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
}

func TestDoNetworkErrorKeepsSecretsOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	base := srv.URL
	srv.Close() // connection refused from now on

	c := newClient(t, httpx.Config{BaseURL: base, Secrets: []string{"tok-123"}})
	_, err := c.Do(context.Background(), httpx.Request{
		Path:  []string{"apps", "tok-123"},
		Query: url.Values{"secret": {"query-secret"}},
		JSON:  map[string]string{"clientSecret": "body-secret"},
	})
	e := wantKind(t, err, adapters.KindUnavailable)
	if e.Err == nil {
		t.Error("no underlying error")
	}
	for _, s := range []string{"query-secret", "body-secret", "tok-123"} {
		if strings.Contains(err.Error(), s) || strings.Contains(e.Err.Error(), s) {
			t.Errorf("error leaks %q: %v / %v", s, err, e.Err)
		}
	}
	if !strings.Contains(err.Error(), "GET /apps/") {
		t.Errorf("error does not name the call: %v", err)
	}
}

func TestDoBodyThatDoesNotEncode(t *testing.T) {
	c := newClient(t, httpx.Config{BaseURL: "http://127.0.0.1:1"})
	_, err := c.Do(context.Background(), httpx.Request{JSON: map[string]any{"f": func() {}}})
	wantKind(t, err, adapters.KindInvalid)
}
