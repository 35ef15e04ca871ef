package reelevant

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/httpx"
)

// The envelope's status values (JSend): success; fail, the request is at
// fault; error, the server is.
const (
	statusSuccess = "success"
	statusFail    = "fail"
	statusError   = "error"
)

// notFoundHint is added to every 404: Reelevant uses 404 for both (docs/providers/NOTES.md
// §1.3, from the provider's OAuth debugging guide).
const notFoundHint = " (Reelevant answers 404 when the OAuth client does not exist, and also when the token lacks write permission on it)"

// envelope is the part of Reelevant's envelope {program, version, datetime,
// status, code, error_code, message, data} an error message uses. Fields
// are decoded one by one, so that a wrong type in one loses only that one.
type envelope struct {
	object    bool   // the body is a JSON object
	status    string // "" when absent or not a string
	message   string
	errorCode string // error_code's JSON literal; "" when absent or null
	// rawData is data as received: re-encoded by text, which only an
	// answer that is not a success needs.
	rawData json.RawMessage
}

func decodeEnvelope(b []byte) envelope {
	var raw map[string]json.RawMessage
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &raw) != nil {
		return envelope{}
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(raw[k], &s)
		return s
	}
	e := envelope{object: true, status: str("status"), message: str("message")}
	if c := raw["error_code"]; len(c) > 0 && string(c) != "null" {
		var v any
		if json.Unmarshal(c, &v) == nil {
			e.errorCode = reencode(v)
		}
	}
	e.rawData = raw["data"]
	return e
}

// data is data re-encoded, when it holds anything.
func (e envelope) data() string {
	var data any
	if json.Unmarshal(e.rawData, &data) != nil {
		return ""
	}
	switch d := data.(type) {
	case nil:
	case map[string]any:
		if len(d) > 0 {
			return reencode(d)
		}
	case []any:
		if len(d) > 0 {
			return reencode(d)
		}
	default:
		return reencode(d)
	}
	return ""
}

// reencode writes v the way encoding/json does, the form httpx.Scrub also
// looks for, so that a secret the provider escaped differently is found.
func reencode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// text is the provider's error text: its message, error_code and data.
func (e envelope) text() string {
	var parts []string
	if m := strings.TrimSpace(e.message); m != "" {
		parts = append(parts, m)
	}
	if e.errorCode != "" {
		parts = append(parts, "(error_code "+e.errorCode+")")
	}
	if d := e.data(); d != "" {
		parts = append(parts, "data "+d)
	}
	return strings.Join(parts, " ")
}

// parseResponse classifies the PATCH answer. A 2xx is a success only with
// status "success" and no error_code. Any other answer is an *adapters.Error
// whose message is scrubbed of the credentials and of secrets (the client
// secrets the update carries).
func (a *adapter) parseResponse(resp *httpx.Response, secrets ...string) error {
	if resp.OK() && plainSuccess(resp.Body) {
		return nil // the hot path: nothing to decode or scrub
	}
	env := decodeEnvelope(resp.Body)
	if resp.OK() && env.object && env.status == statusSuccess && env.errorCode == "" {
		return nil
	}
	// Scrub before anything cuts the text: a cut secret would not match.
	text := a.client.Scrub(env.text(), secrets...)
	if !resp.OK() {
		e := httpx.StatusError(resp, text)
		if resp.Status == http.StatusNotFound {
			e.Message += notFoundHint
		}
		e.Message = a.client.Scrub(e.Message, secrets...)
		return e
	}
	fail := func(kind adapters.Kind, what string) *adapters.Error {
		msg := fmt.Sprintf("%s: HTTP %d: %s", resp.Call, resp.Status, what)
		if text != "" {
			msg += ": " + truncate(text, httpx.MaxProviderMessage)
		}
		return &adapters.Error{Kind: kind, HTTPStatus: resp.Status, Message: a.client.Scrub(msg, secrets...)}
	}
	switch {
	case !env.object:
		return fail(adapters.KindUnavailable, "unexpected response: the body is not a JSON object")
	case env.status == statusSuccess && env.errorCode == "":
		return nil
	case env.status == statusFail || env.errorCode != "":
		return fail(adapters.KindRejected, `Reelevant refused the update (status "`+shorten(env.status)+`")`)
	case env.status == statusError:
		return fail(adapters.KindUnavailable, `Reelevant failed (status "error")`)
	default:
		return fail(adapters.KindUnavailable, `unexpected response: status is not "success"`)
	}
}
