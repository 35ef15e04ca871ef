package reelevant

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/oauthsync/oauthsync/adapters"
	"github.com/oauthsync/oauthsync/messages"
)

// SpecURLPattern is the pattern the spec gives tokenUrl and authorizeUrl, as
// written there (an ECMAScript regular expression).
const SpecURLPattern = `^(https?):\/\/[^\s$.?#].([^\s]|\x20)*$`

// ecmaSpace is ECMAScript's \s (WhiteSpace and LineTerminator). Go's \s is
// only [\t\n\f\r ], so the class is spelled out.
const ecmaSpace = `\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}`

// URLPattern is SpecURLPattern in Go's syntax with ECMAScript's meaning: \s
// is ECMAScript's white space and "." excludes ECMAScript's line
// terminators, as they do on the provider's side. Values are checked by
// validURL, which implements it.
var URLPattern = regexp.MustCompile(`^(https?)://[^` + ecmaSpace + `$.?#][^\n\r\x{2028}\x{2029}]([^` + ecmaSpace + `]|\x20)*$`)

// The spec's enums.
var (
	// modes are the values of mode (the spec's AuthenticationMode).
	modes = []string{"password", "client_credentials", "refresh_token", "access_token", "custom_payload", "jwt_bearer"}
	// methods are the values of method. The provider document lists GET
	// only; the spec it is rendered from allows GET or POST. Both are
	// accepted: see the package documentation.
	methods = []string{"GET", "POST"}
)

// check validates one decoded JSON value at path (a field path for
// messages). Values come from decodeJSON: map[string]any, []any, string,
// json.Number, bool or nil. A check never quotes a value, except an enum's.
type check func(path string, v any) *adapters.Error

// configurationFields are the 12 fields of an OAuth client configuration:
// the PATCH body's first allOf branch, and the shape of its configuration
// object. Canonical fields are among them.
var configurationFields = map[string]check{
	"method":                  enum(methods),
	"mode":                    enum(modes),
	"tokenUrl":                urlString,
	"authorizeUrl":            urlString,
	"clientId":                str,
	"clientSecret":            str,
	"scopes":                  stringArray,
	"customPayload":           customPayload,
	"accessTokenPath":         str,
	"accessTokenHeader":       str,
	"accessTokenHeaderPrefix": str,
	"tokenExpiration":         number,
}

// endpointPayload is what customPayload holds for one endpoint: extra query
// parameters, body fields and headers, each a map of strings.
var endpointPayload = object(map[string]check{"query": stringMap, "body": stringMap, "headers": stringMap})

// customPayload is the spec's customPayload: both endpoints required.
var customPayload = object(map[string]check{"tokenUrl": endpointPayload, "authorizeUrl": endpointPayload}, "tokenUrl", "authorizeUrl")

// nativeCanonical maps the native names of canonical fields to the
// canonical names. As provider fields they are refused: each has one way
// in, so a field cannot be set twice.
var nativeCanonical = map[string]string{
	"clientId":     messages.FieldClientID,
	"clientSecret": messages.FieldClientSecret,
	"scopes":       messages.FieldScopes,
	"authorizeUrl": messages.FieldAuthorizeURL,
	"tokenUrl":     messages.FieldTokenURL,
}

// providerFields are the provider-native fields an update may carry: the
// configuration fields that are not canonical, and configuration.
var providerFields = func() map[string]check {
	m := map[string]check{"configuration": object(configurationFields)}
	for name, c := range configurationFields {
		if _, canonical := nativeCanonical[name]; !canonical {
			m[name] = c
		}
	}
	return m
}()

// ProviderFields returns the names of the provider-native fields Reelevant
// takes, sorted.
func ProviderFields() []string { return sortedKeys(providerFields) }

// validateProviderField decodes and checks one provider field; it returns
// the value to send.
func validateProviderField(name string, raw json.RawMessage) (any, *adapters.Error) {
	path := messages.ProviderFieldPrefix + name
	if canonical, ok := nativeCanonical[name]; ok {
		return nil, adapters.Invalid(path,
			"%q is a canonical field: set it as changes.%s, not as a provider field (a field has one way in, so it cannot be set twice)", name, canonical)
	}
	c, ok := providerFields[name]
	if !ok {
		return nil, adapters.Invalid(path, "unknown provider field %q: Reelevant takes %s as provider fields", shorten(name), strings.Join(ProviderFields(), ", "))
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, adapters.Invalid(path, "%v", err)
	}
	if e := c(path, v); e != nil {
		return nil, e
	}
	return v, nil
}

func str(path string, v any) *adapters.Error {
	if _, ok := v.(string); !ok {
		return wrongType(path, "a string", v)
	}
	return nil
}

func urlString(path string, v any) *adapters.Error {
	s, ok := v.(string)
	if !ok {
		return wrongType(path, "a string", v)
	}
	return checkURL(path, s)
}

// checkURL checks a tokenUrl or authorizeUrl. The message does not quote
// the value: a URL may carry a credential in its query.
func checkURL(path, s string) *adapters.Error {
	if !validURL(s) {
		return adapters.Invalid(path, "must be an http or https URL matching %s", SpecURLPattern)
	}
	return nil
}

func number(path string, v any) *adapters.Error {
	n, ok := v.(json.Number)
	if !ok {
		return wrongType(path, "a number", v)
	}
	// The literal is valid JSON: the only failure is a value out of range.
	if f, _ := strconv.ParseFloat(string(n), 64); math.IsInf(f, 0) {
		return adapters.Invalid(path, "must be a number a double can hold (Reelevant is JavaScript)")
	}
	return nil
}

func enum(values []string) check {
	return func(path string, v any) *adapters.Error {
		s, ok := v.(string)
		if !ok {
			return wrongType(path, "a string", v)
		}
		if !slices.Contains(values, s) {
			return adapters.Invalid(path, "%s is not one of %s", strconv.Quote(shorten(s)), strings.Join(values, ", "))
		}
		return nil
	}
}

func stringArray(path string, v any) *adapters.Error {
	items, ok := v.([]any)
	if !ok {
		return wrongType(path, "an array of strings", v)
	}
	for i, it := range items {
		if e := str(fmt.Sprintf("%s[%d]", path, i), it); e != nil {
			return e
		}
	}
	return nil
}

func stringMap(path string, v any) *adapters.Error {
	m, ok := v.(map[string]any)
	if !ok {
		return wrongType(path, "an object of strings", v)
	}
	for _, k := range sortedKeys(m) {
		if e := str(joinPath(path, k), m[k]); e != nil {
			return e
		}
	}
	return nil
}

// object checks an object with the given properties and no other
// (additionalProperties false); required lists the properties it must have.
func object(props map[string]check, required ...string) check {
	return func(path string, v any) *adapters.Error {
		m, ok := v.(map[string]any)
		if !ok {
			return wrongType(path, "an object", v)
		}
		for _, k := range sortedKeys(m) {
			if _, known := props[k]; !known {
				return adapters.Invalid(joinPath(path, k), "unknown key %s: %s takes only %s",
					strconv.Quote(shorten(k)), path, strings.Join(sortedKeys(props), ", "))
			}
		}
		for _, k := range required {
			if _, ok := m[k]; !ok {
				return adapters.Invalid(joinPath(path, k), "is required in %s", path)
			}
		}
		for _, k := range sortedKeys(m) {
			if e := props[k](joinPath(path, k), m[k]); e != nil {
				return e
			}
		}
		return nil
	}
}

func wrongType(path, want string, v any) *adapters.Error {
	if v == nil {
		return adapters.Invalid(path, "must be %s, not null (omit the field to leave it alone)", want)
	}
	return adapters.Invalid(path, "must be %s, not %s", want, jsonKind(v))
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

// joinPath appends key to a field path: a.b, or a["x-key"] for a key that
// is not an identifier (isIdentifier).
func joinPath(path, key string) string {
	if isIdentifier(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(shorten(key)) + "]"
}

// shorten cuts s to at most 64 bytes on a rune boundary, marking the cut.
func shorten(s string) string { return truncate(s, 64) }

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// decodeJSON decodes exactly one JSON value, keeping numbers' literals
// (json.Number) and refusing duplicate keys at any depth, so that what is
// validated is what is sent. Errors never quote the input. Duplicates (and
// numbers beyond a double, nesting beyond messages.MaxDepth) are found by
// messages.CheckJSON, which builds nothing per level: the cost is linear in
// the value's size whatever its shape.
func decodeJSON(raw []byte) (any, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errNotJSON
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("is not a single JSON value")
	}
	if err := messages.CheckJSON(raw); err != nil {
		return nil, err
	}
	return v, nil
}

var errNotJSON = errors.New("is not valid JSON")
