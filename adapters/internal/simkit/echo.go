package simkit

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// EchoHeaders are the request headers a hostile provider quotes back when
// a fault asks it to echo secrets: every provider's credential headers.
var EchoHeaders = []string{"Authorization", "X-Auth-Token", "X-User-Id", "Auth-Key", "X-Api-Key"}

// RequestSecrets returns the credentials of a request: the values of
// EchoHeaders (and the password of Basic auth), and the clientSecret (or
// client_secret) strings anywhere in a JSON body.
func RequestSecrets(r *http.Request, body []byte) []string {
	var out []string
	for _, h := range EchoHeaders {
		if v := r.Header.Get(h); v != "" {
			out = append(out, v)
		}
	}
	if _, pass, ok := r.BasicAuth(); ok && pass != "" {
		out = append(out, pass)
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		out = append(out, clientSecrets(v, 0)...)
	}
	return out
}

func clientSecrets(v any, depth int) []string {
	if depth > 32 {
		return nil
	}
	var out []string
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if s, ok := val.(string); ok && (k == "clientSecret" || k == "client_secret") && s != "" {
				out = append(out, s)
				continue
			}
			out = append(out, clientSecrets(val, depth+1)...)
		}
	case []any:
		for _, e := range t {
			out = append(out, clientSecrets(e, depth+1)...)
		}
	}
	return out
}

// EchoText is the error text of a provider that quotes secrets back in many
// encodings: verbatim, URL query- and path-escaped, base64 (standard, URL,
// raw), inside Basic auth ("user:secret" in base64), hex, upper- and
// lower-cased, cut at two thirds and from the front, JSON-escaped. A test of
// redaction scripts it and asserts none of it comes out.
func EchoText(secrets ...string) string {
	var b strings.Builder
	b.WriteString("request refused; we received")
	for _, s := range secrets {
		js, _ := json.Marshal(s)
		cut := len(s) * 2 / 3
		for _, part := range []string{
			s, url.QueryEscape(s), url.PathEscape(s),
			base64.StdEncoding.EncodeToString([]byte(s)), base64.URLEncoding.EncodeToString([]byte(s)),
			base64.RawStdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)),
			"Basic " + base64.StdEncoding.EncodeToString([]byte("svc-user:"+s)),
			hex.EncodeToString([]byte(s)), strings.ToUpper(s), strings.ToLower(s),
			s[:cut] + "…", "…" + s[len(s)-cut:], string(js[1 : len(js)-1]),
		} {
			b.WriteString(" [")
			b.WriteString(part)
			b.WriteString("]")
		}
	}
	return b.String()
}
