package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
)

// secretWords are the pieces of a key or header name (lower case, without
// '-', '_', '.' or spaces) that mark its value as a secret.
var secretWords = []string{
	"secret", "password", "passwd", "passphrase", "privatekey", "apikey", "authkey",
	"credential", "authorization", "cookie", "signature", "sessionid",
}

// tokenExceptions are the pieces that make a key with "token" in it name
// where a token is fetched, carried or how long it lives, not the token:
// tokenUrl, tokenEndpoint, accessTokenHeader, tokenExpiration, tokenType.
var tokenExceptions = []string{"url", "uri", "endpoint", "path", "header", "expir", "lifetime", "ttl", "type", "method"}

// SecretKey reports whether a JSON key, header or field name names a secret,
// in any letter case and with '-', '_', '.' or spaces anywhere: password,
// passwd, secret, client_secret, api_key, apikey, auth-key, private_key,
// credentials, authorization, cookie, and every token (token, access_token,
// refresh_token, X-Auth-Token) except the keys that say where a token is
// fetched or carried or how long it lives (tokenUrl, accessTokenHeader,
// tokenExpiration, ...).
func SecretKey(name string) bool {
	k := normalize(name)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	if !strings.Contains(k, "token") {
		return false
	}
	for _, e := range tokenExceptions {
		if strings.Contains(k, e) {
			return false
		}
	}
	return true
}

func normalize(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '-', '_', '.', ' ':
		default:
			b.WriteByte(lower(c))
		}
	}
	return b.String()
}

// maxHarvest bounds the strings SecretsInJSON returns.
const maxHarvest = 64

// SecretsInJSON returns the string values, at any depth, under keys that
// SecretKey names (all strings inside such a key's object or array too):
// the secrets a command or any JSON document carries. It reads tokens one at
// a time (no recursion, linear in the input) and returns what it found
// before the first syntax error; at most 64 values.
func SecretsInJSON(doc []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		object, secret, key bool // key: the next string is a key
	}
	var (
		stack      []frame
		out        []string
		pendingKey bool // the last key read names a secret
	)
	for len(out) < maxHarvest {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		under := top != nil && top.secret
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{object: t == '{', secret: under || pendingKey, key: t == '{'})
				pendingKey = false
				continue
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].object {
					stack[len(stack)-1].key = true
				}
				continue
			}
		case string:
			if top != nil && top.object && top.key {
				top.key = false
				pendingKey = SecretKey(t)
				continue
			}
			if under || pendingKey {
				out = append(out, t)
			}
		}
		pendingKey = false
		if top != nil && top.object {
			top.key = true
		}
	}
	return out
}

// RedactJSON returns doc with every value under a secret-named key replaced
// by Marker and every other string scrubbed of those values (and of s's
// secrets), re-encoded with indent (none when indent is ""). ok is false when
// doc is not one JSON value.
func RedactJSON(doc []byte, s *Scrubber, indent string) (out []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // numbers as written
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	s = s.With(SecretsInJSON(doc)...)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(redactValue(v, s)); err != nil {
		return nil, false
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), true
}

func redactValue(v any, s *Scrubber) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if SecretKey(k) {
				t[k] = Marker
				continue
			}
			t[k] = redactValue(val, s)
		}
	case []any:
		for i := range t {
			t[i] = redactValue(t[i], s)
		}
	case string:
		return s.String(t)
	}
	return v
}

// Header returns a copy of h in which every secret-named header (SecretKey:
// Authorization, Proxy-Authorization, Cookie, X-Api-Key, X-Auth-Token,
// Auth-Key, ...) has the value Marker and every other value is scrubbed by s.
func Header(h map[string][]string, s *Scrubber) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		c := make([]string, len(vs))
		for i, v := range vs {
			if SecretKey(k) {
				c[i] = Marker
			} else {
				c[i] = s.String(v)
			}
		}
		out[k] = c
	}
	return out
}
