package reelevant

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
	"github.com/oauthsync/oauthsync/messages"
)

// TestURLPattern checks the Go translation of the spec's ECMAScript
// pattern ^(https?):\/\/[^\s$.?#].([^\s]|\x20)*$ on the cases where Go's
// \s and "." differ from ECMAScript's.
func TestURLPattern(t *testing.T) {
	for s, want := range map[string]bool{
		"https://login.salesforce.com/services/oauth2/token": true,
		"http://ab":            true,
		"https://ab c":         true, // \x20 is allowed after the first two characters
		"https://a\tb":         true, // the second character is ".": anything but a line terminator
		"https://ab\t":         false,
		"https://a\nb":         false,
		"https://a\rb":         false,
		"https://a\u2028b":     false,
		"https://ab\u00a0":     false, // NBSP is \s in ECMAScript, not in Go
		"https://ab\v":         false,
		"https://ab\ufeff":     false,
		"https://ab\u3000":     false,
		"https://ab\n":         false, // $ is the end of input, not of a line
		"https://a":            false,
		"https://":             false,
		"https:// ab":          false,
		"https://.ab":          false,
		"https://?ab":          false,
		"https://#ab":          false,
		"https://$ab":          false,
		"https://a.b?c#d$e":    true,
		"HTTPS://ab":           false,
		"ftp://ab":             false,
		"https:/ab":            false,
		" https://ab":          false,
		"https://éé":           true,
		"https://😀x":           true,
		"mailto:a@example.com": false,
	} {
		if got := URLPattern.MatchString(s); got != want {
			t.Errorf("URLPattern.MatchString(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	v, err := decodeJSON([]byte(` {"a":[1e3,-0.5,"x",true,null],"b":{}} `))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"a":[1e3,-0.5,"x",true,null],"b":{}}` {
		t.Errorf("decoded %s", b)
	}
	for in, want := range map[string]string{
		``:                           "is not valid JSON",
		`{`:                          "is not valid JSON",
		`{"a":1,}`:                   "is not valid JSON",
		`[1,]`:                       "is not valid JSON",
		`{"a":1}{}`:                  "is not a single JSON value",
		`"a" "b"`:                    "is not a single JSON value",
		`{"a":1,"a":2}`:              "has a duplicate key at a",
		`{"x":{"b":{"c":1,"c":1}}}`:  "has a duplicate key at x.b.c",
		`{"x":[{"y-z":1,"y-z":1}]}`:  `has a duplicate key at x[0]["y-z"]`,
		"\"\xff\"":                   "is not valid UTF-8",
		`{"secret-value-1234":true`:  "is not valid JSON",
		`{"k":"secret-value-1234",}`: "is not valid JSON",
	} {
		_, err := decodeJSON([]byte(in))
		if err == nil || err.Error() != want {
			t.Errorf("decodeJSON(%q) = %v, want %q", in, err, want)
		}
	}
}

// simAccepts reports whether the simulator answers 200 to body.
func simAccepts(t *testing.T, sim http.Handler, body []byte) bool {
	req := httptest.NewRequest(http.MethodPatch, reelevantsim.PathPrefix+testID, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	switch rec.Code {
	case http.StatusOK:
		return true
	case http.StatusBadRequest:
		return false
	}
	t.Fatalf("simulator answered %d: %s", rec.Code, rec.Body)
	return false
}

// FuzzProviderField checks Validate against the simulator, which implements
// the spec's schema on its own: what the adapter accepts, it sends in a form
// the provider accepts; and what the provider accepts, the adapter refuses
// only for its stated reasons (a native name of a canonical field, a
// duplicate key, invalid UTF-8). Every refusal is KindInvalid on the field.
func FuzzProviderField(f *testing.F) {
	for _, s := range []struct{ name, value string }{
		{"mode", `"refresh_token"`}, {"mode", `"jwt_bearer"`}, {"mode", `"implicit"`}, {"mode", `null`},
		{"method", `"GET"`}, {"method", `"POST"`}, {"method", `"get"`},
		{"tokenExpiration", `3600`}, {"tokenExpiration", `-1.5e2`}, {"tokenExpiration", `1e400`}, {"tokenExpiration", `"60"`},
		{"accessTokenPath", `"data.token"`}, {"accessTokenHeader", `""`}, {"accessTokenHeaderPrefix", `1`},
		{"customPayload", `{"tokenUrl":{},"authorizeUrl":{"query":{"access_type":"offline"}}}`},
		{"customPayload", `"{ payload: { query: { access_type: 'offline' } } }"`},
		{"customPayload", `{"tokenUrl":{"headers":{"a":"b","a":"c"}},"authorizeUrl":{}}`},
		{"customPayload", `{"tokenUrl":{"body":{"n":1}},"authorizeUrl":{}}`},
		{"configuration", `{"clientId":"c","clientSecret":"s","scopes":["a"],"tokenUrl":"https://ab","mode":"password","customPayload":{"tokenUrl":{},"authorizeUrl":{}}}`},
		{"configuration", `{"configuration":{}}`}, {"configuration", `{"tokenUrl":"https://a"}`}, {"configuration", `[]`},
		{"clientId", `"x"`}, {"scopes", `["a"]`}, {"tokenUrl", `"https://ab"`}, {"name", `"x"`}, {"", `1`},
	} {
		f.Add(s.name, []byte(s.value))
	}
	sim := reelevantsim.New(reelevantsim.Options{Token: testToken, NoRecord: true})
	sim.Seed(testID, map[string]any{"clientId": "c"})
	f.Fuzz(func(t *testing.T, name string, value []byte) {
		p, err := prepare(adapters.Update{Resource: testID, ProviderFields: map[string]json.RawMessage{name: value}})
		if err == nil {
			body, err := json.Marshal(p.body)
			if err != nil {
				t.Fatalf("the body does not encode: %v", err)
			}
			if !simAccepts(t, sim, body) {
				t.Fatalf("Validate accepts %s = %s, the provider refuses the body %s", name, value, body)
			}
			return
		}
		ae, ok := adapters.AsError(err)
		if !ok || ae.Kind != adapters.KindInvalid || !strings.HasPrefix(ae.Field, messages.ProviderFieldPrefix) {
			t.Fatalf("Validate error %#v, want KindInvalid on a provider field", err)
		}
		nameJSON, _ := json.Marshal(name)
		raw := append(append(append([]byte("{"), nameJSON...), ':'), value...)
		raw = append(raw, '}')
		if !json.Valid(raw) || !simAccepts(t, sim, raw) {
			return
		}
		if _, native := nativeCanonical[name]; native {
			return
		}
		if _, err := decodeJSON(value); err != nil {
			return // a duplicate key or invalid UTF-8, which the provider's JSON.parse lets through
		}
		t.Fatalf("Validate refuses %s = %s (%v), which the provider accepts", name, value, ae)
	})
}
