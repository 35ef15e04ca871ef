package jframework

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
)

// StatusUsageLimit is jframework's custom status 209, "The user has exceeded
// the feature usage limit" (the API overview's status table): a 2xx that is
// a failure.
const StatusUsageLimit = 209

// The error codes the adapter classifies by (the errors page, docs/providers/NOTES.md §4.4).
const (
	codeAuthenticationNotFound = "AppIntegrationAuthenticationNotFound"
	codeAppIntegrationNotFound = "AppIntegrationNotFound"
	codeRateLimitExceeded      = "RateLimitExceeded"
)

// Limits on what of the provider's error text goes into a message, so that
// the first error's code and correlationId survive httpx's cut at
// httpx.MaxProviderMessage bytes.
const (
	maxMessageText = 120
	maxErrorText   = 160
	maxErrorCode   = 64
	maxErrors      = 4
)

// authentication is the read's data: the app integration authentication.
// Nullable fields are nil when null or absent. ClientSecret is carried into
// the PUT and scrubbed from every message; it is never printed.
type authentication struct {
	ID             *string `json:"id"`
	AppIntegration *struct {
		ID *string `json:"id"`
	} `json:"appIntegration"`
	// AppIntegrationID is not in the documented read model (which has
	// appIntegration.id); it is used only when appIntegration.id is absent.
	AppIntegrationID *string `json:"appIntegrationId"`
	Code             *string `json:"code"`
	Name             *string `json:"name"`
	ProjectID        *string `json:"projectId"`
	ClientID         *string `json:"clientId"`
	ClientSecret     *string `json:"clientSecret"`
	RedirectURI      *string `json:"redirectURI"`
	Scope            *string `json:"scope"`
	AuthEndpoint     *string `json:"authEndpoint"`
	TokenEndpoint    *string `json:"tokenEndpoint"`
	IconURL          *string `json:"iconURL"`
	Tags             *string `json:"tags"`
	Description      *string `json:"description"`
	Status           *string `json:"status"`
	IsDefault        *bool   `json:"isDefault"`
}

// appIntegrationID is the PUT's appIntegrationId: the read's
// data.appIntegration.id.
func (a *authentication) appIntegrationID() *string {
	if a.AppIntegration != nil && a.AppIntegration.ID != nil && *a.AppIntegration.ID != "" {
		return a.AppIntegration.ID
	}
	return a.AppIntegrationID
}

// parseRead turns the read's answer into the current object, or an error.
// secrets (the command's client secret) are scrubbed from any message, and
// so is the clientSecret the answer itself carries.
func (a *adapter) parseRead(resp *httpx.Response, resource string, secrets ...string) (*authentication, error) {
	env := decodeEnvelope(resp.Body)
	secrets = append(secrets, env.dataSecret())
	if !resp.OK() || resp.Status == StatusUsageLimit {
		return nil, a.failure(resp, env, secrets)
	}
	if !env.object {
		return nil, unexpected(resp, "the body is not the expected JSON object")
	}
	if env.success == nil || !*env.success {
		return nil, a.unsuccessful(resp, env, secrets)
	}
	if len(env.data) == 0 || bytes.Equal(env.data, []byte("null")) {
		return nil, unexpected(resp, "success without data")
	}
	var cur authentication
	if err := decodeObject(env.data, &cur); err != nil {
		return nil, unexpected(resp, "data is not the expected JSON object")
	}
	if cur.ID != nil && *cur.ID != resource {
		return nil, unexpected(resp, "data is another app integration authentication")
	}
	return &cur, nil
}

// parseWrite checks the PUT's answer. secrets (the client secrets of the
// read and of the command) are scrubbed from any message.
func (a *adapter) parseWrite(resp *httpx.Response, secrets ...string) error {
	env := decodeEnvelope(resp.Body)
	secrets = append(secrets, env.dataSecret())
	if !resp.OK() || resp.Status == StatusUsageLimit {
		return a.failure(resp, env, secrets)
	}
	if !env.object {
		return unexpected(resp, "the body is not the expected JSON object")
	}
	if env.success == nil || !*env.success {
		return a.unsuccessful(resp, env, secrets)
	}
	return nil
}

// decodeObject decodes a JSON object (and nothing after it) into v.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(b, v)
}

// unexpected is a 2xx the adapter cannot use: transient, the server (or
// something in front of it) answered wrongly. Its message holds nothing of
// the body.
func unexpected(resp *httpx.Response, what string) *adapters.Error {
	return &adapters.Error{Kind: adapters.KindUnavailable, HTTPStatus: resp.Status,
		Message: fmt.Sprintf("%s: HTTP %d: unexpected response: %s", resp.Call, resp.Status, what)}
}

// envelope is jframework's response body:
// {success, statusCode, message, data, errors:[{code, message|details,
// correlationId}]}. Fields are decoded one by one so that a wrong type in
// one does not lose the others.
type envelope struct {
	object     bool  // the body is a JSON object
	success    *bool // nil when absent, null or not a boolean
	statusCode int
	message    string
	errors     []apiError
	data       json.RawMessage
}

// apiError is one of errors[]. The errors page's example calls the text
// "details", its field table and the SDK "message": both are read.
type apiError struct {
	code, text, correlationID string
}

func decodeEnvelope(b []byte) envelope {
	var raw map[string]json.RawMessage
	if decodeObject(b, &raw) != nil {
		return envelope{}
	}
	e := envelope{object: true, data: raw["data"], message: str(raw, "message")}
	var success any
	if json.Unmarshal(raw["success"], &success) == nil {
		if b, ok := success.(bool); ok {
			e.success = &b
		}
	}
	_ = json.Unmarshal(raw["statusCode"], &e.statusCode)
	var list []json.RawMessage
	if json.Unmarshal(raw["errors"], &list) == nil {
		e.errors = []apiError{}
		for _, item := range list {
			var fields map[string]json.RawMessage
			if decodeObject(item, &fields) != nil {
				continue
			}
			text := str(fields, "message")
			if text == "" {
				text = str(fields, "details")
			}
			e.errors = append(e.errors, apiError{code: str(fields, "code"), text: text, correlationID: str(fields, "correlationId")})
		}
	}
	return e
}

// str is m[k] as a string, "" when absent or not a string.
func str(m map[string]json.RawMessage, k string) string {
	var s string
	_ = json.Unmarshal(m[k], &s)
	return s
}

// isJFW reports whether the body looks like jframework's envelope (and not,
// say, a proxy's page).
func (e envelope) isJFW() bool {
	return e.object && (e.success != nil || e.statusCode != 0 || e.errors != nil)
}

// dataSecret is the clientSecret in data, if any: it must be scrubbed.
func (e envelope) dataSecret() string {
	var d map[string]json.RawMessage
	if decodeObject(e.data, &d) != nil {
		return ""
	}
	return str(d, "clientSecret")
}

// hasCode reports whether errors[] holds one of codes.
func (e envelope) hasCode(codes ...string) bool {
	return slices.ContainsFunc(e.errors, func(ae apiError) bool { return slices.Contains(codes, ae.code) })
}

// text is the provider's error text for a message: the envelope's message,
// then each error's code, text and correlationId. Every piece is scrubbed
// before it is cut, so that a cut secret cannot survive.
func (e envelope) text(scrub func(string) string) string {
	piece := func(s string, n int) string { return truncate(strings.TrimSpace(scrub(s)), n) }
	var parts []string
	for i, ae := range e.errors {
		if i == maxErrors {
			parts = append(parts, fmt.Sprintf("%d more", len(e.errors)-maxErrors))
			break
		}
		code, text, id := piece(ae.code, maxErrorCode), piece(ae.text, maxErrorText), piece(ae.correlationID, maxErrorCode)
		p := code
		if text != "" {
			p = strings.TrimPrefix(p+": "+text, ": ")
		}
		if id != "" {
			p = strings.TrimSpace(p + " (correlationId " + id + ")")
		}
		if p != "" {
			parts = append(parts, p)
		}
	}
	t := piece(e.message, maxMessageText)
	if len(parts) > 0 {
		t = strings.TrimSpace(t + " [" + strings.Join(parts, "; ") + "]")
	}
	return t
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// scrubber returns a function that scrubs the credentials and secrets.
func (a *adapter) scrubber(secrets []string) func(string) string {
	secrets = append(secrets, a.Secrets()...)
	return func(s string) string { return a.client.Scrub(s, secrets...) }
}

// failure classifies a non-2xx answer or a 209.
func (a *adapter) failure(resp *httpx.Response, env envelope, secrets []string) *adapters.Error {
	scrub := a.scrubber(secrets)
	text := env.text(scrub)
	if resp.Status == StatusUsageLimit {
		e := a.usageLimit(resp, "", text)
		e.Message = scrub(e.Message)
		return e
	}
	e := httpx.StatusError(resp, text)
	switch {
	case resp.Status == http.StatusNotFound:
		if !env.isJFW() {
			e.Message += " (not a jframework answer: check the connection's base URL)"
		}
	case resp.Status == http.StatusTooManyRequests:
		e.RetryAfter = a.retryAfter(resp.Header)
	case e.Kind == adapters.KindRejected && resp.Status >= 400 && env.hasCode(codeAuthenticationNotFound, codeAppIntegrationNotFound):
		e.Kind = adapters.KindNotFound
	}
	e.Message = scrub(e.Message)
	return e
}

// unsuccessful classifies a 2xx whose envelope does not say success:true,
// by the envelope's statusCode (and error codes) where it has one; with
// neither it is an unexpected, transient answer.
func (a *adapter) unsuccessful(resp *httpx.Response, env envelope, secrets []string) *adapters.Error {
	scrub := a.scrubber(secrets)
	text := env.text(scrub)
	sc := env.statusCode
	what := "success is not true"
	if env.success != nil {
		what = "success is false"
	}
	if sc != 0 {
		what += fmt.Sprintf(" (statusCode %d)", sc)
	}
	if sc == StatusUsageLimit {
		e := a.usageLimit(resp, what, text)
		e.Message = scrub(e.Message)
		return e
	}
	kind := adapters.KindUnavailable
	if sc >= 400 && sc <= 599 {
		kind = httpx.StatusError(&httpx.Response{Status: sc}, "").Kind
	}
	var retryAfter time.Duration
	switch {
	case kind == adapters.KindRejected || (kind == adapters.KindUnavailable && sc < 500):
		if env.hasCode(codeAuthenticationNotFound, codeAppIntegrationNotFound) {
			kind = adapters.KindNotFound
		} else if env.hasCode(codeRateLimitExceeded) {
			kind = adapters.KindRateLimited
		}
	}
	if kind == adapters.KindRateLimited {
		retryAfter = a.retryAfter(resp.Header)
	}
	msg := fmt.Sprintf("%s: HTTP %d: %s", resp.Call, resp.Status, what)
	if text != "" {
		msg += ": " + truncate(text, httpx.MaxProviderMessage)
	}
	return &adapters.Error{Kind: kind, HTTPStatus: resp.Status, RetryAfter: retryAfter, Message: scrub(msg)}
}

// usageLimit is jframework's 209: the brand exceeded a feature's usage
// limit. It is the provider's own wait signal (docs/CONTRACT.md §5.8):
// KindRateLimited, with RetryAfter from X-RateLimit-Reset when the answer
// has one, else UsageLimitWait; the worker holds the whole fleet that long
// rather than calling again soon.
func (a *adapter) usageLimit(resp *httpx.Response, what, text string) *adapters.Error {
	msg := fmt.Sprintf("%s: HTTP %d: ", resp.Call, resp.Status)
	if what != "" {
		msg += what + ": "
	}
	msg += "the feature usage limit is exceeded (jframework's status 209); waiting for its reset"
	if text != "" {
		msg += ": " + truncate(text, httpx.MaxProviderMessage)
	}
	wait := a.retryAfter(resp.Header)
	if wait <= 0 {
		wait = UsageLimitWait
	}
	return &adapters.Error{Kind: adapters.KindRateLimited, HTTPStatus: resp.Status, RetryAfter: wait, Message: msg}
}

// UsageLimitWait is how long a 209 without X-RateLimit-Reset holds the
// connection's commands.
const UsageLimitWait = time.Minute

// retryAfter is the wait a 429 asks for: X-RateLimit-Reset (epoch seconds,
// the rate-limiting page), else Retry-After (which jframework does not
// document, but a proxy might send). Zero means no signal.
func (a *adapter) retryAfter(h http.Header) time.Duration {
	now := a.now()
	if d, ok := httpx.ParseRateLimitReset(h.Get("X-RateLimit-Reset"), time.Second, now); ok && d > 0 {
		return d
	}
	d, _ := httpx.ParseRetryAfter(h, now)
	return d
}
