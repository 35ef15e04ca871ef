package httpx

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/internal/redact"
)

// Defaults of Config.
const (
	// DefaultTimeout is the per-call timeout when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes is the response size cap when
	// Config.MaxResponseBytes is zero (1 MiB).
	DefaultMaxResponseBytes int64 = 1 << 20
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "oauthsync-syncworker"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the only place the client calls: an absolute http or https
	// URL with a host, no user info, no query and no fragment. Its path (if
	// any) prefixes every request path. Required.
	BaseURL string
	// HTTPClient is copied; its Transport (and so its instrumentation) is
	// kept, its CheckRedirect replaced so that redirects are never followed.
	// Nil means a client on http.DefaultTransport.
	HTTPClient *http.Client
	// Timeout bounds each call (request and body read) on top of the
	// caller's context. Default DefaultTimeout (10s).
	Timeout time.Duration
	// MaxResponseBytes caps the response body read; a larger body is a
	// KindUnavailable error. Default DefaultMaxResponseBytes (1 MiB).
	MaxResponseBytes int64
	// Secrets are values scrubbed from every error message the client
	// builds (credentials). Empty strings are ignored.
	Secrets []string
	// UserAgent is sent as User-Agent. Default DefaultUserAgent.
	UserAgent string
}

func (c Config) validate() (*url.URL, error) {
	if c.BaseURL == "" {
		return nil, errors.New("httpx: base URL is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		// url.Error quotes the input; the input may hold user info, so say less.
		return nil, errors.New("httpx: base URL does not parse as a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("httpx: base URL scheme must be http or https, not %q", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("httpx: base URL has no host")
	case u.User != nil:
		return nil, errors.New("httpx: base URL must not carry user info; put credentials in the connection's auth")
	case u.RawQuery != "" || u.ForceQuery:
		return nil, errors.New("httpx: base URL must not have a query")
	case u.Fragment != "" || strings.Contains(c.BaseURL, "#"):
		return nil, errors.New("httpx: base URL must not have a fragment")
	case u.Opaque != "":
		return nil, errors.New("httpx: base URL must be hierarchical (scheme://host/path)")
	}
	if c.Timeout < 0 {
		return nil, errors.New("httpx: timeout must not be negative")
	}
	if c.MaxResponseBytes < 0 {
		return nil, errors.New("httpx: max response bytes must not be negative")
	}
	return u, nil
}

// Client calls one provider base URL. It is safe for concurrent use.
type Client struct {
	base     *url.URL // scheme and host of every request; its escaped path prefixes every path
	basePath string   // base's escaped path without a trailing slash
	hc       *http.Client
	timeout  time.Duration
	max      int64
	scrubber *redact.Scrubber
	ua       string
}

// New returns a Client for cfg, or an error saying what is wrong with cfg.
func New(cfg Config) (*Client, error) {
	u, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	var hc http.Client
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var secrets []string
	for _, s := range cfg.Secrets {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	return &Client{
		base:     &url.URL{Scheme: u.Scheme, Host: u.Host},
		basePath: strings.TrimRight(u.EscapedPath(), "/"),
		hc:       &hc,
		timeout:  cmp.Or(cfg.Timeout, DefaultTimeout),
		max:      cmp.Or(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		scrubber: redact.New(secrets...),
		ua:       cmp.Or(cfg.UserAgent, DefaultUserAgent),
	}, nil
}

// MaxResponseBytes returns the response size cap.
func (c *Client) MaxResponseBytes() int64 { return c.max }

// Scrub replaces the configured secrets and extra in s with
// messages.Redacted. Adapters pass secrets they learn from a response (a
// clientSecret a read echoes) as extra.
func (c *Client) Scrub(s string, extra ...string) string {
	if s == "" {
		return s
	}
	return c.scrubber.With(extra...).String(s)
}

// Request is one call to the provider.
type Request struct {
	// Method is the HTTP method; empty means GET.
	Method string
	// Path are the path segments after the base path. Each is escaped with
	// url.PathEscape; "", "." and ".." are refused.
	Path []string
	// Query is the query string.
	Query url.Values
	// Header is added to the request (Accept and User-Agent are set unless
	// given; Content-Type is set when JSON is).
	Header http.Header
	// JSON, when not nil, is marshalled as the body.
	JSON any
}

// Response is a provider's answer, whatever its status.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header is the response header.
	Header http.Header
	// Body is the whole body (at most the client's MaxResponseBytes).
	Body []byte
	// Call names the call for messages: method and escaped path, never
	// the query ("GET /api/v1/oauth-apps.get").
	Call string
}

// OK reports whether the status is 2xx.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status <= 299 }

// errCallTimeout is the cause of the per-call timeout.
var errCallTimeout = errors.New("httpx: call timeout")

// Do sends req to the base URL and reads the whole response. A non-2xx
// status is not an error: the caller classifies it (StatusError). Every
// error is an *adapters.Error; see the package doc for the kinds.
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	method := cmp.Or(req.Method, http.MethodGet)
	path := c.basePath
	for _, seg := range req.Path {
		if seg == "" || seg == "." || seg == ".." {
			return nil, adapters.Invalid("path", "path segment %q is not allowed", seg)
		}
		path += "/" + url.PathEscape(seg)
	}
	if path == "" {
		path = "/"
	}
	u := *c.base
	u.RawPath = path
	var err error
	if u.Path, err = url.PathUnescape(path); err != nil {
		return nil, adapters.Invalid("path", "base path does not unescape")
	}
	if len(req.Query) > 0 {
		u.RawQuery = req.Query.Encode()
	}
	name := method + " " + path

	var body io.Reader
	if req.JSON != nil {
		b, err := json.Marshal(req.JSON)
		if err != nil {
			// The marshal error may quote a value: keep it out of the message.
			return nil, &adapters.Error{Kind: adapters.KindInvalid, Message: name + ": request body does not encode as JSON"}
		}
		body = bytes.NewReader(b)
	}

	callCtx, cancel := context.WithTimeoutCause(ctx, c.timeout, errCallTimeout)
	defer cancel()
	hreq, err := http.NewRequestWithContext(callCtx, method, u.String(), body)
	if err != nil {
		return nil, &adapters.Error{Kind: adapters.KindInvalid, Message: name + ": request cannot be built"}
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			hreq.Header.Add(k, v)
		}
	}
	if req.JSON != nil && hreq.Header.Get("Content-Type") == "" {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if hreq.Header.Get("Accept") == "" {
		hreq.Header.Set("Accept", "application/json")
	}
	if hreq.Header.Get("User-Agent") == "" {
		hreq.Header.Set("User-Agent", c.ua)
	}

	resp, err := c.hc.Do(hreq)
	if err != nil {
		e := c.transportError(ctx, callCtx, name, "request failed", err)
		e.MayHaveWritten = isWrite(method)
		return nil, e
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.max+1))
	if err != nil {
		e := c.transportError(ctx, callCtx, name, "reading the response failed", err)
		e.HTTPStatus = resp.StatusCode
		e.MayHaveWritten = isWrite(method)
		return nil, e
	}
	if int64(len(b)) > c.max {
		return nil, &adapters.Error{
			Kind:       adapters.KindUnavailable,
			HTTPStatus: resp.StatusCode,
			Message:    fmt.Sprintf("%s: HTTP %d: response larger than %d bytes", name, resp.StatusCode, c.max),
		}
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b, Call: name}, nil
}

// isWrite reports whether method changes the provider's state.
func isWrite(method string) bool {
	switch method {
	case http.MethodPut, http.MethodPatch, http.MethodPost, http.MethodDelete:
		return true
	}
	return false
}

// transportError classifies a failure to get or read a response.
func (c *Client) transportError(parent, call context.Context, name, what string, err error) *adapters.Error {
	// Drop *url.Error: its text holds the whole URL, query included.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case parent.Err() != nil && errors.Is(parent.Err(), context.DeadlineExceeded):
		return &adapters.Error{Kind: adapters.KindTimeout, Err: parent.Err(),
			Message: fmt.Sprintf("%s: %s: the caller's deadline passed", name, what)}
	case parent.Err() != nil:
		return &adapters.Error{Kind: adapters.KindUnavailable, Err: parent.Err(),
			Message: fmt.Sprintf("%s: %s: %v", name, what, parent.Err())}
	case errors.Is(context.Cause(call), errCallTimeout):
		return &adapters.Error{Kind: adapters.KindTimeout, Err: context.DeadlineExceeded,
			Message: fmt.Sprintf("%s: %s: no answer within %s", name, what, c.timeout)}
	}
	var ne net.Error
	if (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, context.DeadlineExceeded) {
		return &adapters.Error{Kind: adapters.KindTimeout, Err: err,
			Message: c.Scrub(fmt.Sprintf("%s: %s: timeout: %v", name, what, err))}
	}
	return &adapters.Error{Kind: adapters.KindUnavailable, Err: err,
		Message: c.Scrub(fmt.Sprintf("%s: %s: %v", name, what, err))}
}
