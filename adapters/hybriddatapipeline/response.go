package hybriddatapipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
)

// oauthApp is the read's OAuth application object. A nil field is one the
// read did not return (absent or null). clientSecret is kept only to carry
// it into the PUT and to scrub it from error messages.
type oauthApp struct {
	id, dataStore, tenantID                   *int64
	name, description, clientID, clientSecret *string
	authorizeURI, tokenURI, scope             *string
}

// secretKnown reports whether the read showed the client secret in clear:
// not absent, not empty, not masked (made only of '*', the usual mask; the
// document does not say whether HDP masks it).
func (o *oauthApp) secretKnown() bool {
	return o.clientSecret != nil && strings.Trim(*o.clientSecret, "*") != ""
}

// decodeApp decodes an OAuth application object. Unknown keys are ignored;
// a known key of the wrong type is an error naming the key. Ids are taken
// as JSON integers or decimal strings: the documents give "id" both ways.
func decodeApp(b []byte) (*oauthApp, error) {
	var raw map[string]json.RawMessage
	if err := decodeObject(b, &raw); err != nil {
		return nil, errors.New("the body is not a JSON object")
	}
	var o oauthApp
	strs := []struct {
		key string
		dst **string
	}{
		{"name", &o.name}, {"description", &o.description}, {"clientId", &o.clientID},
		{"clientSecret", &o.clientSecret}, {"authorizeURI", &o.authorizeURI}, {"tokenURI", &o.tokenURI},
		{"scope", &o.scope},
	}
	for _, f := range strs {
		v, ok := raw[f.key]
		if !ok || isNull(v) {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			return nil, fmt.Errorf("%q is not a string", f.key)
		}
		*f.dst = &s
	}
	ints := []struct {
		key string
		dst **int64
	}{{"id", &o.id}, {"dataStore", &o.dataStore}, {"tenantId", &o.tenantID}}
	for _, f := range ints {
		v, ok := raw[f.key]
		if !ok || isNull(v) {
			continue
		}
		n, ok := decodeInt(v)
		if !ok {
			return nil, fmt.Errorf("%q is not an integer", f.key)
		}
		*f.dst = &n
	}
	return &o, nil
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// decodeInt reads a JSON integer or a string holding a decimal integer.
func decodeInt(v json.RawMessage) (int64, bool) {
	s := strings.TrimSpace(string(v))
	if strings.HasPrefix(s, `"`) {
		if json.Unmarshal(v, &s) != nil {
			return 0, false
		}
	}
	if !integerLiteral.MatchString(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// decodeObject decodes a JSON object (and nothing after it) into v.
func decodeObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(b, v)
}

// parseRead turns the read's answer into the current object, or an error.
// secrets (the command's client secret) are scrubbed from any message.
func (a *adapter) parseRead(resp *httpx.Response, resource string, secrets ...string) (*oauthApp, error) {
	if !resp.OK() {
		return nil, a.failure(resp, secrets...)
	}
	if env := decodeEnvelope(resp.Body); env.ok {
		return nil, a.unexpected(resp, "the body is an error", env.text(), secrets...)
	}
	app, err := decodeApp(resp.Body)
	if err != nil {
		return nil, a.unexpected(resp, err.Error(), "", secrets...)
	}
	if app.id != nil && strconv.FormatInt(*app.id, 10) != resource {
		return nil, a.unexpected(resp, "the body is another OAuth application", "", secrets...)
	}
	return app, nil
}

// parseUpdate checks the update's answer: a 2xx with a JSON object (the
// document answers 200 with the updated object).
func (a *adapter) parseUpdate(resp *httpx.Response, secrets ...string) error {
	if !resp.OK() {
		return a.failure(resp, secrets...)
	}
	if env := decodeEnvelope(resp.Body); env.ok {
		return a.unexpected(resp, "the body is an error", env.text(), secrets...)
	}
	var obj map[string]json.RawMessage
	if decodeObject(resp.Body, &obj) != nil {
		return a.unexpected(resp, "the body is not a JSON object", "", secrets...)
	}
	return nil
}

// unexpected is a 2xx the adapter cannot use: transient, the server (or
// something in front of it) answered wrongly. providerText is the
// provider's own error text, if any.
func (a *adapter) unexpected(resp *httpx.Response, what, providerText string, secrets ...string) *adapters.Error {
	msg := fmt.Sprintf("%s: HTTP %d: unexpected response: %s", resp.Call, resp.Status, what)
	if t := a.client.Scrub(providerText, secrets...); t != "" {
		msg += ": " + truncate(t, httpx.MaxProviderMessage)
	}
	return &adapters.Error{Kind: adapters.KindUnavailable, HTTPStatus: resp.Status, Message: a.client.Scrub(msg, secrets...)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// envelope is HDP's error body:
//
//	{"error":{"code":222206631,"message":{"lang":"en-US","value":"..."}}}
//
// Fields are decoded one by one, so that a wrong type in one does not lose
// the others. ok is true when the body has an "error" member that is an
// object or a string.
type envelope struct {
	code, value string
	ok          bool
}

// codePattern is a plausible error code (HDP's are 2222xxxxx).
var codePattern = regexp.MustCompile(`^-?[0-9]{1,20}$`)

func decodeEnvelope(b []byte) envelope {
	var top map[string]json.RawMessage
	if decodeObject(b, &top) != nil {
		return envelope{}
	}
	raw, has := top["error"]
	if !has {
		return envelope{}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil { // a bare {"error":"..."}, as a proxy might send
		return envelope{value: s, ok: true}
	}
	var inner map[string]json.RawMessage
	if decodeObject(raw, &inner) != nil {
		return envelope{}
	}
	env := envelope{ok: true}
	var code json.Number
	if json.Unmarshal(inner["code"], &code) == nil && codePattern.MatchString(code.String()) {
		env.code = code.String()
	}
	var msg struct {
		Value string `json:"value"`
	}
	if json.Unmarshal(inner["message"], &s) == nil {
		env.value = s
	} else if json.Unmarshal(inner["message"], &msg) == nil {
		env.value = msg.Value
	}
	return env
}

// text is the provider's error text for a message: "value (code N)".
func (e envelope) text() string {
	t := strings.TrimSpace(e.value)
	if e.code != "" {
		t = strings.TrimSpace(t + " (code " + e.code + ")")
	}
	return t
}

// failure classifies a non-2xx answer: 400 and 501 KindRejected; 401/403
// KindUnauthorized; 404 KindNotFound; 429 KindRateLimited with Retry-After;
// 500 and 502–504 (and other 5xx) KindUnavailable; see httpx.StatusError for
// the rest. The whole message is scrubbed of the credentials and secrets.
func (a *adapter) failure(resp *httpx.Response, secrets ...string) *adapters.Error {
	env := decodeEnvelope(resp.Body)
	// Scrub before StatusError cuts the text: a cut secret would not match.
	e := httpx.StatusError(resp, a.client.Scrub(env.text(), secrets...))
	switch resp.Status {
	case http.StatusNotImplemented:
		// HDP documents 501 among its error codes: the server will not do
		// this, whatever the retry.
		e.Kind, e.RetryAfter = adapters.KindRejected, 0
	case http.StatusNotFound:
		if !env.ok {
			e.Message += " (no HDP error body: check the connection's base URL)"
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// Not documented by HDP; a proxy in front of it may send them.
		e.RetryAfter, _ = httpx.ParseRetryAfter(resp.Header, a.now())
	}
	e.Message = a.client.Scrub(e.Message, secrets...)
	return e
}
