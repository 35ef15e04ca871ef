package rocketchat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
)

// The server's not-found answers (docs/providers/NOTES.md §3.2.5, §3.3).
const (
	errorTypeNotFound = "error-application-not-found"
	errorReadNotFound = "OAuth app not found."
)

// oauthApp is the part of the read's oauthApp the adapter uses. ClientSecret
// is decoded only to be scrubbed from later error messages.
type oauthApp struct {
	ID           *string `json:"_id"`
	Name         *string `json:"name"`
	Active       *bool   `json:"active"`
	RedirectURI  *string `json:"redirectUri"`
	ClientSecret string  `json:"clientSecret"`
}

// parseRead turns the read's answer into the current app, or an error.
func (a *adapter) parseRead(resp *httpx.Response, resource string) (*oauthApp, error) {
	if !resp.OK() {
		return nil, a.failure(resp)
	}
	var body struct {
		OAuthApp json.RawMessage `json:"oauthApp"`
		Success  *bool           `json:"success"`
	}
	if err := decodeObject(resp.Body, &body); err != nil {
		return nil, unexpected(resp, "the body is not the expected JSON object")
	}
	if body.Success == nil || !*body.Success {
		return nil, a.unsuccessful(resp)
	}
	if body.OAuthApp == nil {
		return nil, unexpected(resp, "no oauthApp")
	}
	if bytes.Equal(bytes.TrimSpace(body.OAuthApp), []byte("null")) {
		return nil, &adapters.Error{Kind: adapters.KindNotFound, HTTPStatus: resp.Status,
			Message: fmt.Sprintf("%s: HTTP %d: oauthApp is null: OAuth app not found", resp.Call, resp.Status)}
	}
	var app oauthApp
	if err := decodeObject(body.OAuthApp, &app); err != nil {
		return nil, unexpected(resp, "oauthApp is not the expected JSON object")
	}
	if app.ID != nil && *app.ID != resource {
		return nil, unexpected(resp, "oauthApp is another app")
	}
	return &app, nil
}

// parseUpdate checks the update's answer. clientSecret (from the read) is
// scrubbed from any message.
func (a *adapter) parseUpdate(resp *httpx.Response, clientSecret string) error {
	if !resp.OK() {
		return a.failure(resp, clientSecret)
	}
	var body struct {
		Success *bool `json:"success"`
	}
	if err := decodeObject(resp.Body, &body); err != nil {
		return unexpected(resp, "the body is not the expected JSON object")
	}
	if body.Success == nil || !*body.Success {
		return a.unsuccessful(resp, clientSecret)
	}
	return nil
}

// decodeObject decodes a JSON object (and nothing after it) into v.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	return json.Unmarshal(b, v)
}

// unexpected is a 2xx the adapter cannot use: transient, the server (or
// something in front of it) answered wrongly.
func unexpected(resp *httpx.Response, what string) *adapters.Error {
	return &adapters.Error{Kind: adapters.KindUnavailable, HTTPStatus: resp.Status,
		Message: fmt.Sprintf("%s: HTTP %d: unexpected response: %s", resp.Call, resp.Status, what)}
}

// envelope is Rocket.Chat's failure body: {success:false, error, errorType}
// (and {status, message} on 401). Fields are decoded one by one so that a
// wrong type in one does not lose the others.
type envelope struct {
	Error, ErrorType, Message string
}

func decodeEnvelope(b []byte) envelope {
	var raw map[string]json.RawMessage
	if decodeObject(b, &raw) != nil {
		return envelope{}
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(raw[k], &s)
		return s
	}
	return envelope{Error: str("error"), ErrorType: str("errorType"), Message: str("message")}
}

// text is the provider's error text for a message.
func (e envelope) text() string {
	t := strings.TrimSpace(e.Error)
	if t == "" {
		t = strings.TrimSpace(e.Message)
	}
	if e.ErrorType != "" && !strings.Contains(t, e.ErrorType) {
		t = strings.TrimSpace(t + " [" + e.ErrorType + "]")
	}
	return t
}

// unsuccessful is a 2xx whose body does not say success:true.
func (a *adapter) unsuccessful(resp *httpx.Response, secrets ...string) *adapters.Error {
	e := unexpected(resp, "success is not true")
	if t := a.client.Scrub(decodeEnvelope(resp.Body).text(), secrets...); t != "" {
		e.Message += ": " + truncate(t, httpx.MaxProviderMessage)
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// waitPattern finds the wait in the 429 message: "You must wait 7 seconds
// before trying this endpoint again."
var waitPattern = regexp.MustCompile(`wait (\d{1,9}) seconds?`)

// failure classifies a non-2xx answer. The whole message is scrubbed of the
// credentials and secrets (the client secret a read returned).
func (a *adapter) failure(resp *httpx.Response, secrets ...string) *adapters.Error {
	env := decodeEnvelope(resp.Body)
	// Scrub before StatusError cuts the text: a cut secret would not match.
	e := httpx.StatusError(resp, a.client.Scrub(env.text(), secrets...))
	switch resp.Status {
	case http.StatusBadRequest:
		if env.ErrorType == errorTypeNotFound || strings.TrimSpace(env.Error) == errorReadNotFound ||
			strings.HasSuffix(strings.TrimSpace(env.Error), "["+errorTypeNotFound+"]") {
			e.Kind = adapters.KindNotFound
		}
	case http.StatusNotFound:
		// Rocket.Chat answers 404 only for a route it does not have (a
		// missing app is a 400): the base URL or the server version is wrong.
		e.Kind = adapters.KindRejected
		e.Message += " (the endpoint does not exist: check the connection's base URL and the Rocket.Chat version)"
	case http.StatusTooManyRequests:
		e.RetryAfter = a.retryAfter(resp.Header, env.Error)
	}
	e.Message = a.client.Scrub(e.Message, secrets...)
	return e
}

// retryAfter is the wait a 429 asks for: X-RateLimit-Reset (epoch ms), else
// the message's "wait N seconds", else Retry-After (which Rocket.Chat does
// not send, but a proxy might). Zero means no signal.
func (a *adapter) retryAfter(h http.Header, message string) time.Duration {
	now := a.now()
	if d, ok := httpx.ParseRateLimitReset(h.Get("X-RateLimit-Reset"), time.Millisecond, now); ok && d > 0 {
		return d
	}
	if m := waitPattern.FindStringSubmatch(message); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil && n > 0 {
			return min(time.Duration(n)*time.Second, httpx.MaxWait)
		}
	}
	d, _ := httpx.ParseRetryAfter(h, now)
	return d
}
